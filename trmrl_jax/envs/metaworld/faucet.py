"""faucet-open-v3 and faucet-close-v3 (``metaworld/envs/sawyer_faucet_open_v3.py``,
``sawyer_faucet_close_v3.py``): turn a faucet's handle to one side, to a goal hidden from the
agent, on one scene (``sawyer_faucet.xml``).

Reset (``reset_model``): the faucet's base (body ``faucetBase``) stands at rand_vec; the
handle's hinge keeps where the hand's reset left it. faucet-close-v3 then runs a forward pass,
faucet-open-v3 none (``Scene.reset_forward``): its first observation reads the kinematics the
hand's last physics step began from, the base in place, as there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import PlacedBodyTask, tcp
from trmrl_jax.envs.metaworld.rewards import within
from trmrl_jax.physics import sawyer

_HANDLE = 2  # Row of Frame.site_xpos: the observed handle site.
_BELOW = (0.0, 0.0, -0.01)  # The observed point, from the handle's site (_get_pos_objects).
_HANDLE_LENGTH = 0.175
_TARGET_RADIUS = 0.07
_REACH_RADIUS = 0.01


def faucet_scene(site: str, reset_forward: bool) -> sawyer.Scene:
    """The faucet's base placed per task; observed: the handle's ``site``; ``reset_forward`` as
    ``sawyer.Scene``'s. The hand starts at (0, 0.4, 0.2) and its mocap may go down to
    z = -0.15."""
    return sawyer.Scene(
        xml="sawyer_faucet.xml", hand_init=(0.0, 0.4, 0.2), mocap_low=(-0.5, 0.40, -0.15),
        mocap_high=(0.5, 1.0, 0.5), bodies=("hand", "rightclaw", "leftclaw"),
        sites=("rightEndEffector", "leftEndEffector", site), geoms=(), placed_qpos=(),
        zeroed_qvel=(), placed_bodies=("faucetBase",), reset_forward=reset_forward)


class FaucetTask(PlacedBodyTask):
    """A task on ``faucet_scene``: the goal lies 0.175 (the handle's length) to one side of the
    base and 0.125 above it. Observed object: the handle's site 0.01 lower and the base's (w,
    x, y, z) ``xquat`` (fixed: the base has no joint), as there.

    Reward (``compute_reward``, version "v2"), with the handle point the observed one plus
    ``reach_offset``: 2 * (2 * reach + 3 * in_place); in_place the tolerance of |point - goal|
    within 0.07, margin | |rand_vec - goal| - 0.07 |; reach the gaussian tolerance of |point -
    tcp| within 0.01, margin | |rand_vec - init_tcp| - 0.01 |; 10 on success. Success:
    |point - goal| <= 0.07.
    """

    reach_offset: tuple[float, float, float]
    goal_marker: str

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.base_quat = self.settled_quat("faucetBase")

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """Meta-World moves the world's site ``goal_open`` or ``goal_close`` to the goal."""
        return {self.goal_marker: self.goal(task)}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[_HANDLE] + jnp.asarray(_BELOW), self.base_quat])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        handle = obs[4:7] + jnp.asarray(self.reach_offset)
        target, start = self.goal(task), task["rand_vec"]
        to_target = jnp.linalg.norm(handle - target)
        in_place = within(to_target, _TARGET_RADIUS, jnp.linalg.norm(start - target))
        reach = within(jnp.linalg.norm(handle - tcp(frame)), _REACH_RADIUS,
                       jnp.linalg.norm(start - self.init_tcp), gaussian=True)
        success = to_target <= _TARGET_RADIUS
        return jnp.where(success, 10.0, 2.0 * (2.0 * reach + 3.0 * in_place)), success


class ML1FaucetOpen(FaucetTask):
    """Tasks: the base at [-0.05, 0.05] x [0.8, 0.85] x 0; the goal to its right; observed:
    site ``handleStartOpen``; the reward's handle point 0.04 left of and 0.03 above it. No
    forward pass ends the reset."""

    scene = faucet_scene("handleStartOpen", reset_forward=False)
    rand_low = (-0.05, 0.8, 0.0)
    rand_high = (0.05, 0.85, 0.0)
    goal_offset = (_HANDLE_LENGTH, 0.0, 0.125)
    reach_offset = (-0.04, 0.0, 0.03)
    goal_marker = "goal_open"


class ML1FaucetClose(FaucetTask):
    """Tasks: the base at [-0.1, 0.1] x [0.8, 0.85] x 0; the goal to its left; observed: site
    ``handleStartClose``, which the reward reads as it is."""

    scene = faucet_scene("handleStartClose", reset_forward=True)
    rand_low = (-0.1, 0.8, 0.0)
    rand_high = (0.1, 0.85, 0.0)
    goal_offset = (-_HANDLE_LENGTH, 0.0, 0.125)
    reach_offset = (0.0, 0.0, 0.0)
    goal_marker = "goal_close"
