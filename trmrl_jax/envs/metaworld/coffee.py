"""coffee-button-v3, coffee-pull-v3 and coffee-push-v3 (``metaworld/envs/
sawyer_coffee_button_v3.py``, ``sawyer_coffee_pull_v3.py``, ``sawyer_coffee_push_v3.py``): one
scene (``sawyer_coffee.xml``), a coffee machine (body ``coffee_machine``) placed per task and a
mug on a free joint (body ``obj``, geom ``mug``).

Reset (``reset_model``): the mug's position is qpos 0-2 (its free joint comes first in this
model), and ``_set_obj_xyz`` zeroes qvel 9-14, which here are four of the arm's joints and the
fingers, not the mug's, as there; the machine's place is a body position. coffee-button presses
the machine's button (slide ``goal_slidey``) towards the hand; coffee-pull and coffee-push move
the mug on the table to a goal, drawn with the mug's start as push-v3 draws them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.envs.base import Task
from trmrl_jax.envs.metaworld.base import MetaWorldTask, apart, quat_from_xmat, tcp
from trmrl_jax.envs.metaworld.button_press import button_press_reward
from trmrl_jax.envs.metaworld.puck import pads_y
from trmrl_jax.envs.metaworld.rewards import (
    gripper_caging,
    hamacher_product,
    reach_density,
    tolerance_long_tail,
)
from trmrl_jax.physics import sawyer

_OBJ, _BUTTON = 3, 2  # Rows of Frame.xpos (the mug) and Frame.site_xpos (buttonStart).
_MUG_FROM_MACHINE = (0.0, -0.22, 0.0)
_MACHINE_FROM_MUG = (0.0, 0.22, 0.0)
_BUTTON_TRAVEL = 0.03  # SawyerCoffeeButtonEnvV3.max_dist.
_SCALE = (2.0, 2.0, 1.0)  # The mug's distance to the goal weighs x and y double.
_TARGET_RADIUS = 0.05
_SUCCESS_RADIUS = 0.07


def coffee_scene(machine_from_task: tuple[float, float, float],
                 mug_from_task: tuple[float, ...]) -> sawyer.Scene:
    """``sawyer_coffee.xml`` with the mug placed by qpos 0-2 and the machine per task, each at
    its task point plus an offset added in float64, as there (``Scene.body_offsets``,
    ``Scene.placed_offsets``)."""
    return sawyer.Scene(
        xml="sawyer_coffee.xml", hand_init=(0.0, 0.4, 0.2),
        mocap_low=(-0.5, 0.40, 0.05), mocap_high=(0.5, 1.0, 0.5),
        bodies=("hand", "rightclaw", "leftclaw", "obj", "leftpad", "rightpad"),
        sites=("rightEndEffector", "leftEndEffector", "buttonStart"), geoms=("mug",),
        placed_qpos=(0, 1, 2), zeroed_qvel=tuple(range(9, 15)),
        placed_bodies=("coffee_machine",), body_offsets=(machine_from_task,),
        placed_offsets=mug_from_task)


class ML1CoffeeButton(MetaWorldTask):
    """Tasks: the machine at [-0.1, 0.1] x [0.8, 0.9] x [-0.001, 0.001], the mug 0.22 before
    it; the goal 0.03 into the button (rand_vec + (0, -0.19, 0.3)). Observed object: the
    button (site ``buttonStart``) and the quaternion (1, 0, 0, 0), as there.

    Reward (``compute_reward``, version "v2"): ``button_press_reward`` along y, its margin
    0.03. Success: |button y - goal y| <= 0.02.
    """

    scene = coffee_scene((0.0, 0.0, 0.0), _MUG_FROM_MACHINE)
    rand_low = (-0.1, 0.8, -0.001)
    rand_high = (0.1, 0.9, 0.001)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"]

    def bodies(self, task: Task) -> jax.Array:
        return task["rand_vec"][None]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"] + jnp.array([0.0, -0.22 + _BUTTON_TRAVEL, 0.3])

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """The goal is the button's end: drawn with the machine."""
        del task
        return {}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.site_xpos[_BUTTON], jnp.array([1.0, 0.0, 0.0, 0.0])])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        del action
        reward, depth = button_press_reward(obs, tcp(frame), self.init_tcp,
                                            self.goal(task)[1], _BUTTON_TRAVEL)
        return reward, depth <= 0.02


