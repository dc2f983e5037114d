"""handle-press-v3, handle-press-side-v3, handle-pull-v3 and handle-pull-side-v3
(``metaworld/envs/sawyer_handle_press_v3.py``, ``sawyer_handle_press_side_v3.py``,
``sawyer_handle_pull_v3.py``, ``sawyer_handle_pull_side_v3.py``): push a lever's handle down, or
lift it, to a height hidden from the agent, its box facing the hand or turned to the side
(``sawyer_handle_press.xml``, ``sawyer_handle_press_sideways.xml``).

Reset (``reset_model``): the box (body ``box``) stands at rand_vec; the handle's slide (qpos and
qvel 9) is set to -0.001 (press) or -0.1 (pull) and at rest, then a forward pass. The goal is
the box's site ``goalPress`` or ``goalPull``; the handle's sites at reset are read after that
forward pass (``base.forward_site``). Facing the hand (handle-press-v3, handle-pull-v3), the
hand's reset touches the handle, so it depends on where the box stands (``Scene.settle_placed``)
and so does Meta-World's ``init_tcp``, which the rewards read: by up to 1.7e-2 from the model's
own. They read the episode's (``task["init_tcp"]``, ``base.with_init_tcp``), the scene's where the
box stands aside (handle-press-side-v3, handle-pull-side-v3: the same in every episode).
"""

from __future__ import annotations

import abc

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import HAND_INIT, PlacedBodyTask, forward_site, tcp
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import (
    gripper_caging,
    hamacher_product,
    tolerance_long_tail,
    within,
)
from trmrl_jax.physics import sawyer

_SLIDE = 9  # qpos of the handle's slide.
_HANDLE = 2  # Row of Frame.site_xpos: the observed handle site.
_PRESS_RADIUS = 0.02  # handle-press's TARGET_RADIUS, also the handle's radius.
_PULL_RADIUS = 0.05  # SawyerXYZEnv.TARGET_RADIUS.


def handle_scene(xml: str, slide: float, site: str, settle_placed: bool) -> sawyer.Scene:
    """``xml``'s box placed per task, the handle's slide at rest at ``slide``; observed: the
    handle's ``site``; ``settle_placed`` as ``sawyer.Scene``'s. The box fills Frame.xpos's row
    3 so that the pads are ``puck.pads_y``'s rows."""
    return sawyer.Scene(
        xml=xml, hand_init=HAND_INIT, mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "box", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector", site), geoms=(), placed_qpos=(),
        zeroed_qvel=(_SLIDE,), fixed_qpos=((_SLIDE, slide),), placed_bodies=("box",),
        settle_placed=settle_placed)


class HandleTask(PlacedBodyTask):
    """A task on ``handle_scene``: observed object: the handle's site, quaternion zeros, as
    there; ``goal_site``: the box's site at the goal; ``handle_init``: the observed site at
    reset, from the box."""

    goal_site: str

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.goal_offset = jnp.asarray(self.settled_site(self.goal_site, "box"), jnp.float32)
        self.handle_init = jnp.asarray(forward_site(self, self.scene.sites[_HANDLE], "box"),
                                       jnp.float32)

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The scene has no ``goal`` marker: the goal is a site of the box, drawn with it."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[_HANDLE], jnp.zeros(4)])


class HandlePressTask(HandleTask):
    """handle-press-v3's and handle-press-side-v3's: the handle (site ``handleStart``) pressed
    down to ``goalPress``.

    Reward (``compute_reward``, version "v2"): 10 * hamacher(reach, in_place); in_place the
    tolerance of |handle z - goal z| within 0.02, margin |its reset value - 0.02|; reach the
    tolerance of |handle - tcp| within 0.02, margin | |handle - init_tcp| at reset - 0.02 |;
    10 on success. Success: |handle z - goal z| <= 0.02.
    """

    goal_site = "goalPress"

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        handle, target = obs[4:7], self.goal(task)
        handle_init = task["rand_vec"] + self.handle_init
        to_target = jnp.abs(handle[2] - target[2])
        in_place = within(to_target, _PRESS_RADIUS, jnp.abs(handle_init[2] - target[2]))
        reach = within(jnp.linalg.norm(handle - tcp(frame)), _PRESS_RADIUS,
                       jnp.linalg.norm(handle_init - task["init_tcp"]))
        success = to_target <= _PRESS_RADIUS
        return 10.0 * jnp.where(success, 1.0, hamacher_product(reach, in_place)), success


