"""MuJoCo physics through MJX on Gym's models, as the reference's environments define them.

Why these models: the reference (luckeciano/transformers-metarl, a garage fork) wraps gym 0.17.2's
HalfCheetah and its own copy of gym's Ant (``src/garage/envs/mujoco/assets/ant.xml``: gym's
ant.xml plus two sites). Gymnasium 1.4.0 ships the same two files, so they are loaded from the
installed package, never copied. Both step 0.01 s per physics step, 5 physics steps per action
(the reference's ``frame_skip``), so ``dt`` = 0.05 s.

What the reference's code does, and so what a step here returns (its ``step`` and ``_get_obs``):
- HalfCheetah (garage ``HalfCheetahEnvMetaBase``): observation qpos[1:], qvel and the torso's
  ``get_body_com``, which in gym 0.17 is the body frame position ``xpos`` (20 numbers); velocity
  = the change of qpos[0] over the step / dt.
- Ant (garage ``AntEnv``/``AntDirEnv``): observation qpos[2:], qvel (27 numbers: no contact
  forces); velocity = the change of the torso's ``xpos`` over the step / dt; survive bonus 1.0
  while torso z lies in [0.2, 1.0]; contact cost 0.5e-3 * sum(clip(cfrc_ext, -1, 1) ** 2).
- Reset (``reset_model`` of gym 0.17 and garage): qpos0 + U(-0.1, 0.1) on every qpos entry (the
  ant's free joint quaternion included, unnormalised, as there), qvel = 0.1 * N(0, 1), then a
  forward pass.
MuJoCo computes ``xpos`` and ``cfrc_ext`` before the last physics step's integration, and so do
``mjx.step`` and ``mjx.rne_postconstraint`` here: the same quantities the reference read.

Why the ant runs other solver options than its XML: see ``Ant``.

``impl`` is a constructor argument so that MuJoCo-Warp can come in without a new seam: it needs
``make_data`` sized for the batch (``naconmax``) and ``where`` keeping the buffers the whole batch
shares (``mjx.Data.where`` does); ``mjx.rne_postconstraint`` is JAX-only. Only "jax" is accepted
until that is built and tested.
"""

from __future__ import annotations

import abc
import importlib.resources
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import mujoco
from brax.envs.base import State
from flax import struct
from mujoco import mjx

from trmrl_jax.physics.base import Physics

IMPLS = ("jax",)
_RESET_NOISE = 0.1


@struct.dataclass
class MjxState:
    """``State.pipeline_state`` of MJX physics: the ``mjx.Data``, and its qpos under the name
    Brax states use (``q``), which ``visualize.record_trial`` reads to draw a trial."""

    data: mjx.Data

    @property
    def q(self) -> jax.Array:
        return self.data.qpos


def gym_model(xml: str) -> mujoco.MjModel:
    """Gym's MJCF model ``xml`` (e.g. "ant.xml") from the installed gymnasium package."""
    path = importlib.resources.files("gymnasium") / "envs" / "mujoco" / "assets" / xml
    return mujoco.MjModel.from_xml_path(str(path))


class MjxBody(Physics):
    """One Gym body stepped by MJX ``frame_skip`` times per action.

    Subclasses set ``xml``, ``root_size`` (the leading qpos entries, the torso's horizontal
    coordinates, that the observation leaves out unless ``observe_position``) and define
    ``observe`` and ``metrics``. The model a task varies is the ``mjx.Model``.
    """

    xml: str
    root_size: int
    frame_skip: int = 5
    options: Mapping[str, Any] = {}  # ``mjOption`` fields set over the XML's.

    def __init__(self, observe_position: bool = False, impl: str = "jax"):
        if impl not in IMPLS:
            raise ValueError(f"impl={impl!r} is not supported; choose one of {', '.join(IMPLS)}")
        mj_model = gym_model(self.xml)
        for name, value in self.options.items():
            setattr(mj_model.opt, name, value)
        self.mujoco_model = mj_model
        self.model = mjx.put_model(mj_model, impl=impl)
        self._data0 = mjx.make_data(mj_model, impl=impl)
        self._torso = mujoco.mj_name2id(mj_model, mujoco.mjtObj.mjOBJ_BODY, "torso")
        self._first_observed = 0 if observe_position else self.root_size
        self.dt = float(mj_model.opt.timestep) * self.frame_skip
        self.action_size = mj_model.nu
        self.observation_size = int(jax.eval_shape(self.observe, self._data0).shape[-1])
        self.parameter_sizes = {"mass": mj_model.nbody - 1, "inertia": mj_model.nbody - 1,
                                "damping": mj_model.nv, "friction": mj_model.ngeom}

    @abc.abstractmethod
    def observe(self, data: mjx.Data) -> jax.Array:
        """[observation_size] observation of ``data``."""

    @abc.abstractmethod
    def metrics(self, before: mjx.Data, after: mjx.Data,
                model: mjx.Model) -> dict[str, jax.Array]:
        """``base``'s metrics of the step from ``before`` to ``after``."""

    def reset(self, key: jax.Array, model: mjx.Model) -> State:
        k_qpos, k_qvel = jax.random.split(key)
        m = self.mujoco_model
        qpos = jnp.asarray(m.qpos0) + jax.random.uniform(
            k_qpos, (m.nq,), minval=-_RESET_NOISE, maxval=_RESET_NOISE)
        qvel = _RESET_NOISE * jax.random.normal(k_qvel, (m.nv,))
        # MJX's forward pass normalises free-joint quaternions in qpos, MuJoCo's does not: keep
        # the sampled qpos, so the first observation is the reference's (steps normalise it).
        data = mjx.forward(model, self._data0.replace(qpos=qpos, qvel=qvel)).replace(qpos=qpos)
        zero = jnp.zeros(())
        return State(pipeline_state=MjxState(data), obs=self.observe(data), reward=zero,
                     done=zero, metrics=self.metrics(data, data, model))

    def step(self, state: State, action: jax.Array, model: mjx.Model) -> State:
        before = state.pipeline_state.data
        after = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: mjx.step(model, d),
                                  before.replace(ctrl=action.astype(before.ctrl.dtype)))
        return state.replace(pipeline_state=MjxState(after), obs=self.observe(after),
                             reward=jnp.zeros(()), metrics=self.metrics(before, after, model))

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


