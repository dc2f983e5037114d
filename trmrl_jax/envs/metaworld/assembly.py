"""assembly-v3 (``metaworld/envs/sawyer_assembly_peg_v3.py``, ``SawyerNutAssemblyEnvV3``) and
disassemble-v3 (``metaworld/envs/sawyer_disassemble_peg_v3.py``, ``SawyerNutDisassembleEnvV3``):
one scene, a wrench (its round nut on a free joint, body ``RoundNut``) and a peg; put the nut on
the peg at a goal hidden from the agent, or lift it off the peg.

Reset (``reset_model``): rand_vec = (wrench x, y, z, goal x, y, z), redrawn while the two lie
less than 0.1 apart in the plane; the wrench's free joint (qpos 9-11) set to rand_vec's first
three, its velocities zeroed (a forward pass). assembly: the peg (body ``peg``) stands 0.05
below the goal; disassemble: 0.03 above the wrench, the goal 0.15 above it (rand_vec's goal
only decides the redraw). Both offsets are added in float64, as there
(``Scene.body_offsets``). Observed: the handle's site ``RoundNut-8`` and the nut's MuJoCo (w, x,
y, z) ``xquat``, the free joint's quaternion.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, apart, free_quat, tcp
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import gripper_caging, reach_density, tolerance_long_tail
from trmrl_jax.physics import sawyer

_CENTER = 3  # Row of Frame.site_xpos: the nut's centre (site ``RoundNut``).
_FLAT = (0.707, 0.0, 0.0, 0.707)  # _reward_quat's ideal (laid-down) wrench quaternion.
_HALF_HANDLE = 0.02 / 2.0  # WRENCH_HANDLE_LENGTH / 2.
_ASSEMBLY_PEG = (0.0, 0.0, -0.05)  # The peg, from the goal.
_DISASSEMBLE_PEG = (0.0, 0.0, 0.03)  # The peg, from the wrench.
_DISASSEMBLE_GOAL = (0.0, 0.0, 0.15)  # The goal, from the wrench.


def wrench_scene(hand_init: tuple[float, float, float], peg_offset: tuple[float, float, float],
                 settle_placed: bool) -> sawyer.Scene:
    """``sawyer_assembly_peg.xml`` with the wrench placed by qpos 9-11 and the peg at a task's
    place + ``peg_offset`` (float64); ``settle_placed`` as ``sawyer.Scene``'s."""
    return sawyer.Scene(
        xml="sawyer_assembly_peg.xml",
        hand_init=tuple(float(x) for x in np.float32(hand_init)),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "RoundNut", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector", "RoundNut-8", "RoundNut"), geoms=(),
        placed_qpos=(9, 10, 11), zeroed_qvel=tuple(range(9, 15)), placed_bodies=("peg",),
        body_offsets=(peg_offset,), settle_placed=settle_placed)


