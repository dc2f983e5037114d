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

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import struct

from trmrl_jax.config import AGENTS, Config, ConfigError
from trmrl_jax.envs import Observation
from trmrl_jax.networks.encoder import Encoder, SlidingMemory, WindowMemory, Windows, initial_memory
from trmrl_jax.networks.heads import Heads, PolicyOutput

Carry = Any


def working_memory(obs: Observation) -> jax.Array:
    """The token x_t = (s_t, a_{t-1}, r_{t-1}, eta_t): [..., obs + action + 2]."""
    return jnp.concatenate([obs.obs, obs.prev_action, obs.prev_reward, obs.episode_start], -1)


def _heads(cfg: Config, action_size: int, hidden: int = 0, critic: bool = True) -> Heads:
    return Heads(action_size=action_size, hidden=hidden or cfg.head_hidden, init_std=cfg.init_std,
                 out_gain=cfg.policy_out_gain, value_std=critic and cfg.value_loss == "gaussian",
                 critic=critic)


class TrMRL(Encoder):
    """Working memories -> encoder -> episodic memory -> policy and value heads.

    TrMRL extends ``Encoder`` (rather than holding one as a submodule) so that its parameters
    keep the flat names ``embed``, ``layers_i``, ``heads``: the same initial values for the same
    seed, and checkpoints that fit.
    """

    action_size: int

    def setup(self):
        super().setup()
        self.heads = _heads(self.cfg, self.action_size)

    def _output(self, tokens: jax.Array, emb: jax.Array, memory: jax.Array) -> PolicyOutput:
        memory, emb = memory.astype(jnp.float32), emb.astype(jnp.float32)  # Heads in float32.
        features = memory if self.cfg.policy_input == "latest_memory" else jnp.concatenate(
            [emb, memory], -1)
        value_features = features if self.cfg.value_input == "memory" else tokens
        return self.heads(features, value_features)

    def sequence(self, obs: Observation) -> PolicyOutput:
        """obs leaves [B, T, ...] (a whole trial from its first step) -> outputs [B, T, ...]."""
        tokens = working_memory(obs)
        return self._output(tokens, *self.encode_trial(tokens))

    def windows(self, obs: Observation) -> Windows:
        """obs leaves [B, T, ...] (whole trials) -> every step's window, leaves [B, T, N, ...]."""
        return self.trial_windows(working_memory(obs))

    def encode_windows(self, w: Windows) -> PolicyOutput:
        """Windows with leaves [M, N, ...] -> outputs [M, ...] at each window's newest slot."""
        return self._output(w.tokens[:, -1], *self.encode_window_batch(w))

    def samples(self, obs: Observation) -> Windows:
        """Single-step training samples of whole trials: every step's window (``windows``)."""
        return self.windows(obs)

    def apply_samples(self, w: Windows) -> PolicyOutput:
        return self.encode_windows(w)

    def step(self, carry: SlidingMemory | WindowMemory, obs: Observation
             ) -> tuple[SlidingMemory | WindowMemory, PolicyOutput]:
        """carry from ``initial_carry``; obs leaves [B, ...] -> (carry, outputs [B, ...])."""
        tokens = working_memory(obs)
        carry, emb, memory = self.encode_step(carry, tokens)
        return carry, self._output(tokens, emb, memory)


@struct.dataclass
class GRUMemory:
    """RL^2's memory: the GRU state, kept across the episodes of a trial."""

    h: jax.Array  # [B, gru_size]


class RL2(nn.Module):
    """RL^2: a GRU over the same working memories; hidden state kept across a trial's episodes."""

    cfg: Config
    action_size: int

    @nn.compact
    def step(self, carry: Carry, obs: Observation) -> tuple[Carry, PolicyOutput]:
        tokens = working_memory(obs)
        h = carry.h
        if self.cfg.reset_memory_each_episode:
            h = jnp.where(obs.episode_start > 0, 0.0, h)
        h, _ = nn.GRUCell(features=self.cfg.gru_size, name="gru")(h, tokens)
        features = h if self.cfg.value_input == "memory" else tokens
        return GRUMemory(h), _heads(self.cfg, self.action_size)(h, features)


class MLP(nn.Module):
    """No memory: the policy sees s_t only (``oracle``: s_t and the task parameters), through
    tanh layers of ``mlp_hidden`` units (``critic=False``: a policy alone, as MAML adapts it)."""

    cfg: Config
    action_size: int
    oracle: bool = False
    critic: bool = True

    @nn.compact
    def sequence(self, obs: Observation) -> PolicyOutput:
        """Any leading axes [...]; there is no memory, so a trial is just a batch of steps."""
        x = jnp.concatenate([obs.obs, obs.task], -1) if self.oracle else obs.obs
        return _heads(self.cfg, self.action_size, self.cfg.mlp_hidden, self.critic)(x, x)

    def step(self, carry: Carry, obs: Observation) -> tuple[Carry, PolicyOutput]:
        return carry, self.sequence(obs)

    def samples(self, obs: Observation) -> Observation:
        """Single-step training samples: with no memory, a step's observation is all it needs."""
        return obs

    def apply_samples(self, obs: Observation) -> PolicyOutput:
        return self.sequence(obs)


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

    def samples(self, params: Any, obs: Observation) -> Any:
        """Whole trials obs [B, T, ...] -> per-step inputs, leaves [B, T, ...]: the step's
        window for ``window``-mode TrMRL, the observation itself for memoryless agents (agents
        that train on single steps define ``samples`` and ``apply_samples``)."""
        return self.module.apply(params, obs, method=self.module.samples)

    def apply_samples(self, params: Any, samples: Any) -> PolicyOutput:
        """Per-step inputs, leaves [M, ...] (from ``samples``) -> outputs [M, ...]."""
        return self.module.apply(params, samples, method=self.module.apply_samples)

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
        initial_carry = lambda b: initial_memory(cfg, b)  # noqa: E731
    elif cfg.agent == "rl2":
        module = RL2(cfg, action_size)
        initial_carry = lambda b: GRUMemory(jnp.zeros((b, cfg.gru_size)))  # noqa: E731
    elif cfg.agent in ("mlp", "oracle", "maml"):
        module = MLP(cfg, action_size, oracle=cfg.agent == "oracle", critic=cfg.agent != "maml")
        initial_carry = lambda b: ()  # noqa: E731  (no memory)
    else:
        raise ConfigError(f"agent={cfg.agent!r} is not known; choose one of {', '.join(AGENTS)}")
    return Agent(module=module, initial_carry=initial_carry)
