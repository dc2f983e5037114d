"""stick-push-v3 and stick-pull-v3 (``metaworld/envs/sawyer_stick_push_v3.py``,
``sawyer_stick_pull_v3.py``): pick up a stick and push a thermos with it, or hook its handle with
it and pull it, to a place hidden from the agent.

One scene (``sawyer_stick_obj.xml``): the stick on a free joint (qpos 9-15), the thermos on two
slide joints (qpos 16, 17). Reset (``reset_model``): rand_vec = (stick x, y, z, goal x, y, z),
redrawn while the two lie less than 0.1 apart in the plane; the stick placed at (rand_vec x, y,
0.02) (``_set_stick_xyz``: 0.02 is ``init_config``'s float64 height, added on the host,
``Scene.placed_offsets``), its velocities zeroed; the thermos's slides set to (0, 0) (push) or
(0, 0.09) (pull) in float64 (``_set_obj_xyz``, ``Scene.fixed_qpos``), which zeroes qvel 16 only
(``qvel[16:18]`` of 17 velocities), not the x slide's. Observed: the stick's body (position, and
scipy's quaternion of its frame, read from the geom ``objGeom``, at its frame) and the thermos's
site ``insertion`` (push: 0.09 further in y), with a zero quaternion (Meta-World's
``_get_quat_objects``). The goal: the rand_vec's x, y at the height of ``insertion`` after the
hand's reset (push) or 0.02 (pull). Nothing of the model is placed per task, so the hand's reset
is one for all.

stick-push-v3's success reads ``touching_main_object``, both finger pads pressing on the stick
(``Scene.touching``, ``Frame.touching``: C engine only, so ``ml1_stick_push`` runs there only);
stick-pull-v3's success and reward read no contact (its ``grasp_success`` is an info entry).
"""

from __future__ import annotations

import copy

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import (
    HAND_INIT,
    MetaWorldTask,
    apart,
    quat_from_xmat,
    tcp,
)
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import gripper_caging, hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_STICK = 3  # Row of Frame.xpos: stick.
_INSERTION, _STICK_END = 2, 3  # Rows of Frame.site_xpos.
_HEIGHT = 0.02  # The stick's height at reset (float64 there).


def stick_scene(mocap_low: tuple[float, float, float], slide_y: float,
                touching: tuple[str, ...] = ()) -> sawyer.Scene:
    """The stick's scene with the hand's box from ``mocap_low`` up, the thermos's y slide at
    ``slide_y``; ``touching``: the geoms whose pad contacts a step reports."""
    return sawyer.Scene(
        xml="sawyer_stick_obj.xml", hand_init=HAND_INIT, mocap_low=mocap_low,
        mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "stick", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector", "insertion", "stick_end"),
        geoms=("objGeom",), placed_qpos=(9, 10, 11), zeroed_qvel=(9, 10, 11, 12, 13, 14, 16),
        fixed_qpos=((16, 0.0), (17, slide_y)), placed_offsets=(0.0, 0.0, _HEIGHT),
        touching=touching)


class StickTask(MetaWorldTask):
    """What the two share: placements, observation, the caging of the stick. ``obj_init``: the
    thermos's body after the reset's placements (``obj_init_pos``, the same for every task)."""

    _CONTAINER = (0.0, 0.0, 0.0)  # Added to ``insertion`` for the observed thermos.

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        m = self.mujoco_model
        d = copy.copy(self.physics.settled)
        mujoco.mj_forward(m, d)
        self.obj_init = jnp.asarray(
            d.xpos[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "object")], jnp.float32)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, 0.1)

    def stick_init(self, task: Task) -> jax.Array:
        """[3] the stick's place at reset (``stick_init_pos``)."""
        return jnp.append(task["rand_vec"][:2], _HEIGHT)

    def placed(self, task: Task) -> jax.Array:
        return jnp.append(task["rand_vec"][:2], 0.0)

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        container = frame.site_xpos[_INSERTION] + jnp.asarray(self._CONTAINER)
        return jnp.concatenate([frame.xpos[_STICK], quat_from_xmat(frame.geom_xmat[0]),
                                container, jnp.zeros(4)])

    def grasped(self, frame: sawyer.Frame, stick: jax.Array, obj_init: jax.Array,
                action: jax.Array, obj_radius: float) -> jax.Array:
        """``_gripper_caging_reward`` of ``stick`` (pads within 0.05, x-z within 0.01, high
        density), its margins from ``obj_init``: stick-push-v3's own reads the stick's place
        at reset, stick-pull-v3's (``SawyerXYZEnv``'s) the thermos's (``obj_init_pos``)."""
        return gripper_caging(pads_y(frame), tcp(frame), stick, obj_init, self.init_tcp,
                              obj_radius=obj_radius, pad_success=0.05, xz_success=0.01,
                              grip=action[3])


