"""window-open-v3 (``metaworld/envs/sawyer_window_open_v3.py``, ``SawyerWindowOpenEnvV3``):
slide a window open by its handle until the handle's x reaches a goal hidden from the agent.

Reset (``reset_model``): the window's body (``window``) stands at rand_vec, its slide
(``window_slide``, qpos 9) set to 0 (its velocity kept); the goal is rand_vec + (0.2, 0, 0). The
hand's reset runs with the window already in place (``physics.sawyer.scene``), and no forward
pass follows it (``Scene.reset_forward``): the first observation reads the kinematics of the
hand's last physics step, as there. The reward's
reach term reads the handle (site ``handleOpenStart``) at reset: the task's place plus the
site's offset from the window.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import PlacedBodyTask, tcp
from trmrl_jax.envs.metaworld.rewards import hamacher_product, within
from trmrl_jax.physics import sawyer

_SLIDE = 9  # qpos of window_slide.
_HANDLE = 2  # Row of Frame.site_xpos: handleOpenStart.
_GOAL_OFFSET = (0.2, 0.0, 0.0)
_TARGET_RADIUS = 0.05  # SawyerWindowOpenEnvV3.TARGET_RADIUS.
_HANDLE_RADIUS = 0.02


class ML1WindowOpen(PlacedBodyTask):
    """Tasks: the window at [-0.1, 0.1] x [0.7, 0.9] x 0.16. Observed object: the handle (site
    ``handleOpenStart``; quaternion zeros, as there).

    Reward (``compute_reward``, version "v2"): 10 * hamacher(reach, in_place); reach: the
    tolerance of |handle - tcp| within 0.02, margin its reset value less 0.02; in_place: the
    tolerance of |handle x - goal x| within 0.05, margin 0.2 less 0.05 (the window's x to the
    goal's). Success: |handle x - goal x| <= 0.05.
    """

    scene = sawyer.Scene(
        xml="sawyer_window_horizontal.xml",
        hand_init=tuple(float(x) for x in np.float32([0.0, 0.4, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw"),
        sites=("rightEndEffector", "leftEndEffector", "handleOpenStart"), geoms=(),
        placed_qpos=(), zeroed_qvel=(), fixed_qpos=((_SLIDE, 0.0),), placed_bodies=("window",),
        reset_forward=False)
    rand_low = (-0.1, 0.7, 0.16)
    rand_high = (0.1, 0.9, 0.16)
    goal_offset = _GOAL_OFFSET

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.handle = jnp.asarray(self.settled_site("handleOpenStart", "window"), jnp.float32)

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[_HANDLE], jnp.zeros(4)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        handle, target = frame.site_xpos[_HANDLE], self.goal(task)
        to_target = jnp.abs(handle[0] - target[0])
        in_place = within(to_target, _TARGET_RADIUS, jnp.abs(task["rand_vec"][0] - target[0]))
        reach = within(jnp.linalg.norm(handle - tcp(frame)), _HANDLE_RADIUS,
                       jnp.linalg.norm(task["rand_vec"] + self.handle - self.init_tcp))
        return 10.0 * hamacher_product(reach, in_place), to_target <= _TARGET_RADIUS
