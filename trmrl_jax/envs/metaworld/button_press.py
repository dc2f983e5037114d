"""button-press-v3 and button-press-wall-v3 (``metaworld/envs/sawyer_button_press_v3.py``,
``sawyer_button_press_wall_v3.py``): press a button in a box's front in along y, past a wall in
the second; and button-press-topdown-wall-v3 (``sawyer_button_press_topdown_wall_v3.py``):
button-press-topdown-v3 (``button.ML1ButtonPressTopdown``) behind a wall.

Reset (``reset_model``): the box (body ``box``) stands at rand_vec; the front buttons' slide
(``btnbox_joint``, qpos and qvel 9) is set to 0 and at rest (``_set_obj_xyz``), then a forward
pass; the goal is the box's site ``hole`` (``button.ButtonTask``).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import tcp
from trmrl_jax.envs.metaworld.button import ButtonTask, ML1ButtonPressTopdown
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_SLIDE = 9  # qpos of btnbox_joint.
_FRONT = (0.0, -0.193, 0.0)  # The observed point, from the button's frame (_get_pos_objects).


def button_press_reward(obs: jax.Array, centre: jax.Array, init_tcp: jax.Array,
                        target_y: jax.Array, margin: float) -> tuple[jax.Array, jax.Array]:
    """(reward, |button y - target y|) of button-press-v3's and coffee-button-v3's
    ``compute_reward`` (v2) from the observation ``obs`` [39] (the button at 4:7) and the
    fingertips' centre ``centre`` [3]: 2 * hamacher(max(gripper opening, 0), near), near the
    tolerance of |button - centre| within 0.05, margin |button - init_tcp| (the button where it
    is now, as there); with the centre within 0.05 of the button, + 8 * pressed, the tolerance
    of |button y - target y| within 0.005, margin ``margin``."""
    button = obs[4:7]
    to_button = jnp.linalg.norm(button - centre)
    depth = jnp.abs(target_y - button[1])
    near = tolerance_long_tail(to_button, (0.0, 0.05), jnp.linalg.norm(button - init_tcp))
    pressed = tolerance_long_tail(depth, (0.0, 0.005), margin)
    reward = 2.0 * hamacher_product(jnp.maximum(obs[3], 0.0), near)
    return reward + jnp.where(to_button <= 0.05, 8.0 * pressed, 0.0), depth


def front_button_scene(xml: str) -> sawyer.Scene:
    """``xml``'s box placed per task, the button's slide set to 0 and at rest at reset."""
    return sawyer.Scene(
        xml=xml, hand_init=tuple(float(x) for x in np.float32([0.0, 0.4, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "button"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=(), placed_qpos=(),
        zeroed_qvel=(_SLIDE,), fixed_qpos=((_SLIDE, 0.0),), placed_bodies=("box",))


class FrontButtonTask(ButtonTask):
    """A button pressed in along y from the box's front (``front_button_scene``); observed:
    the button's front (body ``button`` + (0, -0.193, 0))."""

    axis = 1
    tip = _FRONT


class ML1ButtonPress(FrontButtonTask):
    """Tasks: the box at [-0.1, 0.1] x [0.85, 0.9] x 0.115.

    Reward (``compute_reward``, version "v2"): ``button_press_reward``, its margin
    ``depth_at_reset``. Success: |button y - goal y| <= 0.02.
    """

    scene = front_button_scene("sawyer_button_press.xml")
    rand_low = (-0.1, 0.85, 0.115)
    rand_high = (0.1, 0.9, 0.115)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        reward, depth = button_press_reward(obs, tcp(frame), self.init_tcp,
                                            self.goal(task)[1], self.depth_at_reset)
        return reward, depth <= 0.02


class ML1ButtonPressWall(FrontButtonTask):
    """Tasks: the box at [-0.05, 0.05] x [0.85, 0.9] x [0.1149, 0.1151], a wall before it.

    Reward (``compute_reward``, version "v2"), of ``pressing``'s terms: farther than 0.07 from
    the button 2 * hamacher((1 - gripper opening) / 2, near), else 2 + 2 * (1 + gripper
    opening) + 4 * pressed^2. Success: |button y - goal y| <= 0.03.
    """

    scene = front_button_scene("sawyer_button_press_wall.xml")
    rand_low = (-0.05, 0.85, 0.1149)
    rand_high = (0.05, 0.9, 0.1151)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        to_button, depth, near, pressed = self.pressing(obs, frame, task)
        reward = jnp.where(to_button > 0.07, 2.0 * hamacher_product((1.0 - obs[3]) / 2.0, near),
                           2.0 + 2.0 * (1.0 + obs[3]) + 4.0 * pressed ** 2)
        return reward, depth <= 0.03


class ML1ButtonPressTopdownWall(ML1ButtonPressTopdown):
    """``ML1ButtonPressTopdown`` behind a wall (``sawyer_button_press_topdown_wall.xml``); the
    reward's gripper term is max(gripper opening, 0), not 1 - gripper opening."""

    scene = dataclasses.replace(ML1ButtonPressTopdown.scene,
                                xml="sawyer_button_press_topdown_wall.xml")

    def closed(self, obs: jax.Array) -> jax.Array:
        return jnp.maximum(obs[3], 0.0)
