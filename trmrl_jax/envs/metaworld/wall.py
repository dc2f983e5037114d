"""reach-wall-v3, push-wall-v3 and pick-place-wall-v3 (``metaworld/envs/sawyer_reach_wall_v3.py``,
``sawyer_push_wall_v3.py``, ``sawyer_pick_place_wall_v3.py``): reach-v3, push-v3 and
pick-place-v3 with a wall between the puck and the goal, on their own scenes; tasks and resets
as those (``puck.PuckTask``: the same rand_vec layout and 0.15 redraw rule), narrower ranges.

push-wall-v3 and pick-place-wall-v3 observe the puck's geom (``objGeom``, at the body's origin,
so the same position) and reward detours: in_place counts first towards a midpoint at y 0.77
beside or above the wall, then, once the puck's y passes 0.75, towards the goal; both succeed
within 0.07 of the goal.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import quat_from_xmat, tcp
from trmrl_jax.envs.metaworld.pick_place import ML1PickPlace
from trmrl_jax.envs.metaworld.puck import puck_caging, puck_scene
from trmrl_jax.envs.metaworld.push import ML1Push
from trmrl_jax.envs.metaworld.reach import ML1Reach
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_TARGET_RADIUS = 0.05
_SUCCESS_RADIUS = 0.07  # evaluate_state's, wider than the reward's.
_PAST_WALL = 0.75  # The puck's y beyond which in_place counts towards the goal.
_OBJ_LOW, _OBJ_HIGH = (-0.05, 0.6, 0.015), (0.05, 0.65, 0.015)


def _in_place(obj: jax.Array, obj_init: jax.Array, target: jax.Array, midpoint: jax.Array,
              scaling: tuple[float, float, float]) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(in_place_part1, in_place_part2, |obj - target|): the tolerances of the puck's
    ``scaling``-weighted distance to ``midpoint`` [3] and of its distance to ``target`` [3],
    each within 0.05, margins their values at ``obj_init`` [3]."""
    scale = jnp.asarray(scaling)
    to_target = jnp.linalg.norm(obj - target)
    part1 = tolerance_long_tail(jnp.linalg.norm((obj - midpoint) * scale), (0.0, _TARGET_RADIUS),
                                jnp.linalg.norm((obj_init - midpoint) * scale))
    part2 = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                jnp.linalg.norm(obj_init - target))
    return part1, part2, to_target


def _around_the_wall(base: jax.Array, obj: jax.Array, held: jax.Array, part1: jax.Array,
                     part2: jax.Array, to_target: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(reward, success): ``base``; where ``held``, base + 1 + 4 * part1, or past the wall
    base + 5 + 3 * part2; 10 within 0.05 of the goal; success within 0.07."""
    past = jnp.where(obj[1] > _PAST_WALL, 5.0 + 3.0 * part2, 1.0 + 4.0 * part1)
    reward = jnp.where(held, base + past, base)
    reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
    return reward, to_target <= _SUCCESS_RADIUS


class ObservesGeom:
    """The puck observed as push-wall-v3 and pick-place-wall-v3 do: its geom's pose."""

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.geom_xpos[0], quat_from_xmat(frame.geom_xmat[0])])


class ML1ReachWall(ML1Reach):
    """reach-v3's reward and success on reach-wall-v3's scene. Tasks: puck in [-0.05, 0.05] x
    [0.6, 0.65] x 0.015, goal in [-0.05, 0.05] x [0.85, 0.9] x [0.05, 0.3]."""

    scene = puck_scene("sawyer_reach_wall_v3.xml")
    rand_low = _OBJ_LOW + (-0.05, 0.85, 0.05)
    rand_high = _OBJ_HIGH + (0.05, 0.9, 0.3)


class ML1PushWall(ObservesGeom, ML1Push):
    """push-v3's placements (the puck and goal at the settled puck's height) on push-wall-v3's
    scene. Tasks: puck in [-0.05, 0.05] x [0.6, 0.65], goal in [-0.05, 0.05] x [0.85, 0.9].

    Reward (``compute_reward``, version "v2"): 2 * caging (as push-v3's); with the fingertips'
    centre within 0.02 of the puck and the gripper open, 2 * caging + 1 + 4 * in_place towards
    the midpoint (-0.05, 0.77, puck z), distances scaled by (3, 1, 1) (``_around_the_wall``).
    """

    scene = puck_scene("sawyer_push_wall_v3.xml", at_rest=True)
    rand_low = _OBJ_LOW + (-0.05, 0.85, 0.01)
    rand_high = _OBJ_HIGH + (0.05, 0.9, 0.02)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init = self.at_rest(task["rand_vec"][:2])
        midpoint = jnp.array([-0.05, 0.77, obj[2]])
        part1, part2, to_target = _in_place(obj, obj_init, self.goal(task), midpoint,
                                            (3.0, 1.0, 1.0))
        grasped = puck_caging(frame, obj, obj_init, self.init_tcp, action[3])
        held = (jnp.linalg.norm(obj - centre) < 0.02) & (opened > 0)
        return _around_the_wall(2.0 * grasped, obj, held, part1, part2, to_target)


class ML1PickPlaceWall(ObservesGeom, ML1PickPlace):
    """pick-place-v3's placements on pick-place-wall-v3's scene. Tasks: puck in [-0.05, 0.05] x
    [0.6, 0.65] x 0.015, goal in [-0.05, 0.05] x [0.85, 0.9] x [0.05, 0.3].

    Reward (``compute_reward``, version "v2"): hamacher(caging, in_place) with
    ``_gripper_caging_reward``'s own y term (x-z within 0.005, not high density), in_place
    towards the midpoint (goal x, 0.77, 0.25), distances scaled by (1, 1, 3); holding the puck
    lifted over 0.015 with the gripper open adds as ``_around_the_wall`` says.
    """

    scene = puck_scene("sawyer_pick_place_wall_v3.xml")
    rand_low = _OBJ_LOW + (-0.05, 0.85, 0.05)
    rand_high = _OBJ_HIGH + (0.05, 0.9, 0.3)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init, target = task["rand_vec"][:3], self.goal(task)
        midpoint = jnp.array([target[0], 0.77, 0.25])
        part1, part2, to_target = _in_place(obj, obj_init, target, midpoint, (1.0, 1.0, 3.0))
        grasped = puck_caging(frame, obj, obj_init, self.init_tcp, action[3], high_density=False)
        held = ((jnp.linalg.norm(obj - centre) < 0.02) & (opened > 0)
                & (obj[2] - 0.015 > obj_init[2]))
        return _around_the_wall(hamacher_product(grasped, part1), obj, held, part1, part2,
                                to_target)
