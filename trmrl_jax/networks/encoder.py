"""Causal transformer encoder without LayerNorm (post-residual x + attn(x), x + FFN(x)).

Two ways to run the same parameters:
- ``EncoderLayer.__call__`` encodes a whole sequence [B, L, d] under a boolean mask [L, L]
  (banded causal mask for ``sliding`` attention, plain causal mask inside a ``window``);
- ``EncoderLayer.step`` encodes one new token [B, d] against a per-layer KV cache, O(N) per step,
  giving exactly the outputs of the banded one-pass encoding.
Positions are rotary (scores depend on the distance t - s only) unless the caller adds its own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import struct

from trmrl_jax.networks import tfixup

_NEG = -1e9


@struct.dataclass
class KVCache:
    """One layer's keys and values for the last N positions; slot ``t % N`` holds position t."""

    k: jax.Array  # [B, heads, N, head_dim], keys already rotated to their position.
    v: jax.Array  # [B, heads, N, head_dim]


def rotate(x: jax.Array, pos: jax.Array) -> jax.Array:
    """Rotary position embedding. x: [..., heads, hd]; pos: [...] integer positions."""
    half = x.shape[-1] // 2
    freqs = 1.0 / (10000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angle = pos[..., None].astype(jnp.float32) * freqs  # [..., half]
    cos = jnp.cos(angle)[..., None, :].astype(x.dtype)  # [..., 1, half]
    sin = jnp.sin(angle)[..., None, :].astype(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)


def sinusoid(pos: jax.Array, d_model: int) -> jax.Array:
    """Additive sinusoidal encoding [..., d_model] of integer positions [...] (Vaswani et al.)."""
    half = d_model // 2
    freqs = 1.0 / (10000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angle = pos[..., None].astype(jnp.float32) * freqs
    return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=-1)


def band_mask(positions: jax.Array, window: int, episode_length: int | None) -> jax.Array:
    """[L, L] mask: query q sees key k iff k <= q < k + window (and same episode if given)."""
    q, k = positions[:, None], positions[None, :]
    mask = (k <= q) & (q - k < window)
    if episode_length is not None:
        mask &= (q // episode_length) == (k // episode_length)
    return mask


class EncoderLayer(nn.Module):
    d_model: int
    num_heads: int
    d_ff: int
    num_layers: int  # L of the whole encoder: sets the T-Fixup scale.
    rotary: bool = True
    tfixup: bool = True
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        init = (tfixup.encoder_init(self.num_layers) if self.tfixup
                else nn.initializers.lecun_normal())
        dense = lambda n: nn.Dense(n, kernel_init=init, dtype=self.dtype)  # noqa: E731
        self.q, self.k, self.v, self.o = (dense(self.d_model) for _ in range(4))
        self.ff1, self.ff2 = dense(self.d_ff), dense(self.d_model)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads

    def _heads(self, x: jax.Array, pos: jax.Array):
        """x: [..., d], pos: [...] -> rotated q, k and v, each [..., heads, head_dim]."""
        split = lambda y: y.reshape(*y.shape[:-1], self.num_heads, self.head_dim)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if self.rotary:
            q, k = rotate(q, pos), rotate(k, pos)
        return q, k, v

    def _finish(self, x: jax.Array, attn: jax.Array) -> jax.Array:
        """Post-residual attention and FFN blocks, no LayerNorm. attn: [..., heads, hd]."""
        x = x + self.o(attn.reshape(*attn.shape[:-2], self.d_model))
        return x + self.ff2(nn.relu(self.ff1(x)))

    def __call__(self, x: jax.Array, pos: jax.Array, mask: jax.Array) -> jax.Array:
        """x: [B, L, d]; pos: [L] or [B, L]; mask: [L, L] or [B, L, L] (query, key) -> [B, L, d]."""
        pos = jnp.broadcast_to(pos, x.shape[:-1])
        q, k, v = self._heads(x, pos)  # [B, L, heads, hd]
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(self.head_dim).astype(x.dtype)
        mask = jnp.broadcast_to(mask, (x.shape[0],) + mask.shape[-2:])[:, None]
        weights = jax.nn.softmax(jnp.where(mask, scores, _NEG).astype(jnp.float32), axis=-1)
        attn = jnp.einsum("bhqk,bkhd->bqhd", weights.astype(x.dtype), v)
        return self._finish(x, attn)

    def step(self, x: jax.Array, t: jax.Array, cache: KVCache, key_valid: jax.Array
             ) -> tuple[jax.Array, KVCache]:
        """One token x: [B, d] at trial position t (scalar) -> ([B, d], updated cache).

        key_valid: [N] bool, which cache slots (after writing slot t % N) the query may see.
        """
        q, k, v = self._heads(x, jnp.broadcast_to(t, x.shape[:1]))  # [B, heads, hd]
        slot = t % cache.k.shape[2]
        cache = KVCache(
            k=jax.lax.dynamic_update_slice_in_dim(cache.k, k[:, :, None], slot, axis=2),
            v=jax.lax.dynamic_update_slice_in_dim(cache.v, v[:, :, None], slot, axis=2))
        scores = jnp.einsum("bhd,bhnd->bhn", q, cache.k) / jnp.sqrt(self.head_dim).astype(x.dtype)
        weights = jax.nn.softmax(jnp.where(key_valid, scores, _NEG).astype(jnp.float32), axis=-1)
        attn = jnp.einsum("bhn,bhnd->bhd", weights.astype(x.dtype), cache.v)
        return self._finish(x, attn), cache
