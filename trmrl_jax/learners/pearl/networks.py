"""PEARL's networks: the context encoder and the Gaussian posterior over the latent task variable
z that its factors make, and the SAC networks that read z (tanh-Gaussian policy, twin Q, V).

Sizes as in oyster: three ReLU layers in every network (``pearl_hidden`` wide for the policy, Q
and V, ``pearl_encoder_hidden`` for the encoder), small uniform output layers, the policy's
log std clipped to [-20, 2].
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import struct

from trmrl_jax.config import Config
from trmrl_jax.networks.heads import PolicyOutput, TanhGaussian

LOG_STD_RANGE = (-20.0, 2.0)
MIN_FACTOR_VAR = 1e-7  # Floor of an encoder factor's variance (oyster's clamp).


def _small_uniform(scale: float) -> nn.initializers.Initializer:
    """U[-scale, scale]: output layers that start near zero."""
    def init(key: jax.Array, shape: tuple, dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


class MLP(nn.Module):
    """``layers`` ReLU layers of ``hidden`` units and a linear output of ``out`` units."""

    hidden: int
    out: int
    layers: int = 3
    out_scale: float = 3e-3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.layers):
            x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.out, kernel_init=_small_uniform(self.out_scale),
                        bias_init=_small_uniform(self.out_scale))(x)


@struct.dataclass
class Posterior:
    """A diagonal Gaussian over z in natural parameters: N(0, I) times Gaussian factors, each
    weighted by its precision. Leaves [..., L]; the prior is (precision 1, weighted mean 0)."""

    precision: jax.Array  # 1 + sum_i 1 / var_i
    weighted_mean: jax.Array  # sum_i mean_i / var_i

    @classmethod
    def prior(cls, shape: tuple[int, ...]) -> "Posterior":
        return cls(precision=jnp.ones(shape), weighted_mean=jnp.zeros(shape))

    @classmethod
    def of(cls, mean: jax.Array, var: jax.Array) -> "Posterior":
        """The prior times the factors [..., n, L] (n transitions of one context) -> [..., L]."""
        return cls.prior(mean.shape[:-2] + mean.shape[-1:]).times(
            jnp.sum(mean / var, -2), jnp.sum(1.0 / var, -2))

    def times(self, weighted_mean: jax.Array, precision: jax.Array) -> "Posterior":
        """This posterior times factors given by their summed natural parameters [..., L]."""
        return Posterior(precision=self.precision + precision,
                         weighted_mean=self.weighted_mean + weighted_mean)

    @property
    def mean(self) -> jax.Array:
        return self.weighted_mean / self.precision

    @property
    def var(self) -> jax.Array:
        return 1.0 / self.precision

    def sample(self, keys: jax.Array) -> jax.Array:
        """One z per key, reparameterised (gradients reach the encoder): keys [...] -> [..., L]."""
        noise = jax.vmap(lambda k: jax.random.normal(k, self.mean.shape[-1:]))(
            keys.reshape((-1,) + keys.shape[self.mean.ndim - 1:]))
        return self.mean + jnp.sqrt(self.var) * noise.reshape(self.mean.shape)

    def kl_to_prior(self) -> jax.Array:
        """KL(posterior || N(0, I)) -> [...]."""
        var = self.var
        return 0.5 * jnp.sum(var + jnp.square(self.mean) - 1.0 - jnp.log(var), -1)


def context_features(obs: jax.Array, action: jax.Array, reward: jax.Array) -> jax.Array:
    """A transition as the encoder reads it: (s, a, r) [..., O + A + 1], without s' (oyster's
    default: these tasks differ in their rewards only). reward: [..., 1]."""
    return jnp.concatenate([obs, action, reward], -1)


@dataclasses.dataclass(frozen=True)
class Networks:
    """PEARL's modules as pure functions of one parameter dict with keys ``encoder``,
    ``policy``, ``q`` (the twin critics stacked on a leading [2] axis) and ``v``."""

    obs_size: int
    action_size: int
    latent: int
    encoder: MLP
    policy: MLP
    q: MLP
    v: MLP

    @classmethod
    def create(cls, cfg: Config, obs_size: int, action_size: int) -> "Networks":
        hidden, latent = cfg.pearl_hidden, cfg.pearl_latent_size
        return cls(obs_size=obs_size, action_size=action_size, latent=latent,
                   encoder=MLP(cfg.pearl_encoder_hidden, 2 * latent),
                   policy=MLP(hidden, 2 * action_size, out_scale=1e-3),
                   q=MLP(hidden, 1), v=MLP(hidden, 1))

    def init(self, key: jax.Array) -> dict:
        keys = jax.random.split(key, 5)
        o, a, z = (jnp.zeros((1, n)) for n in (self.obs_size, self.action_size, self.latent))
        return {"encoder": self.encoder.init(keys[0], context_features(o, a, jnp.zeros((1, 1)))),
                "policy": self.policy.init(keys[1], jnp.concatenate([o, z], -1)),
                "q": jax.vmap(lambda k: self.q.init(k, jnp.concatenate([o, a, z], -1)))(keys[2:4]),
                "v": self.v.init(keys[4], jnp.concatenate([o, z], -1))}

    def factors(self, params: dict, context: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Transitions [..., O + A + 1] (``context_features``) -> each one's Gaussian factor
        over z: (mean, var), each [..., L]."""
        out = self.encoder.apply(params["encoder"], context)
        mean, raw_var = jnp.split(out, 2, -1)
        return mean, jnp.maximum(jax.nn.softplus(raw_var), MIN_FACTOR_VAR)

    def pi(self, params: dict, obs: jax.Array, z: jax.Array) -> TanhGaussian:
        """The policy at states [..., O] given z [..., L]."""
        chex.assert_equal_shape_prefix([obs, z], obs.ndim - 1)
        mean, log_std = jnp.split(
            self.policy.apply(params["policy"], jnp.concatenate([obs, z], -1)), 2, -1)
        return TanhGaussian(mean, jnp.clip(log_std, *LOG_STD_RANGE))

    def q_values(self, q_params: Any, obs: jax.Array, action: jax.Array, z: jax.Array
                 ) -> jax.Array:
        """Both critics: [..., O], [..., A], [..., L] -> [2, ...]."""
        x = jnp.concatenate([obs, action, z], -1)
        return jax.vmap(lambda p: self.q.apply(p, x))(q_params)[..., 0]

    def value(self, v_params: Any, obs: jax.Array, z: jax.Array) -> jax.Array:
        """V(s, z): [..., O], [..., L] -> [...]."""
        return self.v.apply(v_params, jnp.concatenate([obs, z], -1))[..., 0]

    def output(self, params: dict, obs: jax.Array, z: jax.Array) -> PolicyOutput:
        """What ``act`` returns: the squashed policy and V at states [..., O] given z."""
        pi = self.pi(params, obs, z)
        return PolicyOutput(mean=pi.mean, log_std=pi.log_std, value=self.value(params["v"], obs, z),
                            squashed=True)
