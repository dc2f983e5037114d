"""sweep-v3 (``metaworld/envs/sawyer_sweep_v3.py``, ``SawyerSweepEnvV3``): sweep the puck
sideways along the table to a goal by its edge, hidden from the agent.

Reset (``reset_model``): the puck (body ``obj``) placed at (rand_vec x, y, 0.02) by qpos 9-11
(``_set_obj_xyz``, its velocities zeroed; 0.02 is ``init_config``'s float64 height, not the
float32 rand_vec's); the goal is (0.5, rand_vec y, 0.01).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, free_quat, tcp
from trmrl_jax.envs.metaworld.puck import pads_y, puck_scene
from trmrl_jax.envs.metaworld.rewards import (
    hamacher_product,
    pads_caging_and_gripping,
    tolerance_long_tail,
)
from trmrl_jax.physics import sawyer

_OBJ = 3  # Row of Frame.xpos: obj.
_HEIGHT = 0.02
_GOAL_X, _GOAL_Z = 0.5, 0.01
_TARGET_RADIUS = 0.05
_OBJ_RADIUS = 0.02  # SawyerSweepEnvV3.OBJ_RADIUS, and SawyerSweepIntoGoalEnvV3's.


def sweep_reward(frame: sawyer.Frame, obj: jax.Array, obj_init: jax.Array, target: jax.Array,
                 init_tcp: jax.Array, grip_success: float, xz_success: float
                 ) -> tuple[jax.Array, jax.Array]:
    """(reward, success) of sweep-v3's and sweep-into-v3's ``compute_reward`` (v2), the object
    at ``obj`` [3], at reset at ``obj_init`` [3], to reach ``target`` [3]: 2 * grasped + 6 *
    hamacher(grasped, in_place); grasped ``pads_caging_and_gripping`` (object radius 0.02, the
    pads gripping within ``grip_success``, x-z within ``xz_success``: neither reads the
    gripper's effort); in_place the tolerance of |obj - target| within 0.05, margin |obj_init
    - target|; 10 within 0.05 of the target. Success: |obj - target| <= 0.05."""
    to_target = jnp.linalg.norm(obj - target)
    in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                   jnp.linalg.norm(obj_init - target))
    grasped = pads_caging_and_gripping(pads_y(frame), tcp(frame), obj, obj_init, init_tcp,
                                       obj_radius=_OBJ_RADIUS, grip_success=grip_success,
                                       xz_success=xz_success)
    reward = 2.0 * grasped + 6.0 * hamacher_product(grasped, in_place)
    return jnp.where(to_target < _TARGET_RADIUS, 10.0, reward), to_target <= _TARGET_RADIUS


class ML1Sweep(MetaWorldTask):
    """Tasks: the puck at [-0.1, 0.1] x [0.6, 0.7] x 0.02 (the goal at its y). Observed object:
    the puck (body ``obj``: position, MuJoCo's (w, x, y, z) ``xquat``, as there).

    Reward (``compute_reward``, version "v2"): ``sweep_reward`` of the puck and the goal, the
    pads gripping within 0.03, x-z within 0.005.
    """

    scene = dataclasses.replace(puck_scene("sawyer_sweep_v3.xml"), geoms=(),
                                placed_qpos=(9, 10), fixed_qpos=((11, _HEIGHT),))
    rand_low = (-0.1, 0.6, 0.02)
    rand_high = (0.1, 0.7, 0.02)

    def _start(self, task: Task) -> jax.Array:
        return jnp.append(task["rand_vec"][:2], _HEIGHT)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:2]

    def goal(self, task: Task) -> jax.Array:
        return jnp.array([_GOAL_X, task["rand_vec"][1], _GOAL_Z])

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_OBJ], free_quat(frame.qpos, 9)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action  # sweep-v3's gripping term reads the pads, not the gripper's effort.
        return sweep_reward(frame, obs[4:7], self._start(task), self.goal(task), self.init_tcp,
                            grip_success=0.03, xz_success=0.005)
