"""door-open-v3 (``metaworld/envs/sawyer_door_v3.py``, ``SawyerDoorEnvV3``) and door-close-v3
(``metaworld/envs/sawyer_door_close_v3.py``, ``SawyerDoorCloseEnvV3``): swing a door open by its
handle until the handle's x reaches a goal hidden from the agent, or push an open door shut.

Reset (``reset_model``): the door's body (``door``) stands at rand_vec, its hinge
(``doorjoint``, qpos and qvel 9) set to 0 (door-open) or -1.5708 (door-close) and at rest.
The hand's reset runs with the door already in place (``physics.sawyer.scene``), yet its end
state is the same wherever the door stands, bit for bit (the tests check it): the door's one
joint, the hinge, is vertical, so gravity has exactly no torque about it ((r x g)_z = r_x g_y -
r_y g_x with g_x = g_y = 0), and the hand does not reach the door there, so the hinge stays at
exactly 0 and nothing else in the state sees the door. The hand settles once per scene.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import HAND_INIT, PlacedBodyTask, quat_from_xmat, tcp
from trmrl_jax.envs.metaworld.rewards import (
    above_funnel,
    hamacher_product,
    tolerance_gaussian,
    tolerance_long_tail,
)
from trmrl_jax.physics import sawyer

_HINGE = 9  # qpos of doorjoint.
_GOAL_OFFSET = (-0.3, -0.45, 0.0)
_SUCCESS_X = 0.08  # |handle x - goal x| of an open door.
_FUNNEL = 0.12  # ``_reward_pos``'s threshold: the radius of the floor's funnel.
_CLOSE_GOAL_OFFSET = (0.2, -0.2, 0.0)
_CLOSE_RADIUS = 0.05  # door-close's _TARGET_RADIUS.
_CLOSE_SUCCESS = 0.08


def door_scene(hand_init: tuple[float, float, float], hinge: float) -> sawyer.Scene:
    """``sawyer_door_pull.xml`` with the door placed per task and its hinge at rest at
    ``hinge`` after the hand's reset; observed: the handle (geom ``handle``)."""
    return sawyer.Scene(
        xml="sawyer_door_pull.xml", hand_init=hand_init, mocap_low=(-0.5, 0.40, 0.05),
        mocap_high=(0.5, 1.0, 0.5), bodies=("hand", "rightclaw", "leftclaw"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=("handle",), placed_qpos=(),
        zeroed_qvel=(_HINGE,), fixed_qpos=((_HINGE, hinge),), placed_bodies=("door",))


class DoorTask(PlacedBodyTask):
    """A task on ``door_scene``: the door at [0, 0.1] x [0.85, 0.95] x 0.15; observed object:
    the handle (position, quaternion)."""

    rand_low = (0.0, 0.85, 0.15)
    rand_high = (0.1, 0.95, 0.15)

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.geom_xpos[0], quat_from_xmat(frame.geom_xmat[0])])


class ML1DoorOpen(DoorTask):
    """Tasks: ``DoorTask``'s, the goal 0.3 left of and 0.45 before the door.

    Reward (``compute_reward``, version "v2"): 2 * hamacher(ready, grab) + 8 * opened; ready:
    hamacher(the hand above a log-shaped floor around the handle, tolerance of the hand's
    distance to a point by the handle within 0.06, margin 0.5); grab: (action[3] + 1) / 2;
    opened: 0.2 once the hinge turned over 2 degrees + 0.8 * tolerance(2 pi / 3 + hinge angle,
    (0, 0.5), margin pi / 3); 10 on success. Success: |handle x - goal x| <= 0.08.
    """

    scene = door_scene(HAND_INIT, 0.0)
    goal_offset = _GOAL_OFFSET

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        hand, door = obs[:3], obs[4:7] - jnp.array([0.05, 0.0, 0.0])
        above_floor = above_funnel(hand, door, _FUNNEL)
        in_place = tolerance_long_tail(
            jnp.linalg.norm(hand - door - jnp.array([0.05, 0.03, -0.01])), (0.0, _FUNNEL / 2.0),
            0.5)
        ready = hamacher_product(above_floor, in_place)
        theta = frame.qpos[_HINGE]
        opened = 0.2 * (theta < -jnp.pi / 90.0) + 0.8 * tolerance_long_tail(
            jnp.pi / 2.0 + jnp.pi / 6.0 + theta, (0.0, 0.5), jnp.pi / 3.0)
        grab = (jnp.clip(action[3], -1.0, 1.0) + 1.0) / 2.0
        success = jnp.abs(obs[4] - self.goal(task)[0]) <= _SUCCESS_X
        reward = 2.0 * hamacher_product(ready, grab) + 8.0 * opened
        return jnp.where(success, 10.0, reward), success


class ML1DoorClose(DoorTask):
    """Tasks: ``DoorTask``'s, the goal 0.2 right of and 0.2 before the door (by the closed
    door's handle); the door starts open at -1.5708 rad and the hand at (-0.5, 0.6, 0.2)
    (float32, as there).

    Reward (``compute_reward``, version "v2"): 3 * hand_in_place + 6 * in_place; in_place:
    gaussian tolerance of |handle - goal| within 0.05, margin |door - goal|; hand_in_place:
    gaussian tolerance of |tcp - goal| within 0.0125, margin |hand_init - handle| + 0.1 (the
    handle where it is now); 10 within 0.05 of the goal. Success: |handle - goal| <= 0.08.
    """

    scene = door_scene(tuple(float(x) for x in np.float32([-0.5, 0.6, 0.2])), -1.5708)
    goal_offset = _CLOSE_GOAL_OFFSET

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        handle, target = obs[4:7], self.goal(task)
        to_target = jnp.linalg.norm(handle - target)
        in_place = tolerance_gaussian(to_target, (0.0, _CLOSE_RADIUS),
                                      jnp.linalg.norm(task["rand_vec"] - target))
        hand_margin = jnp.linalg.norm(jnp.asarray(self.scene.hand_init) - handle) + 0.1
        hand_in_place = tolerance_gaussian(jnp.linalg.norm(tcp(frame) - target),
                                           (0.0, 0.25 * _CLOSE_RADIUS), hand_margin)
        reward = 3.0 * hand_in_place + 6.0 * in_place
        return (jnp.where(to_target < _CLOSE_RADIUS, 10.0, reward),
                to_target <= _CLOSE_SUCCESS)
