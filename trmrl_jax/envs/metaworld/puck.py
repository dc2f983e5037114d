"""What reach-v3, push-v3 and pick-place-v3 share: one scene (``sawyer_reach_v3.xml``,
``sawyer_push_v3.xml``, ``sawyer_pick_place_v3.xml`` differ only in the goal marker's colour),
one puck (body ``obj``, geom ``objGeom``) and one task vector.

Tasks (``reset_model`` of each): rand_vec = (puck x, y, z, goal x, y, z), redrawn while the
puck and the goal lie less than 0.15 apart in the plane. The caging rewards also read the hand's
settled reset (``_reset_hand``, before the puck is placed): the fingertips' centre
(``init_tcp``) and, for push-v3, where the puck rests then; the same for every task.

shelf-place-v3 and sweep-into-v3 place a block of the same names and joint on their own scenes
(``puck_scene`` of their files), with task vectors of the same layout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import HAND_INIT, MetaWorldTask, apart, quat_from_xmat, tcp
from trmrl_jax.envs.metaworld.rewards import gripper_caging
from trmrl_jax.physics import sawyer

_OBJ, _LEFT_PAD, _RIGHT_PAD = 3, 4, 5  # Rows of Frame.xpos (``puck_scene``'s bodies).


def puck_scene(xml: str, at_rest: bool = False,
               hand_init: tuple[float, float, float] = HAND_INIT,
               placed_bodies: tuple[str, ...] = (),
               body_offsets: tuple[tuple[float, float, float], ...] = ()
               ) -> sawyer.Scene:
    """The scene of ``xml`` with the puck placed by qpos 9-11 (``_set_obj_xyz``); ``at_rest``:
    the task places x and y, z is where the puck rests after the hand's reset; the other
    arguments as ``sawyer.Scene``'s."""
    return sawyer.Scene(
        xml=xml, hand_init=hand_init, mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "obj", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector"), geoms=("objGeom",),
        placed_qpos=(9, 10) if at_rest else (9, 10, 11), zeroed_qvel=tuple(range(9, 15)),
        rest_height=(11, "obj") if at_rest else None, placed_bodies=placed_bodies,
        body_offsets=body_offsets)


def pads_y(frame: sawyer.Frame) -> jax.Array:
    """[2] the left and right pads' y (``get_body_com("leftpad")[1]``, ``"rightpad"``)."""
    return frame.xpos[jnp.array([_LEFT_PAD, _RIGHT_PAD]), 1]


def puck_caging(frame: sawyer.Frame, obj: jax.Array, obj_init: jax.Array, init_tcp: jax.Array,
                grip: jax.Array, high_density: bool = True) -> jax.Array:
    """push-v3's ``gripper_caging`` of the puck at ``obj`` [3] (object radius 0.015, pads
    within 0.05, x-z within 0.005), which hand-insert-v3, push-wall-v3 and pick-place-wall-v3
    copy."""
    return gripper_caging(pads_y(frame), tcp(frame), obj, obj_init, init_tcp, obj_radius=0.015,
                          pad_success=0.05, xz_success=0.005, grip=grip,
                          high_density=high_density)


class PuckTask(MetaWorldTask):
    """A task on ``puck_scene``: ``rest_height`` (the puck's z, float32) is read from the
    simulator's settled hand, as Meta-World reads it."""

    def __init__(self, backend: str | None = None, seed: int = 0, worlds: int = 256):
        super().__init__(backend, seed, worlds)
        self.rest_height = float(self.physics.settled.xpos[self.physics.body_ids[_OBJ], 2])

    def at_rest(self, xy: jax.Array) -> jax.Array:
        """[3] the puck at ``xy`` [2] where it rests."""
        return jnp.append(xy, self.rest_height)

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, 0.15)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:3]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:]

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_OBJ], quat_from_xmat(frame.geom_xmat[0])])
