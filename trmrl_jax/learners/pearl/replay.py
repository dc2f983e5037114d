"""Per-task replay on the device: one circular buffer of transitions per training task, all in
arrays of static shape [P tasks, C capacity, ...] so they live in the train state (and its
checkpoints) and every write and draw compiles once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Transitions:
    """Transitions (s, a, r, s'); leaves [..., size] with any leading axes."""

    obs: jax.Array  # [..., O]
    action: jax.Array  # [..., A] as acted (in (-1, 1) for a squashed policy).
    reward: jax.Array  # [...]
    next_obs: jax.Array  # [..., O] the observation after the step (the episode's last, too).


@struct.dataclass
class TaskBuffers:
    """A circular buffer per task: ``data`` leaves [P, C, ...]; task p holds ``size[p]``
    transitions and writes its next one at ``next[p]``, overwriting its oldest when full."""

    data: Transitions
    next: jax.Array  # [P] int32
    size: jax.Array  # [P] int32, at most C.

    @classmethod
    def create(cls, num_tasks: int, capacity: int, obs_size: int, action_size: int
               ) -> "TaskBuffers":
        rows = (num_tasks, capacity)
        return cls(data=Transitions(obs=jnp.zeros(rows + (obs_size,)),
                                    action=jnp.zeros(rows + (action_size,)),
                                    reward=jnp.zeros(rows), next_obs=jnp.zeros(rows + (obs_size,))),
                   next=jnp.zeros(num_tasks, jnp.int32), size=jnp.zeros(num_tasks, jnp.int32))

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[1]

    def add(self, tasks: jax.Array, batch: Transitions) -> "TaskBuffers":
        """Appends batch row b (n <= C transitions, leaves [B, n, ...]) to the buffer of task
        ``tasks[b]`` [B], one row after another, so a task drawn twice keeps both in order."""
        n = batch.reward.shape[1]
        assert n <= self.capacity, (n, self.capacity)  # Else a row would overwrite itself.

        def write(buffers: TaskBuffers, row: tuple[jax.Array, Transitions]
                  ) -> tuple[TaskBuffers, None]:
            task, steps = row
            slots = (buffers.next[task] + jnp.arange(n)) % self.capacity
            data = jax.tree.map(lambda d, x: d.at[task, slots].set(x), buffers.data, steps)
            size = jnp.minimum(buffers.size[task] + n, self.capacity)
            return TaskBuffers(data=data, next=buffers.next.at[task].set(
                (slots[-1] + 1) % self.capacity), size=buffers.size.at[task].set(size)), None

        return jax.lax.scan(write, self, (tasks, batch))[0]

    def sample(self, key: jax.Array, task: jax.Array, n: int) -> Transitions:
        """``n`` transitions of task ``task`` (scalar int) drawn uniformly with replacement
        from what it holds (it must hold some) -> leaves [n, ...]."""
        slots = jax.random.randint(key, (n,), 0, jnp.maximum(self.size[task], 1))
        return jax.tree.map(lambda d: d[task, slots], self.data)