class MugTask(MetaWorldTask):
    """coffee-pull-v3's and coffee-push-v3's tasks: rand_vec = (mug x, y, z, goal x, y, z),
    redrawn while the two lie less than 0.15 apart in the plane; the machine stands 0.22
    behind the mug (pull) or the goal (push). Observed object: the mug (body ``obj``, geom
    ``mug``'s quaternion).

    Reward (``compute_reward``, version "v2"): hamacher(grasped, in_place); in_place the
    tolerance of |(mug - goal) * (2, 2, 1)| within 0.05, margin its initial value; grasped
    ``_gripper_caging_reward`` (object radius 0.02, pads within 0.05, x-z within 0.05,
    gripper effort 0.7, medium density: reach within 0.04); with the fingertips' centre within
    0.04 of the mug and the gripper open, + 1 + 5 * in_place; 10 within 0.05 (scaled) of the
    goal. Success: |mug - goal| <= 0.07.
    """

    scene = coffee_scene(_MACHINE_FROM_MUG, ())
    machine_at_goal: bool

    def accept(self, rand_vec: np.ndarray) -> bool:
        return apart(rand_vec, 0.15)

    def placed(self, task: Task) -> jax.Array:
        return task["rand_vec"][:3]

    def bodies(self, task: Task) -> jax.Array:
        return (task["rand_vec"][3:] if self.machine_at_goal else task["rand_vec"][:3])[None]

    def goal(self, task: Task) -> jax.Array:
        return task["rand_vec"][3:]

    def marker_sites(self, task: Task) -> dict[str, jax.Array]:
        """Meta-World moves the world's site ``mug_goal`` to the goal."""
        return {"mug_goal": self.goal(task)}

    def objects(self, frame: sawyer.Frame) -> jax.Array:
        return jnp.concatenate([frame.xpos[_OBJ], quat_from_xmat(frame.geom_xmat[0])])

    def evaluate(self, obs: jax.Array, frame: sawyer.Frame, action: jax.Array, task: Task
                 ) -> tuple[jax.Array, jax.Array]:
        obj, opened, centre = obs[4:7], obs[3], tcp(frame)
        obj_init, target, scale = task["rand_vec"][:3], self.goal(task), jnp.asarray(_SCALE)
        to_target = jnp.linalg.norm((obj - target) * scale)
        in_place = tolerance_long_tail(to_target, (0.0, _TARGET_RADIUS),
                                       jnp.linalg.norm((obj_init - target) * scale))
        grip = jnp.clip(action[3], 0.0, 0.7) / 0.7
        grasped = gripper_caging(pads_y(frame), centre, obj, obj_init, self.init_tcp,
                                 obj_radius=0.02, pad_success=0.05, xz_success=0.05, grip=grip,
                                 high_density=False)
        grasped = reach_density(grasped, centre, obj, obj_init, self.init_tcp, 0.04)
        reward = hamacher_product(grasped, in_place)
        near = (jnp.linalg.norm(obj - centre) < 0.04) & (opened > 0)
        reward = jnp.where(near, reward + 1.0 + 5.0 * in_place, reward)
        reward = jnp.where(to_target < _TARGET_RADIUS, 10.0, reward)
        return reward, jnp.linalg.norm(obj - target) <= _SUCCESS_RADIUS


class ML1CoffeePull(MugTask):
    """Tasks: ``MugTask``'s, the mug in [-0.05, 0.05] x [0.7, 0.75], the goal in [-0.1, 0.1] x
    [0.55, 0.65] (z within 0.001 of 0): pull the mug out from under the spout."""

    rand_low = (-0.05, 0.7, -0.001, -0.1, 0.55, -0.001)
    rand_high = (0.05, 0.75, 0.001, 0.1, 0.65, 0.001)
    machine_at_goal = False


class ML1CoffeePush(MugTask):
    """Tasks: ``MugTask``'s, the mug in [-0.1, 0.1] x [0.55, 0.65], the goal in [-0.05, 0.05] x
    [0.7, 0.75] (z within 0.001 of 0): push the mug under the spout."""

    rand_low = (-0.1, 0.55, -0.001, -0.05, 0.7, -0.001)
    rand_high = (0.1, 0.65, 0.001, 0.05, 0.75, 0.001)
    machine_at_goal = True
