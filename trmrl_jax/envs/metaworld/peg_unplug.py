"""peg-unplug-side-v3 (``metaworld/envs/sawyer_peg_unplug_side_v3.py``,
``SawyerPegUnplugSideEnvV3``): pull a plug sideways out of a box's socket to a goal hidden from
the agent.

Reset (``reset_model``): the box (body ``box``) stands at rand_vec; the plug's free joint is set
to the box + (0.044, 0, 0.131) in float64 (``Scene.placed_offsets``), its quaternion to (1, 0,
0, 0) and its linear velocity (qvel 9-11 only) zeroed. The goal is the plug's place + (0.15, 0,
0); the reward's start point is the plug's ``pegEnd`` site then, the plug's place + the site's
offset. Observed: ``pegEnd`` and the plug's (``plug1``) MuJoCo (w, x, y, z) ``xquat``, the free
joint's quaternion.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, free_quat, tcp
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import gripper_caging, tolerance_long_tail
from trmrl_jax.physics import sawyer

_PLUG = (0.044, 0.0, 0.131)  # The plug's place, from the box.
_GOAL = (0.15, 0.0, 0.0)  # The goal, from the plug's place.
_GRIPPER_EFFORT = 0.8  # desired_gripper_effort.
_TARGET_RADIUS = 0.05
_SUCCESS = 0.07


class ML1PegUnplugSide(MetaWorldTask):
    """Tasks: the box at [-0.25, -0.15] x [0.6, 0.8] x [-0.001, 0.001].

    Reward (``compute_reward``, version "v2"): 2 * grasped; grasped: ``_gripper_caging_reward``
    of ``pegEnd`` (radius 0.025, pads within 0.05, x-z within 0.005, the gripper closed at
    action 0.8, high density); with the gripper opening over 0.5, the plug pulled over 0.015
    in x and the fingertips' centre within 0.035 of it, 1 + 2 * grasped + 5 * in_place;
    in_place: tolerance of |pegEnd - goal| within 0.05, margin its reset value; 10 within 0.05.
    Success: |pegEnd - goal| <= 0.07.
    """

    scene = sawyer.Scene(
        xml="sawyer_peg_unplug_side.xml", hand_init=(0.0, 0.6, 0.2),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "plug1", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector", "pegEnd"), geoms=(),
        placed_qpos=(9, 10, 11), zeroed_qvel=(9, 10, 11),
        fixed_qpos=((12, 1.0), (13, 0.0), (14, 0.0), (15, 0.0)), placed_bodies=("box",),
        settle_placed=True, placed_offsets=_PLUG)
    rand_low = (-0.25, 0.6, -0.001)
    rand_high = (-0.15, 0.8, 0.001)

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        m = self.physics.mujoco_model  # pegEnd from the unrotated plug's place, as reset sets it.
        self.end_offset = m.site("pegEnd").pos + m.body("plug").pos

    def plug_at(self, task: Task) -> jax.Array:
        """[3] the plug's place (float32 of Meta-World's float64)."""
        return task["rand_vec"] + jnp.asarray(_PLUG, jnp.float32)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"]

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"] + jnp.asarray(np.add(_PLUG, _GOAL), jnp.float32)

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The ``goal`` marker rides the box (a site of its body), drawn with it."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[2], free_quat(frame.qpos, 9)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, target, centre = obs[4:7], self.goal(task), tcp(frame)
        obj_init = task["rand_vec"] + jnp.asarray(np.add(_PLUG, self.end_offset), jnp.float32)
        grasped = gripper_caging(pads_y(frame), centre, obj, obj_init, self.init_tcp,
                                 obj_radius=0.025, pad_success=0.05, xz_success=0.005,
                                 grip=action[3] / _GRIPPER_EFFORT)
        to_target = jnp.linalg.norm(obj - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm(obj_init - target))
        pulled = ((obs[3] > 0.5) & (obj[0] - obj_init[0] > 0.015)
                  & (jnp.linalg.norm(obj - centre) < 0.035))
        reward = jnp.where(pulled, 1.0 + 2.0 * grasped + 5.0 * in_place, 2.0 * grasped)
        return jnp.where(to_target <= _TARGET_RADIUS, 10.0, reward), to_target <= _SUCCESS
