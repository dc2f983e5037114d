"""Gym's bodies as the reference's environments define them, whichever simulator steps them.

Why these models: the reference (luckeciano/transformers-metarl, a garage fork) wraps gym 0.17.2's
HalfCheetah and its own copy of gym's Ant (``src/garage/envs/mujoco/assets/ant.xml``: gym's
ant.xml plus two sites). Gymnasium 1.4.0 ships the same two files, so they are loaded from the
installed package, never copied. Both step 0.01 s per physics step, 5 physics steps per action
(the reference's ``frame_skip``), so ``dt`` = 0.05 s.

What the reference's code does, and so what a step returns (its ``step`` and ``_get_obs``):
- HalfCheetah (garage ``HalfCheetahEnvMetaBase``): observation qpos[1:], qvel and the torso's
  ``get_body_com``, which in gym 0.17 is the body frame position ``xpos`` (20 numbers); velocity
  = the change of qpos[0] over the step / dt.
- Ant (garage ``AntEnv``/``AntDirEnv``): observation qpos[2:], qvel (27 numbers: no contact
  forces); velocity = the change of the torso's ``xpos`` over the step / dt; survive bonus 1.0
  while torso z lies in [0.2, 1.0]; contact cost 0.5e-3 * sum(clip(cfrc_ext, -1, 1) ** 2).
- Reset (``reset_model`` of gym 0.17 and garage): qpos0 + U(-0.1, 0.1) on every qpos entry (the
  ant's free joint quaternion included, unnormalised, as there), qvel = 0.1 * N(0, 1), then a
  forward pass.
MuJoCo computes ``xpos`` and ``cfrc_ext`` before the last physics step's integration: both
simulators read them there, as the reference did.

A body here is the simulator-free half of a ``Physics``: its model, options, observation and
metrics, read from a *frame* (anything with ``qpos``, ``qvel``, ``xpos`` [nbody, 3] and
``cfrc_ext`` [nbody, 6]: an ``mjx.Data``, or the C engine's ``CFrame``). A simulator module
(``physics.mjx``, ``physics.mujoco_c``) supplies the other half.
"""

from __future__ import annotations

import abc
import importlib.resources
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import mujoco

from trmrl_jax.physics.base import Physics

RESET_NOISE = 0.1


def gym_model(xml: str) -> mujoco.MjModel:
    """Gym's MJCF model ``xml`` (e.g. "ant.xml") from the installed gymnasium package."""
    path = importlib.resources.files("gymnasium") / "envs" / "mujoco" / "assets" / xml
    return mujoco.MjModel.from_xml_path(str(path))


