"""The task-distribution interface: a batch of *different* MDPs is one vmapped call.

A distribution samples task parameters (a pytree with a leading task axis) and resets/steps one
environment *given* its task, so tasks are explicit data, never state cached inside a wrapper
(Brax's AutoResetWrapper would otherwise freeze the first task sampled in each batch slot).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
from brax.envs.base import State

Task = Any  # A pytree of task parameters; leaves carry a leading [num_tasks] axis when batched.
SPLITS = ("train", "test", "ood")


class TaskDistribution(abc.ABC):
    """A distribution p(M) over MDPs sharing observation and action spaces.

    Subclasses set ``observation_size``, ``action_size``, ``task_size`` (length of
    ``task_features``) and ``default_episode_length``. Actions lie in [-1, 1]^action_size.
    """

    observation_size: int
    action_size: int
    task_size: int
    default_episode_length: int = 200
    has_ood: bool = True  # False: no task lies outside the train range (meta-test skips ood).
    backend: str | None = None  # The physics that simulates it (``Config.backend``); None: none.
    backends: tuple[str, ...] | None = None  # The values ``backend`` may take; None: no physics.
    # Per-step flags (1.0 or 0.0) the state's ``metrics`` carry under these names, which the
    # rollout records: ``success`` (an episode succeeds if any of its steps does, as Meta-World
    # reports it) and ``fault`` (the physics went wrong: the run stops). () records nothing.
    reports: tuple[str, ...] = ()
    # The most worlds one vmapped call may step, for a simulator whose buffers are sized for its
    # batch (``make(name, worlds=...)``); None: any batch.
    worlds: int | None = None
    # ``Config`` fields that ``--env=NAME`` alone sets besides the defaults and the episode
    # length (``presets.for_env``), for a distribution registered without a preset of its own.
    training_defaults: Mapping[str, Any] = MappingProxyType({})

    @abc.abstractmethod
    def sample_task(self, key: jax.Array, split: str) -> Task:
        """One task of ``split`` (``train``/``test`` share a range; ``ood`` lies outside it)."""

    @abc.abstractmethod
    def reset(self, key: jax.Array, task: Task) -> State:
        """Initial state of one episode of ``task`` (unbatched)."""

    @abc.abstractmethod
    def step(self, state: State, action: jax.Array, task: Task) -> State:
        """One step of ``task``; ``action`` is [action_size] in [-1, 1]."""

    @abc.abstractmethod
    def task_features(self, task: Task) -> jax.Array:
        """[task_size] float features of ``task``: what the oracle agent is shown."""

    def sample_tasks(self, key: jax.Array, num: int, split: str = "train") -> Task:
        """``num`` tasks of ``split``; the split is folded into the key so splits never coincide."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not allowed; choose one of {', '.join(SPLITS)}")
        key = jax.random.fold_in(key, SPLITS.index(split))
        return jax.vmap(lambda k: self.sample_task(k, split))(jax.random.split(key, num))


def uniform(key: jax.Array, split: str, train: tuple[float, float],
            ood: tuple[float, float]) -> jax.Array:
    """A scalar from U[train] for ``train``/``test`` and from U[ood] for ``ood``."""
    low, high = ood if split == "ood" else train
    return jax.random.uniform(key, (), minval=low, maxval=high)


def control_cost(action: jax.Array, weight: float) -> jax.Array:
    return weight * jnp.sum(jnp.square(action))
