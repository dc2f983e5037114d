"""Meta-World's Sawyer scenes, and what every simulator of them shares.

What Meta-World v3 does (``metaworld/sawyer_xyz_env.py``, ``SawyerXYZEnv``), and so what a
simulator here does:
- The arm follows a mocap body welded to the hand. ``reset_mocap_welds`` writes the weld's
  ``eq_data`` (anchor 0, relative pose identity, torque scale 5): 11 numbers, the first 11 of
  MuJoCo 4's 12 slots.
- An action (dx, dy, dz, grip) in [-1, 1]^4 (``set_xyz_action``): the mocap moves by
  action[:3] * ``action_scale`` (1/100 m), clipped into the task's mocap box, its quaternion
  set to (1, 0, 1, 0); the two finger actuators get (grip, -grip); then ``frame_skip`` (5)
  physics steps, and a forward pass whose kinematics observations and rewards read.
- ``_reset_hand``: from ``mj_resetData``, 50 env steps holding the mocap at the task's
  ``hand_init_pos`` with the fingers' controls (-1, 1); then the task places its objects
  (``_set_obj_xyz``: the object's free-joint position set, its velocities zeroed).
- Most tasks beyond reach, push and pick-place also move bodies of the model per task
  (``self.model.body("door").pos = ...``). ``gymnasium``'s ``reset`` runs ``reset_model`` twice,
  the second time from ``mj_resetData`` with the model as the first left it, so the hand's
  reset that counts runs with the task's bodies already in place.
The hand's reset does not depend on the task's joint placements (made after it), so it runs
once, on MuJoCo's C engine in float64, and every episode starts from its end state with the
task's placements (``Sawyer.start``). Where it depends on a placed body in some bit, the scene
says so (``Scene.settle_placed``) and the C engine runs it per episode.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib.util
import os
from typing import Any

import chex
import jax
import mujoco
import numpy as np
from flax import struct

FRAME_SKIP = 5
ACTION_SCALE = 1.0 / 100
MOCAP_QUAT = np.array([1.0, 0.0, 1.0, 0.0])  # Unnormalised, as Meta-World writes it.
_WELD = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0]
_RESET_HAND_STEPS = 50


def asset_path(xml: str) -> str:
    """``metaworld/assets/sawyer_xyz/<xml>`` of the installed metaworld package, found without
    importing it (its Python environments need only be importable in the tests)."""
    spec = importlib.util.find_spec("metaworld")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("Meta-World's assets need the metaworld package: pip install "
                          "--no-deps metaworld==3.1.1 (make does)")
    return os.path.join(spec.submodule_search_locations[0], "assets", "sawyer_xyz", xml)


@dataclasses.dataclass(frozen=True)
class Scene:
    """One Meta-World scene and what its task reads and places.

    xml: the file under ``metaworld/assets/sawyer_xyz/``; hand_init, mocap_low, mocap_high: the
    task's ``hand_init_pos`` and mocap box (Meta-World's ``hand_low``/``hand_high`` unless the
    task sets ``mocap_low``/``mocap_high``); bodies, sites, geoms: names whose frame position
    (bodies, sites) or pose (geoms) a step reports; placed_qpos: the qpos entries a task
    sets at reset; zeroed_qvel: the velocities it zeroes there; rest_height: (qpos entry,
    body) where reset sets an object's z to the height of its body's frame after the hand's
    reset (push-v3's ``fix_extreme_obj_pos``), kept in float64 in the settled state, as there;
    fixed_qpos: (qpos entry, value) every reset sets alike (drawer-close-v3's -0.15), kept in
    float64 in the settled state (a task's float32 placements would round them);
    placed_bodies: bodies of the model whose position (``body_pos``, relative to the parent)
    each task sets (``MetaWorldTask.bodies``); body_offsets: per placed body (none: zeros),
    added in float64 to where the task puts it to give its ``body_pos`` (Meta-World computes
    some placements in float64 from the float32 task: shelf-place-v3's shelf 0.3 below the
    goal); settle_placed: whether the hand's reset depends on them (in any bit of the state), so
    that it runs per episode with them in place; reset_forward: whether the task's reset ends
    in a forward pass (``set_state``, which most tasks' placements call); where not
    (window-open-v3, drawer-open-v3, lever-pull-v3), the first observation reads the kinematics
    the hand's last physics step began from, the task's bodies in place, as there, so the C
    engine settles such a scene per episode too (whatever settle_placed says); reset_steps:
    physics steps a task's reset runs between placing its bodies and its joints, under the
    hand's reset's mocap and controls (the ``frame_skip`` ``mj_step``s of door-lock-v3, which
    places no joints and sets reset_forward False: its first observation reads the kinematics
    the last step began from, and of box-close-v3, whose lid is placed after them);
    placed_offsets: per placed_qpos entry (none: zeros), added in float64 to the task's
    placement, as body_offsets to its bodies (peg-unplug-side-v3's plug at its box + (0.044, 0,
    0.131), coffee-button-v3's mug 0.22 before the float32 machine); touching: geoms whose
    contact with both finger pads a step reports (``Frame.touching``: Meta-World's
    ``touching_object``, which stick-push-v3's success reads; C engine only).
    """

    xml: str
    hand_init: tuple[float, float, float]
    mocap_low: tuple[float, float, float]
    mocap_high: tuple[float, float, float]
    bodies: tuple[str, ...]
    sites: tuple[str, ...]
    geoms: tuple[str, ...]
    placed_qpos: tuple[int, ...]
    zeroed_qvel: tuple[int, ...]
    rest_height: tuple[int, str] | None = None
    fixed_qpos: tuple[tuple[int, float], ...] = ()
    placed_bodies: tuple[str, ...] = ()
    body_offsets: tuple[tuple[float, float, float], ...] = ()
    settle_placed: bool = False
    reset_forward: bool = True
    reset_steps: int = 0
    placed_offsets: tuple[float, ...] = ()
    touching: tuple[str, ...] = ()


PADS = ("leftpad_geom", "rightpad_geom")  # The finger pads' geoms (``touching_object``).


def load(scene: Scene) -> mujoco.MjModel:
    """The scene's model with Meta-World's weld data."""
    m = mujoco.MjModel.from_xml_path(asset_path(scene.xml))
    for i in np.flatnonzero(m.eq_type == mujoco.mjtEq.mjEQ_WELD):
        m.eq_data[i, :len(_WELD)] = _WELD
    return m


def apply_action(scene: Scene, d: mujoco.MjData, action: np.ndarray) -> None:
    """Meta-World's ``set_xyz_action`` and finger controls on the C engine's ``d``. A float32
    ``action`` is scaled in float32, as there (numpy keeps the array's precision)."""
    action = np.clip(action, -1.0, 1.0)
    d.mocap_pos[0] = np.clip(d.mocap_pos[0] + action[:3] * ACTION_SCALE, scene.mocap_low,
                             scene.mocap_high)
    d.mocap_quat[0] = MOCAP_QUAT
    d.ctrl[:] = (action[3], -action[3])


def settle(scene: Scene, m: mujoco.MjModel, d: mujoco.MjData | None = None) -> mujoco.MjData:
    """``_reset_hand`` from ``mj_resetData`` (of ``d``; a new ``MjData`` where None): the state
    every episode of ``scene`` starts from (with ``scene.rest_height`` and ``scene.fixed_qpos``
    applied; the frame stays the one the hand's reset left)."""
    if d is None:
        d = mujoco.MjData(m)
    else:
        mujoco.mj_resetData(m, d)
    for _ in range(_RESET_HAND_STEPS):
        d.mocap_pos[0], d.mocap_quat[0], d.ctrl[:] = scene.hand_init, MOCAP_QUAT, (-1.0, 1.0)
        mujoco.mj_step(m, d, FRAME_SKIP)
    if scene.rest_height is not None:
        index, body = scene.rest_height
        d.qpos[index] = d.xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, body), 2]
    for index, value in scene.fixed_qpos:
        d.qpos[index] = value
    return d


def touching(d: mujoco.MjData, pads: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """[len(objects)] float32: 1 where both ``pads`` (geom ids: left, right) touch geom
    ``objects[k]``, as ``SawyerXYZEnv.touching_object`` computes it from ``d``'s contacts:
    per pad, the sum over its contacts with the object of ``efc_force[efc_address]`` (the
    normal force under the scenes' elliptic cones) positive for both."""
    out = np.zeros(len(objects), np.float32)
    if not len(objects) or not d.ncon:
        return out
    geom1, geom2, address = d.contact.geom1, d.contact.geom2, d.contact.efc_address
    force = d.efc_force
    for k, obj in enumerate(objects):
        with_obj = (geom1 == obj) | (geom2 == obj)
        sums = [sum(force[a] for a in address[with_obj & ((geom1 == pad) | (geom2 == pad))])
                for pad in pads]
        out[k] = float(0 < sums[0] and 0 < sums[1])
    return out


def _ids(m: mujoco.MjModel, kind: mujoco.mjtObj, names: tuple[str, ...]) -> np.ndarray:
    return np.array([mujoco.mj_name2id(m, kind, name) for name in names], np.int64)


@struct.dataclass
class Frame:
    """What tasks read after a step: MuJoCo's kinematics at the new state (float32)."""

    qpos: jax.Array  # [nq]
    qvel: jax.Array  # [nv]
    mocap_pos: jax.Array  # [3]
    xpos: jax.Array  # [len(scene.bodies), 3] body frame positions (gymnasium's get_body_com).
    site_xpos: jax.Array  # [len(scene.sites), 3]
    geom_xpos: jax.Array  # [len(scene.geoms), 3]
    geom_xmat: jax.Array  # [len(scene.geoms), 3, 3]
    touching: jax.Array  # [len(scene.touching)] 1 where both pads touch the geom (else 0).


@struct.dataclass
class SawyerState:
    """``State.pipeline_state`` of a Sawyer scene: the simulator's own state, the frame tasks
    read, ``fault``: 1 where a step of the episode so far hit one of ``host.FAULTS``,
    ``bodies``: where the task placed ``scene.placed_bodies`` (part of the model, not of
    MuJoCo's state, so it travels beside it: every world of a batch may hold another task), and
    ``init_tcp``: the episode's ``SawyerXYZEnv.init_tcp``, the fingertips' centre (the scene's
    first two sites) in the frame the hand's reset left, before the task's placements (where the
    reset runs per episode, the episode's own; else ``Sawyer.init_tcp``)."""

    sim: Any
    frame: Frame
    fault: jax.Array  # int32 []
    bodies: jax.Array  # [len(scene.placed_bodies), 3] float32
    init_tcp: jax.Array  # [3] float32

    @property
    def q(self) -> jax.Array:
        """qpos, under the name ``visualize.record_trial`` reads."""
        return self.frame.qpos


class Sawyer(abc.ABC):
    """A Sawyer scene stepped by one simulator; methods act on one unbatched environment (a
    batch is a vmap of them; an episode's reset is a new ``start``, no conditional select).

    Not a ``physics.Physics``: a Meta-World reset is the settled hand plus the task's object
    placements (``start``), tasks vary the model only by where its placed bodies stand (carried
    in ``SawyerState.bodies``), and the observation is the task's, read from
    ``SawyerState.frame``. ``model`` is the simulator's model argument (a pytree, or None where
    the model lives outside JAX).
    """

    model: Any
    worlds: int | None = None  # The batch its buffers are sized for (None: any batch).

    def __init__(self, scene: Scene):
        self.scene = scene
        self.mujoco_model = load(scene)
        self.settled = settle(scene, self.mujoco_model)
        m = self.mujoco_model
        self.dt = float(m.opt.timestep) * FRAME_SKIP
        self.body_ids = _ids(m, mujoco.mjtObj.mjOBJ_BODY, scene.bodies)
        self.site_ids = _ids(m, mujoco.mjtObj.mjOBJ_SITE, scene.sites)
        self.geom_ids = _ids(m, mujoco.mjtObj.mjOBJ_GEOM, scene.geoms)
        self.placed_body_ids = _ids(m, mujoco.mjtObj.mjOBJ_BODY, scene.placed_bodies)
        self.touch_ids = _ids(m, mujoco.mjtObj.mjOBJ_GEOM, scene.touching)
        self.pad_ids = _ids(m, mujoco.mjtObj.mjOBJ_GEOM, PADS if scene.touching else ())
        ids = (self.body_ids, self.site_ids, self.geom_ids, self.placed_body_ids, self.touch_ids,
               self.pad_ids)
        if np.concatenate(ids).min() < 0:
            raise ValueError(f"{scene.xml} lacks a body, site or geom of {scene}")
        # [3] float32: the settled hand's fingertips' centre (the init_tcp of every episode that
        # starts from ``settled``).
        self.init_tcp = np.float32(self.settled.site_xpos[self.site_ids[:2]].mean(0))
        self.body_offsets = np.zeros((len(self.placed_body_ids), 3))
        if scene.body_offsets:
            self.body_offsets[:] = scene.body_offsets
        self.placed_offsets = np.zeros(len(scene.placed_qpos))
        if scene.placed_offsets:
            self.placed_offsets[:] = scene.placed_offsets
        mocap_body = np.flatnonzero(m.body_mocapid >= 0)
        chex.assert_equal(len(mocap_body), 1)

    def body_pos(self, bodies: np.ndarray) -> np.ndarray:
        """[..., len(scene.placed_bodies), 3] the placed bodies' ``body_pos`` (float64) where a
        task's ``bodies`` put them."""
        return np.asarray(bodies, np.float64) + self.body_offsets

    def placements(self, placed: np.ndarray) -> np.ndarray:
        """[..., len(scene.placed_qpos)] the qpos entries (float64) a task's ``placed`` set."""
        return np.asarray(placed, np.float64) + self.placed_offsets

    @abc.abstractmethod
    def start(self, placed: jax.Array, bodies: jax.Array, model: Any) -> SawyerState:
        """The settled hand with ``placed`` [len(scene.placed_qpos)] written into qpos and
        ``scene.zeroed_qvel`` zeroed, then a forward pass (Meta-World's ``set_state``; where
        ``scene.reset_forward``), in the model with ``scene.placed_bodies`` at ``bodies``
        [len(scene.placed_bodies), 3]; the steps of the episode keep them there."""

    @abc.abstractmethod
    def step(self, state: SawyerState, action: jax.Array, model: Any) -> SawyerState:
        """One env step: ``action`` [4] moves the mocap and the fingers, ``FRAME_SKIP`` physics
        steps, then a forward pass (whose warm start the next step uses, as in Meta-World)."""
