"""Running observation statistics kept in the train state (merged exactly, batch by batch)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningStats:
    count: jax.Array  # [] float
    mean: jax.Array  # [obs_size]
    var: jax.Array  # [obs_size]

    @classmethod
    def create(cls, size: int) -> "RunningStats":
        return cls(count=jnp.zeros(()), mean=jnp.zeros(size), var=jnp.ones(size))

    def merge(self, count: jax.Array, total: jax.Array, total_sq: jax.Array) -> "RunningStats":
        """Adds a batch given by its count, sum [obs] and sum of squares [obs] (Chan et al.)."""
        b_mean = total / count
        b_var = jnp.maximum(total_sq / count - jnp.square(b_mean), 0.0)
        n = self.count + count
        delta = b_mean - self.mean
        mean = self.mean + delta * count / n
        m2 = self.var * self.count + b_var * count + jnp.square(delta) * self.count * count / n
        return RunningStats(count=n, mean=mean, var=m2 / n)

    def normalize(self, x: jax.Array) -> jax.Array:
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + 1e-8), -10.0, 10.0)
