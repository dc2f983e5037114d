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
from trmrl_jax.envs.metaworld.puck import PuckTask, puck_scene
from trmrl_jax.envs.metaworld.sweep import sweep_reward
from trmrl_jax.physics import sawyer

_HOLE = (0.0, 0.84, 0.02)  # The class's goal.
_MIN_DISTANCE = 0.15  # From the block to the hole, in the plane.


class ML1SweepInto(PuckTask):
    """Tasks: block in [-0.1, 0.1] x [0.6, 0.7].

    Reward (``compute_reward``, version "v2"): ``sweep.sweep_reward`` of the block and the goal
    at the block's height (its distance in the plane), the pads gripping within 0.025, x-z
    within 0.01.
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
        obj = obs[4:7]
        return sweep_reward(frame, obj, self.at_rest(task["rand_vec"][:2]),
                            jnp.array([_HOLE[0], _HOLE[1], obj[2]]), self.init_tcp,
                            grip_success=0.025, xz_success=0.01)
