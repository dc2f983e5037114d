"""reach-v3 (``metaworld/envs/sawyer_reach_v3.py``, ``SawyerReachEnvV3``): bring the gripper's
centre to a goal position hidden from the agent; the puck on the table is only observed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, quat_from_xmat
from trmrl_jax.envs.metaworld.rewards import tolerance_long_tail
from trmrl_jax.physics import sawyer

_HAND_INIT = (0.0, 0.6, 0.2)
_TARGET_RADIUS = 0.05


class ML1Reach(MetaWorldTask):
    """Tasks: rand_vec = (puck x, y, z, goal x, y, z), puck in [-0.1, 0.1] x [0.6, 0.7] x 0.02,
    goal in [-0.1, 0.1] x [0.8, 0.9] x [0.05, 0.3], at least 0.15 apart in the plane.

    Reward (``compute_reward``, version "v2"): 10 * tolerance(|tcp - goal|, bounds (0, 0.05),
    margin |hand_init_pos - goal|, long tail), tcp the centre of the two fingertip sites;
    success: |tcp - goal| <= 0.05.
    """

    scene = sawyer.Scene(
        xml="sawyer_reach_v3.xml", hand_init=_HAND_INIT,
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "obj"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=("objGeom",),
        placed_qpos=(9, 10, 11), zeroed_qvel=tuple(range(9, 15)))
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.05)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.3)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return bool(np.linalg.norm(rand_vec[:2] - rand_vec[3:5]) >= 0.15)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:3]

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[3], quat_from_xmat(frame.geom_xmat[0])])

    def evaluate(self, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        goal = task["rand_vec"][3:]
        tcp = jnp.mean(frame.site_xpos, axis=0)
        distance = jnp.linalg.norm(tcp - goal)
        margin = jnp.linalg.norm(jnp.asarray(_HAND_INIT) - goal)
        in_place = tolerance_long_tail(distance, (0.0, _TARGET_RADIUS), margin)
        return 10.0 * in_place, distance <= _TARGET_RADIUS
