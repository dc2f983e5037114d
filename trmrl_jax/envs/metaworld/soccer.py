"""soccer-v3 (``metaworld/envs/sawyer_soccer_v3.py``, ``SawyerSoccerEnvV3``): push the ball into
a goal placed per task, hidden from the agent.

Reset (``reset_model``): the goal's body (``goal_whole``) stands at rand_vec's goal part; the
ball (body ``soccer_ball``, free joint at qpos 9) placed at (rand_vec x, y, 0.03), its velocities
zeroed (0.03 is ``init_config``'s float64 height); ball and goal redrawn while they lie less than
0.15 apart in the plane.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import quat_from_xmat, tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, pads_y, puck_scene
from trmrl_jax.envs.metaworld.rewards import pads_caging_and_gripping, tolerance_long_tail
from trmrl_jax.physics import sawyer

_HEIGHT = 0.03
_TARGET_RADIUS = 0.07  # SawyerSoccerEnvV3.TARGET_RADIUS.
_OBJ_RADIUS = 0.013  # SawyerSoccerEnvV3.OBJ_RADIUS.
_X_SCALING = (3.0, 1.0, 1.0)


class ML1Soccer(PuckTask):
    """Tasks: ball in [-0.1, 0.1] x [0.6, 0.7], goal in [-0.1, 0.1] x [0.8, 0.9] x 0. Observed
    object: the ball (body ``soccer_ball``: position and scipy quaternion of its frame).

    Reward (``compute_reward``, version "v2"): 3 * grasped + 6.5 * in_place; grasped soccer's own
    ``_gripper_caging_reward`` (``rewards.pads_caging_and_gripping``: pads within (0.013, 0.023)
    to grip, x-z within 0.005); in_place the tolerance of |(ball - goal) * (3, 1, 1)| within
    0.07, margin |(ball - its reset place) * (3, 1, 1)| (the current ball, as there), less
    2 (ball y - line) / (1 - line) (clipped to [0, 1]) past the line 0.1 before the goal more
    than 0.1 beside it; 10 within 0.07 of the goal (scaled). Success: |ball - goal| <= 0.07.
    """

    scene = dataclasses.replace(
        puck_scene("sawyer_soccer.xml"),
        bodies=("hand", "rightclaw", "leftclaw", "soccer_ball", "leftpad", "rightpad"),
        placed_qpos=(9, 10), fixed_qpos=((11, _HEIGHT),), placed_bodies=("goal_whole",))
    rand_low = (-0.1, 0.6, 0.03, -0.1, 0.8, 0.0)
    rand_high = (0.1, 0.7, 0.03, 0.1, 0.9, 0.0)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:2]

    def bodies(self, task: Task) -> jax.Array:
        return self.goal(task)[None]

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[3], quat_from_xmat(frame.geom_xmat[0])])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action  # Its gripping term reads the pads, not the gripper's effort.
        obj, target = obs[4:7], self.goal(task)
        obj_init = jnp.append(task["rand_vec"][:2], _HEIGHT)
        scale = jnp.asarray(_X_SCALING)
        to_target = jnp.linalg.norm((obj - target) * scale)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm((obj - obj_init) * scale))
        line = target[1] - 0.1
        wide = (obj[1] > line) & (jnp.abs(obj[0] - target[0]) > 0.10)
        in_place = jnp.where(
            wide, jnp.clip(in_place - 2.0 * ((obj[1] - line) / (1.0 - line)), 0.0, 1.0),
            in_place)
        grasped = pads_caging_and_gripping(pads_y(frame), tcp(frame), obj, obj_init,
                                           self.init_tcp, _OBJ_RADIUS, _OBJ_RADIUS + 0.01,
                                           xz_success=0.005)
        reward = 3.0 * grasped + 6.5 * in_place
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, jnp.linalg.norm(obj - target) <= _TARGET_RADIUS
