"""Host threads that step a batch of MuJoCo worlds for a ``jax.pure_callback``.

The C-engine simulators (``physics.mujoco_c`` for Gym's bodies, ``physics.sawyer.mujoco_c`` for
Meta-World's scenes) hand the whole batch of worlds to the host in one callback and step it
here; MuJoCo releases the GIL while it computes, so threads use every core.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
from typing import Callable, Generic, Iterator, Sequence, TypeVar

import mujoco
import numpy as np

Slot = TypeVar("Slot")
# MuJoCo's warnings that mean a step's physics is wrong: the C engine resets the data on a bad
# position, velocity or acceleration, zeroes a non-finite control, and drops contacts or
# constraints that do not fit its arena, each time going on as if nothing happened.
FAULTS = (mujoco.mjtWarning.mjWARN_BADQACC, mujoco.mjtWarning.mjWARN_BADQPOS,
          mujoco.mjtWarning.mjWARN_BADQVEL, mujoco.mjtWarning.mjWARN_BADCTRL,
          mujoco.mjtWarning.mjWARN_CONTACTFULL, mujoco.mjtWarning.mjWARN_CNSTRFULL)


def default_threads() -> int:
    """Host threads for the C engine: the cores this process may run on (``taskset`` and
    cgroups narrow them), not every core of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def clear_faults(d: mujoco.MjData) -> None:
    """Zeroes the counts of ``FAULTS`` in ``d``, before the steps ``faulted`` asks about."""
    for w in FAULTS:
        d.warning[w].number = 0


def faulted(d: mujoco.MjData) -> bool:
    """Whether MuJoCo warned of one of ``FAULTS`` since ``clear_faults``."""
    return any(d.warning[w].number > 0 for w in FAULTS)


class Workers:
    """``threads`` host threads that step a batch of worlds in contiguous chunks (MuJoCo releases
    the GIL while it computes)."""

    def __init__(self, threads: int):
        self.threads = threads
        self._pool = concurrent.futures.ThreadPoolExecutor(threads) if threads > 1 else None

    def run(self, world: Callable[[int], None], count: int, locks: Sequence[threading.Lock],
            order: np.ndarray | None = None) -> None:
        """Calls ``world(i)`` for every world i < ``count``, in chunks of ``order`` (a
        permutation of the worlds; default: their order), holding ``locks`` (in their order):
        devices of one process may call back at once."""
        chunks = np.array_split(np.arange(count) if order is None else order, self.threads)

        def chunk(t: int) -> None:
            for i in chunks[t]:
                world(i)

        with contextlib.ExitStack() as stack:
            for lock in locks:
                stack.enter_context(lock)
            if self._pool is None:
                chunk(0)
            else:
                list(self._pool.map(chunk, range(self.threads)))


class Slots(Generic[Slot]):
    """Working copies (an ``MjData``, and a model where a world writes into it) that a thread
    borrows to step one world: a free one, or a new one from ``make`` when every one is in use.
    So a simulator holds as many as threads step it at once, not one per thread or per world."""

    def __init__(self, make: Callable[[], Slot]):
        self.free: list[Slot] = []
        self._make = make

    @contextlib.contextmanager
    def take(self) -> Iterator[Slot]:
        """Borrows a slot for the ``with`` block; it is free again after."""
        try:
            slot = self.free.pop()  # Atomic: threads may take slots at once.
        except IndexError:
            slot = self._make()
        try:
            yield slot
        finally:
            self.free.append(slot)
