"""hammer-v3 (``metaworld/envs/sawyer_hammer_v3.py``, ``SawyerHammerEnvV3``): pick a hammer up
and drive a nail into a box with its head; the nail's place (the goal) is hidden from the agent.

Reset (``reset_model``): the hammer's free joint (qpos 9-11) set to rand_vec, its velocities
zeroed; the box stays where the model has it (Meta-World writes the model's own (0.24, 0.85, 0)),
so the goal (the box's ``goal`` site) is the same for every task. Observed: the hammer's and the
nail's bodies (``hammer``, ``nail_link``), each a frame position and MuJoCo (w, x, y, z) ``xquat``:
the free joint's quaternion (``hammer`` unrotated in it) and (1, 0, 0, 0) (the nail slides in the
unrotated box).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, free_quat, tcp
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import gripper_caging, tolerance_long_tail
from trmrl_jax.physics import sawyer

_HAMMER, _NAIL = 3, 6  # Rows of Frame.xpos (after the pads).
_NAIL_JOINT = 16  # qpos of NailSlideJoint.
_NAIL_QUAT = (1.0, 0.0, 0.0, 0.0)
_HEAD = (0.16, 0.06, 0.0)  # From the hammer's frame, the point that hits the nail.
_HALF_HANDLE = 0.14 / 2.0  # HAMMER_HANDLE_LENGTH / 2.


class ML1Hammer(MetaWorldTask):
    """Tasks: the hammer at [-0.1, 0.1] x [0.4, 0.5] x 0; the hand starts at (0, 0.4, 0.2).

    Reward (``compute_reward``, version "v2"): (2 * grab + 6 * in_place) * upright; grab:
    ``_gripper_caging_reward`` (radius 0.015, pads within 0.02, x-z within 0.01, high density)
    of the hammer with its x moved to the hand's within half the handle's length (0.07);
    in_place: 0.1 with the head (hammer + (0.16, 0.06, 0)) over 0.02 + 0.9 * tolerance of
    |goal - head| within 0.02, margin 0.2; upright: max(1 - |hammer quaternion - (1, 0, 0, 0)|
    / 0.4, 0); 10 on success with the reward over 5. Success: the nail driven over 0.09.
    """

    scene = sawyer.Scene(
        xml="sawyer_hammer.xml", hand_init=(0.0, 0.4, 0.2), mocap_low=(-0.5, 0.40, 0.05),
        mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "hammer", "leftpad", "rightpad", "nail_link"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=(), placed_qpos=(9, 10, 11),
        zeroed_qvel=tuple(range(9, 15)))
    rand_low = (-0.1, 0.4, 0.0)
    rand_high = (0.1, 0.5, 0.0)

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.target = jnp.asarray(self.settled_site("goal"), jnp.float32)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"]

    def goal(self, task: Task) -> jax.Array:
        del task
        return self.target

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The ``goal`` marker rides the box (a site of its body), drawn with it."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_HAMMER], free_quat(frame.qpos, 9),
                                frame.xpos[_NAIL], jnp.asarray(_NAIL_QUAT)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        hand, hammer, obj_init = obs[:3], obs[4:7], task["rand_vec"]
        threshed = hammer.at[0].set(jnp.where(jnp.abs(hammer[0] - hand[0]) < _HALF_HANDLE,
                                              hand[0], hammer[0]))
        upright = jnp.maximum(
            1.0 - jnp.linalg.norm(obs[7:11] - jnp.array([1.0, 0.0, 0.0, 0.0])) / 0.4, 0.0)
        grab = gripper_caging(pads_y(frame), tcp(frame), threshed, obj_init, self.init_tcp,
                              obj_radius=0.015, pad_success=0.02, xz_success=0.01, grip=action[3])
        head = hammer + jnp.asarray(_HEAD)
        in_place = 0.1 * (head[2] > 0.02) + 0.9 * tolerance_long_tail(
            jnp.linalg.norm(self.target - head), (0.0, 0.02), 0.2)
        reward = (2.0 * grab + 6.0 * in_place) * upright
        success = frame.qpos[_NAIL_JOINT] > 0.09
        return jnp.where(success & (reward > 5.0), 10.0, reward), success
