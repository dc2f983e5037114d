"""Brax's own pipelines (spring, positional, generalized) behind ``Physics``.

The body is a stock Brax environment: its model, observation, reset noise and metrics, unchanged,
so results on these backends stay what they were before the seam existed. The model a task may
vary is the environment's Brax ``System``; a step of a varied system runs a shallow copy of the
stock environment holding that system (Brax's ``PipelineEnv`` reads ``self.sys``), as Brax's
``DomainRandomizationVmapWrapper`` does, but with the system a function of explicit task data.
"""

from __future__ import annotations

import copy
from typing import Mapping

import jax
import jax.numpy as jnp
from brax import envs as brax_envs
from brax.base import System
from brax.envs.base import PipelineEnv, State
from brax.positional import base as positional_base
from brax.spring import base as spring_base

from trmrl_jax.physics.base import Physics

BACKENDS = ("spring", "positional", "generalized")
BODIES = ("halfcheetah", "ant")


class BraxPipeline(Physics):
    """Brax environment ``body`` on pipeline ``backend``.

    ``observe_position``: the observation keeps the torso's horizontal coordinates (Brax drops
    them by default). The ant never terminates here and gates its survive bonus by health
    (Brax's ``terminate_when_unhealthy=False``); Brax's ant has no contact forces
    (``use_contact_forces=True`` raises NotImplementedError in brax 0.14), so its
    ``contact_cost`` metric is zero.
    """

    def __init__(self, body: str, backend: str = "spring", observe_position: bool = False):
        if body not in BODIES:
            raise ValueError(f"body={body!r} has no Brax pipeline; choose one of "
                             f"{', '.join(BODIES)}")
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} is not a Brax pipeline; choose one of "
                             f"{', '.join(BACKENDS)}")
        self.brax_name = body  # The environment Brax's own trainers can run.
        self._planar = body == "ant"
        kwargs = {"exclude_current_positions_from_observation": not observe_position}
        if self._planar:
            kwargs["terminate_when_unhealthy"] = False
        self._stock = brax_envs.get_environment(body, backend=backend, **kwargs)
        self.model = self._stock.sys
        # Shape inference only: Brax's own ``observation_size`` runs a reset op by op (seconds).
        self.observation_size = int(
            jax.eval_shape(self._stock.reset, jax.random.PRNGKey(0)).obs.shape[-1])
        self.action_size = self._stock.action_size
        self.dt = float(self._stock.dt)
        self.mujoco_model = self.model.mj_model
        self.parameter_sizes = {"mass": self.model.num_links(), "inertia": self.model.num_links(),
                                "damping": self.model.qd_size(), "friction": self.model.ngeom}

    def _env(self, model: System) -> PipelineEnv:
        if model is self.model:
            return self._stock
        env = copy.copy(self._stock)  # Shallow: only ``sys`` differs from the stock env.
        env.sys = model
        return env

    def _with_contact_cost(self, state: State) -> State:
        if not self._planar:
            return state
        return state.replace(metrics={**state.metrics, "contact_cost": jnp.zeros(())})

    def reset(self, key: jax.Array, model: System) -> State:
        return self._with_contact_cost(self._env(model).reset(key))

    def step(self, state: State, action: jax.Array, model: System) -> State:
        pipeline_state = state.pipeline_state
        if model is not self.model and isinstance(
                pipeline_state, (spring_base.State, positional_base.State)):
            # These backends cache link masses in the state at reset; take them from the model
            # so that a step depends only on (state, action, model).
            pipeline_state = pipeline_state.replace(
                mass=model.link.inertia.mass ** (1 - model.spring_mass_scale))
        state = state.replace(pipeline_state=pipeline_state)
        return self._with_contact_cost(self._env(model).step(state, action))

    def vary(self, model: System, factors: Mapping[str, jax.Array]) -> System:
        """Scales link masses and inertia matrices, ``dof.damping`` and ``geom_friction``.

        Brax's caveats: spring and positional ignore joint damping (only generalized reads
        ``dof.damping``) and soften masses and inertias to m ** 0.7 and I ** 0.2.
        """
        inertia = model.link.inertia.replace(
            mass=model.link.inertia.mass * factors["mass"],
            i=model.link.inertia.i * factors["inertia"][:, None, None])
        return model.replace(
            link=model.link.replace(inertia=inertia),
            dof=model.dof.replace(damping=model.dof.damping * factors["damping"]),
            geom_friction=model.geom_friction * factors["friction"][:, None])
