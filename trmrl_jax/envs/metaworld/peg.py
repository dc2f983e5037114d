"""peg-insert-side-v3 (``metaworld/envs/sawyer_peg_insertion_side_v3.py``,
``SawyerPegInsertionSideEnvV3``): pick up a peg and push its head sideways into a box's hole,
whose place is hidden from the agent.

Reset (``reset_model``): rand_vec = (peg x, y, z, box x, y, z), redrawn while the two lie less
than 0.1 apart in the plane (the ranges never do); the peg (body ``peg``) placed at rand_vec's
first three by qpos 9-11 (``_set_obj_xyz``), the box (body ``box``) at its last three; the goal
is the box + (0.03, 0, 0.13). The reward reads the peg's head (site ``pegHead``) before the
peg is placed, after the hand's reset: where the model's own peg came to rest, the same for
every task.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import (
    HAND_INIT,
    MetaWorldTask,
    apart,
    free_quat,
    quat_from_xmat,
    tcp,
    xmat_from_quat,
)
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import (
    gripper_caging,
    hamacher_product,
    lifted_and_placed,
    rect_prism_tolerance,
    tolerance_long_tail,
)
from trmrl_jax.physics import sawyer

_GRASP, _HEAD = 2, 3  # Rows of Frame.site_xpos: pegGrasp, pegHead, then the boxes' corners.
_GOAL_OFFSET = (0.03, 0.0, 0.13)
_SCALE = (1.0, 2.0, 2.0)  # compute_reward weighs y and z errors twice.
_TARGET_RADIUS = 0.07  # SawyerPegInsertionSideEnvV3.TARGET_RADIUS; success's radius too.


class ML1PegInsertSide(MetaWorldTask):
    """Tasks: the peg at [0, 0.2] x [0.5, 0.7] x 0.02, the box at [-0.35, -0.25] x [0.4, 0.7] x
    [-0.001, 0.001]. Observed object: the peg's grasp point (site ``pegGrasp``: position and
    scipy-ordered quaternion of its rotation).

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place); grasped:
    ``_gripper_caging_reward`` (object radius 0.0075, pads within 0.03, x-z within 0.005, high
    density), 1 with the fingertips' centre within 0.08 of the grasp point, the gripper open
    and the peg lifted over 0.01, which also adds 1 + 5 * in_place; in_place: hamacher(the
    tolerance of |(head - goal) * (1, 2, 2)| within 0.07, margin its value for the resting
    head; the two ``rect_prism_tolerance``s of the head in the box's collision prisms); 10
    within 0.07. Success: |(head - goal) * (1, 2, 2)| <= 0.07.
    """

    scene = sawyer.Scene(
        xml="sawyer_peg_insertion_side.xml", hand_init=HAND_INIT,
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "peg", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector", "pegGrasp", "pegHead",
               "bottom_right_corner_collision_box_1", "top_left_corner_collision_box_1",
               "bottom_right_corner_collision_box_2", "top_left_corner_collision_box_2"),
        geoms=(), placed_qpos=(9, 10, 11), zeroed_qvel=tuple(range(9, 15)),
        placed_bodies=("box",))
    rand_low = (0.0, 0.5, 0.02, -0.35, 0.4, -0.001)
    rand_high = (0.2, 0.7, 0.02, -0.25, 0.7, 0.001)

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.head_at_rest = jnp.asarray(self.settled_site("pegHead"), jnp.float32)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, 0.1)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:3]

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None, 3:]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:] + jnp.asarray(_GOAL_OFFSET)

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        # pegGrasp turns with the peg's free joint (the site's and the body's frames are its).
        rotation = quat_from_xmat(xmat_from_quat(free_quat(frame.qpos, 9)))
        return jnp.concatenate([frame.site_xpos[_GRASP], rotation])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre, obj_init = obs[4:7], obs[3], tcp(frame), task["rand_vec"][:3]
        head, target, scale = frame.site_xpos[_HEAD], self.goal(task), jnp.asarray(_SCALE)
        to_target = jnp.linalg.norm((head - target) * scale)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm((self.head_at_rest - target) * scale))
        corners = frame.site_xpos[_HEAD + 1:]  # (bottom right, top left) of box 1, box 2.
        in_box_1 = rect_prism_tolerance(head, zero=corners[0], one=corners[1])
        in_box_2 = rect_prism_tolerance(head, zero=corners[2], one=corners[3])
        in_place = hamacher_product(in_place, hamacher_product(in_box_2, in_box_1))
        grasped = gripper_caging(pads_y(frame), centre, obj, obj_init, self.init_tcp,
                                 obj_radius=0.0075, pad_success=0.03, xz_success=0.005,
                                 grip=action[3])
        lifted = ((jnp.linalg.norm(obj - centre) < 0.08) & (opened > 0)
                  & (obj[2] - 0.01 > obj_init[2]))
        reward = lifted_and_placed(grasped, in_place, lifted)
        success = to_target <= _TARGET_RADIUS
        return jnp.where(success, 10.0, reward), success
