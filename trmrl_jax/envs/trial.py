"""The trial wrapper: E episodes of H steps on one task, and what the agent observes.

A trial keeps its task for all E episodes; each episode starts from a fresh reset of the same task.
The agent sees a working-memory input per step: (s_t, a_{t-1}, r_{t-1}, eta_t) with eta_t = 1 at
the first step of every episode, plus the task features (used by the oracle agent only).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from brax.envs.base import State
from flax import struct

from trmrl_jax.envs.base import Task, TaskDistribution


@struct.dataclass
class Observation:
    """What an agent may see at one step. Leaves are [..., size] with any leading batch axes."""

    obs: jax.Array  # [..., observation_size] raw state s_t.
    prev_action: jax.Array  # [..., action_size] a_{t-1}; zeros at the trial start.
    prev_reward: jax.Array  # [..., 1] r_{t-1}; zero at the trial start.
    episode_start: jax.Array  # [..., 1] eta_t: 1.0 at the first step of each episode.
    task: jax.Array  # [..., task_size] task features (oracle only).


@struct.dataclass
class TrialState:
    env_state: State
    task: Task
    key: jax.Array  # Consumed by the episode resets inside the trial.
    t: jax.Array  # int32 step within the trial.
    prev_action: jax.Array
    prev_reward: jax.Array


class TrialEnv:
    """E episodes of H steps of one task per trial (all methods are for one, unbatched trial)."""

    def __init__(self, env: TaskDistribution, episode_length: int, episodes_per_trial: int,
                 reset_memory_each_episode: bool = False):
        self.env = env
        self.episode_length = episode_length
        self.episodes_per_trial = episodes_per_trial
        # The reference clears its memory at every episode start, and zeroes a_{t-1} and r_{t-1}
        # there (the agent clears its own memory); otherwise they carry the previous episode's
        # last action and reward into the next (memory across episodes).
        self.reset_memory_each_episode = reset_memory_each_episode

    @property
    def trial_length(self) -> int:
        return self.episode_length * self.episodes_per_trial

    def reset(self, key: jax.Array, task: Task) -> TrialState:
        """A new trial of ``task``."""
        key, reset_key = jax.random.split(key)
        return TrialState(
            env_state=self.env.reset(reset_key, task), task=task, key=key,
            t=jnp.zeros((), jnp.int32), prev_action=jnp.zeros(self.env.action_size),
            prev_reward=jnp.zeros(1))

    def observe(self, ts: TrialState) -> Observation:
        start = (ts.t % self.episode_length == 0).astype(jnp.float32)
        return Observation(obs=ts.env_state.obs, prev_action=ts.prev_action,
                           prev_reward=ts.prev_reward, episode_start=start[None],
                           task=self.env.task_features(ts.task))

    def next_episode(self, ts: TrialState) -> TrialState:
        """Starts the next episode of the same task."""
        key, reset_key = jax.random.split(ts.key)
        ts = ts.replace(env_state=self.env.reset(reset_key, ts.task), key=key)
        if self.reset_memory_each_episode:
            ts = ts.replace(prev_action=jnp.zeros_like(ts.prev_action),
                            prev_reward=jnp.zeros_like(ts.prev_reward))
        return ts

    def step(self, ts: TrialState, action: jax.Array) -> tuple[TrialState, jax.Array]:
        """One step of the task. Returns the new trial state and the reward of this step.

        Episodes have exactly H steps; the caller starts the next one with ``next_episode``
        (rollouts scan E episodes of H steps, so the reset is not paid at every step).
        """
        nstate = self.env.step(ts.env_state, action, ts.task)
        ts = ts.replace(env_state=nstate, t=ts.t + 1, prev_action=jnp.clip(action, -1.0, 1.0),
                        prev_reward=nstate.reward[None])
        return ts, nstate.reward
