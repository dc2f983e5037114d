"""dial-turn-v3 (``metaworld/envs/sawyer_dial_turn_v3.py``, ``SawyerDialTurnEnvV3``): turn a
dial's knob until a point on its rim reaches a goal hidden from the agent.

Reset (``reset_model``): the dial (body ``dial``) stands at rand_vec; the knob's hinge
(``knob_Joint_1``, qpos 9) keeps where the hand's reset left it, and no forward pass follows
(``Scene.reset_forward``): the first observation reads the kinematics the hand's last physics
step began from, the dial in place, as there. The goal is rand_vec + (0, 0.03, 0.03).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import PlacedBodyTask, tcp
from trmrl_jax.envs.metaworld.rewards import hamacher_product, within
from trmrl_jax.physics import sawyer

_HINGE = 9  # qpos of knob_Joint_1.
_DIAL = 3  # Row of Frame.xpos: dial.
_RADIUS = 0.05  # The observed point's distance from the dial's axis.
_GOAL_OFFSET = (0.0, 0.03, 0.03)
_PUSH_OFFSET = (0.05, 0.02, 0.09)  # From the rim point, where the reward wants the fingertips.
_TARGET_RADIUS = 0.07
_REACH_RADIUS = 0.005


def _rim(angle: jax.Array) -> jax.Array:
    """[3] the observed rim point from the dial's frame at the knob's ``angle``."""
    return _RADIUS * jnp.stack([jnp.sin(angle), -jnp.cos(angle), jnp.zeros_like(angle)])


class ML1DialTurn(PlacedBodyTask):
    """Tasks: the dial at [-0.1, 0.1] x [0.7, 0.8] x 0. Observed object: the rim point (body
    ``dial`` + 0.05 (sin, -cos, 0) of the hinge's angle) and the dial's (w, x, y, z) ``xquat``
    (fixed: the hinge turns a child body), as there. The hand starts at float32 (0, 0.6, 0.2).

    Reward (``compute_reward``, version "v2"): 10 * hamacher(reach, in_place); in_place the
    tolerance of |rim - goal| within 0.07, margin | |push at reset - goal| - 0.07 |, push the
    rim point + (0.05, 0.02, 0.09); reach hamacher(the gaussian tolerance of |push - tcp|
    within 0.005, margin | |push at reset - init_tcp| - 0.005 |, the gripper effort clipped to
    [0, 1]). Success: |rim - goal| <= 0.07.
    """

    scene = sawyer.Scene(
        xml="sawyer_dial.xml", hand_init=tuple(float(x) for x in np.float32([0.0, 0.6, 0.2])),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "dial"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=(), placed_qpos=(),
        zeroed_qvel=(), placed_bodies=("dial",), reset_forward=False)
    rand_low = (-0.1, 0.7, 0.0)
    rand_high = (0.1, 0.8, 0.0)
    goal_offset = _GOAL_OFFSET

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.dial_quat = self.settled_quat("dial")
        # The rim at reset, from the dial's place: the hinge where the hand's reset left it.
        self.rim_at_reset = jnp.asarray(_rim(jnp.asarray(self.physics.settled.qpos[_HINGE])),
                                        jnp.float32)

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_DIAL] + _rim(frame.qpos[_HINGE]), self.dial_quat])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        rim, target, push = obs[4:7], self.goal(task), jnp.asarray(_PUSH_OFFSET)
        push_init = task["rand_vec"] + self.rim_at_reset + push
        to_target = jnp.linalg.norm(rim - target)
        in_place = within(to_target, _TARGET_RADIUS, jnp.linalg.norm(push_init - target))
        reach = within(jnp.linalg.norm(rim + push - tcp(frame)), _REACH_RADIUS,
                       jnp.linalg.norm(push_init - self.init_tcp), gaussian=True)
        reach = hamacher_product(reach, jnp.clip(action[3], 0.0, 1.0))
        return 10.0 * hamacher_product(reach, in_place), to_target <= _TARGET_RADIUS
