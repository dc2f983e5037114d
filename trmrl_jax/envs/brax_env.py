"""A task distribution as a standard ``brax.envs.Env``, for Brax's own trainers and tools.

The Brax environment is memoryless and sees only the raw observation (no previous action, reward
or episode flag): it is for using our distributions outside this package's meta-RL loop, e.g.
training Brax's PPO across tasks, or on one fixed task.
"""

from __future__ import annotations

import jax
from brax.envs.base import Env, State

from trmrl_jax.envs.base import SPLITS, Task, TaskDistribution


class TaskEnv(Env):
    """``distribution`` as a Brax ``Env``: each ``reset`` samples a task of ``split`` (or uses
    ``task`` when given) and keeps it in ``state.info["task"]``; ``step`` acts on that task.

    Brax's training wrapper (``brax.envs.wrappers.training.wrap``) auto-resets a finished episode
    to the state its slot first reset to, so there each of the ``num_envs`` slots keeps the
    task it first drew: a batch of ``num_envs`` tasks, not a new task per episode.
    """

    def __init__(self, distribution: TaskDistribution, split: str = "train",
                 task: Task | None = None):
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed; choose one of {', '.join(SPLITS)}")
        self.distribution, self.split, self.task = distribution, split, task

    def reset(self, rng: jax.Array) -> State:
        task_key, reset_key = jax.random.split(rng)
        task = (self.task if self.task is not None
                else self.distribution.sample_task(task_key, self.split))
        state = self.distribution.reset(reset_key, task)
        return state.replace(info={**state.info, "task": task})

    def step(self, state: State, action: jax.Array) -> State:
        task = state.info["task"]
        new = self.distribution.step(state, action, task)
        # Brax's wrappers add metrics and info entries and expect a step to keep them (a
        # distribution may return its own metrics only, as point_nav does).
        return new.replace(metrics={**state.metrics, **new.metrics},
                           info={**state.info, **new.info, "task": task})

    @property
    def observation_size(self) -> int:
        return self.distribution.observation_size

    @property
    def action_size(self) -> int:
        return self.distribution.action_size

    @property
    def backend(self) -> str:
        return self.distribution.backend or "jax"  # Distributions without physics: plain JAX.
