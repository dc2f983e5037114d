"""shelf-place-v3 (``metaworld/envs/sawyer_shelf_place_v3.py``, ``SawyerShelfPlaceEnvV3``): pick
a block up and put it on a shelf, at a goal hidden from the agent.

Tasks (``reset_model``): rand_vec = (block x, y, z, goal x, y, z), redrawn while the block and
the goal lie less than 0.1 apart in the plane (never, in these ranges); the block goes to its x
and y at the height where it rests after the hand's reset, the shelf's body (``shelf``) to the
goal less 0.3 in z, and the goal is the shelf's ``goal`` site, 0.3 above it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import apart, tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, pads_y, puck_scene
from trmrl_jax.envs.metaworld.rewards import gripper_caging, hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_GOAL_SITE = (0.0, 0.0, 0.3)  # The goal site, from the shelf's body.
_MIN_DISTANCE = 0.1
_TARGET_RADIUS = 0.05
_SUCCESS_RADIUS = 0.07  # evaluate_state's, wider than the reward's.
_FRONT = 3 * _TARGET_RADIUS  # The band before the shelf where the block loses in_place.
_SHELF_HEIGHT = 0.24  # Below it, a block in front of or behind the shelf loses in_place.


class ML1ShelfPlace(PuckTask):
    """Tasks: block in [-0.1, 0.1] x [0.5, 0.6], goal in [-0.1, 0.1] x [0.8, 0.9] x [0.299,
    0.301]. The hand starts at (0, 0.6, 0.2) as float32 (as there).

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place), grasped
    ``_gripper_caging_reward`` (block radius 0.02, pads within 0.05, x-z within 0.01, neither
    density) and in_place the tolerance of |block - goal| within 0.05 (margin its reset value);
    plus 1 + 5 * in_place with the fingertips' centre within 0.025 of the block, the gripper
    open and the block lifted over 0.01, in_place there less hamacher(its depth into the band
    0.15 before the goal's y, its depth below 0.24) in that band and 0 behind the goal's y (both
    below 0.24 and within 0.15 of the goal's x); 10 within 0.05 of the goal. Success: |block -
    goal| <= 0.07.
    """

    scene = puck_scene("sawyer_shelf_placing.xml", at_rest=True,
                       hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])),
                       placed_bodies=("shelf",), body_offsets=((0.0, 0.0, -_GOAL_SITE[2]),))
    rand_low = (-0.1, 0.5, 0.019, -0.1, 0.8, 0.299)
    rand_high = (0.1, 0.6, 0.021, 0.1, 0.9, 0.301)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, _MIN_DISTANCE)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:2]

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:][None]  # Less the offset of 0.3 in z: the shelf's place.

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:]

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The ``goal`` marker rides the shelf (a site of its body), drawn with it."""
        del task
        return {}

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init, target = self.at_rest(task["rand_vec"][:2]), self.goal(task)
        to_target = jnp.linalg.norm(obj - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm(obj_init - target))
        grasped = gripper_caging(pads_y(frame), centre, obj, obj_init, self.init_tcp,
                                 obj_radius=0.02, pad_success=0.05, xz_success=0.01, grip=action[3],
                                 high_density=False)
        reward = hamacher_product(grasped, in_place)
        by_shelf = ((0.0 < obj[2]) & (obj[2] < _SHELF_HEIGHT)
                    & (target[0] - 0.15 < obj[0]) & (obj[0] < target[0] + 0.15))
        in_front = by_shelf & (target[1] - _FRONT < obj[1]) & (obj[1] < target[1])
        bound_loss = hamacher_product((obj[1] - (target[1] - _FRONT)) / _FRONT,
                                      (_SHELF_HEIGHT - obj[2]) / _SHELF_HEIGHT)
        in_place = jnp.where(in_front, jnp.clip(in_place - bound_loss, 0.0, 1.0), in_place)
        in_place = jnp.where(by_shelf & (obj[1] > target[1]), 0.0, in_place)
        lifted = ((jnp.linalg.norm(obj - centre) < 0.025) & (opened > 0)
                  & (obj[2] - 0.01 > obj_init[2]))
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _SUCCESS_RADIUS