class WrenchTask(MetaWorldTask):
    """A task on ``wrench_scene``. Its reward (``compute_reward``, version "v2"): (2 * grab + 6 *
    in_place) * flat (each task's own in_place), 10 on success; grab:
    ``_gripper_caging_reward`` (radius 0.015, pads within 0.02, x-z within 0.01) of the handle
    with its x moved to the hand's within 0.01; flat: max(1 - |nut quaternion - (0.707, 0, 0,
    0.707)| / 0.4, 0)."""

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, 0.1)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:3]

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The ``pegTop`` marker rides the peg (a site of its body), drawn with it."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[2], free_quat(frame.qpos, 9)])

    def grab(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task,
             high_density: bool) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(caging-and-gripping, of ``high_density`` or none; the handle as caged [3]; flat)."""
        hand, wrench, obj_init = obs[:3], obs[4:7], task["rand_vec"][:3]
        threshed = wrench.at[0].set(jnp.where(jnp.abs(wrench[0] - hand[0]) < _HALF_HANDLE,
                                              hand[0], wrench[0]))
        grasped = gripper_caging(pads_y(frame), tcp(frame), threshed, obj_init, self.init_tcp,
                                 obj_radius=0.015, pad_success=0.02, xz_success=0.01,
                                 grip=action[3], high_density=high_density)
        flat = jnp.maximum(1.0 - jnp.linalg.norm(obs[7:11] - jnp.asarray(_FLAT)) / 0.4, 0.0)
        return grasped, threshed, flat


class ML1Assembly(WrenchTask):
    """Tasks: the wrench at (0, 0.6, 0.02), the goal (the peg's top) in [-0.1, 0.1] x [0.75,
    0.85] x 0.1. The hand starts at float32 (0, 0.6, 0.2).

    Reward: ``WrenchTask``'s, grab of medium density (its mean with the tolerance of
    |handle - tcp| within 0.01); in_place: 0.1 with the nut's centre over 0.02 or within the
    funnel's radius (0.01; 0.02 once aligned) of the goal in the plane + 0.9 * tolerance of
    |(goal - centre) * (1, 1, 3)| within 0.02, margin 0.4, the z error taken to a log-shaped
    funnel's height (0.02 log(radius - threshold) + 0.2 beyond that radius, 0 within).
    Success: the centre within 0.02 of the goal in the plane and below it.
    """

    scene = wrench_scene((0.0, 0.6, 0.2), _ASSEMBLY_PEG, settle_placed=False)
    rand_low = (0.0, 0.6, 0.02, -0.1, 0.75, 0.1)
    rand_high = (0.0, 0.6, 0.02, 0.1, 0.85, 0.1)

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None, 3:]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:]

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        grasped, threshed, flat = self.grab(obs, frame, action, task, high_density=False)
        grab = reach_density(grasped, tcp(frame), threshed, task["rand_vec"][:3],
                             self.init_tcp, 0.01)
        center, target = frame.site_xpos[_CENTER], self.goal(task)
        error = target - center
        radius = jnp.linalg.norm(error[:2])
        success = (radius < 0.02) & (error[2] > 0.0)
        threshold = jnp.where(success, 0.02, 0.01)
        beyond = radius > threshold
        height = jnp.where(beyond, 0.02 * jnp.log(jnp.where(beyond, radius - threshold, 1.0))
                           + 0.2, 0.0)
        error = error.at[2].set(height - center[2])
        lifted = (center[2] > 0.02) | (radius < threshold)
        in_place = 0.1 * lifted + 0.9 * tolerance_long_tail(
            jnp.linalg.norm(error * jnp.array([1.0, 1.0, 3.0])), (0.0, 0.02), 0.4)
        reward = (2.0 * grab + 6.0 * in_place) * flat
        return jnp.where(success, 10.0, reward), success


class ML1Disassemble(WrenchTask):
    """Tasks: the wrench (on the peg) in [0, 0.1] x [0.6, 0.75] x [0.025, 0.02501]; rand_vec's
    goal in [-0.1, 0.1] x [0.6, 0.75] x [0.1699, 0.1701]; the goal 0.15 above the wrench. The
    hand starts at float32 (0, 0.4, 0.2).

    Reward: ``WrenchTask``'s, grab of high density; in_place: 0.1 with the nut's centre over
    0.02 + 0.9 * tolerance of |goal + (0, 0, 0.1) - centre| within 0.02, margin 0.2. Success:
    the handle above the goal.
    """

    scene = wrench_scene((0.0, 0.4, 0.2), _DISASSEMBLE_PEG, settle_placed=True)
    rand_low = (0.0, 0.6, 0.025, -0.1, 0.6, 0.1699)
    rand_high = (0.1, 0.75, 0.02501, 0.1, 0.75, 0.1701)

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None, :3]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][:3] + jnp.asarray(_DISASSEMBLE_GOAL, jnp.float32)

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        grab, _, flat = self.grab(obs, frame, action, task, high_density=True)
        center, target = frame.site_xpos[_CENTER], self.goal(task)
        in_place = 0.1 * (center[2] > 0.02) + 0.9 * tolerance_long_tail(
            jnp.linalg.norm(target + jnp.array([0.0, 0.0, 0.1]) - center), (0.0, 0.02), 0.2)
        success = obs[6] > target[2]
        reward = (2.0 * grab + 6.0 * in_place) * flat
        return jnp.where(success, 10.0, reward), success
