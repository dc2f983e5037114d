"""lever-pull-v3 (``metaworld/envs/sawyer_lever_pull_v3.py``, ``SawyerLeverPullEnvV3``): lift a
lever's handle from below until the lever points straight up, at a goal hidden from the agent.

Reset (``reset_model``): the lever's body (``lever``) stands at rand_vec, its hinge
(``LeverAxis``, qpos 9) left where the hand's reset left it; the goal is rand_vec + (0.12, 0,
0.45), the handle starts at rand_vec + (0.12, -0.2, 0.25). The reset places the lever and
nothing else: no forward pass after the hand's (``Scene.reset_forward``), so the first
observation reads the kinematics the hand's last physics step began from. Where the lever
stands shows in the bits of the hand's reset (the tests check it), so the hand settles per
episode with the lever in place (``settle_placed``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import PlacedBodyTask, quat_from_xmat
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_HINGE = 9  # qpos of LeverAxis.
_LEVER_RADIUS = 0.2
_GOAL_OFFSET = (0.12, 0.0, 0.25 + _LEVER_RADIUS)
_HANDLE_AT_RESET = (0.12, -_LEVER_RADIUS, 0.25)  # Meta-World's _lever_pos_init.
_SHOULDER = (0.0, 0.055, 0.07)  # From the hand, the arm's point that lifts the lever.
_SCALE = (4.0, 1.0, 4.0)
_SUCCESS = np.pi / 24.0


class ML1LeverPull(PlacedBodyTask):
    """Tasks: the lever at [-0.1, 0.1] x [0.7, 0.8] x 0. Observed object: the handle (site
    ``leverStart``; the quaternion of geom ``objGeom``). The hand starts at (0, 0.4, 0.2)
    (float32, as there) and its mocap may go down to z = -0.15.

    Reward (``compute_reward``, version "v2"): 10 * hamacher(ready, in_place); ready: tolerance
    of |(hand + (0, 0.055, 0.07) - handle) * (4, 1, 4)| within 0.02, margin its value with
    init_tcp for the hand and the handle at reset; in_place: tolerance of |handle - goal|
    within 0.04, margin its value at reset. Success: |-hinge - pi/2| <= pi/24.
    """

    scene = sawyer.Scene(
        xml="sawyer_lever_pull.xml",
        hand_init=tuple(float(x) for x in np.float32([0.0, 0.4, 0.2])),
        mocap_low=(-0.5, 0.40, -0.15), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw"),
        sites=("rightEndEffector", "leftEndEffector", "leverStart"), geoms=("objGeom",),
        placed_qpos=(), zeroed_qvel=(), placed_bodies=("lever",), settle_placed=True,
        reset_forward=False)
    rand_low = (-0.1, 0.7, 0.0)
    rand_high = (0.1, 0.8, 0.0)
    goal_offset = _GOAL_OFFSET

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[2], quat_from_xmat(frame.geom_xmat[0])])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        hand, handle, target = obs[:3], obs[4:7], self.goal(task)
        handle_init = task["rand_vec"] + jnp.asarray(_HANDLE_AT_RESET)
        shoulder, scale = jnp.asarray(_SHOULDER), jnp.asarray(_SCALE)
        ready = tolerance_long_tail(
            jnp.linalg.norm((hand + shoulder - handle) * scale), (0.0, 0.02),
            jnp.linalg.norm((self.init_tcp + shoulder - handle_init) * scale))
        in_place = tolerance_long_tail(jnp.linalg.norm(handle - target), (0.0, 0.04),
                                       jnp.linalg.norm(handle_init - target))
        success = jnp.abs(-frame.qpos[_HINGE] - jnp.pi / 2.0) <= _SUCCESS
        return 10.0 * hamacher_product(ready, in_place), success
