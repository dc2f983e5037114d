"""box-close-v3 (``metaworld/envs/sawyer_box_close_v3.py``, ``SawyerBoxCloseEnvV3``): pick the
lid up by its handle and put it on a box, whose place is hidden from the agent.

Reset (``reset_model``): rand_vec = (lid x, y, z, box x, y, z), redrawn while the two lie less
than 0.25 apart in the plane; the box (body ``boxbody``) goes to the goal's x and y at its own
height (0), ``frame_skip`` (5) physics steps run (``Scene.reset_steps``), then the lid's free
joint (qpos 9-11) is set to (lid x, y, float32 0.02) and its velocities zeroed (a forward pass).
The goal is rand_vec's last three. Observed: the lid's ``top_link`` (its frame position and
MuJoCo (w, x, y, z) ``xquat``: the free joint's quaternion, ``top_link`` being unrotated in it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, apart, free_quat
from trmrl_jax.envs.metaworld.rewards import above_funnel, hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer
from trmrl_jax.physics.sawyer.scene import FRAME_SKIP

_LID = 3  # Row of Frame.xpos: top_link.
_LID_Z = float(np.float32(0.02))  # obj_init_pos's z, float32 as there.
_HANDLE = (0.0, 0.0, 0.02)  # From the lid's frame, the point the hand reaches for.
_UPRIGHT = (0.707, 0.0, 0.0, 0.707)  # _reward_quat's ideal lid quaternion.
_SCALE = (1.0, 1.0, 3.0)  # The placing error weighs z thrice.
_SUCCESS = 0.08


class ML1BoxClose(MetaWorldTask):
    """Tasks: the lid at [-0.05, 0.05] x [0.5, 0.55] x 0.02, the box at [-0.1, 0.1] x [0.7,
    0.8] x 0.133 (its z read only as the goal's). The hand starts at float32 (0, 0.6, 0.2).

    Reward (``compute_reward``, version "v2"): (2 * hamacher(grab, ready) + 8 * lifted, or 10
    within 0.08 of the goal) * upright; grab: (action[3] + 1) / 2; ready: hamacher(the hand
    above a funnel of radius 0.02 around the handle (lid + (0, 0, 0.02)), the tolerance of
    |hand - handle| within 0.02, margin 0.5); lifted: 0.2 with the handle over 0.04 + 0.8 *
    tolerance of |(goal - handle) * (1, 1, 3)| within 0.05, margin 0.25; upright: max(1 -
    |lid quaternion - (0.707, 0, 0, 0.707)| / 0.2, 0). Success: |lid - goal| < 0.08.
    """

    scene = sawyer.Scene(
        xml="sawyer_box.xml", hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "top_link"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=(), placed_qpos=(9, 10, 11),
        zeroed_qvel=tuple(range(9, 15)), placed_bodies=("boxbody",), settle_placed=True,
        reset_steps=FRAME_SKIP)
    rand_low = (-0.05, 0.5, 0.02, -0.1, 0.7, 0.133)
    rand_high = (0.05, 0.55, 0.02, 0.1, 0.8, 0.133)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, 0.25)

    def placed(self, task: Task) -> jax.Array:
        return jnp.concatenate([task["rand_vec"][:2], jnp.array([_LID_Z])])

    def bodies(self, task: Task) -> jax.Array:
        return jnp.concatenate([task["rand_vec"][3:5], jnp.zeros(1)])[None]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:]

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_LID], free_quat(frame.qpos, 9)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del frame
        hand, handle, target = obs[:3], obs[4:7] + jnp.asarray(_HANDLE), self.goal(task)
        grab = jnp.clip((jnp.clip(action[3], -1.0, 1.0) + 1.0) / 2.0, 0.0, 1.0)
        upright = jnp.maximum(1.0 - jnp.linalg.norm(obs[7:11] - jnp.asarray(_UPRIGHT)) / 0.2,
                              0.0)
        ready = hamacher_product(
            above_funnel(hand, handle, 0.02),
            tolerance_long_tail(jnp.linalg.norm(hand - handle), (0.0, 0.02), 0.5))
        lifted = 0.2 * (handle[2] > 0.04) + 0.8 * tolerance_long_tail(
            jnp.linalg.norm((target - handle) * jnp.asarray(_SCALE)), (0.0, 0.05), 0.25)
        success = jnp.linalg.norm(obs[4:7] - target) < _SUCCESS
        reward = jnp.where(success, 10.0, 2.0 * hamacher_product(grab, ready) + 8.0 * lifted)
        return reward * upright, success