class GymBody(Physics):
    """One Gym body stepped ``frame_skip`` times per action by a simulator subclass.

    Subclasses set ``xml``, ``root_size`` (the leading qpos entries, the torso's horizontal
    coordinates, that the observation leaves out unless ``observe_position``) and
    ``contact_forces`` (whether ``metrics`` reads ``cfrc_ext``), and define ``observe`` and
    ``metrics``; simulators call ``load`` first in their constructor.
    """

    xml: str
    root_size: int
    frame_skip: int = 5
    options: Mapping[str, Any] = {}  # ``mjOption`` fields set over the XML's.
    contact_forces: bool = False

    def load(self, observe_position: bool) -> mujoco.MjModel:
        """Loads the model with ``options``; sets ``mujoco_model``, ``dt``, ``action_size`` and
        ``parameter_sizes``. Returns the model."""
        m = gym_model(self.xml)
        for name, value in self.options.items():
            setattr(m.opt, name, value)
        self.mujoco_model = m
        self._torso = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "torso")
        self._first_observed = 0 if observe_position else self.root_size
        self.dt = float(m.opt.timestep) * self.frame_skip
        self.action_size = m.nu
        self.parameter_sizes = {"mass": m.nbody - 1, "inertia": m.nbody - 1,
                                "damping": m.nv, "friction": m.ngeom}
        return m

    def reset_noise(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """gym 0.17's ``reset_model``: (qpos [nq], qvel [nv]) = (qpos0 + U(-0.1, 0.1),
        0.1 N(0, 1)), float32."""
        k_qpos, k_qvel = jax.random.split(key)
        m = self.mujoco_model
        qpos = jnp.asarray(m.qpos0, jnp.float32) + jax.random.uniform(
            k_qpos, (m.nq,), minval=-RESET_NOISE, maxval=RESET_NOISE)
        return qpos, RESET_NOISE * jax.random.normal(k_qvel, (m.nv,))

    @abc.abstractmethod
    def observe(self, frame: Any) -> jax.Array:
        """[observation_size] observation of ``frame``."""

    @abc.abstractmethod
    def metrics(self, before: Any, after: Any) -> dict[str, jax.Array]:
        """``base``'s metrics of the step from frame ``before`` to frame ``after``."""


class HalfCheetahBody(GymBody):
    """Gym's half_cheetah.xml (Euler, pyramidal cone, as shipped) as garage observes it."""

    xml = "half_cheetah.xml"
    root_size = 1

    def observe(self, frame: Any) -> jax.Array:
        return jnp.concatenate([frame.qpos[self._first_observed:], frame.qvel,
                                frame.xpos[self._torso]])

    def metrics(self, before: Any, after: Any) -> dict[str, jax.Array]:
        return {"x_position": after.qpos[0],
                "x_velocity": (after.qpos[0] - before.qpos[0]) / self.dt}


class AntBody(GymBody):
    """Gym's ant.xml (the reference's AntDir body), Euler integrator and elliptic cone.

    Why not the XML's RK4 integrator and pyramidal cone: under them MJX and MuJoCo's C engine
    part ways however precise the numbers (float64 too: 0.25 in qpos within 100 physics steps of
    random actions), for two reasons. A pyramidal cone is not symmetric about the contact normal,
    and MJX orients the pyramid of a plane contact by the plane's axes where MuJoCo aligns it with
    the touching capsule's axis (``mjc_PlaneCapsule``); and MJX's RK4 differs from MuJoCo's by
    4e-6 after 20 free-fall steps, where Euler agrees to 1e-14. Under Euler and the elliptic cone
    (isotropic, so blind to that orientation) a float64 MJX step is MuJoCo's to the solver's
    tolerance; tests/test_mujoco_physics.py holds the float32 product to it. Both simulators
    run these options, so the two are one physics.

    The contact cost follows the reference's code. Its runs pinned mujoco-py <= 2.0.2.8, i.e.
    MuJoCo 2.0, which fills ``cfrc_ext`` only when asked (``mj_rnePostConstraint``, MuJoCo 2.0
    changelog), so there the term was zero; it is small either way (at most 0.042 per step; about
    1e-3 under random actions).
    """

    xml = "ant.xml"
    root_size = 2
    options = {"integrator": mujoco.mjtIntegrator.mjINT_EULER,
               "cone": mujoco.mjtCone.mjCONE_ELLIPTIC}
    contact_forces = True
    healthy_z = (0.2, 1.0)
    contact_cost_weight = 0.5e-3

    def observe(self, frame: Any) -> jax.Array:
        return jnp.concatenate([frame.qpos[self._first_observed:], frame.qvel])

    def metrics(self, before: Any, after: Any) -> dict[str, jax.Array]:
        xy = after.xpos[self._torso, :2]
        velocity = (xy - before.xpos[self._torso, :2]) / self.dt
        z = after.qpos[2]
        healthy = (jnp.all(jnp.isfinite(after.qpos)) & jnp.all(jnp.isfinite(after.qvel))
                   & (z >= self.healthy_z[0]) & (z <= self.healthy_z[1]))
        return {"x_position": xy[0], "y_position": xy[1],
                "x_velocity": velocity[0], "y_velocity": velocity[1],
                "reward_survive": healthy.astype(xy.dtype),
                "contact_cost": self.contact_cost_weight * jnp.sum(
                    jnp.square(jnp.clip(after.cfrc_ext, -1.0, 1.0)))}
