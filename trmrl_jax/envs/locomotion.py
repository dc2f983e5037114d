"""Brax locomotion task distributions.

Each wraps a stock Brax environment (its physics, observation and reset noise) and replaces the
reward with the meta-RL definition of the task; ``metrics`` of the stock env supply velocities and
the torso position. Trials have a fixed length, so nothing terminates (``done`` is always 0).
Distributions whose tasks change the *dynamics* live in ``trmrl_jax.envs.dynamics``.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
from brax import envs as brax_envs
from brax.envs.base import PipelineEnv, State

from trmrl_jax.envs.base import Task, TaskDistribution, control_cost, uniform


class BraxTaskDistribution(TaskDistribution):
    """Base for distributions over a stock Brax env; subclasses define the task and its reward.

    ``brax_kwargs`` are passed to ``brax.envs.get_environment``; ``physics(task)`` is the Brax env
    that simulates ``task`` (the shared stock env unless tasks change the dynamics).
    """

    brax_name: str
    brax_kwargs: Mapping[str, Any] = {}

    def __init__(self, backend: str = "spring"):
        self.backend = backend
        self._env = brax_envs.get_environment(self.brax_name, backend=backend,
                                              **self.brax_kwargs)
        # Shape inference only: Brax's own ``observation_size`` runs a reset op by op (seconds).
        self.observation_size = int(
            jax.eval_shape(self._env.reset, jax.random.PRNGKey(0)).obs.shape[-1])
        self.action_size = self._env.action_size

    @property
    def mujoco_model(self) -> Any:
        """The ``mujoco.MjModel`` of the stock env: what ``visualize.render_trial`` draws."""
        return self._env.sys.mj_model

    @property
    def dt(self) -> float:
        """Seconds of simulated time per step (action)."""
        return float(self._env.dt)

    def physics(self, task: Task) -> PipelineEnv:
        """The Brax env that simulates ``task``: here the stock env, whatever the task."""
        del task
        return self._env

    def reset(self, key: jax.Array, task: Task) -> State:
        state = self.physics(task).reset(key)
        return state.replace(reward=jnp.zeros(()))

    def step(self, state: State, action: jax.Array, task: Task) -> State:
        action = jnp.clip(action, -1.0, 1.0)
        nstate = self.physics(task).step(state, action)
        return nstate.replace(reward=self.task_reward(nstate, action, task),
                              done=jnp.zeros(()))  # Trials have fixed length: no termination.

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        raise NotImplementedError


class HalfCheetahVel(BraxTaskDistribution):
    """Run at a target velocity v: reward -|v_x - v| - 0.05 |a|^2.

    Train/test v ~ U[0, 3]; OOD v ~ U[3, 4] (faster than anything seen in training).
    """

    brax_name = "halfcheetah"
    task_size = 1
    default_episode_length = 200

    def sample_task(self, key: jax.Array, split: str) -> Task:
        return {"velocity": uniform(key, split, train=(0.0, 3.0), ood=(3.0, 4.0))}

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        return -jnp.abs(state.metrics["x_velocity"] - task["velocity"]) - control_cost(action, 0.05)

    def task_features(self, task: Task) -> jax.Array:
        return jnp.reshape(task["velocity"], (1,))


class HalfCheetahDir(BraxTaskDistribution):
    """Run forward or backward: direction d in {-1, +1}; reward d * v_x - 0.05 |a|^2.

    Every split, ``ood`` included, samples d uniformly from {-1, +1}: a binary direction has no
    range to leave, and a weight |d| > 1 would only rescale the reward against the control cost
    rather than pose a new task, so this distribution has no OOD range (its OOD numbers are an
    in-distribution check).
    """

    brax_name = "halfcheetah"
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


class _AntTask(BraxTaskDistribution):
    """Brax ``ant`` without termination. Reward terms shared by the ant tasks:

    survive bonus 1.0 while the torso height lies in Brax's healthy range [0.2, 1.0] (else 0:
    with no termination an ungated bonus would be a constant), control cost 0.5 |a|^2. The
    reference's contact cost 0.5e-3 * |clip(contact forces)|^2 is left out: Brax's ant has no
    contact forces (``use_contact_forces=True`` raises NotImplementedError in brax 0.14).
    """

    brax_name = "ant"
    default_episode_length = 200

    def survive_minus_control(self, state: State, action: jax.Array) -> jax.Array:
        return state.metrics["reward_survive"] - control_cost(action, 0.5)


class _AntDirection(_AntTask):
    """Run in direction theta: reward (v_x, v_y) . (cos theta, sin theta) + survive - 0.5 |a|^2.

    (v_x, v_y) is the torso velocity over the env step. Observation: Brax's 27-d ant state
    (torso x, y excluded). Task features: (cos theta, sin theta). Subclasses say how theta is
    drawn.
    """

    brax_kwargs = {"terminate_when_unhealthy": False,
                   "exclude_current_positions_from_observation": True}
    task_size = 2

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        velocity = (jnp.cos(task["angle"]) * state.metrics["x_velocity"]
                    + jnp.sin(task["angle"]) * state.metrics["y_velocity"])
        return velocity + self.survive_minus_control(state, action)

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
    """Walk to a goal position: reward -|xy_torso - goal| + survive - 0.5 |a|^2.

    Goals are uniform (in area) on the disk of radius 3 for train/test and on the annulus of radii
    3 to 4 for OOD. The observation includes the torso x, y (29-d), since reaching a position
    needs it. Task features: the goal (x, y).
    """

    brax_kwargs = {"terminate_when_unhealthy": False,
                   "exclude_current_positions_from_observation": False}
    task_size = 2

    def sample_task(self, key: jax.Array, split: str) -> Task:
        k_angle, k_radius = jax.random.split(key)
        angle = jax.random.uniform(k_angle, (), minval=0.0, maxval=2.0 * jnp.pi)
        radius = jnp.sqrt(uniform(k_radius, split, train=(0.0, 9.0), ood=(9.0, 16.0)))
        return {"goal": radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)])}

    def task_reward(self, state: State, action: jax.Array, task: Task) -> jax.Array:
        xy = jnp.stack([state.metrics["x_position"], state.metrics["y_position"]])
        return -jnp.linalg.norm(xy - task["goal"]) + self.survive_minus_control(state, action)

    def task_features(self, task: Task) -> jax.Array:
        return task["goal"]
