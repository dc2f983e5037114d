"""Task distributions whose tasks change the *dynamics*: each task is its own physics model.

The task holds log-scale factors; ``model(task)`` scales the stock model with ``Physics.vary``
inside the traced function, so a vmapped reset/step over a batch of tasks simulates a batch of
different physics (as Brax's ``DomainRandomizationVmapWrapper`` does, but with the model a
function of explicit task data).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import State

from trmrl_jax import physics
from trmrl_jax.envs.base import Task, control_cost
from trmrl_jax.envs.locomotion import LocomotionDistribution
from trmrl_jax.physics import PARAMETERS

_BASE = 1.5  # A factor u scales its parameter by 1.5 ** u.


class HalfCheetahRandParams(LocomotionDistribution):
    """HalfCheetah with random physics: reward v_x - 0.1 |a|^2 (the standard rand-params reward).

    Each task scales, element by element, the link masses, link inertias, joint damping (per
    dof) and geom friction by 1.5 ** u: train/test u ~ U[-1, 1], OOD |u| ~ U[1, 1.5] with a
    random sign per element (every factor more extreme than in training). Task features: the
    values u (mass, inertia, damping, friction; 32 of them on every backend: 7 links, 7, 9 dofs,
    9 geoms). ``Physics.vary`` states each backend's caveats; contact friction is the larger of
    the two geoms' (in Brax as in MuJoCo).
    """

    body = "halfcheetah"
    default_episode_length = 200

    def __init__(self, backend: str = "spring"):
        super().__init__(backend)
        self._sizes = self.physics.parameter_sizes
        self.task_size = sum(self._sizes.values())

    def sample_task(self, key: jax.Array, split: str) -> Task:
        shape = (self.task_size,)
        if split == "ood":
            k_sign, k_magnitude = jax.random.split(key)
            sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, shape), 1.0, -1.0)
            u = sign * jax.random.uniform(k_magnitude, shape, minval=1.0, maxval=1.5)
        else:
            u = jax.random.uniform(key, shape, minval=-1.0, maxval=1.0)
        ends = np.cumsum([self._sizes[name] for name in PARAMETERS])[:-1]
        return dict(zip(PARAMETERS, jnp.split(u, ends)))

    def model(self, task: Task) -> physics.Model:
        """The stock model with the task's parameters scaled."""
        return self.physics.vary(self.physics.model,
                                 {name: _BASE ** task[name] for name in PARAMETERS})

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        return state.metrics["x_velocity"] - control_cost(action, 0.1)

    def task_features(self, task: Task) -> jax.Array:
        return jnp.concatenate([task[name] for name in PARAMETERS])
