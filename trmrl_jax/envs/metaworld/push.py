"""push-v3 (``metaworld/envs/sawyer_push_v3.py``, ``SawyerPushEnvV3``): push the puck along the
table to a goal hidden from the agent."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import tcp
from trmrl_jax.envs.metaworld.puck import PuckTask, puck_caging, puck_scene
from trmrl_jax.envs.metaworld.rewards import tolerance_long_tail
from trmrl_jax.physics import sawyer

_TARGET_RADIUS = 0.05


class ML1Push(PuckTask):
    """Tasks: puck in [-0.1, 0.1] x [0.6, 0.7], goal in [-0.1, 0.1] x [0.8, 0.9]; both at the
    height where the settled puck rests (``fix_extreme_obj_pos``), so rand_vec's z values are
    drawn, as there, but not used.

    Reward (``compute_reward``, version "v2"): 2 * caging (``_gripper_caging_reward``: object
    radius 0.015, pads within 0.05, x-z within 0.005, high density); with the fingertips'
    centre within 0.02 of the puck and the gripper open, 4 * caging + 1 + 5 * in_place
    (tolerance of |puck - goal| within 0.05, margin its initial value); 10 within 0.05 of the
    goal. Success: |puck - goal| <= 0.05.
    """

    scene = puck_scene("sawyer_push_v3.xml", at_rest=True)
    rand_low = (-0.1, 0.6, 0.02, -0.1, 0.8, 0.01)
    rand_high = (0.1, 0.7, 0.02, 0.1, 0.9, 0.02)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:2]

    def goal(self, task: Task) -> jax.Array:
        return self.at_rest(task["rand_vec"][3:5])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init = self.at_rest(task["rand_vec"][:2])
        target = self.goal(task)
        to_target = jnp.linalg.norm(obj - target)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm(obj_init - target))
        grasped = puck_caging(frame, obj, obj_init, self.init_tcp, action[3])
        reward = 2.0 * grasped
        near = (jnp.linalg.norm(obj - centre) < 0.02) & (opened > 0)
        reward = jnp.where(near, 2.0 * reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, to_target <= _TARGET_RADIUS
