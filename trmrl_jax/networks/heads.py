"""Gaussian policy head and value head shared by every agent; the tanh-squashed Gaussian of
SAC-style learners (PEARL)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import struct

_LOG_2PI = math.log(2.0 * math.pi)


@struct.dataclass
class Gaussian:
    """A diagonal Gaussian over actions: every use of the policy's distribution goes through it
    (acting, the PPO ratio, the entropy), so the maths lives in one place."""

    mean: jax.Array  # [..., A]
    log_std: jax.Array  # [..., A]

    def sample(self, keys: jax.Array) -> jax.Array:
        """One action per key: keys [...] (the batch shape) -> actions [..., A]. A key per
        trial keeps a trial's noise independent of how the batch is split over devices."""
        noise = jax.vmap(lambda k: jax.random.normal(k, self.mean.shape[-1:]))(
            keys.reshape((-1,) + keys.shape[len(self.mean.shape) - 1:]))
        return self.mean + jnp.exp(self.log_std) * noise.reshape(self.mean.shape)

    def log_prob(self, action: jax.Array) -> jax.Array:
        """Log density of ``action`` [..., A], summed over the action axis -> [...]."""
        z = (action - self.mean) * jnp.exp(-self.log_std)
        return jnp.sum(-0.5 * jnp.square(z) - self.log_std - 0.5 * _LOG_2PI, axis=-1)

    def entropy(self) -> jax.Array:
        """[...] differential entropy."""
        return jnp.sum(self.log_std + 0.5 * (_LOG_2PI + 1.0), axis=-1)

    def mode(self) -> jax.Array:
        """[..., A] the most likely action: what a deterministic policy plays."""
        return self.mean


@struct.dataclass
class TanhGaussian(Gaussian):
    """tanh of a diagonal Gaussian (SAC's policy): actions in (-1, 1). ``mean`` and ``log_std``
    are those of the Gaussian before the squash."""

    def sample_with_log_prob(self, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One action per key and its log density, from the sample before the squash (exact:
        no ``atanh``): keys [...] -> (actions [..., A], log densities [...])."""
        u = super().sample(keys)
        return jnp.tanh(u), super().log_prob(u) - _log_tanh_jacobian(u)

    def sample(self, keys: jax.Array) -> jax.Array:
        return self.sample_with_log_prob(keys)[0]

    def log_prob(self, action: jax.Array) -> jax.Array:
        """Log density of ``action`` [..., A] in (-1, 1), by change of variables through
        ``atanh`` (clipped just inside the open interval) -> [...]."""
        u = jnp.arctanh(jnp.clip(action, -1.0 + 1e-6, 1.0 - 1e-6))
        return super().log_prob(u) - _log_tanh_jacobian(u)

    def entropy(self) -> jax.Array:
        raise NotImplementedError("a tanh-squashed Gaussian has no closed-form entropy")

    def mode(self) -> jax.Array:
        return jnp.tanh(self.mean)


def _log_tanh_jacobian(u: jax.Array) -> jax.Array:
    """sum_A log(1 - tanh(u)^2), written stably as 2 (log 2 - u - softplus(-2u)): [..., A] ->
    [...]."""
    return jnp.sum(2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)


@struct.dataclass
class PolicyOutput:
    mean: jax.Array  # [..., action_size]
    log_std: jax.Array  # [..., action_size] (state-independent, broadcast)
    value: jax.Array  # [...]
    # [...] log std of the value's Gaussian (``value_loss='gaussian'`` only, else None).
    value_log_std: jax.Array | None = None
    squashed: bool = struct.field(pytree_node=False, default=False)  # A tanh-squashed policy.

    @property
    def policy(self) -> Gaussian:
        return (TanhGaussian if self.squashed else Gaussian)(self.mean, self.log_std)


class MLP2(nn.Module):
    """Two tanh layers of ``hidden`` units and a linear output (garage's Gaussian MLP heads).

    A module of its own, so that its parameters sit under its name (``policy`` / ``value``):
    layers built in the parent and handed to ``nn.Sequential`` would belong to the parent.
    """

    hidden: int
    out: int
    out_init: nn.initializers.Initializer

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        xavier = nn.initializers.xavier_uniform()
        x = nn.tanh(nn.Dense(self.hidden, kernel_init=xavier)(x))
        x = nn.tanh(nn.Dense(self.hidden, kernel_init=xavier)(x))
        return nn.Dense(self.out, kernel_init=self.out_init)(x)


class Heads(nn.Module):
    """Policy MLP -> Gaussian mean with a learned state-independent std; value MLP -> scalar.

    Parameters of the value MLP live under ``value`` so the optimiser can give them their own
    learning rate (the reference trains policy and value at different rates). ``critic=False``
    builds the policy alone (its outputs' value is zero): for learners without a value.
    """

    action_size: int
    hidden: int = 64
    init_std: float = 0.5
    out_gain: float = 0.01
    value_std: bool = False  # A learned state-independent std of the value (Gaussian loss).
    critic: bool = True

    @nn.compact
    def __call__(self, policy_features: jax.Array, value_features: jax.Array) -> PolicyOutput:
        gain_init = nn.initializers.variance_scaling(self.out_gain ** 2, "fan_avg", "uniform")
        mean = MLP2(self.hidden, self.action_size, gain_init, name="policy")(policy_features)
        if self.critic:
            value = MLP2(self.hidden, 1, nn.initializers.xavier_uniform(),
                         name="value")(value_features)
        else:
            value = jnp.zeros(mean.shape[:-1] + (1,))
        log_std = self.param("log_std", nn.initializers.constant(jnp.log(self.init_std)),
                             (self.action_size,))
        value_log_std = None
        if self.value_std:  # garage's value function: std 1 at the start, exp-parameterised.
            value_log_std = jnp.broadcast_to(
                self.param("value_log_std", nn.initializers.zeros, ()), value.shape[:-1])
        return PolicyOutput(mean=mean, log_std=jnp.broadcast_to(log_std, mean.shape),
                            value=value[..., 0], value_log_std=value_log_std)
