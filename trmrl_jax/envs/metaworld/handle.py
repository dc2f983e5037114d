"""handle-press-side-v3 and handle-pull-side-v3 (``metaworld/envs/sawyer_handle_press_side_v3.py``,
``sawyer_handle_pull_side_v3.py``): push a lever's handle down, or lift it, to a height hidden
from the agent, its box turned to the side (``sawyer_handle_press_sideways.xml``).

Reset (``reset_model``): the box (body ``box``) stands at rand_vec; the handle's slide (qpos and
qvel 9) is set to -0.001 (press) or -0.1 (pull) and at rest, then a forward pass. The goal is
the box's site ``goalPress`` or ``goalPull``; the handle's site at reset is read after that
forward pass (``base.forward_site``). handle-press-v3 and handle-pull-v3 (the box facing the
hand) are not ported: there the hand's reset touches the handle, so Meta-World's ``init_tcp``,
which their rewards read, differs per task (by up to 5.5e-3), where ``MetaWorldTask`` keeps one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import HAND_INIT, MetaWorldTask, forward_site, tcp
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import (
    caging_and_gripping,
    hamacher_product,
    pad_caging_y,
    tolerance_long_tail,
)
from trmrl_jax.physics import sawyer

_SLIDE = 9  # qpos of the handle's slide.
_HANDLE = 2  # Row of Frame.site_xpos: the observed handle site.
_PRESS_RADIUS = 0.02  # handle-press-side's TARGET_RADIUS, also the handle's radius.
_PULL_RADIUS = 0.05  # SawyerXYZEnv.TARGET_RADIUS.
_PULL_SUCCESS = 0.08


def handle_scene(slide: float, site: str) -> sawyer.Scene:
    """``sawyer_handle_press_sideways.xml``'s box placed per task, the handle's slide at rest at
    ``slide``; observed: the handle's ``site``. The box fills Frame.xpos's row 3 so that the
    pads are ``puck.pads_y``'s rows."""
    return sawyer.Scene(
        xml="sawyer_handle_press_sideways.xml", hand_init=HAND_INIT,
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "box", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector", site), geoms=(), placed_qpos=(),
        zeroed_qvel=(_SLIDE,), fixed_qpos=((_SLIDE, slide),), placed_bodies=("box",))


class HandleTask(MetaWorldTask):
    """A task on ``handle_scene``: observed object: the handle's site, quaternion zeros, as
    there; ``goal_site``: the box's site at the goal; ``handle_init``: the observed site at
    reset, from the box."""

    goal_site: str

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.target = jnp.asarray(self.settled_site(self.goal_site, "box"), jnp.float32)
        self.handle_init = jnp.asarray(forward_site(self, self.scene.sites[_HANDLE], "box"),
                                       jnp.float32)

    def placed(self, task: Task) -> jax.Array:
        del task
        return jnp.zeros(0)

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"] + self.target

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The scene has no ``goal`` marker: the goal is a site of the box, drawn with it."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[_HANDLE], jnp.zeros(4)])


class ML1HandlePressSide(HandleTask):
    """Tasks: the box at [-0.35, -0.25] x [0.65, 0.75] x [-0.001, 0.001]; observed: the
    handle's site ``handleStart``, pressed down to ``goalPress``.

    Reward (``compute_reward``, version "v2"): 10 * hamacher(reach, in_place); in_place the
    tolerance of |handle z - goal z| within 0.02, margin |its reset value - 0.02|; reach the
    tolerance of |handle - tcp| within 0.02, margin | |handle - init_tcp| at reset - 0.02 |;
    10 on success. Success: |handle z - goal z| <= 0.02.
    """

    scene = handle_scene(-0.001, "handleStart")
    rand_low = (-0.35, 0.65, -0.001)
    rand_high = (-0.25, 0.75, 0.001)
    goal_site = "goalPress"

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        handle, target = obs[4:7], self.goal(task)
        handle_init = task["rand_vec"] + self.handle_init
        to_target = jnp.abs(handle[2] - target[2])
        in_place = tolerance_long_tail(
            to_target, (0.0, _PRESS_RADIUS),
            jnp.abs(jnp.abs(handle_init[2] - target[2]) - _PRESS_RADIUS))
        reach = tolerance_long_tail(
            jnp.linalg.norm(handle - tcp(frame)), (0.0, _PRESS_RADIUS),
            jnp.abs(jnp.linalg.norm(handle_init - self.init_tcp) - _PRESS_RADIUS))
        success = to_target <= _PRESS_RADIUS
        return 10.0 * jnp.where(success, 1.0, hamacher_product(reach, in_place)), success


class ML1HandlePullSide(HandleTask):
    """Tasks: the box at [-0.35, -0.25] x [0.65, 0.75] x 0; observed: the handle's site
    ``handleCenter``, lifted from -0.1 to ``goalPull``.

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place); in_place the
    tolerance of |handle - goal| within 0.05, margin its reset value; grasped
    ``_gripper_caging_reward`` (object radius 0.032, pads within 0.06, x-z within 0.01, high
    density) about the handle at reset; with the fingertips' centre within 0.035 of the
    handle, the gripper open and the handle over 0.01 above its reset height, + 1 + 5 *
    in_place; 10 within 0.05 of the goal. Success: |handle - goal| <= 0.08.
    """

    scene = handle_scene(-0.1, "handleCenter")
    rand_low = (-0.35, 0.65, 0.0)
    rand_high = (-0.25, 0.75, 0.0)
    goal_site = "goalPull"

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        handle, opened, centre = obs[4:7], obs[3], tcp(frame)
        start, target = task["rand_vec"] + self.handle_init, self.goal(task)
        to_target = jnp.linalg.norm(handle - target)
        in_place = tolerance_long_tail(to_target, (0.0, _PULL_RADIUS),
                                       jnp.linalg.norm(start - target))
        caging_y = pad_caging_y(pads_y(frame), handle, start, obj_radius=0.032,
                                pad_success=0.06)
        grasped = caging_and_gripping(caging_y, centre, handle, start, self.init_tcp,
                                      xz_success=0.01, grip=action[3])
        reward = hamacher_product(grasped, in_place)
        lifted = ((jnp.linalg.norm(handle - centre) < 0.035) & (opened > 0)
                  & (handle[2] - 0.01 > start[2]))
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(to_target < _PULL_RADIUS, 10.0, reward)
        return reward, to_target <= _PULL_SUCCESS
