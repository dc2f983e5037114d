"""basketball-v3 (``metaworld/envs/sawyer_basketball_v3.py``, ``SawyerBasketballEnvV3``): pick
up the ball and drop it through a hoop whose place is hidden from the agent.

Reset (``reset_model``): rand_vec = (ball x, y, z, hoop x, y, z), redrawn while the two lie
less than 0.15 apart in the plane; the ball (body ``bsktball``) placed at (rand_vec x, y, 0.03)
by qpos 9-11 (``_set_obj_xyz``; 0.03 is ``init_config``'s float32 height), the hoop's stand
(body ``basket_goal``) at the hoop's place; the goal is the hoop's site ``goal``, 0.083 before
and 0.25 above the stand. The hand's reset runs with the stand already in place
(``physics.sawyer.scene``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, apart, free_quat, tcp
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import gripper_caging, lifted_and_placed, tolerance_long_tail
from trmrl_jax.physics import sawyer

_BALL = 3  # Row of Frame.xpos: bsktball.
_HEIGHT = float(np.float32(0.03))
_AIM_Z = 0.3  # compute_reward's target height, over the hoop.
_SCALE = (1.0, 1.0, 2.0)  # compute_reward weighs the height error twice.
_TARGET_RADIUS = 0.08  # SawyerBasketballEnvV3.TARGET_RADIUS.


class ML1Basketball(MetaWorldTask):
    """Tasks: the ball at [-0.1, 0.1] x [0.6, 0.7] (its z drawn in [0.0299, 0.0301] but not
    used), the hoop's stand at [-0.1, 0.1] x [0.85, 0.9] x 0, at least 0.15 apart. Observed
    object: the ball (body ``bsktball``: position, MuJoCo's (w, x, y, z) ``xquat``, as there).

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place); grasped:
    ``_gripper_caging_reward`` (object radius 0.025, pads within 0.06, x-z within 0.005, high
    density), 1 with the fingertips' centre within 0.035 of the ball, the gripper open and the
    ball lifted over 0.01, which also adds 1 + 5 * in_place; in_place: the tolerance of
    |(ball - aim) * (1, 1, 2)| within 0.08 (margin its initial value), the aim the goal at
    height 0.3; 10 within 0.08. Success: that distance <= 0.08.
    """

    scene = sawyer.Scene(
        xml="sawyer_basketball.xml",
        hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "bsktball", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=(), placed_qpos=(9, 10, 11),
        zeroed_qvel=tuple(range(9, 15)), placed_bodies=("basket_goal",))
    rand_low = (-0.1, 0.6, 0.0299, -0.1, 0.85, 0.0)
    rand_high = (0.1, 0.7, 0.0301, 0.1, 0.9 + 1e-7, 0.0)

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.hoop = jnp.asarray(self.settled_site("goal", "basket_goal"), jnp.float32)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, 0.15)

    def _start(self, task: Task) -> jax.Array:
        return jnp.append(task["rand_vec"][:2], _HEIGHT)

    def placed(self, task: Task) -> jax.Array:
        return self._start(task)

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None, 3:]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:] + self.hoop

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The ``goal`` marker rides the hoop (a site of ``hooplink``), drawn with its stand."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_BALL], free_quat(frame.qpos, 9)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre, obj_init = obs[4:7], obs[3], tcp(frame), self._start(task)
        aim, scale = self.goal(task).at[2].set(_AIM_Z), jnp.asarray(_SCALE)
        to_target = jnp.linalg.norm((obj - aim) * scale)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm((obj_init - aim) * scale))
        grasped = gripper_caging(pads_y(frame), centre, obj, obj_init, self.init_tcp,
                                 obj_radius=0.025, pad_success=0.06, xz_success=0.005,
                                 grip=action[3])
        lifted = ((jnp.linalg.norm(obj - centre) < 0.035) & (opened > 0)
                  & (obj[2] - 0.01 > obj_init[2]))
        reward = lifted_and_placed(grasped, in_place, lifted)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _TARGET_RADIUS
