"""door-lock-v3 (``metaworld/envs/sawyer_door_lock_v3.py``, ``SawyerDoorLockEnvV3``) and
door-unlock-v3 (``metaworld/envs/sawyer_door_unlock_v3.py``, ``SawyerDoorUnlockEnvV3``): turn a
safe door's lock down from above, or push it open sideways, to a goal hidden from the agent.

Reset (``reset_model``): the safe's body (``door``) stands at rand_vec. door-lock then runs
``frame_skip`` (5) physics steps under the hand's reset's mocap and controls and no forward
pass (``Scene.reset_steps``); door-unlock sets the lock's hinge (qpos and qvel 9) to 1.5708 and
at rest (``_set_obj_xyz``, a forward pass). The goal is the lock's body (``lock_link``, welded
to the safe: the same offset from it in every state) plus (0, -0.04, -0.1) (lock) or (0.1, -0.04,
0) (unlock). The observed quaternion is ``door_link``'s MuJoCo (w, x, y, z) ``xquat``, not
scipy-ordered: the door has no joint and no rotation, so it is (1, 0, 0, 0) in every state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import PlacedBodyTask
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer
from trmrl_jax.physics.sawyer.scene import FRAME_SKIP

_HINGE = 9  # qpos of the lock's hinge.
_LOCK_SITE, _LEFT_PAD = 2, 3  # Rows of Frame.site_xpos and Frame.xpos.
_DOOR_LINK_QUAT = (1.0, 0.0, 0.0, 0.0)
_SCALE = (0.25, 1.0, 0.5)
_LOCK_LENGTH = 0.1  # The pressed/pushed tolerance's margin.
_SUCCESS = 0.02
_SHOULDER = (0.0, 0.055, 0.07)  # From the hand, the arm's point that pushes the lock open.


def door_lock_scene(site: str, **placement) -> sawyer.Scene:
    """``sawyer_door_lock.xml`` with the safe placed per task, the hand at (0, 0.6, 0.2)
    (float32, as there), the mocap down to z = -0.15; observed: the lock's ``site``."""
    return sawyer.Scene(
        xml="sawyer_door_lock.xml",
        hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])),
        mocap_low=(-0.5, 0.40, -0.15), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "leftpad"),
        sites=("rightEndEffector", "leftEndEffector", site), geoms=(), placed_qpos=(),
        placed_bodies=("door",), settle_placed=True, **placement)


class DoorLockTask(PlacedBodyTask):
    """A task on ``door_lock_scene``: the safe at [-0.1, 0.1] x [0.8, 0.85] x 0.15; observed
    object: the lock's site and ``door_link``'s quaternion. ``goal_from_lock``: the goal from
    the lock's body; ``goal_site``: the model's site Meta-World draws the goal with."""

    rand_low = (-0.1, 0.8, 0.15)
    rand_high = (0.1, 0.85, 0.15)
    goal_from_lock: tuple[float, float, float]
    goal_site: str

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        settled = self.physics.settled
        lock, door = (self.physics.mujoco_model.body(name).id for name in ("lock_link", "door"))
        self.lock_offset = settled.xpos[lock] - settled.xpos[door]
        self.goal_offset = jnp.asarray(self.lock_offset + self.goal_from_lock, jnp.float32)

    def lock_at(self, task: Task) -> jax.Array:
        """[3] the lock's body (``obj_init_pos``: a view of its ``xpos``, wherever read)."""
        return task["rand_vec"] + jnp.asarray(self.lock_offset, jnp.float32)

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        return {self.goal_site: self.goal(task)}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[_LOCK_SITE], jnp.asarray(_DOOR_LINK_QUAT)])


class ML1DoorLock(DoorLockTask):
    """Tasks: ``DoorLockTask``'s, the goal 0.04 before and 0.1 below the lock's body (where
    the turned lock's site reaches).

    Reward (``compute_reward``, version "v2"): 2 * hamacher(gripper opening, near_lock) + 8 *
    pressed; near_lock: tolerance of |(lock site - left pad) * (0.25, 1, 0.5)| within 0.01,
    margin that same distance (Meta-World's ``init_left_pad`` is a view of the pad's current
    ``xpos``); pressed: tolerance of |lock z - goal z| within 0.005, margin 0.1. Success: that
    |lock z - goal z| <= 0.02.
    """

    scene = door_lock_scene("lockStartLock", zeroed_qvel=(), reset_forward=False,
                            reset_steps=FRAME_SKIP)
    goal_from_lock = (0.0, -0.04, -0.1)
    goal_site = "goal_lock"

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        lock = obs[4:7]
        to_pad = jnp.linalg.norm((lock - frame.xpos[_LEFT_PAD]) * jnp.asarray(_SCALE))
        near_lock = tolerance_long_tail(to_pad, (0.0, 0.01), to_pad)
        to_target = jnp.abs(self.goal(task)[2] - lock[2])
        pressed = tolerance_long_tail(to_target, (0.0, 0.005), _LOCK_LENGTH)
        reward = 2.0 * hamacher_product(jnp.maximum(obs[3], 0.0), near_lock) + 8.0 * pressed
        return reward, to_target <= _SUCCESS


class ML1DoorUnlock(DoorLockTask):
    """Tasks: ``DoorLockTask``'s, the lock starting turned down (1.5708 rad), the goal 0.1
    right of and 0.04 before the lock's body.

    Reward (``compute_reward``, version "v2"): 2 * ready + 8 * pushed; ready: tolerance of
    |(hand + (0, 0.055, 0.07) - lock's body) * (0.25, 1, 0.5)| within 0.02, margin its value
    with init_tcp for the hand; pushed: tolerance of |lock site x - goal x| within 0.005,
    margin 0.1. Success: |lock site x - goal x| <= 0.02.

    init_tcp is the episode's (``task["init_tcp"]``, ``base.with_init_tcp``): the hand's reset
    runs with the safe in place and ends elsewhere than with the model's own placement (which
    moved the reward by 2e-4).
    """

    scene = door_lock_scene("lockStartUnlock", zeroed_qvel=(_HINGE,),
                            fixed_qpos=((_HINGE, 1.5708),))
    goal_from_lock = (0.1, -0.04, 0.0)
    goal_site = "goal_unlock"

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del frame, action
        lock, shoulder, scale = obs[4:7], jnp.asarray(_SHOULDER), jnp.asarray(_SCALE)
        ready = tolerance_long_tail(
            jnp.linalg.norm((obs[:3] + shoulder - lock) * scale), (0.0, 0.02),
            jnp.linalg.norm((task["init_tcp"] + shoulder - self.lock_at(task)) * scale))
        to_target = jnp.abs(self.goal(task)[0] - lock[0])
        pushed = tolerance_long_tail(to_target, (0.0, 0.005), _LOCK_LENGTH)
        return 2.0 * ready + 8.0 * pushed, to_target <= _SUCCESS
