"""Mixtures of Meta-World environments (ML10, ML45): a batch of tasks mixes environments.

Tasks (``metaworld.ML10``): Meta-World's ML10 trains on 50 tasks of each of 10 environments and
tests on 50 tasks of each of 5 held-out ones (``train_tasks``, ``test_tasks``). Here ``train``
draws a train environment uniformly, then one of its 50 ML1 train tasks; ``ood`` draws a
held-out environment, then one of its 50 (drawn as train tasks are: Meta-World seeds both sets
alike): ML10's test environments. Departure: Meta-World's ML10 has no held-out tasks of the
train environments; ``test`` draws them from each train environment's 50 ML1 test tasks (seed
+ 1, as ``MetaWorldTask``), so that the meta-test's in-distribution split exists. As in ML1,
the draws are Meta-World's distribution and protocol, not its numbers.

A task is (``class``: the environment's index, train environments first; ``rand_vec`` padded
with zeros to the longest environment's). The oracle sees the class one-hot and ``rand_vec``.

Physics: every world is stepped once, by its own scene (``physics.sawyer.mixture``), on the C
engine only: a per-world ``lax.switch`` under ``vmap`` runs every branch, so switching over the
physics would step every scene for every world. The observation's object part, the reward and
success are per environment behind ``lax.switch`` on the class: arithmetic on a few vectors,
cheap to run for every branch (BUILD.md, "Meta-World", measures a mixed batch).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from brax.envs.base import State

from trmrl_jax.envs.base import Task, TaskDistribution
from trmrl_jax.envs.metaworld.base import (
    NUM_TASKS,
    MetaWorldTask,
    reset_state,
    step_state,
    with_init_tcp,
)
from trmrl_jax.physics.sawyer.mixture import NativeMixture

_BACKEND = "mujoco_c"


def _pad(x: jax.Array, size: int) -> jax.Array:
    """``x`` [n, ...] padded with zeros to [size, ...]."""
    return jnp.zeros((size,) + x.shape[1:], x.dtype).at[:x.shape[0]].set(x)


class MetaWorldMixture(TaskDistribution):
    """Meta-World environments ``train_classes`` (trained on) and ``held_out_classes`` (the
    ``ood`` split), each an ML1 ``MetaWorldTask`` subclass; subclasses set both (``mixture``
    makes one). ``seed`` draws every environment's tasks, as ``MetaWorldTask``'s does."""

    train_classes: tuple[type[MetaWorldTask], ...]
    held_out_classes: tuple[type[MetaWorldTask], ...]
    observation_size = MetaWorldTask.observation_size
    action_size = MetaWorldTask.action_size
    default_episode_length = MetaWorldTask.default_episode_length
    backends = (_BACKEND,)
    reports = MetaWorldTask.reports
    training_defaults = MetaWorldTask.training_defaults

    def __init__(self, backend: str | None = None, seed: int = 0):
        if backend not in (None, _BACKEND):
            raise ValueError(f"backend={backend!r}: a Meta-World mixture runs on {_BACKEND} only")
        self.backend = _BACKEND
        self.classes = tuple(cls(_BACKEND, seed) for cls in
                             self.train_classes + self.held_out_classes)
        self.num_train = len(self.train_classes)
        self.has_ood = len(self.held_out_classes) > 0
        self.physics = NativeMixture([c.physics for c in self.classes])
        self.rand_size = max(c.task_size for c in self.classes)
        self.task_size = len(self.classes) + self.rand_size
        # [classes, NUM_TASKS, rand_size] per split.
        self.tasks = {split: jnp.stack([
            jnp.pad(c.tasks[split], ((0, 0), (0, self.rand_size - c.task_size)))
            for c in self.classes]) for split in ("train", "test")}

    def sample_task(self, key: jax.Array, split: str) -> Task:
        if split == "ood" and not self.has_ood:
            raise ValueError("this mixture holds out no environment: no ood split")
        first, count = ((self.num_train, len(self.classes) - self.num_train) if split == "ood"
                        else (0, self.num_train))
        class_key, task_key = jax.random.split(key)
        index = first + jax.random.randint(class_key, (), 0, count)
        tasks = self.tasks["test" if split == "test" else "train"]
        return {"class": index,
                "rand_vec": tasks[index, jax.random.randint(task_key, (), 0, NUM_TASKS)]}

    def task_features(self, task: Task) -> jax.Array:
        return jnp.concatenate([jax.nn.one_hot(task["class"], len(self.classes)),
                                task["rand_vec"]])

    def _switch(self, task: Task, branch: Callable[..., tuple], *operands: jax.Array) -> tuple:
        """``branch(i, environment i, its own task, *operands)`` for the task's environment
        ``i``: one ``lax.switch`` branch per environment (under vmap, all run, then a select)."""
        def make(i: int, env: MetaWorldTask) -> Callable[..., tuple]:
            return lambda task, *ops: branch(
                i, env, {"rand_vec": task["rand_vec"][:env.task_size]}, *ops)

        return jax.lax.switch(task["class"], [make(i, c) for i, c in enumerate(self.classes)],
                              task, *operands)

    def reset(self, key: jax.Array, task: Task) -> State:
        del key  # Meta-World's reset of a task is deterministic.
        placed, bodies = self._switch(task, lambda i, env, own: (
            _pad(env.placed(own), self.physics.placed_size),
            _pad(env.bodies(own), self.physics.bodies_size)))
        sim = self.physics.start(task["class"], placed, bodies)
        obs, = self._switch(task, lambda i, env, own, frame: (
            env.first_observation(self.physics.frame(frame, i)),), sim.frame)
        return reset_state(sim, obs)

    def step(self, state: State, action: jax.Array, task: Task) -> State:
        action = jnp.clip(action, -1.0, 1.0)
        sim = self.physics.step(task["class"], state.pipeline_state, action)
        outcome = self._switch(task, lambda i, env, own, frame, previous: env.outcome(
            self.physics.frame(frame, i), previous, action, with_init_tcp(own, sim)),
            sim.frame, state.obs)
        return step_state(state, sim, *outcome)


def mixture(train: Sequence[type[MetaWorldTask]], held_out: Sequence[type[MetaWorldTask]]
            ) -> type[MetaWorldMixture]:
    """The ``MetaWorldMixture`` of these environments, as a class: what ``envs.register``
    takes (the registry reads a factory's ``default_episode_length`` and ``backends``)."""
    return type("MetaWorldMixture", (MetaWorldMixture,),
                {"train_classes": tuple(train), "held_out_classes": tuple(held_out)})
