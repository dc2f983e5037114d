"""Locomotion task distributions: tasks and rewards over a body from ``trmrl_jax.physics``.

A distribution samples tasks and turns the physics' metrics (velocities, torso position, survive
bonus, contact cost) into the meta-RL reward of its task; the observation, reset noise and
dynamics are the body's, as the chosen backend simulates it (``backend="mjx"`` or
``"mujoco_c"``: Gym's models as the reference's environments define them; Brax's pipelines:
Brax's models). Trials have a fixed length, so nothing terminates (``done`` is always 0).
Distributions whose tasks change the *dynamics* live in ``trmrl_jax.envs.dynamics``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from brax.envs.base import State

from trmrl_jax import physics
from trmrl_jax.envs.base import Task, TaskDistribution, control_cost, uniform


class LocomotionDistribution(TaskDistribution):
    """Base for distributions over one body; subclasses define the task and its reward.

    ``body`` names the body for ``physics.make``; ``observe_position`` keeps the torso's
    horizontal coordinates in the observation. ``model(task)`` is the physics model that
    simulates ``task`` (the stock model unless tasks change the dynamics).
    """

    body: str
    observe_position: bool = False
    backends = physics.BACKENDS

    def __init__(self, backend: str = "spring"):
        self.backend = backend
        self.physics = physics.make(self.body, backend, observe_position=self.observe_position)
        self.observation_size = self.physics.observation_size
        self.action_size = self.physics.action_size
        self.reports = self.physics.reports
        if isinstance(self.physics, physics.BraxPipeline):
            self.brax_name = self.physics.brax_name  # What Brax's own trainers can run.

    @property
    def mujoco_model(self) -> Any:
        """The body's ``mujoco.MjModel``: what ``visualize.render_trial`` draws."""
        return self.physics.mujoco_model

    @property
    def dt(self) -> float:
        """Seconds of simulated time per step (action)."""
        return self.physics.dt

    def model(self, task: Task) -> physics.Model:
        """The physics model that simulates ``task``: here the stock model, whatever the task."""
        del task
        return self.physics.model

    def reset(self, key: jax.Array, task: Task) -> State:
        return self.physics.reset(key, self.model(task))

    def step(self, state: State, action: jax.Array, task: Task) -> State:
        action = jnp.clip(action, -1.0, 1.0)
        nstate = self.physics.step(state, action, self.model(task))
        return nstate.replace(reward=self.task_reward(nstate, action, task),
                              done=jnp.zeros(()))  # Trials have fixed length: no termination.

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        raise NotImplementedError


class HalfCheetahVel(LocomotionDistribution):
    """Run at a target velocity v: reward -|v_x - v| - 0.05 |a|^2.

    Train/test v ~ U[0, 3]; OOD v ~ U[3, 4] (faster than anything seen in training).
    """

    body = "halfcheetah"
    task_size = 1
    default_episode_length = 200

    def sample_task(self, key: jax.Array, split: str) -> Task:
        return {"velocity": uniform(key, split, train=(0.0, 3.0), ood=(3.0, 4.0))}

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        return -jnp.abs(state.metrics["x_velocity"] - task["velocity"]) - control_cost(action, 0.05)

    def task_features(self, task: Task) -> jax.Array:
        return jnp.reshape(task["velocity"], (1,))


class HalfCheetahDir(LocomotionDistribution):
    """Run forward or backward: direction d in {-1, +1}; reward d * v_x - 0.05 |a|^2.

    Every split, ``ood`` included, samples d uniformly from {-1, +1}: a binary direction has no
    range to leave, and a weight |d| > 1 would only rescale the reward against the control cost
    rather than pose a new task, so this distribution has no OOD range (its OOD numbers are an
    in-distribution check).
    """

    body = "halfcheetah"
    task_size = 1
    default_episode_length = 200
    has_ood = False

    def sample_task(self, key: jax.Array, split: str) -> Task:
        del split  # The same two tasks in every split (see the class docstring).
        return {"direction": jnp.where(jax.random.bernoulli(key), 1.0, -1.0)}

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        return task["direction"] * state.metrics["x_velocity"] - control_cost(action, 0.05)

    def task_features(self, task: Task) -> jax.Array:
        return jnp.reshape(task["direction"], (1,))


