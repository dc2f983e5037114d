"""reach-v3 (``metaworld/envs/sawyer_reach_v3.py``, ``SawyerReachEnvV3``): bring the gripper's
centre to a goal position hidden from the agent; the puck on the table is only observed."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import HAND_INIT, tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, puck_scene
from trmrl_jax.envs.metaworld.rewards import tolerance_long_tail
from trmrl_jax.physics import sawyer

_TARGET_RADIUS = 0.05


class ML1Reach(PuckTask):
    """Tasks: puck in [-0.1, 0.1] x [0.6, 0.7] x 0.02, goal in [-0.1, 0.1] x [0.8, 0.9] x
    [0.05, 0.3].

    Reward (``compute_reward``, version "v2"): 10 * tolerance(|tcp - goal|, bounds (0, 0.05),
    margin |hand_init_pos - goal|, long tail), tcp the centre of the two fingertip sites;
    success: |tcp - goal| <= 0.05.
    """

    scene = puck_scene("sawyer_reach_v3.xml")
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.05)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.3)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del obs, action
        goal = self.goal(task)
        distance = jnp.linalg.norm(tcp(frame) - goal)
        margin = jnp.linalg.norm(jnp.asarray(HAND_INIT) - goal)
        in_place = tolerance_long_tail(distance, (0.0, _TARGET_RADIUS), margin)
        return 10.0 * in_place, distance <= _TARGET_RADIUS