class ML1HandlePress(HandlePressTask):
    """Tasks: the box at [-0.1, 0.1] x [0.8, 0.9] x [-0.001, 0.001], facing the hand."""

    scene = handle_scene("sawyer_handle_press.xml", -0.001, "handleStart", True)
    rand_low = (-0.1, 0.8, -0.001)
    rand_high = (0.1, 0.9, 0.001)


class ML1HandlePressSide(HandlePressTask):
    """Tasks: the box at [-0.35, -0.25] x [0.65, 0.75] x [-0.001, 0.001], turned to the side."""

    scene = handle_scene("sawyer_handle_press_sideways.xml", -0.001, "handleStart", False)
    rand_low = (-0.35, 0.65, -0.001)
    rand_high = (-0.25, 0.75, 0.001)


class HandlePullTask(HandleTask):
    """handle-pull-v3's and handle-pull-side-v3's: the handle lifted from -0.1 to ``goalPull``.

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place); in_place the
    tolerance of ``distance``(handle, goal) within 0.05, margin ``distance``(start, goal);
    grasped ``_gripper_caging_reward`` about ``start`` (Meta-World's ``obj_init_pos``; object
    radius ``obj_radius``, pads within ``pad_success``, x-z within 0.01, high density); with
    the fingertips' centre within 0.035 of the handle, the gripper open and the handle's
    ``lift_axis`` coordinate over 0.01 above the start's z, + 1 + 5 * in_place; 10 within 0.05
    of the goal. Success: ``distance``(handle, goal) <= ``success_radius``.
    """

    goal_site = "goalPull"
    obj_radius: float
    pad_success: float
    lift_axis: int
    success_radius: float

    @abc.abstractmethod
    def start(self, task: Task) -> jax.Array:
        """[3] Meta-World's ``obj_init_pos`` of ``task``."""

    @abc.abstractmethod
    def distance(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """[] how far [3] points ``a`` and ``b`` lie apart, as the task measures it."""

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        handle, opened, centre = obs[4:7], obs[3], tcp(frame)
        start, target = self.start(task), self.goal(task)
        to_target = self.distance(handle, target)
        in_place = tolerance_long_tail(to_target, (0.0, _PULL_RADIUS),
                                       self.distance(start, target))
        grasped = gripper_caging(pads_y(frame), centre, handle, start, task["init_tcp"],
                                 obj_radius=self.obj_radius, pad_success=self.pad_success,
                                 xz_success=0.01, grip=action[3])
        reward = hamacher_product(grasped, in_place)
        lifted = ((jnp.linalg.norm(handle - centre) < 0.035) & (opened > 0)
                  & (handle[self.lift_axis] - 0.01 > start[2]))
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(to_target < _PULL_RADIUS, 10.0, reward)
        return reward, to_target <= self.success_radius


class ML1HandlePull(HandlePullTask):
    """Tasks: the box at [-0.1, 0.1] x [0.8, 0.9] x [-0.001, 0.001], facing the hand. Observed:
    the handle's site ``handleRight``; the start is the box's place (rand_vec), ``distance``
    the difference in z, the lift tested on the handle's y (as there); object radius 0.022, pads
    within 0.05; success within 0.05."""

    scene = handle_scene("sawyer_handle_press.xml", -0.1, "handleRight", True)
    rand_low = (-0.1, 0.8, -0.001)
    rand_high = (0.1, 0.9, 0.001)
    obj_radius, pad_success, lift_axis, success_radius = 0.022, 0.05, 1, _PULL_RADIUS

    def start(self, task: Task) -> jax.Array:
        return task["rand_vec"]

    def distance(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.abs(a[2] - b[2])


class ML1HandlePullSide(HandlePullTask):
    """Tasks: the box at [-0.35, -0.25] x [0.65, 0.75] x 0, turned to the side. Observed: the
    handle's site ``handleCenter``; the start is that site at reset, ``distance`` Euclidean;
    object radius 0.032, pads within 0.06; success within 0.08."""

    scene = handle_scene("sawyer_handle_press_sideways.xml", -0.1, "handleCenter", False)
    rand_low = (-0.35, 0.65, 0.0)
    rand_high = (-0.25, 0.75, 0.0)
    obj_radius, pad_success, lift_axis, success_radius = 0.032, 0.06, 2, 0.08

    def start(self, task: Task) -> jax.Array:
        return task["rand_vec"] + self.handle_init

    def distance(self, a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.linalg.norm(a - b)
