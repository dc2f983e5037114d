"""Brax locomotion task distributions: the same physics, a task-dependent reward.

Each wraps a stock Brax environment (its physics, observation and reset noise) and replaces the
reward with the meta-RL definition of the task; ``metrics`` of the stock env supply velocities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from brax import envs as brax_envs
from brax.envs.base import State

from trmrl_jax.envs.base import TaskDistribution, Task, control_cost, uniform


class BraxTaskDistribution(TaskDistribution):
    """Base for distributions over a stock Brax env; subclasses define the task and its reward."""

    brax_name: str

    def __init__(self, backend: str = "spring"):
        self.backend = backend
        self._env = brax_envs.get_environment(self.brax_name, backend=backend)
        self.observation_size = self._env.observation_size
        self.action_size = self._env.action_size

    def reset(self, key: jax.Array, task: Task) -> State:
        state = self._env.reset(key)
        return state.replace(reward=jnp.zeros(()))

    def step(self, state: State, action: jax.Array, task: Task) -> State:
        action = jnp.clip(action, -1.0, 1.0)
        nstate = self._env.step(state, action)
        return nstate.replace(reward=self.task_reward(nstate, action, task),
                              done=jnp.zeros(()))  # Trials have fixed length: no termination.

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        raise NotImplementedError


class HalfCheetahVel(BraxTaskDistribution):
    """Run at a target velocity v: reward -|v_x - v| - 0.05 |a|^2 (design brief section 1).

    Train/test v ~ U[0, 3]; OOD v ~ U[3, 4] (faster than anything seen in training).
    """

    brax_name = "halfcheetah"
    task_size = 1
    default_episode_length = 200

    def sample_task(self, key: jax.Array, split: str) -> Task:
        return {"velocity": uniform(key, split, train=(0.0, 3.0), ood=(3.0, 4.0))}

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        return -jnp.abs(state.metrics["x_velocity"] - task["velocity"]) - control_cost(action, 0.05)

    def task_features(self, task: Task) -> jax.Array:
        return jnp.reshape(task["velocity"], (1,))
