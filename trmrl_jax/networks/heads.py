"""Gaussian policy head and value head shared by every agent."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import struct


@struct.dataclass
class PolicyOutput:
    mean: jax.Array  # [..., action_size]
    log_std: jax.Array  # [..., action_size] (state-independent, broadcast)
    value: jax.Array  # [...]


def mlp(hidden: int, out: int, out_init: nn.initializers.Initializer, name: str) -> nn.Sequential:
    """Two tanh layers of ``hidden`` units and a linear output (garage's Gaussian MLP heads)."""
    xavier = nn.initializers.xavier_uniform()
    return nn.Sequential([nn.Dense(hidden, kernel_init=xavier), nn.tanh,
                          nn.Dense(hidden, kernel_init=xavier), nn.tanh,
                          nn.Dense(out, kernel_init=out_init)], name=name)


class Heads(nn.Module):
    """Policy MLP -> Gaussian mean with a learned state-independent std; value MLP -> scalar.

    Parameters of the value MLP live under ``value`` so the optimiser can give them their own
    learning rate (the reference trains policy and value at different rates).
    """

    action_size: int
    hidden: int = 64
    init_std: float = 0.5
    out_gain: float = 0.01

    @nn.compact
    def __call__(self, policy_features: jax.Array, value_features: jax.Array) -> PolicyOutput:
        gain_init = nn.initializers.variance_scaling(self.out_gain ** 2, "fan_avg", "uniform")
        mean = mlp(self.hidden, self.action_size, gain_init, "policy")(policy_features)
        value = mlp(self.hidden, 1, nn.initializers.xavier_uniform(), "value")(value_features)
        log_std = self.param("log_std", nn.initializers.constant(jnp.log(self.init_std)),
                             (self.action_size,))
        return PolicyOutput(mean=mean, log_std=jnp.broadcast_to(log_std, mean.shape),
                            value=value[..., 0])
