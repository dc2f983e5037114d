"""MuJoCo physics through MJX on Gym's models (``physics.gym``: the bodies, their observations
and metrics as the reference's environments define them), inside the compiled step.

``impl`` is a constructor argument so that MuJoCo-Warp can come in without a new seam: it needs
``make_data`` sized for the batch (``naconmax``) and ``where`` keeping the buffers the whole batch
shares (``mjx.Data.where`` does); ``mjx.rne_postconstraint`` is JAX-only. Only "jax" is accepted
until that is built and tested.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
from brax.envs.base import State
from flax import struct
from mujoco import mjx

from trmrl_jax.physics.gym import AntBody, GymBody, HalfCheetahBody

IMPLS = ("jax",)


@struct.dataclass
class MjxState:
    """``State.pipeline_state`` of MJX physics: the ``mjx.Data``, and its qpos under the name
    Brax states use (``q``), which ``visualize.record_trial`` reads to draw a trial."""

    data: mjx.Data

    @property
    def q(self) -> jax.Array:
        return self.data.qpos


class MjxBody(GymBody):
    """A Gym body stepped by MJX; the model a task varies is the ``mjx.Model``."""

    def __init__(self, observe_position: bool = False, impl: str = "jax"):
        if impl not in IMPLS:
            raise ValueError(f"impl={impl!r} is not supported; choose one of {', '.join(IMPLS)}")
        mj_model = self.load(observe_position)
        self.model = mjx.put_model(mj_model, impl=impl)
        self._data0 = mjx.make_data(mj_model, impl=impl)
        self.observation_size = int(jax.eval_shape(self.observe, self._data0).shape[-1])

    def _post(self, data: mjx.Data, model: mjx.Model) -> mjx.Data:
        """``data`` with ``cfrc_ext`` where the body's metrics read it."""
        return mjx.rne_postconstraint(model, data) if self.contact_forces else data

    def reset(self, key: jax.Array, model: mjx.Model) -> State:
        qpos, qvel = self.reset_noise(key)
        # MJX's forward pass normalises free-joint quaternions in qpos, MuJoCo's does not: keep
        # the sampled qpos, so the first observation is the reference's (steps normalise it).
        data = mjx.forward(model, self._data0.replace(qpos=qpos, qvel=qvel)).replace(qpos=qpos)
        data = self._post(data, model)
        zero = jnp.zeros(())
        return State(pipeline_state=MjxState(data), obs=self.observe(data), reward=zero,
                     done=zero, metrics=self.metrics(data, data))

    def step(self, state: State, action: jax.Array, model: mjx.Model) -> State:
        before = state.pipeline_state.data
        after = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: mjx.step(model, d),
                                  before.replace(ctrl=action.astype(before.ctrl.dtype)))
        after = self._post(after, model)
        return state.replace(pipeline_state=MjxState(after), obs=self.observe(after),
                             reward=jnp.zeros(()), metrics=self.metrics(before, after))

    def vary(self, model: mjx.Model, factors: Mapping[str, jax.Array]) -> mjx.Model:
        """Scales the bodies' masses and inertias (the world body excluded), ``dof_damping``
        and ``geom_friction``. As in MuJoCo without ``mj_setConst``, quantities compiled from
        them (``body_invweight0``, which sets constraint softness) keep their stock values."""
        return model.replace(
            body_mass=jnp.asarray(model.body_mass).at[1:].multiply(factors["mass"]),
            body_inertia=jnp.asarray(model.body_inertia).at[1:].multiply(
                factors["inertia"][:, None]),
            dof_damping=model.dof_damping * factors["damping"],
            geom_friction=model.geom_friction * factors["friction"][:, None])

    def where(self, condition: jax.Array, new: State, old: State) -> State:
        data = old.pipeline_state.data.where(condition, new.pipeline_state.data)
        rest = super().where(condition, new.replace(pipeline_state=None),
                             old.replace(pipeline_state=None))
        return rest.replace(pipeline_state=MjxState(data))


class HalfCheetah(HalfCheetahBody, MjxBody):
    """Planar, so the pyramid orientations that part MJX from MuJoCo for the ant (see
    ``gym.AntBody``) coincide here: a float64 MJX step is MuJoCo's to 5e-15."""


class Ant(AntBody, MjxBody):
    """The contact cost's ``cfrc_ext`` from ``mjx.rne_postconstraint`` after each step."""


BODIES = {"halfcheetah": HalfCheetah, "ant": Ant}
