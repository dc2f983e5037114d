"""Causal transformer encoder without LayerNorm (post-residual x + attn(x), x + FFN(x)).

``Encoder`` turns working memories into episodic memories (embedding, layers, masks, memory
carries); ``EncoderLayer`` is one layer. Three ways to run the same layer parameters:
- ``EncoderLayer.__call__`` encodes a sequence [B, L, d] under a boolean mask [L, L] (the causal
  mask inside a ``window``; ``newest_only`` for a window's last layer);
- ``EncoderLayer.sliding`` encodes a whole trial [B, L, d], each position attending to the last
  N, block by block (``banded_attention``);
- ``EncoderLayer.step`` encodes one new token [B, d] against a per-layer KV cache, O(N) per step,
  giving exactly the outputs of ``sliding``.
Positions are rotary (scores depend on the distance t - s only) unless the caller adds its own.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import struct

from trmrl_jax.config import Config
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
    """Additive sinusoidal encoding [..., d_model] of integer positions [...] (Vaswani et al.):
    sin at even and cos at odd dimensions, as the reference's ``PositionalEncoding`` lays them."""
    half = d_model // 2
    freqs = 1.0 / (10000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))
    angle = pos[..., None].astype(jnp.float32) * freqs
    return jnp.stack([jnp.sin(angle), jnp.cos(angle)], axis=-1).reshape(pos.shape + (d_model,))