class HalfCheetah(MjxBody):
    """Gym's half_cheetah.xml (Euler, pyramidal cone, as shipped) as garage observes it.

    Planar, so the pyramid orientations that part MJX from MuJoCo for the ant (see ``Ant``)
    coincide here: a float64 MJX step is MuJoCo's to 5e-15.
    """

    xml = "half_cheetah.xml"
    root_size = 1

    def observe(self, data: mjx.Data) -> jax.Array:
        return jnp.concatenate([data.qpos[self._first_observed:], data.qvel,
                                data.xpos[self._torso]])

    def metrics(self, before: mjx.Data, after: mjx.Data,
                model: mjx.Model) -> dict[str, jax.Array]:
        del model
        return {"x_position": after.qpos[0],
                "x_velocity": (after.qpos[0] - before.qpos[0]) / self.dt}


class Ant(MjxBody):
    """Gym's ant.xml (the reference's AntDir body), Euler integrator and elliptic cone.

    Why not the XML's RK4 integrator and pyramidal cone: under them MJX and MuJoCo's C engine
    part ways however precise the numbers (float64 too: 0.25 in qpos within 100 physics steps of
    random actions), for two reasons. A pyramidal cone is not symmetric about the contact normal,
    and MJX orients the pyramid of a plane contact by the plane's axes where MuJoCo aligns it with
    the touching capsule's axis (``mjc_PlaneCapsule``); and MJX's RK4 differs from MuJoCo's by
    4e-6 after 20 free-fall steps, where Euler agrees to 1e-14. Under Euler and the elliptic cone
    (isotropic, so blind to that orientation) a float64 MJX step is MuJoCo's to the solver's
    tolerance; tests/test_mujoco_physics.py holds the float32 product to it.

    The contact cost follows the reference's code. Its runs pinned mujoco-py <= 2.0.2.8, i.e.
    MuJoCo 2.0, which fills ``cfrc_ext`` only when asked (``mj_rnePostConstraint``, MuJoCo 2.0
    changelog), so there the term was zero; it is small either way (at most 0.042 per step; about
    1e-3 under random actions).
    """

    xml = "ant.xml"
    root_size = 2
    options = {"integrator": mujoco.mjtIntegrator.mjINT_EULER,
               "cone": mujoco.mjtCone.mjCONE_ELLIPTIC}
    healthy_z = (0.2, 1.0)
    contact_cost_weight = 0.5e-3

    def observe(self, data: mjx.Data) -> jax.Array:
        return jnp.concatenate([data.qpos[self._first_observed:], data.qvel])

    def metrics(self, before: mjx.Data, after: mjx.Data,
                model: mjx.Model) -> dict[str, jax.Array]:
        xy = after.xpos[self._torso, :2]
        velocity = (xy - before.xpos[self._torso, :2]) / self.dt
        z = after.qpos[2]
        healthy = (jnp.all(jnp.isfinite(after.qpos)) & jnp.all(jnp.isfinite(after.qvel))
                   & (z >= self.healthy_z[0]) & (z <= self.healthy_z[1]))
        forces = mjx.rne_postconstraint(model, after).cfrc_ext  # [nbody, 6]
        return {"x_position": xy[0], "y_position": xy[1],
                "x_velocity": velocity[0], "y_velocity": velocity[1],
                "reward_survive": healthy.astype(xy.dtype),
                "contact_cost": self.contact_cost_weight * jnp.sum(
                    jnp.square(jnp.clip(forces, -1.0, 1.0)))}


BODIES = {"halfcheetah": HalfCheetah, "ant": Ant}
