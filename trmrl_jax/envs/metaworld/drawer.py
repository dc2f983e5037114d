"""drawer-close-v3 (``metaworld/envs/sawyer_drawer_close_v3.py``, ``SawyerDrawerCloseEnvV3``):
push an open drawer shut; the goal (hidden from the agent) lies by the closed drawer's handle.
drawer-open-v3 (``metaworld/envs/sawyer_drawer_open_v3.py``, ``SawyerDrawerOpenEnvV3``): pull
the closed drawer out to a goal 0.2 before its handle (the slide's range is 0.16, so success,
within 0.03 of the goal, needs the drawer at its stop). Its reset places the drawer and nothing
else: no forward pass after the hand's (``Scene.reset_forward``).

Reset (``reset_model``): the drawer's body (``drawer``) stands at rand_vec, its slide
(``goal_slidey``, qpos 9) pulled out to -0.15 (``maxDist``; its velocity kept, not zeroed);
the goal is rand_vec + (0, -0.16, 0.09). The hand's reset runs with the drawer already in place
(``physics.sawyer.scene``), and where it stands shows in the last bits of the result: the
slide, at rest at its limit, drifts by about 1e-15 over the hand's reset with the drawer at the
model's own y of 0.9, not at all at the tasks' float32 0.9, and Meta-World keeps the slide's
velocity and warm start from then. So the scene settles per episode, with the drawer in place
(``settle_placed``: about 20 env steps' time per reset on the C engine); the arm's settled
state, ``init_tcp`` included, is the same wherever the drawer stands.

Meta-World's own details kept: its ``hand_init_pos`` is float32 (0.6 and 0.2 as float32), and
its reward and success read ``TARGET_RADIUS`` of ``SawyerXYZEnv``, 0.05, not the class's own
``_TARGET_RADIUS`` of 0.04.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import PlacedBodyTask, tcp
from trmrl_jax.envs.metaworld.rewards import hamacher_product, tolerance_long_tail, within
from trmrl_jax.physics import sawyer

_SLIDE = 9  # qpos of goal_slidey.
_LINK = 3  # Row of Frame.xpos: drawer_link.
_HANDLE = (0.0, -0.16, 0.05)  # The observed point, from drawer_link's frame (_get_pos_objects).
_GOAL_OFFSET = (0.0, -0.16, 0.09)
# The handle at reset, from the drawer's body: drawercase_link at (0, 0, 0.084), drawer_link at
# (0, -0.01, 0.006) in it, pulled out 0.15 along y, and _HANDLE (Meta-World's obj_init_pos).
_HANDLE_AT_RESET = (0.0, -0.32, 0.14)
_TARGET_RADIUS = 0.05  # SawyerXYZEnv.TARGET_RADIUS.
_SUCCESS_RADIUS = _TARGET_RADIUS + 0.015
_REACH_RADIUS = 0.005
_OPEN_DISTANCE = 0.2  # drawer-open's maxDist.
_OPEN_HANDLE = (0.0, -0.16, 0.0)
_OPEN_GOAL_OFFSET = (0.0, -0.16 - _OPEN_DISTANCE, 0.09)
_OPEN_SUCCESS = 0.03


def drawer_scene(fixed_qpos: tuple[tuple[int, float], ...], reset_forward: bool = True
                 ) -> sawyer.Scene:
    """``sawyer_drawer.xml`` with the drawer placed per task, the hand at (0, 0.6, 0.2) as
    float32 (as there), and the slide's ``fixed_qpos``; the hand settles per episode (the
    slide's last bits depend on where the drawer stands, open or closed)."""
    return sawyer.Scene(
        xml="sawyer_drawer.xml", hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "drawer_link"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=(), placed_qpos=(),
        zeroed_qvel=(), fixed_qpos=fixed_qpos, placed_bodies=("drawer",), settle_placed=True,
        reset_forward=reset_forward)


class DrawerTask(PlacedBodyTask):
    """A task on ``drawer_scene``: the drawer at [-0.1, 0.1] x 0.9 x 0 (its y and z fixed)."""

    rand_low = (-0.1, 0.9, 0.0)
    rand_high = (0.1, 0.9, 0.0)


class ML1DrawerClose(DrawerTask):
    """Tasks: ``DrawerTask``'s. Observed object: the handle (drawer_link + (0, -0.16, 0.05);
    quaternion zeros, as there).

    Reward (``compute_reward``, version "v2"): 10 * hamacher(reach, in_place); reach:
    hamacher(gaussian tolerance of |handle - tcp| within 0.005, margin its reset value less
    0.005; the gripper's closing effort action[3] clipped to [0, 1]); in_place: tolerance of
    |handle - goal| within 0.05, margin its reset value less 0.05; 10 on success. Success:
    |handle - goal| <= 0.065.
    """

    scene = drawer_scene(fixed_qpos=((_SLIDE, -0.15),))
    goal_offset = _GOAL_OFFSET

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_LINK] + jnp.asarray(_HANDLE), jnp.zeros(4)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        handle, target = obs[4:7], self.goal(task)
        handle_init = task["rand_vec"] + jnp.asarray(_HANDLE_AT_RESET)
        to_target = jnp.linalg.norm(handle - target)
        in_place = within(to_target, _TARGET_RADIUS, jnp.linalg.norm(handle_init - target))
        reach = within(jnp.linalg.norm(handle - tcp(frame)), _REACH_RADIUS,
                       jnp.linalg.norm(handle_init - self.init_tcp), gaussian=True)
        reach = hamacher_product(reach, jnp.clip(action[3], 0.0, 1.0))
        success = to_target <= _SUCCESS_RADIUS
        return 10.0 * jnp.where(success, 1.0, hamacher_product(reach, in_place)), success


class ML1DrawerOpen(DrawerTask):
    """Tasks: ``DrawerTask``'s; the goal 0.36 before and 0.09 above the drawer (0.2 before the
    handle at reset). Observed object: the handle (drawer_link + (0, -0.16, 0)) and
    drawer_link's quaternion ((w, x, y, z), MuJoCo's ``xquat`` as there; the link only slides
    and the drawer is placed unrotated, so it is the settled one throughout).

    Reward (``compute_reward``, version "v2"): 5 * (caging + opening); caging: tolerance of
    |(handle - hand) * (3, 3, 1)| within 0.01, margin |(handle at reset - init_tcp) * (3, 3,
    1)|; opening: tolerance of |handle - goal| within 0.02, margin 0.2 (``maxDist``). Success:
    |handle - goal| <= 0.03.
    """

    scene = drawer_scene(fixed_qpos=(), reset_forward=False)
    goal_offset = _OPEN_GOAL_OFFSET

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.link_quat = self.settled_quat("drawer_link")

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_LINK] + jnp.asarray(_OPEN_HANDLE), self.link_quat])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del frame, action
        hand, handle, target = obs[:3], obs[4:7], self.goal(task)
        to_target = jnp.linalg.norm(handle - target)
        opening = tolerance_long_tail(to_target, (0.0, 0.02), _OPEN_DISTANCE)
        scale = jnp.array([3.0, 3.0, 1.0])
        handle_init = target + jnp.array([0.0, _OPEN_DISTANCE, 0.0])
        caging = tolerance_long_tail(
            jnp.linalg.norm((handle - hand) * scale), (0.0, 0.01),
            jnp.linalg.norm((handle_init - self.init_tcp) * scale))
        return 5.0 * (caging + opening), to_target <= _OPEN_SUCCESS