def same_episode(query_pos: jax.Array | np.ndarray, key_pos: jax.Array | np.ndarray,
                 episode_length: int | None) -> jax.Array | np.ndarray | bool:
    """Whether key positions share the query's episode (all true when memory crosses episodes,
    ``episode_length`` None). Broadcasts; works on NumPy and JAX integer arrays alike."""
    if episode_length is None:
        return True
    return (query_pos // episode_length) == (key_pos // episode_length)


def band_mask(positions: jax.Array, window: int, episode_length: int | None) -> jax.Array:
    """[L, L] mask: query q sees key k iff k <= q < k + window (and same episode if given)."""
    q, k = positions[:, None], positions[None, :]
    return (k <= q) & (q - k < window) & same_episode(q, k, episode_length)


def _attention_weights(q: jax.Array, k: jax.Array, mask: jax.Array, spec: str) -> jax.Array:
    """Softmax over keys (float32) of the scaled scores; ``spec`` as in 'bqhd,bkhd->bhqk'."""
    scores = jnp.einsum(spec, q, k) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
    return jax.nn.softmax(jnp.where(mask, scores, _NEG).astype(jnp.float32), axis=-1)


def _attend(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array, spec: str) -> jax.Array:
    """Softmax attention; ``spec`` names q/k axes as in 'bqhd,bkhd->bhqk'. Softmax in float32."""
    weights = _attention_weights(q, k, mask, spec)
    lhs, out = spec.split("->")
    q_spec, k_spec = lhs.split(",")
    return jnp.einsum(f"{out},{k_spec}->{q_spec}", weights.astype(v.dtype), v)


def banded_attention(q: jax.Array, k: jax.Array, v: jax.Array, window: int,
                     episode_length: int | None) -> jax.Array:
    """Causal attention over the last ``window`` positions, computed block by block.

    q, k, v: [B, L, heads, hd] at positions 0..L-1 -> [B, L, heads, hd], equal to full attention
    under ``band_mask``. Queries go in blocks of b ~ N/2; each block scores only the m + 1 key
    blocks its band touches, O(L (N + b)) scores instead of O(L^2): at L = 200, N = 20 about 15 %
    of them. Falls back to the full masked matrix when the band covers most of the sequence.
    """
    length = q.shape[1]
    b = max(8, -(-window // 2))
    m = math.ceil((window - 1) / b)
    if (m + 1) * b >= length:
        mask = band_mask(jnp.arange(length), window, episode_length)
        return _attend(q, k, v, mask[None, None], "bqhd,bkhd->bhqk")
    nb = -(-length // b)
    pad = nb * b - length
    blocks = lambda x, front: jnp.pad(  # noqa: E731
        x, ((0, 0), (front, pad), (0, 0), (0, 0))).reshape(x.shape[0], -1, b, *x.shape[2:])
    qb = blocks(q, 0)  # [B, nb, b, h, hd]
    kb, vb = blocks(k, m * b), blocks(v, m * b)  # [B, m + nb, b, h, hd]: m blocks of padding.
    # Block j's keys: blocks j - m .. j (in original positions), concatenated [B, nb, (m+1)b, ..].
    kw = jnp.concatenate([kb[:, i:i + nb] for i in range(m + 1)], axis=2)
    vw = jnp.concatenate([vb[:, i:i + nb] for i in range(m + 1)], axis=2)
    q_pos = np.arange(nb * b).reshape(nb, b, 1)
    k_pos = ((np.arange(nb) - m) * b)[:, None, None] + np.arange((m + 1) * b)[None, None]
    mask = ((k_pos >= 0) & (k_pos <= q_pos) & (q_pos - k_pos < window)  # [nb, b, (m+1)b]
            & same_episode(q_pos, k_pos, episode_length))
    out = _attend(qb, kw, vw, jnp.asarray(mask)[None, :, None], "bnqhd,bnkhd->bnhqk")
    return out.reshape(q.shape[0], nb * b, *q.shape[2:])[:, :length]


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

    def _split(self, y: jax.Array) -> jax.Array:
        return y.reshape(*y.shape[:-1], self.num_heads, self.head_dim)

    def _query(self, x: jax.Array, pos: jax.Array) -> jax.Array:
        """x: [..., d], pos: [...] -> rotated queries [..., heads, head_dim]."""
        q = self._split(self.q(x))
        return rotate(q, pos) if self.rotary else q

    def _keys_values(self, x: jax.Array, pos: jax.Array) -> tuple[jax.Array, jax.Array]:
        """x: [..., d], pos: [...] -> rotated keys and values, each [..., heads, head_dim]."""
        k, v = self._split(self.k(x)), self._split(self.v(x))
        return (rotate(k, pos) if self.rotary else k), v

    def _finish(self, x: jax.Array, attn: jax.Array) -> jax.Array:
        """Post-residual attention and FFN blocks, no LayerNorm. attn: [..., heads, hd]."""
        x = x + self.o(attn.reshape(*attn.shape[:-2], self.d_model))
        return x + self.ff2(nn.relu(self.ff1(x)))

    def __call__(self, x: jax.Array, pos: jax.Array, mask: jax.Array,
                 newest_only: bool = False) -> jax.Array:
        """x: [B, L, d]; pos: [L] or [B, L]; mask: [L, L] or [B, L, L] (query, key) -> [B, L, d].

        newest_only: only the last position queries (keys and values still cover all L), giving
        [B, 1, d]. A ``window`` encoder's last layer needs nothing else, which saves the query,
        output and FFN work of the other L - 1 positions and an [L, L] score matrix per head.
        """
        pos = jnp.broadcast_to(pos, x.shape[:-1])
        k, v = self._keys_values(x, pos)  # [B, L, heads, hd]
        mask = jnp.broadcast_to(mask, (x.shape[0],) + mask.shape[-2:])
        if newest_only:
            x, pos, mask = x[:, -1:], pos[:, -1:], mask[:, -1:]
        q = self._query(x, pos)
        self._sow_attention(q, k, mask[:, None], "bqhd,bkhd->bhqk")
        return self._finish(x, _attend(q, k, v, mask[:, None], "bqhd,bkhd->bhqk"))

    def _sow_attention(self, q: jax.Array, k: jax.Array, mask: jax.Array, spec: str) -> None:
        """Keeps the attention weights in the ``intermediates`` collection when the caller made
        it mutable (``trmrl_jax.visualize`` does); otherwise nothing is computed."""
        if self.is_mutable_collection("intermediates"):
            self.sow("intermediates", "attention", _attention_weights(q, k, mask, spec))

    def sliding(self, x: jax.Array, window: int, episode_length: int | None) -> jax.Array:
        """x: [B, L, d] at positions 0..L-1, each attending to the last ``window`` positions
        (within its episode if ``episode_length``) -> [B, L, d]; see ``banded_attention``."""
        pos = jnp.arange(x.shape[1])
        q, (k, v) = self._query(x, pos), self._keys_values(x, pos)
        return self._finish(x, banded_attention(q, k, v, window, episode_length))

    def step(self, x: jax.Array, t: jax.Array, cache: KVCache, key_valid: jax.Array
             ) -> tuple[jax.Array, KVCache]:
        """One token x: [B, d] at trial position t (scalar) -> ([B, d], updated cache).

        key_valid: [N] bool, which cache slots (after writing slot t % N) the query may see.
        """
        pos = jnp.broadcast_to(t, x.shape[:1])
        q, (k, v) = self._query(x, pos), self._keys_values(x, pos)  # [B, heads, hd]
        slot = t % cache.k.shape[2]
        cache = KVCache(
            k=jax.lax.dynamic_update_slice_in_dim(cache.k, k[:, :, None], slot, axis=2),
            v=jax.lax.dynamic_update_slice_in_dim(cache.v, v[:, :, None], slot, axis=2))
        self._sow_attention(q, cache.k, key_valid, "bhd,bhnd->bhn")  # [B, heads, N] over slots.
        return self._finish(x, _attend(q, k=cache.k, v=cache.v, mask=key_valid,
                                       spec="bhd,bhnd->bhn")), cache


@struct.dataclass
class Windows:
    """For each step, the window of its last N working memories, oldest first: the input of one
    ``window``-mode sample, so PPO can draw minibatches of single steps as the reference does."""

    tokens: jax.Array  # [..., N, token_size]; slots before the trial (or episode) are masked.
    pos: jax.Array  # [..., N] int32 trial step of each slot.
    valid: jax.Array  # [..., N] bool: the slot holds a working memory of this window.


@struct.dataclass
class SlidingMemory:
    """Acting memory of ``sliding`` attention: one KV cache per layer."""

    t: jax.Array  # [] int32 step of the trial the next token sits at.
    caches: tuple[KVCache, ...]  # One per layer, each [B, heads, N, head_dim].


@struct.dataclass
class WindowMemory:
    """Acting memory of ``window`` attention: the last N embedded working memories."""

    t: jax.Array  # [] int32 step of the trial the next token sits at.
    window: jax.Array  # [B, N, d_model], oldest first.


def initial_memory(cfg: Config, batch: int) -> SlidingMemory | WindowMemory:
    """The empty memory at the start of a trial, for ``batch`` trials."""
    t, dtype = jnp.zeros((), jnp.int32), jnp.dtype(cfg.compute_dtype)
    if cfg.attention == "window":
        return WindowMemory(t, jnp.zeros((batch, cfg.window, cfg.d_model), dtype))
    zeros = jnp.zeros((batch, cfg.num_heads, cfg.window, cfg.d_model // cfg.num_heads), dtype)
    return SlidingMemory(t, tuple(KVCache(zeros, zeros) for _ in range(cfg.num_layers)))


class Encoder(nn.Module):
    """Working memories -> episodic memories: the embedding, the L layers, the masks, and the
    three ways to run them (``encode_trial`` for a whole trial in one pass, ``encode_step`` for
    acting with memory, ``encode_window_batch`` for single-step samples of ``window`` mode).

    ``attention='sliding'``: every token attends to the previous N tokens (banded mask); one pass
    over the trial, a per-layer KV cache while acting. ``attention='window'``: at every step the
    last N working memories are re-encoded (the paper's semantics) and the output at the newest
    slot is the episodic memory. ``reset_memory_each_episode`` confines both to the episode.
    Each method returns (embedded tokens, episodic memories), both [..., d_model].
    """

    cfg: Config

    def setup(self):
        cfg = self.cfg
        tf = cfg.init == "tfixup"
        emb_init = (tfixup.embedding_init(cfg.d_model, cfg.num_layers) if tf
                    else nn.initializers.lecun_normal())
        dtype = jnp.dtype(cfg.compute_dtype)
        self.embed = nn.Dense(cfg.d_model, use_bias=False, kernel_init=emb_init, dtype=dtype)
        self.layers = [EncoderLayer(cfg.d_model, cfg.num_heads, cfg.d_ff, cfg.num_layers,
                                    rotary=cfg.position == "rotary", tfixup=tf, dtype=dtype)
                       for _ in range(cfg.num_layers)]

    def _episode_length(self) -> int | None:
        """Memory is confined to one episode only when reproducing the reference exactly."""
        return self.cfg.episode_length if self.cfg.reset_memory_each_episode else None

    def _window_keys(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Positions [..., N] of the window ending at t (oldest first) and which are valid."""
        n = self.cfg.window
        pos = t[..., None] - (n - 1) + jnp.arange(n)
        return pos, (pos >= 0) & same_episode(t[..., None], pos, self._episode_length())

    def _encode_windows(self, x: jax.Array, pos: jax.Array, valid: jax.Array) -> jax.Array:
        """x: [M, N, d] embedded windows, pos/valid: [M, N] -> [M, d] at the newest slot."""
        if self.cfg.position == "sinusoid":
            # The reference's additive slot encoding: the oldest valid memory sits at slot 0.
            slot = jnp.cumsum(valid, axis=-1) - 1
            x = x + (sinusoid(slot, self.cfg.d_model) * valid[..., None]).astype(x.dtype)
        n = self.cfg.window
        mask = jnp.tril(jnp.ones((n, n), bool))[None] & valid[:, None, :]  # [M, q, k]
        for layer in self.layers[:-1]:
            x = layer(x, pos, mask)
        return self.layers[-1](x, pos, mask, newest_only=True)[:, 0]

    def trial_windows(self, x: jax.Array) -> Windows:
        """x [B, T, F] (tokens or their embeddings, whole trials) -> each step's window, leaves
        [B, T, N, ...]."""
        b, t_len = x.shape[:2]
        pos, valid = self._window_keys(jnp.arange(t_len))  # [T, N]
        chex.assert_shape(pos, (t_len, self.cfg.window))
        return Windows(tokens=x[:, jnp.clip(pos, 0)],
                       pos=jnp.broadcast_to(pos, (b,) + pos.shape),
                       valid=jnp.broadcast_to(valid, (b,) + valid.shape))

    def encode_window_batch(self, w: Windows) -> tuple[jax.Array, jax.Array]:
        """Windows, leaves [M, N, ...] -> (embedded newest tokens [M, d], memories [M, d])."""
        emb = self.embed(w.tokens)  # [M, N, d]
        return emb[:, -1], self._encode_windows(emb, w.pos, w.valid)

    def encode_trial(self, tokens: jax.Array) -> tuple[jax.Array, jax.Array]:
        """tokens [B, T, token_size] (whole trials from their first step) -> (embedded tokens,
        memories), each [B, T, d]: what ``encode_step`` gives step by step."""
        emb = self.embed(tokens)  # [B, T, d]
        if self.cfg.attention == "window":  # Embed each token once, then gather the windows.
            b, t_len, d = emb.shape
            flat = jax.tree.map(lambda x: x.reshape((b * t_len,) + x.shape[2:]),
                                self.trial_windows(emb))  # [B * T, N, ...]
            memory = self._encode_windows(flat.tokens, flat.pos, flat.valid)
            return emb, memory.reshape(b, t_len, d)
        memory = emb
        for layer in self.layers:
            memory = layer.sliding(memory, self.cfg.window, self._episode_length())
        return emb, memory

    def encode_step(self, carry: SlidingMemory | WindowMemory, tokens: jax.Array
                    ) -> tuple[SlidingMemory | WindowMemory, jax.Array, jax.Array]:
        """One step: carry (``initial_memory``), tokens [B, token_size] -> (carry, embedded
        tokens [B, d], memories [B, d])."""
        emb = self.embed(tokens)  # [B, d]
        t = carry.t
        if isinstance(carry, SlidingMemory):
            n = self.cfg.window
            slot_pos = t - (t - jnp.arange(n)) % n  # Position held by each ring-buffer slot.
            valid = (slot_pos >= 0) & same_episode(t, slot_pos, self._episode_length())
            memory, caches = emb, []
            for layer, cache in zip(self.layers, carry.caches):
                memory, cache = layer.step(memory, t, cache, valid)
                caches.append(cache)
            return SlidingMemory(t + 1, tuple(caches)), emb, memory
        window = jnp.concatenate([carry.window[:, 1:], emb[:, None]], axis=1)  # [B, N, d]
        pos, valid = self._window_keys(t)
        b = emb.shape[0]
        memory = self._encode_windows(window, jnp.broadcast_to(pos, (b,) + pos.shape),
                                      jnp.broadcast_to(valid, (b,) + valid.shape))
        return WindowMemory(t + 1, window), emb, memory
