"""pick-out-of-hole-v3 (``metaworld/envs/sawyer_pick_out_of_hole_v3.py``,
``SawyerPickOutOfHoleEnvV3``): grasp the puck sunk in a hole in the table and lift it to a goal
in the air, hidden from the agent.

Tasks (``reset_model``): rand_vec = (puck x, y, z, goal x, y, z), the puck's part constant,
redrawn while the two lie less than 0.15 apart in the plane (``puck.PuckTask``'s rule and
placement); the mocap goes down to z = -0.05.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import free_quat, tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, pads_y, puck_scene
from trmrl_jax.envs.metaworld.rewards import gripper_caging, hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_TARGET_RADIUS = 0.05  # SawyerXYZEnv.TARGET_RADIUS: the class's own _TARGET_RADIUS is unread.
_SUCCESS_RADIUS = 0.07
_GRIP_EFFORT = 0.1  # desired_gripper_effort: the effort that counts as fully closed.


class ML1PickOutOfHole(PuckTask):
    """Tasks: the puck at (0, 0.75, 0.02), the goal in [-0.1, 0.1] x [0.5, 0.6] x [0.15, 0.3].
    Observed object: the puck (body ``obj``: position, MuJoCo's (w, x, y, z) ``xquat``).

    Reward (``compute_reward``, version "v2"): hamacher(caging, in_place); caging
    ``_gripper_caging_reward`` (object radius 0.015, pads within 0.02, x-z within 0.03, the
    effort counted up to 0.1, high density), in_place the tolerance of |puck - goal| within 0.02
    (margin its initial value); with the fingertips' centre within 0.04 of the puck, the puck
    lifted over 0.02 and the gripper's opening at least 0.33, plus 1 + 5 * hamacher(in_place,
    above_floor), above_floor 1 where the fingertips are above the hole's funnel
    (0.015 ln(r - 0.03) + 0.15 at r from the hole's axis beyond 0.03), else the tolerance of
    their depth under it within 0.01, margin 0.02; 10 within 0.05 of the goal. Success: |puck -
    goal| <= 0.07.
    """

    scene = dataclasses.replace(puck_scene("sawyer_pick_out_of_hole.xml"),
                                mocap_low=(-0.5, 0.40, -0.05))
    rand_low = (0.0, 0.75, 0.02, -0.1, 0.5, 0.15)
    rand_high = (0.0, 0.75, 0.02, 0.1, 0.6, 0.3)

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[3], free_quat(frame.qpos, 9)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, centre = obs[4:7], tcp(frame)
        obj_init, target = task["rand_vec"][:3], self.goal(task)
        to_target, to_obj = jnp.linalg.norm(obj - target), jnp.linalg.norm(obj - centre)
        radius = jnp.linalg.norm(centre[:2] - obj_init[:2])
        floor = jnp.where(radius <= 0.03, 0.0,
                          0.015 * jnp.log(jnp.maximum(radius - 0.03, 1e-30)) + 0.15)
        above_floor = jnp.where(
            centre[2] >= floor, 1.0,
            tolerance_long_tail(jnp.maximum(floor - centre[2], 0.0), (0.0, 0.01), 0.02))
        grip = jnp.clip(action[3], 0.0, _GRIP_EFFORT) / _GRIP_EFFORT
        grasped = gripper_caging(pads_y(frame), centre, obj, obj_init, self.init_tcp,
                                 obj_radius=0.015, pad_success=0.02, xz_success=0.03, grip=grip)
        in_place = tolerance_long_tail(to_target, (0.0, 0.02),
                                       jnp.linalg.norm(obj_init - target))
        reward = hamacher_product(grasped, in_place)
        held = (to_obj < 0.04) & (obj[2] - 0.02 > obj_init[2]) & (obs[3] >= 0.33)
        reward = jnp.where(held, reward + 1.0 + 5.0 * hamacher_product(in_place, above_floor),
                           reward)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _SUCCESS_RADIUS
