"""Agents: TrMRL (transformer episodic memory) and the baselines RL^2 (GRU), MLP and oracle.

Every agent is a Flax module with ``step(carry, obs) -> (carry, PolicyOutput)`` for acting one
step on a batch [B, ...], and, where it has a faster one-pass form, ``sequence(obs)`` for a whole
trial [B, T, ...] (used by the PPO update). ``Agent`` wraps a module into pure functions so the
trainer and the evaluator never look inside it. Inputs are ``envs.Observation`` with obs already
normalised; the trial starts with ``Agent.initial_carry`` (memory cleared between trials).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import struct

from trmrl_jax.config import Config
from trmrl_jax.envs import Observation
from trmrl_jax.networks import tfixup
from trmrl_jax.networks.encoder import EncoderLayer, KVCache, sinusoid
from trmrl_jax.networks.heads import Heads, PolicyOutput

Carry = Any


def working_memory(obs: Observation) -> jax.Array:
    """The token x_t = (s_t, a_{t-1}, r_{t-1}, eta_t): [..., obs + action + 2]."""
    return jnp.concatenate([obs.obs, obs.prev_action, obs.prev_reward, obs.episode_start], -1)


@struct.dataclass
class Windows:
    """For each step, the window of its last N working memories, oldest first: the input of one
    ``window``-mode sample, so PPO can draw minibatches of single steps as the reference does."""

    tokens: jax.Array  # [..., N, token_size]; slots before the trial (or episode) are masked.
    pos: jax.Array  # [..., N] int32 trial step of each slot.
    valid: jax.Array  # [..., N] bool: the slot holds a working memory of this window.


def _heads(cfg: Config, action_size: int) -> Heads:
    return Heads(action_size=action_size, hidden=cfg.head_hidden, init_std=cfg.init_std,
                 out_gain=cfg.policy_out_gain, value_std=cfg.value_loss == "gaussian")


class TrMRL(nn.Module):
    """Working memories -> causal no-LayerNorm transformer -> episodic memory -> heads.

    ``attention='sliding'``: every token attends to the previous N tokens (banded mask); one pass
    over the trial in the update, a per-layer KV cache while acting.
    ``attention='window'``: at every step re-encode the last N working memories (the paper's
    semantics), the output at the newest position is the episodic memory.
    """

    cfg: Config
    action_size: int

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
        self.heads = _heads(cfg, self.action_size)

    # -- shared pieces ------------------------------------------------------------------------
    def _episode_length(self) -> int | None:
        """Memory is confined to one episode only when reproducing the reference exactly."""
        return self.cfg.episode_length if self.cfg.reset_memory_each_episode else None

    def _window_keys(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Positions [..., N] of the window ending at t (oldest first) and which are valid."""
        n = self.cfg.window
        pos = t[..., None] - (n - 1) + jnp.arange(n)
        valid = pos >= 0
        if (h := self._episode_length()) is not None:
            valid &= (pos // h) == (t[..., None] // h)
        return pos, valid

    def _encode_windows(self, x: jax.Array, pos: jax.Array, valid: jax.Array) -> jax.Array:
        """x: [M, N, d] windows, pos/valid: [M, N] -> [M, d] output at the newest slot."""
        if self.cfg.position == "sinusoid":
            # The reference's additive slot encoding: the oldest valid memory sits at slot 0.
            slot = jnp.cumsum(valid, axis=-1) - 1
            x = x + (sinusoid(slot, self.cfg.d_model) * valid[..., None]).astype(x.dtype)
        n = self.cfg.window
        mask = jnp.tril(jnp.ones((n, n), bool))[None] & valid[:, None, :]  # [M, q, k]
        for layer in self.layers[:-1]:
            x = layer(x, pos, mask)
        return self.layers[-1](x, pos, mask, newest_only=True)[:, 0]

    def _output(self, tokens: jax.Array, emb: jax.Array, memory: jax.Array) -> PolicyOutput:
        memory, emb = memory.astype(jnp.float32), emb.astype(jnp.float32)  # Heads in float32.
        features = memory if self.cfg.policy_input == "latest_memory" else jnp.concatenate(
            [emb, memory], -1)
        value_features = features if self.cfg.value_input == "memory" else tokens
        return self.heads(features, value_features)

    # -- one pass over a trial (PPO update) -----------------------------------------------------
    def sequence(self, obs: Observation) -> PolicyOutput:
        """obs leaves [B, T, ...] (a whole trial from its first step) -> outputs [B, T, ...]."""
        if self.cfg.attention == "window":
            w = self.windows(obs)
            b, t_len = w.pos.shape[:2]
            flat = jax.tree.map(lambda x: x.reshape((b * t_len,) + x.shape[2:]), w)
            return jax.tree.map(lambda x: x.reshape((b, t_len) + x.shape[1:]),
                                self.encode_windows(flat))
        tokens = working_memory(obs)
        emb = self.embed(tokens)  # [B, T, d]
        memory = emb
        for layer in self.layers:
            memory = layer.sliding(memory, self.cfg.window, self._episode_length())
        return self._output(tokens, emb, memory)

    def windows(self, obs: Observation) -> Windows:
        """obs leaves [B, T, ...] (whole trials) -> the window of every step, leaves [B, T, N, ...]."""
        tokens = working_memory(obs)
        b, t_len = tokens.shape[:2]
        pos, valid = self._window_keys(jnp.arange(t_len))  # [T, N]
        chex.assert_shape(pos, (t_len, self.cfg.window))
        return Windows(tokens=tokens[:, jnp.clip(pos, 0)],
                       pos=jnp.broadcast_to(pos, (b,) + pos.shape),
                       valid=jnp.broadcast_to(valid, (b,) + valid.shape))

    def encode_windows(self, w: Windows) -> PolicyOutput:
        """Windows with leaves [M, N, ...] -> outputs [M, ...] at each window's newest slot."""
        emb = self.embed(w.tokens)  # [M, N, d]
        memory = self._encode_windows(emb, w.pos, w.valid)
        return self._output(w.tokens[:, -1], emb[:, -1], memory)

    # -- acting, one step with memory ---------------------------------------------------------
    def step(self, carry: Carry, obs: Observation) -> tuple[Carry, PolicyOutput]:
        """carry from ``initial_carry``; obs leaves [B, ...] -> (carry, outputs [B, ...])."""
        tokens = working_memory(obs)
        emb = self.embed(tokens)  # [B, d]
        t = carry["t"]
        if self.cfg.attention == "sliding":
            n = self.cfg.window
            slot_pos = t - (t - jnp.arange(n)) % n  # Position held by each ring-buffer slot.
            valid = slot_pos >= 0
            if (h := self._episode_length()) is not None:
                valid &= (slot_pos // h) == (t // h)
            memory, caches = emb, []
            for layer, cache in zip(self.layers, carry["caches"]):
                memory, cache = layer.step(memory, t, cache, valid)
                caches.append(cache)
            new = {"t": t + 1, "caches": tuple(caches)}
        else:
            window = jnp.concatenate([carry["window"][:, 1:], emb[:, None]], axis=1)  # [B, N, d]
            pos, valid = self._window_keys(t)
            b = emb.shape[0]
            memory = self._encode_windows(window, jnp.broadcast_to(pos, (b,) + pos.shape),
                                          jnp.broadcast_to(valid, (b,) + valid.shape))
            new = {"t": t + 1, "window": window}
        return new, self._output(tokens, emb, memory)


class RL2(nn.Module):
    """RL^2: a GRU over the same working memories; hidden state kept across a trial's episodes."""

    cfg: Config
    action_size: int

    @nn.compact
    def step(self, carry: Carry, obs: Observation) -> tuple[Carry, PolicyOutput]:
        tokens = working_memory(obs)
        h = carry["h"]
        if self.cfg.reset_memory_each_episode:
            h = jnp.where(obs.episode_start > 0, 0.0, h)
        h, _ = nn.GRUCell(features=self.cfg.gru_size, name="gru")(h, tokens)
        features = h if self.cfg.value_input == "memory" else tokens
        return {"h": h}, _heads(self.cfg, self.action_size)(h, features)


class MLP(nn.Module):
    """No memory: the policy sees s_t only (``oracle``: s_t and the task parameters)."""

    cfg: Config
    action_size: int
    oracle: bool = False

    @nn.compact
    def sequence(self, obs: Observation) -> PolicyOutput:
        """Any leading axes [...]; there is no memory, so a trial is just a batch of steps."""
        x = jnp.concatenate([obs.obs, obs.task], -1) if self.oracle else obs.obs
        return _heads(self.cfg, self.action_size)(x, x)

    def step(self, carry: Carry, obs: Observation) -> tuple[Carry, PolicyOutput]:
        return carry, self.sequence(obs)


@dataclasses.dataclass(frozen=True)
class Agent:
    """Pure functions around an agent module. Carries are pytrees with a leading [B] axis."""

    module: nn.Module
    initial_carry: Callable[[int], Carry]  # batch size -> memory at the start of a trial.

    def init(self, key: jax.Array, obs: Observation) -> Any:
        """obs leaves [B, ...] (one step) -> parameters."""
        return self.module.init(key, self.initial_carry(obs.obs.shape[0]), obs,
                                method=self.module.step)

    def step(self, params: Any, carry: Carry, obs: Observation) -> tuple[Carry, PolicyOutput]:
        return self.module.apply(params, carry, obs, method=self.module.step)

    @property
    def trains_on_steps(self) -> bool:
        """Whether PPO may draw minibatches of single steps (``samples``/``apply_samples``):
        true for agents whose output at a step depends on a bounded window (or nothing) before
        it, false for recurrent memories that need the whole trial."""
        return isinstance(self.module, MLP) or (
            isinstance(self.module, TrMRL) and self.module.cfg.attention == "window")

    def samples(self, params: Any, obs: Observation) -> Any:
        """Whole trials obs [B, T, ...] -> per-step inputs, leaves [B, T, ...]: the step's
        window for ``window``-mode TrMRL, the observation itself for memoryless agents."""
        if isinstance(self.module, TrMRL):
            return self.module.apply(params, obs, method=self.module.windows)
        return obs

    def apply_samples(self, params: Any, samples: Any) -> PolicyOutput:
        """Per-step inputs, leaves [M, ...] (from ``samples``) -> outputs [M, ...]."""
        if isinstance(self.module, TrMRL):
            return self.module.apply(params, samples, method=self.module.encode_windows)
        return self.module.apply(params, samples, method=self.module.sequence)

    def sequence(self, params: Any, obs: Observation) -> PolicyOutput:
        """Outputs [B, T, ...] for whole trials obs [B, T, ...], as ``step`` would give them."""
        if hasattr(self.module, "sequence"):
            return self.module.apply(params, obs, method=self.module.sequence)

        def body(carry, obs_t):
            return self.step(params, carry, obs_t)

        time_major = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), obs)
        _, out = jax.lax.scan(body, self.initial_carry(obs.obs.shape[0]), time_major)
        return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), out)


def make_agent(cfg: Config, action_size: int) -> Agent:
    """The agent named by ``cfg.agent``."""
    if cfg.agent == "trmrl":
        module = TrMRL(cfg, action_size)
        hd, dtype = cfg.d_model // cfg.num_heads, jnp.dtype(cfg.compute_dtype)

        def initial_carry(b: int) -> Carry:
            t = jnp.zeros((), jnp.int32)
            if cfg.attention == "window":
                return {"t": t, "window": jnp.zeros((b, cfg.window, cfg.d_model), dtype)}
            zeros = jnp.zeros((b, cfg.num_heads, cfg.window, hd), dtype)
            return {"t": t, "caches": tuple(KVCache(zeros, zeros) for _ in range(cfg.num_layers))}
    elif cfg.agent == "rl2":
        module = RL2(cfg, action_size)
        initial_carry = lambda b: {"h": jnp.zeros((b, cfg.gru_size))}  # noqa: E731
    elif cfg.agent in ("mlp", "oracle"):
        module = MLP(cfg, action_size, oracle=cfg.agent == "oracle")
        initial_carry = lambda b: {}  # noqa: E731
    else:
        raise ValueError(f"agent={cfg.agent!r} is not known")
    return Agent(module=module, initial_carry=initial_carry)
