"""Meta-World's reward shaping (``metaworld/utils/reward_utils.py``, after dm_control's
``rewards.tolerance``) in JAX, for scalars or arrays."""

from __future__ import annotations

import jax
import jax.numpy as jnp

_VALUE_AT_MARGIN = 0.1  # tolerance()'s default: the value at ``margin`` outside the bounds.


def tolerance_long_tail(x: jax.Array, bounds: tuple[float, float], margin: jax.Array
                        ) -> jax.Array:
    """1 inside ``bounds``, else 1 / ((d * s)^2 + 1) with d the distance to the nearest bound
    over ``margin`` and s = sqrt(1 / 0.1 - 1), so the value is 0.1 at ``margin`` (> 0)."""
    lower, upper = bounds
    d = jnp.where(x < lower, lower - x, x - upper) / margin
    scale = jnp.sqrt(1.0 / _VALUE_AT_MARGIN - 1.0)
    return jnp.where((lower <= x) & (x <= upper), 1.0, 1.0 / ((d * scale) ** 2 + 1.0))