class ML1StickPush(StickTask):
    """Tasks: the stick at [-0.08, -0.03] x [0.58, 0.62], the goal at [0.399, 0.401] x
    [0.55, 0.6] (z drawn but not used), at least 0.1 apart. The thermos observed at its
    ``insertion`` site + (0, 0.09, 0).

    Reward (``compute_reward``, version "v2"): the caging (radius 0.04) of the point 0.015
    along x from the stick; with the fingertips' centre within 0.02 of that point, the gripper
    open and the stick lifted over 0.01: 2 + 5 * stick_in_place + 3 * container_in_place, 10
    with the thermos within 0.12 of the goal; in_place terms the tolerances of their distances
    to the goal within 0.12 (margins from their places at reset, less 0.12). Success: both pads
    touching the stick (``touching_main_object``), the gripper open, the stick lifted over 0.01
    and the thermos within 0.12 of the goal.
    """

    scene = stick_scene((-0.5, 0.40, 0.05), 0.0, touching=("objGeom",))
    rand_low = (-0.08, 0.58, 0.0, 0.399, 0.55, 0.1319)
    rand_high = (-0.03, 0.62, 0.001, 0.401, 0.6, 0.1321)
    backends = ("mujoco_c",)
    _CONTAINER = (0.0, 0.09, 0.0)
    _RADIUS = 0.12

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.goal_z = float(self.settled_site("insertion")[2])

    def goal(self, task: Task) -> jax.Array:
        return jnp.append(task["rand_vec"][3:5], self.goal_z)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        opened, container, target = obs[3], obs[11:14], self.goal(task)
        stick_init, stick = self.stick_init(task), obs[4:7] + jnp.array([0.015, 0.0, 0.0])
        stick_in_place = tolerance_long_tail(
            jnp.linalg.norm(stick - target), (0.0, self._RADIUS),
            jnp.linalg.norm(stick_init - target) - self._RADIUS)
        to_target = jnp.linalg.norm(container - target)
        container_in_place = tolerance_long_tail(
            to_target, (0.0, self._RADIUS), jnp.linalg.norm(self.obj_init - target) - self._RADIUS)
        grasped = self.grasped(frame, stick, stick_init, action, obj_radius=0.04)
        lifted = ((jnp.linalg.norm(stick - tcp(frame)) < 0.02) & (opened > 0)
                  & (stick[2] - 0.01 > stick_init[2]))
        reward = jnp.where(lifted, jnp.where(to_target <= self._RADIUS, 10.0,
                                             2.0 + 5.0 * stick_in_place
                                             + 3.0 * container_in_place), grasped)
        held = (frame.touching[0] > 0) & (opened > 0) & (obs[6] - 0.01 > stick_init[2])
        return reward, held & (to_target <= self._RADIUS)


class ML1StickPull(StickTask):
    """Tasks: the stick at [-0.1, 0] x [0.55, 0.65], the goal at [0.35, 0.45] x [0.45, 0.55]
    (z drawn but not used: 0.02), at least 0.1 apart. The thermos observed at its ``insertion``
    site, its handle.

    Reward (``compute_reward``, version "v2"): hamacher(grasped, stick_in_place); grasped: the
    stick's caging (radius 0.014, its margins from the thermos's place at reset), 1 with the
    fingertips' centre within 0.02 of the stick, the gripper open and the stick lifted over
    0.01, which adds 1 + 5 * stick_in_place, or with the stick inserted (its end ``stick_end``
    past the handle in x, within 0.04 in y and 0.06 in z) 1 + 5 + 2 * stick_in_place_2 +
    container_in_place, 10 with the handle within 0.12 of the goal; stick_in_place: the
    tolerance of |(stick - container) * (1, 1, 2)| within 0.05, the container 0.05 past the
    handle in x; stick_in_place_2 and container_in_place of the stick's and the container's
    distances to the goal within 0.05; margins from their places at reset.
    Success: the handle within 0.12 of the goal with the stick inserted.
    """

    scene = stick_scene((-0.5, 0.35, 0.05), 0.09)
    rand_low = (-0.1, 0.55, 0.0, 0.35, 0.45, 0.0199)
    rand_high = (0.0, 0.65, 0.001, 0.45, 0.55, 0.0201)
    _RADIUS = 0.05

    def goal(self, task: Task) -> jax.Array:
        return jnp.append(task["rand_vec"][3:5], _HEIGHT)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        opened, stick, handle, target = obs[3], obs[4:7], obs[11:14], self.goal(task)
        stick_init, end = self.stick_init(task), frame.site_xpos[_STICK_END]
        offset, scale = jnp.array([0.05, 0.0, 0.0]), jnp.array([1.0, 1.0, 2.0])
        container, container_init = handle + offset, self.obj_init + offset
        handle_to_target = jnp.linalg.norm(handle - target)
        stick_in_place = tolerance_long_tail(
            jnp.linalg.norm((stick - container) * scale), (0.0, self._RADIUS),
            jnp.linalg.norm((stick_init - container_init) * scale))
        stick_in_place_2 = tolerance_long_tail(jnp.linalg.norm(stick - target),
                                               (0.0, self._RADIUS),
                                               jnp.linalg.norm(stick_init - target))
        container_in_place = tolerance_long_tail(jnp.linalg.norm(container - target),
                                                 (0.0, self._RADIUS),
                                                 jnp.linalg.norm(self.obj_init - target))
        lifted = ((jnp.linalg.norm(stick - tcp(frame)) < 0.02) & (opened > 0)
                  & (stick[2] - 0.01 > stick_init[2]))
        grasped = jnp.where(lifted, 1.0, self.grasped(frame, stick, self.obj_init, action,
                                                          0.014))
        in_place_and_grasped = hamacher_product(grasped, stick_in_place)
        inserted = ((end[0] >= handle[0]) & (jnp.abs(end[1] - handle[1]) <= 0.04)
                    & (jnp.abs(end[2] - handle[2]) <= 0.06))
        pulled = jnp.where(handle_to_target <= 0.12, 10.0,
                           1.0 + in_place_and_grasped + 5.0 + 2.0 * stick_in_place_2
                           + container_in_place)
        reward = jnp.where(lifted, jnp.where(inserted, pulled,
                                             1.0 + in_place_and_grasped + 5.0 * stick_in_place),
                           in_place_and_grasped)
        return reward, (handle_to_target <= 0.12) & inserted
