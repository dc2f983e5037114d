"""sweep-into-v3 (``metaworld/envs/sawyer_sweep_into_goal_v3.py``, ``SawyerSweepIntoGoalEnvV3``):
sweep a block across the table into a hole, which stands at one place for every task.

Tasks (``reset_model``): rand_vec = (block x, y, z, goal x, y, z); the block goes to its x
and y at the height where it rests after the hand's reset, redrawn while it lies less than 0.15
from the hole in the plane; the goal's part is drawn, as there, but not used: the goal
(``_target_pos``) is the hole's, (0, 0.84, 0.02).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, pads_y, puck_scene
from trmrl_jax.envs.metaworld.rewards import (
    hamacher_product,
    pads_around_y,
    tolerance_long_tail,
    xz_caging,
)
from trmrl_jax.physics import sawyer

_HOLE = (0.0, 0.84, 0.02)  # The class's goal.
_MIN_DISTANCE = 0.15  # From the block to the hole, in the plane.
_TARGET_RADIUS = 0.05
_OBJ_RADIUS, _PAD_SUCCESS, _XZ_SUCCESS = 0.02, 0.05, 0.01
_CAGED = 0.95  # Its own ``_gripper_caging_reward``'s, not the shared 0.97.


class ML1SweepInto(PuckTask):
    """Tasks: block in [-0.1, 0.1] x [0.6, 0.7].

    Reward (``compute_reward``, version "v2"): 2 * grasped + 6 * hamacher(grasped, in_place);
    in_place: tolerance of |block - goal| within 0.05 in the plane (the goal at the block's
    height), margin |block at reset - goal|; grasped: its own ``_gripper_caging_reward``:
    (caging + gripping) / 2, caging hamacher(``pads_around_y`` with the pads within (0.02,
    0.05), ``xz_caging`` within 0.01), gripping the pads' term within (0.02, 0.025) once caging
    exceeds 0.95 (the gripper's action unread); 10 within 0.05 of the goal. Success: |block -
    goal| <= 0.05.
    """

    scene = puck_scene("sawyer_table_with_hole.xml", at_rest=True)
    rand_low = (-0.1, 0.6, 0.02, -0.001, 0.8399, 0.0199)
    rand_high = (0.1, 0.7, 0.02, 0.001, 0.8401, 0.0201)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return bool(np.linalg.norm(rand_vec[:2] - np.asarray(_HOLE[:2])) >= _MIN_DISTANCE)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:2]

    def goal(self, task: Task) -> jax.Array:
        del task
        return jnp.asarray(_HOLE)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        obj, centre = obs[4:7], tcp(frame)
        obj_init = self.at_rest(task["rand_vec"][:2])
        target = jnp.array([_HOLE[0], _HOLE[1], obj[2]])
        to_target = jnp.linalg.norm(obj - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm(obj_init - target))
        pads = pads_y(frame)
        caging_y = pads_around_y(pads, obj, (_OBJ_RADIUS, _PAD_SUCCESS), _PAD_SUCCESS)
        gripping_y = pads_around_y(pads, obj, (_OBJ_RADIUS, _OBJ_RADIUS + 0.005), _PAD_SUCCESS)
        caging = hamacher_product(hamacher_product(caging_y[0], caging_y[1]),
                                  xz_caging(centre, obj, obj_init, self.init_tcp, _XZ_SUCCESS))
        gripping = hamacher_product(gripping_y[0], gripping_y[1])
        grasped = (caging + jnp.where(caging > _CAGED, gripping, 0.0)) / 2.0
        reward = 2.0 * grasped + 6.0 * hamacher_product(grasped, in_place)
        return (jnp.where(to_target < _TARGET_RADIUS, 10.0, reward),
                to_target <= _TARGET_RADIUS)
