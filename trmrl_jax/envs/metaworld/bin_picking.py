"""bin-picking-v3 (``metaworld/envs/sawyer_bin_picking_v3.py``, ``SawyerBinPickingEnvV3``):
carry a block from one bin into the other, whose place (the goal) is hidden from the agent.

Tasks (``reset_model``): rand_vec = (block x, y, z, goal x, y, z), never redrawn; the block goes
to its x and y at the height where it rests after the hand's reset (``puck_scene``'s
``at_rest``). rand_vec's goal is drawn, not used: the goal is the goal bin's body
(``bin_goal``), the same for every task. The in-place tolerance's margin is the block's
distance to the goal at the first step (``_target_to_obj_init``, set on the first
``compute_reward``); here at reset, where the block rests.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import free_quat, tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, pads_y, puck_scene
from trmrl_jax.envs.metaworld.rewards import gripper_caging, hamacher_product, tolerance_long_tail
from trmrl_jax.physics import sawyer

_OBJ = 3  # Row of Frame.xpos: the block.
_TARGET_RADIUS = 0.05
_GRIPPER_EFFORT = 0.7  # desired_gripper_effort: the action that counts as fully closed.
_FUNNEL = 0.03  # The floors' radius around the block's start and the goal.


class ML1BinPicking(PuckTask):
    """Tasks: the block in [-0.21, -0.03] x [0.65, 0.75]; the goal bin at (0.12, 0.7, 0). The
    mocap goes down to z = 0.07.

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place); grasped:
    ``_gripper_caging_reward`` (block radius 0.015, pads within 0.05, x-z within 0.01, the
    gripper closed at action 0.7, high density); in_place: tolerance of |block - goal| within
    0.05; with the block within 0.04 of the hand, lifted over 0.02 and the gripper opening at
    least 0.43, + 1 + 5 * hamacher(above_floor, in_place), above_floor the hand above the lower
    of two log-shaped floors around the block's start and the goal; 10 within 0.05. Success:
    |block - goal| <= 0.05.
    """

    scene = dataclasses.replace(puck_scene("sawyer_bin_picking.xml", at_rest=True),
                                mocap_low=(-0.5, 0.40, 0.07), geoms=())
    rand_low = (-0.21, 0.65, 0.02, 0.1199, 0.699, -0.001)
    rand_high = (-0.03, 0.75, 0.02, 0.1201, 0.701, 0.001)

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        m, settled = self.physics.mujoco_model, self.physics.settled
        self.bin_goal = jnp.asarray(settled.xpos[m.body("bin_goal").id], jnp.float32)

    def accept(self, rand_vec: np.ndarray) -> bool:
        del rand_vec
        return True

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:2]

    def goal(self, task: Task) -> jax.Array:
        del task
        return self.bin_goal

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The scene has no goal site (the goal bin shows the goal)."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_OBJ], free_quat(frame.qpos, 9)])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        hand, obj, target = obs[:3], obs[4:7], self.bin_goal
        obj_init = self.at_rest(task["rand_vec"][:2])
        to_target = jnp.linalg.norm(obj - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm(obj_init - target))
        radii = jnp.linalg.norm(hand[:2] - jnp.stack([obj_init[:2], target[:2]]), axis=-1)
        beyond = radii > _FUNNEL
        floor = jnp.min(jnp.where(
            beyond, 0.02 * jnp.log(jnp.where(beyond, radii - _FUNNEL, 1.0)) + 0.2, 0.0))
        above_floor = jnp.where(hand[2] >= floor, 1.0, tolerance_long_tail(
            jnp.maximum(floor - hand[2], 0.0), (0.0, 0.01), 0.05))
        grasped = gripper_caging(pads_y(frame), tcp(frame), obj, obj_init, self.init_tcp,
                                 obj_radius=0.015, pad_success=0.05, xz_success=0.01,
                                 grip=action[3] / _GRIPPER_EFFORT)
        reward = hamacher_product(grasped, in_place)
        lifted = ((jnp.linalg.norm(obj - hand) < 0.04) & (obj[2] - 0.02 > obj_init[2])
                  & (obs[3] >= 0.43))
        reward = jnp.where(lifted, reward + 1.0 + 5.0 * hamacher_product(above_floor, in_place),
                           reward)
        return jnp.where(to_target < _TARGET_RADIUS, 10.0, reward), to_target <= _TARGET_RADIUS
