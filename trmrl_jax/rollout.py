"""Whole trials of a batch of tasks, acting with memory: shared by training and meta-testing."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from trmrl_jax.envs import Observation, Task, TrialEnv
from trmrl_jax.networks import Agent
from trmrl_jax.normalization import RunningStats


@struct.dataclass
class Trajectory:
    """One trial per task, batch-major: leaves [B, T, ...]."""

    obs: Observation  # Raw (un-normalised) observations.
    action: jax.Array  # [B, T, A] the Gaussian sample (before clipping into the env).
    log_prob: jax.Array  # [B, T]
    value: jax.Array  # [B, T]
    reward: jax.Array  # [B, T]


def normalized(obs: Observation, stats: RunningStats, enabled: bool) -> Observation:
    return obs.replace(obs=stats.normalize(obs.obs)) if enabled else obs


def rollout(agent: Agent, trial_env: TrialEnv, params: Any, stats: RunningStats,
            tasks: Task, keys: jax.Array, *, deterministic: bool, normalize_obs: bool
            ) -> Trajectory:
    """Runs one trial (E episodes of H steps) on every task of the batch ``tasks`` [B].

    keys: [B] one PRNG key per trial, so a trial's randomness does not depend on how the batch
    is split over devices. Memory starts empty and is kept for the whole trial (the agent may
    clear it per episode).
    """
    num_tasks = keys.shape[0]
    split = jax.vmap(jax.random.split)(keys)  # [B, 2, key]
    ts = jax.vmap(trial_env.reset)(split[:, 0], tasks)
    carry = agent.initial_carry(num_tasks)

    def env_step(state, _):
        ts, carry, keys = state
        split = jax.vmap(jax.random.split)(keys)
        keys = split[:, 0]
        obs = jax.vmap(trial_env.observe)(ts)
        carry, out = agent.step(params, carry, normalized(obs, stats, normalize_obs))
        action = out.mean if deterministic else out.policy.sample(split[:, 1])
        ts, reward = jax.vmap(trial_env.step)(ts, action)
        step = Trajectory(obs=obs, action=action, value=out.value, reward=reward,
                          log_prob=out.policy.log_prob(action))
        return (ts, carry, keys), step

    def episode(state, _):
        state, steps = jax.lax.scan(env_step, state, None, length=trial_env.episode_length)
        ts, carry, keys = state
        return (jax.vmap(trial_env.next_episode)(ts), carry, keys), steps

    _, steps = jax.lax.scan(episode, (ts, carry, split[:, 1]), None, length=trial_env.num_episodes)
    # [E, H, B, ...] -> [B, E * H, ...]
    return jax.tree.map(
        lambda x: jnp.moveaxis(x.reshape((-1,) + x.shape[2:]), 0, 1), steps)


def episode_returns(reward: jax.Array, episode_length: int) -> jax.Array:
    """[B, E * H] rewards -> [B, E] undiscounted return of each episode."""
    return reward.reshape(reward.shape[0], -1, episode_length).sum(-1)
