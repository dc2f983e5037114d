"""T-Fixup initialisers (Huang et al. 2020) as the TrMRL reference code applies them.

With L encoder layers and model width d:
- working-memory embedding: Normal(0, d^-1/2) scaled by (9L)^-1/4;
- attention q, k, v and output projections, FFN W1 and W2: Xavier-uniform scaled by 0.67 L^-1/4
  (the reference scales PyTorch's stacked (3d x d) in-projection by an extra sqrt(2); with
  separate (d x d) kernels that factor is already in Xavier's fan: Xavier on the stacked matrix
  has std sqrt(1/(2d)), times sqrt(2) that is sqrt(1/d), the Xavier std of one (d x d) matrix);
- biases zero; no LayerNorm anywhere, no learning-rate warm-up.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

Initializer = Callable[..., jax.Array]


def scaled(init: Initializer, scale: float) -> Initializer:
    """``init`` with its samples multiplied by ``scale``."""

    def _init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        return init(key, shape, dtype) * jnp.asarray(scale, dtype)

    return _init


def embedding_init(d_model: int, num_layers: int) -> Initializer:
    """Normal(0, d^-1/2) * (9L)^-1/4 for the (features x d_model) working-memory embedding."""
    return scaled(nn.initializers.normal(stddev=d_model ** -0.5), (9.0 * num_layers) ** -0.25)


def encoder_init(num_layers: int) -> Initializer:
    """Xavier-uniform * 0.67 L^-1/4 for q, k, v, attention output and both FFN matrices."""
    return scaled(nn.initializers.xavier_uniform(), 0.67 * num_layers ** -0.25)


def embedding_std(d_model: int, num_layers: int) -> float:
    """The std ``embedding_init`` targets (for tests and docs)."""
    return d_model ** -0.5 * (9.0 * num_layers) ** -0.25


def encoder_std(fan_in: int, fan_out: int, num_layers: int) -> float:
    """The std ``encoder_init`` targets for a (fan_in x fan_out) kernel."""
    return (2.0 / (fan_in + fan_out)) ** 0.5 * 0.67 * num_layers ** -0.25
