"""plate-slide-v3, plate-slide-side-v3, plate-slide-back-v3 and plate-slide-back-side-v3
(``metaworld/envs/sawyer_plate_slide*_v3.py``): slide a puck-shaped plate along the table into
a goal net, hidden from the agent.

One scene per direction (``sawyer_plate_slide.xml``, ``sawyer_plate_slide_sideway.xml``): the
plate (geom ``puck``) rides two slides (qpos 9, 10) in a channel at (0, 0.6, 0.015); the net is
body ``puck_goal``. Tasks: rand_vec = (plate x, y, z, goal x, y, z), the plate's part constant
(``obj_init_pos``, which the rewards read, not where the plate is). Reset (``reset_model``):
the slides set to the task's constant start (Meta-World's ``_set_obj_xyz``, in float64: the
scene's ``fixed_qpos``) with their velocities kept, then a forward pass; plate-slide-v3 moves
the net to the goal and plate-slide-back-side-v3 to ``obj_init_pos``; the other two write the
net's ``data.xpos``, which the forward pass overwrites, so the net stays at the model's place.
``hand_init_pos`` is float32 in all four.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, quat_from_xmat, tcp
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_TARGET_RADIUS = 0.05
_SUCCESS_RADIUS = 0.07  # evaluate_state's, wider than the reward's.


def plate_scene(xml: str, start: tuple[float, float], net_placed: bool) -> sawyer.Scene:
    """The scene of ``xml``, the plate's slides set to ``start`` at reset, the net
    (``puck_goal``) placed per task where ``net_placed``."""
    return sawyer.Scene(
        xml=xml, hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw"), sites=("rightEndEffector", "leftEndEffector"),
        geoms=("puck",), placed_qpos=(), zeroed_qvel=(),
        fixed_qpos=((9, start[0]), (10, start[1])),
        placed_bodies=("puck_goal",) if net_placed else ())


class PlateSlideTask(MetaWorldTask):
    """A plate-slide task. Observed object: the plate (geom ``puck``: position and scipy
    quaternion). ``margin_less``: what the rewards' margins subtract (0.05 in all but
    plate-slide-v3).

    Reward (``compute_reward``, version "v2", as the three sideways and backwards tasks define
    it): in_place the tolerance of |plate - goal| within 0.05, margin |obj_init_pos - goal|
    less 0.05; near the tolerance of |plate - tcp| within 0.05, margin |init_tcp -
    obj_init_pos| less 0.05; 1.5 * near, with the fingertips' centre at most 0.03 high and within
    0.07 of the plate 2 + 7 * in_place; 10 within 0.05 of the goal. Success: |plate - goal| <=
    0.07.
    """

    margin_less = _TARGET_RADIUS

    def placed(self, task: Task) -> jax.Array:
        del task
        return jnp.zeros(0)

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:]

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.geom_xpos[0], quat_from_xmat(frame.geom_xmat[0])])

    def shaped(self, near: jax.Array, in_place: jax.Array, centre: jax.Array,
               to_plate: jax.Array) -> jax.Array:
        """The reward away from the goal, of the tolerances ``near`` and ``in_place``, the
        fingertips' centre [3] and its distance to the plate."""
        pushing = (centre[2] <= 0.03) & (to_plate < 0.07)
        return jnp.where(pushing, 2.0 + 7.0 * in_place, 1.5 * near)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        obj, centre = obs[4:7], tcp(frame)
        obj_init, target = task["rand_vec"][:3], self.goal(task)
        to_target, to_plate = jnp.linalg.norm(obj - target), jnp.linalg.norm(centre - obj)
        in_place = tolerance_long_tail(
            to_target, (0.0, _TARGET_RADIUS),
            jnp.linalg.norm(obj_init - target) - self.margin_less)
        near = tolerance_long_tail(
            to_plate, (0.0, _TARGET_RADIUS),
            jnp.linalg.norm(self.init_tcp - obj_init) - self.margin_less)
        reward = self.shaped(near, in_place, centre, to_plate)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _SUCCESS_RADIUS


class ML1PlateSlide(PlateSlideTask):
    """plate-slide-v3: slide the plate forward into the net, which stands at the goal. Tasks:
    the plate at (0, 0.6, 0), the goal in [-0.1, 0.1] x [0.85, 0.9] x 0. Reward: margins not
    reduced; 8 * hamacher(near, in_place), 10 within 0.05 of the goal."""

    scene = plate_scene("sawyer_plate_slide.xml", (0.0, 0.0), net_placed=True)
    rand_low = (0.0, 0.6, 0.0, -0.1, 0.85, 0.0)
    rand_high = (0.0, 0.6, 0.0, 0.1, 0.9, 0.0)
    margin_less = 0.0

    def bodies(self, task: Task) -> jax.Array:
        return self.goal(task)[None]

    def shaped(self, near: jax.Array, in_place: jax.Array, centre: jax.Array,
               to_plate: jax.Array) -> jax.Array:
        return 8.0 * hamacher_product(near, in_place)


class ML1PlateSlideSide(PlateSlideTask):
    """plate-slide-side-v3: slide the plate sideways into the net. Tasks: the plate at
    (0, 0.6, 0), the goal in [-0.3, -0.25] x [0.54, 0.66] x 0."""

    scene = plate_scene("sawyer_plate_slide_sideway.xml", (0.0, 0.0), net_placed=False)
    rand_low = (0.0, 0.6, 0.0, -0.3, 0.54, 0.0)
    rand_high = (0.0, 0.6, 0.0, -0.25, 0.66, 0.0)


class ML1PlateSlideBack(PlateSlideTask):
    """plate-slide-back-v3: slide the plate back out of the net. Tasks: the plate starts in
    the net (slides (0, 0.15)), ``obj_init_pos`` (0, 0.85, 0), the goal in [-0.1, 0.1] x 0.6 x
    0.015."""

    scene = plate_scene("sawyer_plate_slide.xml", (0.0, 0.15), net_placed=False)
    rand_low = (0.0, 0.85, 0.0, -0.1, 0.6, 0.015)
    rand_high = (0.0, 0.85, 0.0, 0.1, 0.6, 0.015)


class ML1PlateSlideBackSide(PlateSlideTask):
    """plate-slide-back-side-v3: slide the plate sideways out of the net, which moves to
    ``obj_init_pos``. Tasks: the plate starts in the net (slides (-0.15, 0)), ``obj_init_pos``
    (-0.25, 0.6, 0), the goal in [-0.05, 0.15] x 0.6 x 0.015."""

    scene = plate_scene("sawyer_plate_slide_sideway.xml", (-0.15, 0.0), net_placed=True)
    rand_low = (-0.25, 0.6, 0.0, -0.05, 0.6, 0.015)
    rand_high = (-0.25, 0.6, 0.0, 0.15, 0.6, 0.015)

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None, :3]
