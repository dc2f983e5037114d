"""hand-insert-v3 (``metaworld/envs/sawyer_hand_insert_v3.py``, ``SawyerHandInsertEnvV3``): push
the block into a hole in the table at a goal hidden from the agent.

Reset (``reset_model``): the block (body ``obj``) placed at (rand_vec x, y, 0.05) by qpos 9-11,
its velocities zeroed (0.05 is ``init_config``'s float64 height, not the float32 rand_vec's), the
goal at rand_vec's goal part (under the table), redrawn while the two lie less than 0.15 apart
in the plane; ``hand_init_pos`` is float32 and the mocap goes down to z = -0.15.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import free_quat, tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, puck_caging, puck_scene
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_HEIGHT = 0.05
_TARGET_RADIUS = 0.05  # SawyerHandInsertEnvV3.TARGET_RADIUS.


class ML1HandInsert(PuckTask):
    """Tasks: block in [-0.1, 0.1] x [0.6, 0.7], goal in [-0.04, 0.04] x [0.8, 0.88] x -0.02.
    Observed object: the block (body ``obj``: position, MuJoCo's (w, x, y, z) ``xquat``).

    Reward (``compute_reward``, version "v2"): hamacher(caging, in_place); caging
    ``_gripper_caging_reward`` (object radius 0.015, pads within 0.05, x-z within 0.005, high
    density), in_place the tolerance of |block - goal| within 0.05 (margin its initial value);
    plus 1 + 7 * in_place with the fingertips' centre within 0.02 of the block and the gripper
    open; 10 within 0.05 of the goal. Success: |block - goal| <= 0.05.
    """

    scene = dataclasses.replace(
        puck_scene("sawyer_table_with_hole.xml",
                   hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2]))),
        mocap_low=(-0.5, 0.40, -0.15), placed_qpos=(9, 10), fixed_qpos=((11, _HEIGHT),))
    rand_low = (-0.1, 0.6, 0.05, -0.04, 0.8, -0.0201)
    rand_high = (0.1, 0.7, 0.05, 0.04, 0.88, -0.0199)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:2]

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[3], free_quat(frame.qpos, 9)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init, target = jnp.append(task["rand_vec"][:2], _HEIGHT), self.goal(task)
        to_target = jnp.linalg.norm(obj - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm(obj_init - target))
        grasped = puck_caging(frame, obj, obj_init, self.init_tcp, action[3])
        reward = hamacher_product(grasped, in_place)
        near = (jnp.linalg.norm(obj - centre) < 0.02) & (opened > 0)
        reward = jnp.where(near, reward + 1.0 + 7.0 * in_place, reward)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _TARGET_RADIUS
