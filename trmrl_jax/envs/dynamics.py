"""Task distributions whose tasks change the *dynamics*: each task is its own Brax ``System``.

The task holds log-scale factors; ``physics(task)`` builds the scaled system inside the traced
function and returns a shallow copy of the stock env that simulates it, so a vmapped reset/step
over a batch of tasks simulates a batch of different physics (as Brax's
``DomainRandomizationVmapWrapper`` does, but with the system a function of explicit task data).
"""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import numpy as np
from brax.base import System
from brax.envs.base import PipelineEnv, State
from brax.positional import base as positional_base
from brax.spring import base as spring_base

from trmrl_jax.envs.base import Task, control_cost
from trmrl_jax.envs.locomotion import BraxTaskDistribution

PARAMETERS = ("mass", "inertia", "damping", "friction")  # Order of the task features.
_BASE = 1.5  # A factor u scales its parameter by 1.5 ** u.


class HalfCheetahRandParams(BraxTaskDistribution):
    """HalfCheetah with random physics: reward v_x - 0.1 |a|^2 (the standard rand-params reward).

    Each task scales, element by element, the link masses [7], link inertia matrices [7], joint
    damping [9 dofs] and geom friction [9 geoms] by 1.5 ** u: train/test u ~ U[-1, 1], OOD
    |u| ~ U[1, 1.5] with a random sign per element (every factor more extreme than in training).
    Task features: the 32 values u (mass, inertia, damping, friction). Caveats from Brax: the
    spring and positional backends ignore joint damping (only ``generalized`` reads
    ``dof.damping``) and soften masses and inertias to m ** 0.7 and I ** 0.2; contact friction
    is the max over the two geoms in contact.
    """

    brax_name = "halfcheetah"
    default_episode_length = 200

    def __init__(self, backend: str = "spring"):
        super().__init__(backend)
        sys = self._env.sys
        self._sizes = {"mass": sys.num_links(), "inertia": sys.num_links(),
                       "damping": sys.qd_size(), "friction": sys.ngeom}
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

    def system(self, task: Task) -> System:
        """The stock system with the task's parameters scaled."""
        sys = self._env.sys
        scale = {name: _BASE ** task[name] for name in PARAMETERS}
        inertia = sys.link.inertia.replace(mass=sys.link.inertia.mass * scale["mass"],
                                           i=sys.link.inertia.i * scale["inertia"][:, None, None])
        return sys.replace(
            link=sys.link.replace(inertia=inertia),
            dof=sys.dof.replace(damping=sys.dof.damping * scale["damping"]),
            geom_friction=sys.geom_friction * scale["friction"][:, None],
            # MuJoCo-side copies, read by the mjx backend; body 0 is the world body.
            body_mass=jnp.asarray(sys.body_mass).at[1:].multiply(scale["mass"]),
            body_inertia=jnp.asarray(sys.body_inertia).at[1:].multiply(scale["inertia"][:, None]),
            dof_damping=sys.dof_damping * scale["damping"],
        )

    def physics(self, task: Task) -> PipelineEnv:
        env = copy.copy(self._env)  # Shallow: only ``sys`` differs from the shared stock env.
        env.sys = self.system(task)
        return env

    def step(self, state: State, action: jax.Array, task: Task) -> State:
        pipeline_state = state.pipeline_state
        if isinstance(pipeline_state, (spring_base.State, positional_base.State)):
            # These backends cache link masses in the state at reset; take them from the task so
            # that a step depends only on (state, action, task).
            sys = self.system(task)
            pipeline_state = pipeline_state.replace(
                mass=sys.link.inertia.mass ** (1 - sys.spring_mass_scale))
        return super().step(state.replace(pipeline_state=pipeline_state), action, task)

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        return state.metrics["x_velocity"] - control_cost(action, 0.1)

    def task_features(self, task: Task) -> jax.Array:
        return jnp.concatenate([task[name] for name in PARAMETERS])
