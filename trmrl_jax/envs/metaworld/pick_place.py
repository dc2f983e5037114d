"""pick-place-v3 (``metaworld/envs/sawyer_pick_place_v3.py``, ``SawyerPickPlaceEnvV3``): grasp
the puck and carry it to a goal in the air, hidden from the agent."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, pads_y, puck_scene
from trmrl_jax.envs.metaworld.rewards import (
    caging_and_gripping,
    hamacher_product,
    pads_around_y,
    tolerance_long_tail,
)
from trmrl_jax.physics import sawyer

_TARGET_RADIUS = 0.05
_SUCCESS_RADIUS = 0.07  # evaluate_state's, wider than the reward's.
_OBJ_RADIUS, _PAD_SUCCESS = 0.015, 0.05


class ML1PickPlace(PuckTask):
    """Tasks: puck in [-0.1, 0.1] x [0.6, 0.7] x 0.02, goal in [-0.1, 0.1] x [0.8, 0.9] x
    [0.05, 0.3].

    Reward (``compute_reward``, version "v2"): hamacher(caging, in_place), caging its own
    ``_gripper_caging_reward`` (``rewards.pads_around_y``; x-z within 0.005, high density) and
    in_place the tolerance of |puck - goal| within 0.05 (margin its initial value); plus
    1 + 5 * in_place with the fingertips' centre within 0.02 of the puck, the gripper open and
    the puck lifted over 0.01; 10 within 0.05 of the goal. Success: |puck - goal| <= 0.07.
    """

    scene = puck_scene("sawyer_pick_place_v3.xml")
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.05)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.3)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init, target = task["rand_vec"][:3], self.goal(task)
        to_target = jnp.linalg.norm(obj - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm(obj_init - target))
        caging = pads_around_y(pads_y(frame), obj, (_OBJ_RADIUS, _PAD_SUCCESS), _PAD_SUCCESS)
        grasped = caging_and_gripping(hamacher_product(caging[0], caging[1]), centre, obj,
                                      obj_init, self.init_tcp, xz_success=0.005, grip=action[3])
        reward = hamacher_product(grasped, in_place)
        lifted = ((jnp.linalg.norm(obj - centre) < 0.02) & (opened > 0)
                  & (obj[2] - 0.01 > obj_init[2]))
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _SUCCESS_RADIUS
