"""button-press-topdown-v3 (``metaworld/envs/sawyer_button_press_topdown_v3.py``,
``SawyerButtonPressTopdownEnvV3``): press a button down from above; the goal (hidden from the
agent) is how deep.

Reset (``reset_model``): the button's box (body ``box``) stands at rand_vec; the button's slide
(qpos 9) keeps where the hand's reset left it, and the hand's reset runs with the box already
in place (``physics.sawyer.scene``). The goal is the box's site ``hole``, read after a forward
pass, so rand_vec plus the site's fixed offset in the (rotated) box. ``ButtonTask``: what it
shares with the buttons pressed from the front (``button_press.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import PlacedBodyTask, tcp
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_BUTTON = 3  # Row of Frame.xpos: button.
_TOP = (0.0, 0.0, 0.193)  # The observed point, from the button's frame (_get_pos_objects).
_SUCCESS_DEPTH = 0.024


class ButtonTask(PlacedBodyTask):
    """A button in a box (body ``box``) placed at rand_vec, pressed along ``axis`` (1: y, 2: z)
    towards the box's site ``hole`` (the goal). Observed object: body ``button`` + ``tip`` and
    the button's (w, x, y, z) ``xquat``, as there. ``depth_at_reset``: |hole - buttonStart|
    along ``axis`` at reset (``_obj_to_target_init``), the pressed term's margin."""

    axis: int
    tip: tuple[float, float, float]

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        hole, start = (self.settled_site(site, "box") for site in ("hole", "buttonStart"))
        self.goal_offset = jnp.asarray(hole, jnp.float32)
        self.depth_at_reset = float(abs(hole[self.axis] - start[self.axis]))
        # The button slides in the fixed box: its orientation is the box's, whatever the task.
        self.button_quat = self.settled_quat("button")

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The scene has no ``goal`` marker: the goal is the box's ``hole``, drawn with the box."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_BUTTON] + jnp.asarray(self.tip), self.button_quat])

    def pressing(self, obs: jax.Array, frame: sawyer.Frame, task: Task
                 ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """The terms button-press-topdown-v3 and button-press-wall-v3 share, of the button
        observed in ``obs`` [39]: (|button - tcp|, depth |button - goal| along ``axis``, near
        the tolerance of |button - tcp| within 0.01, margin |button - init_tcp| (the button's
        current place, as there), pressed the tolerance of depth within 0.005, margin
        ``depth_at_reset``)."""
        button = obs[4:7]
        to_button = jnp.linalg.norm(button - tcp(frame))
        depth = jnp.abs(self.goal(task)[self.axis] - button[self.axis])
        near = tolerance_long_tail(to_button, (0.0, 0.01),
                                   jnp.linalg.norm(button - self.init_tcp))
        pressed = tolerance_long_tail(depth, (0.0, 0.005), self.depth_at_reset)
        return to_button, depth, near, pressed


class ML1ButtonPressTopdown(ButtonTask):
    """Tasks: the box at [-0.1, 0.1] x [0.8, 0.9] x 0.115. Observed object: the button's top
    (body ``button`` + (0, 0, 0.193)) and the button's (w, x, y, z) ``xquat``, as there.

    Reward (``compute_reward``, version "v2"), of ``pressing``'s terms: 5 * hamacher(1 -
    gripper opening, near); with the fingertips' centre within 0.03 of the button, + 5 *
    pressed. Success: |button z - goal z| <= 0.024.
    """

    scene = sawyer.Scene(
        xml="sawyer_button_press_topdown.xml",
        hand_init=tuple(float(x) for x in np.float32([0.0, 0.4, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "button"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=(), placed_qpos=(),
        zeroed_qvel=(), placed_bodies=("box",))
    rand_low = (-0.1, 0.8, 0.115)
    rand_high = (0.1, 0.9, 0.115)
    axis = 2
    tip = _TOP

    def closed(self, obs: jax.Array) -> jax.Array:
        """[] the reward's gripper term from ``obs`` [39]: 1 - gripper opening."""
        return 1.0 - obs[3]

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        to_button, depth, near, pressed = self.pressing(obs, frame, task)
        reward = 5.0 * hamacher_product(self.closed(obs), near)
        reward = reward + jnp.where(to_button <= 0.03, 5.0 * pressed, 0.0)
        return reward, depth <= _SUCCESS_DEPTH