class _AntTask(LocomotionDistribution):
    """The ant without termination. Reward terms shared by the ant tasks:

    survive bonus 1.0 while the torso height lies in the healthy range [0.2, 1.0] (else 0: with
    no termination an ungated bonus would be a constant), control cost 0.5 |a|^2 and the body's
    contact cost (the reference's 0.5e-3 * |clip(cfrc_ext, -1, 1)|^2 on MuJoCo's physics; zero
    on Brax's pipelines, whose ant has no contact forces).
    """

    body = "ant"
    default_episode_length = 200

    def survive_minus_costs(self, state: State, action: jax.Array) -> jax.Array:
        return (state.metrics["reward_survive"] - control_cost(action, 0.5)
                - state.metrics["contact_cost"])


class _AntDirection(_AntTask):
    """Run in direction theta: reward (v_x, v_y) . (cos theta, sin theta) + survive - costs.

    (v_x, v_y) is the torso velocity over the env step. Observation: the ant's joint state
    without the torso x, y (27-d). Task features: (cos theta, sin theta). Subclasses say how
    theta is drawn.
    """

    task_size = 2

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        velocity = (jnp.cos(task["angle"]) * state.metrics["x_velocity"]
                    + jnp.sin(task["angle"]) * state.metrics["y_velocity"])
        return velocity + self.survive_minus_costs(state, action)

    def task_features(self, task: Task) -> jax.Array:
        return jnp.stack([jnp.cos(task["angle"]), jnp.sin(task["angle"])])


def _either(key: jax.Array, a: float, b: float) -> jax.Array:
    return jnp.where(jax.random.bernoulli(key), a, b)


class AntFwdBack(_AntDirection):
    """Forward or backward along x (theta in {0, pi}): AntDir as ProMP and PEARL define it. Two
    tasks and no range to leave, so there is no OOD split (as for HalfCheetahDir)."""

    has_ood = False

    def sample_task(self, key: jax.Array, split: str) -> Task:
        del split
        return {"angle": _either(key, 0.0, jnp.pi)}


class AntDirPm1Rad(_AntDirection):
    """theta in {-1, +1} radians: the reference code's AntDir, which samples a direction of +-1
    and uses it as an angle. Both directions run forward-ish (cos 1 = 0.54). No OOD split."""

    has_ood = False

    def sample_task(self, key: jax.Array, split: str) -> Task:
        del split
        return {"angle": _either(key, 1.0, -1.0)}


class AntDirArc(_AntDirection):
    """theta ~ U[0, 1.5 pi] for train/test and U[1.5 pi, 2 pi] for OOD, the unseen quarter of
    the circle: a continuous direction distribution with an out-of-distribution range."""

    def sample_task(self, key: jax.Array, split: str) -> Task:
        return {"angle": uniform(key, split, train=(0.0, 1.5 * jnp.pi),
                                 ood=(1.5 * jnp.pi, 2.0 * jnp.pi))}


class AntGoal(_AntTask):
    """Walk to a goal position: reward -|xy_torso - goal| + survive - costs.

    Goals are uniform (in area) on the disk of radius 3 for train/test and on the annulus of radii
    3 to 4 for OOD. The observation includes the torso x, y (29-d), since reaching a position
    needs it. Task features: the goal (x, y).
    """

    observe_position = True
    task_size = 2

    def sample_task(self, key: jax.Array, split: str) -> Task:
        k_angle, k_radius = jax.random.split(key)
        angle = jax.random.uniform(k_angle, (), minval=0.0, maxval=2.0 * jnp.pi)
        radius = jnp.sqrt(uniform(k_radius, split, train=(0.0, 9.0), ood=(9.0, 16.0)))
        return {"goal": radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)])}

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        xy = jnp.stack([state.metrics["x_position"], state.metrics["y_position"]])
        return -jnp.linalg.norm(xy - task["goal"]) + self.survive_minus_costs(state, action)

    def task_features(self, task: Task) -> jax.Array:
        return task["goal"]
