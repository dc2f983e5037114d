"""push-back-v3 (``metaworld/envs/sawyer_push_back_v3.py``, ``SawyerPushBackEnvV3``): push the
block back towards the arm, to a goal on the table hidden from the agent.

Reset (``reset_model``): as push-v3's (``ML1Push``): the block (body ``obj``, geom ``objGeom``
at its origin) placed at rand_vec's x and y and the height where it rests after the hand's
reset, the goal at rand_vec's goal x and y and that height, redrawn while the two lie less than
0.15 apart in the plane; ``hand_init_pos`` is float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import tcp
from trmrl_jax.envs.metaworld.puck import pads_y, puck_scene
from trmrl_jax.envs.metaworld.push import ML1Push
from trmrl_jax.envs.metaworld.rewards import (
    hamacher_product,
    pads_caging_and_gripping,
    tolerance_long_tail,
)
from trmrl_jax.envs.metaworld.wall import ObservesGeom
from trmrl_jax.physics import sawyer

_TARGET_RADIUS = 0.05
_SUCCESS_RADIUS = 0.07  # evaluate_state's, wider than the reward's.
_OBJ_RADIUS = 0.007  # SawyerPushBackEnvV3.OBJ_RADIUS.


class ML1PushBack(ObservesGeom, ML1Push):
    """Tasks: block in [-0.1, 0.1] x [0.8, 0.85], goal in [-0.1, 0.1] x [0.6, 0.7].

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place); grasped push-back's
    own ``_gripper_caging_reward`` (``rewards.pads_caging_and_gripping``: pads within
    (0.007, 0.01) to grip, x-z within 0.01), in_place the tolerance of |block - goal| within
    0.05 (margin its initial value); plus 1 + 5 * in_place with the fingertips' centre within
    0.01 of the block, the gripper's opening in (0, 0.55) and the block 0.01 nearer the goal than
    at reset; 10 within 0.05 of the goal. Success: |block - goal| <= 0.07.
    """

    scene = puck_scene("sawyer_push_back_v3.xml", at_rest=True,
                       hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])))
    rand_low = (-0.1, 0.8, 0.02, -0.1, 0.6, 0.0199)
    rand_high = (0.1, 0.85, 0.02, 0.1, 0.7, 0.0201)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action  # Its gripping term reads the pads, not the gripper's effort.
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init, target = self.at_rest(task["rand_vec"][:2]), self.goal(task)
        to_target = jnp.linalg.norm(obj - target)
        to_target_init = jnp.linalg.norm(obj_init - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS), to_target_init)
        grasped = pads_caging_and_gripping(pads_y(frame), centre, obj, obj_init, self.init_tcp,
                                           _OBJ_RADIUS, _OBJ_RADIUS + 0.003, xz_success=0.01)
        reward = hamacher_product(grasped, in_place)
        pushing = ((jnp.linalg.norm(obj - centre) < 0.01) & (opened > 0) & (opened < 0.55)
                   & (to_target_init - to_target > 0.01))
        reward = jnp.where(pushing, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _SUCCESS_RADIUS
