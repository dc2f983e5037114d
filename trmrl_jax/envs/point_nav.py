"""2-D point navigation to an unobserved goal: the fast pure-JAX distribution for tests and the
quick start. Only rewards reveal the goal, so a memoryless policy cannot do better than a
compromise point, while a meta-learner can find the goal in episode 1 and go there directly after.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from brax.envs.base import State

from trmrl_jax.envs.base import Task, TaskDistribution, uniform

_MAX_STEP = 0.1  # Actions in [-1, 1] move the point at most this far per axis.


class PointNav(TaskDistribution):
    """Goal on the upper half circle of radius 1 (train/test); radius 1.25-1.5 for OOD.

    Observation: position [2]. Reward: -distance to the goal after the move. Task: ``goal`` [2].
    """

    observation_size = 2
    action_size = 2
    task_size = 2
    default_episode_length = 20

    def sample_task(self, key: jax.Array, split: str) -> Task:
        k_angle, k_radius = jax.random.split(key)
        angle = jax.random.uniform(k_angle, (), minval=0.0, maxval=jnp.pi)
        radius = uniform(k_radius, split, train=(1.0, 1.0), ood=(1.25, 1.5))
        return {"goal": radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)])}

    def reset(self, key: jax.Array, task: Task) -> State:
        del key  # Deterministic start at the origin.
        pos = jnp.zeros(2)
        zero = jnp.zeros(())
        return State(pipeline_state=None, obs=pos, reward=zero, done=zero,
                     metrics={"distance": jnp.linalg.norm(pos - task["goal"])})

    def step(self, state: State, action: jax.Array, task: Task) -> State:
        pos = state.obs + _MAX_STEP * jnp.clip(action, -1.0, 1.0)
        distance = jnp.linalg.norm(pos - task["goal"])
        return state.replace(obs=pos, reward=-distance, metrics={"distance": distance})

    def task_features(self, task: Task) -> jax.Array:
        return task["goal"]
