"""window-close-v3 (``metaworld/envs/sawyer_window_close_v3.py``, ``SawyerWindowCloseEnvV3``):
slide the open window shut by its handle until the handle's x reaches a goal hidden from the
agent.

Reset (``reset_model``): window-open-v3's scene and hand (``window.ML1WindowOpen``), the window
standing at rand_vec, which is also the goal; its slide set to 0.2 after the hand's reset (no
forward pass: the first observation shows the handle where the hand's last step left it, the
slide at 0). The reward reads the handle at reset (site ``handleCloseStart``) as Meta-World
computes it: where the settled site lies, plus (0.2, 0, 0).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import tcp
from trmrl_jax.envs.metaworld.rewards import hamacher_product, within
from trmrl_jax.envs.metaworld.window import ML1WindowOpen
from trmrl_jax.physics import sawyer

_OPEN = 0.2  # The slide's value at reset, and the handle's shift Meta-World adds.
_TARGET_RADIUS = 0.05  # SawyerWindowCloseEnvV3.TARGET_RADIUS.
_HANDLE_RADIUS = 0.02


class ML1WindowClose(ML1WindowOpen):
    """Tasks: the window at 0 x [0.75, 0.9] x 0.2. Observed object: the handle (site
    ``handleCloseStart``; quaternion zeros, as there).

    Reward (``compute_reward``, version "v2"): 10 * hamacher(reach, in_place); reach: the
    gaussian tolerance of |handle - tcp| within 0.02, margin its reset value less 0.02;
    in_place: the tolerance of |handle x - goal x| within 0.05, margin its reset value less
    0.05. Success: |handle x - goal x| <= 0.05.
    """

    scene = dataclasses.replace(
        ML1WindowOpen.scene, sites=("rightEndEffector", "leftEndEffector", "handleCloseStart"),
        fixed_qpos=((9, _OPEN),))
    rand_low = (0.0, 0.75, 0.2)
    rand_high = (0.0, 0.9, 0.2)
    goal_offset = (0.0, 0.0, 0.0)  # The goal is where the window stands.

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.handle = jnp.asarray(self.settled_site("handleCloseStart", "window")
                                  + (_OPEN, 0.0, 0.0), jnp.float32)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del obs, action
        handle, target = frame.site_xpos[2], self.goal(task)
        handle_init = task["rand_vec"] + self.handle
        to_target = jnp.abs(handle[0] - target[0])
        in_place = within(to_target, _TARGET_RADIUS, jnp.abs(handle_init[0] - target[0]))
        reach = within(jnp.linalg.norm(handle - tcp(frame)), _HANDLE_RADIUS,
                       jnp.linalg.norm(handle_init - self.init_tcp), gaussian=True)
        return 10.0 * hamacher_product(reach, in_place), to_target <= _TARGET_RADIUS
