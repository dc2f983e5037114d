"""The simulator seam: a ``Physics`` steps one body; task distributions never call a simulator.

Why a seam: task logic (sampling tasks, rewards, task features) is the same whichever simulator
moves the body, and simulators differ in everything else (Brax pipelines carry a ``System`` and a
Brax state, MJX an ``mjx.Model`` and ``mjx.Data``). So a distribution holds one ``Physics`` and
reads what it needs from ``State.metrics`` under fixed names, as mujoco_playground's ``MjxEnv``
and Brax's ``PipelineEnv`` keep rewards apart from the pipeline call.

Why ``model`` is an argument of ``reset``/``step`` rather than state of the ``Physics``: tasks
that change the dynamics build their model inside the traced function (``vary``), so a vmap over
a batch of tasks steps a batch of different physics and a step depends only on its arguments.
"""

from __future__ import annotations

import abc
from typing import Any, Mapping

import jax
import jax.numpy as jnp
from brax.envs.base import State

Model = Any  # The pytree a task may vary: a Brax ``System`` or an ``mjx.Model``.

# What ``vary`` scales, in the order task features list them: link masses, link inertias, joint
# damping (per degree of freedom) and geom friction.
PARAMETERS = ("mass", "inertia", "damping", "friction")

# ``State.metrics`` every body reports (``reset`` included, so that a scan carries one structure):
#   x_position, x_velocity: the torso's forward coordinate and its change over the step / dt;
# and bodies that move in the plane (the ant) add
#   y_position, y_velocity: the same sideways;
#   reward_survive: 1.0 while the torso height lies in the healthy range, else 0.0;
#   contact_cost: the body's cost of external contact forces (0.0 where a simulator has none).
PLANAR_METRICS = ("y_position", "y_velocity", "reward_survive", "contact_cost")


class Physics(abc.ABC):
    """One body simulated by one backend. Methods act on one unbatched environment.

    Attributes set by subclasses: ``observation_size``, ``action_size`` (actions lie in
    [-1, 1]^action_size), ``dt`` (seconds of simulated time per ``step``), ``model`` (the stock
    model), ``mujoco_model`` (the ``mujoco.MjModel`` that ``visualize.render_trial`` draws from
    ``state.pipeline_state.q``) and ``parameter_sizes`` (the length of each factor of ``vary``).
    """

    observation_size: int
    action_size: int
    dt: float
    model: Model
    mujoco_model: Any
    parameter_sizes: Mapping[str, int]
    # Per-step flags the body adds to ``State.metrics`` for the distribution to report
    # (``TaskDistribution.reports``): ``fault`` where the simulator can tell a step went wrong.
    reports: tuple[str, ...] = ()

    @abc.abstractmethod
    def reset(self, key: jax.Array, model: Model) -> State:
        """A random initial state of ``model``: reward zero, metrics as after a step that did
        not move (velocities zero)."""

    @abc.abstractmethod
    def step(self, state: State, action: jax.Array, model: Model) -> State:
        """Applies ``action`` [action_size] (already in [-1, 1]) for one step of ``dt``; the
        returned reward is the backend's own and meaningless to tasks."""

    @abc.abstractmethod
    def vary(self, model: Model, factors: Mapping[str, jax.Array]) -> Model:
        """``model`` with each parameter of ``PARAMETERS`` multiplied element-wise by its
        factor [parameter_sizes[name]]; traceable, so a vmapped step can vary it per task."""

    def where(self, condition: jax.Array, new: State, old: State) -> State:
        """``new`` where ``condition`` (a scalar per environment, so inside vmap) holds, else
        ``old``: the select of a conditional reset. Backends whose state holds buffers shared
        by the whole batch (MJX-Warp's contacts) override it to keep those."""
        return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)
