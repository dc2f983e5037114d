"""Whole-train-state checkpoints with orbax: parameters, optimiser state, observation statistics,
PRNG key and counters, so a resumed run continues exactly (a params-only checkpoint would not)."""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from trmrl_jax.config import ConfigError


class Checkpointer:
    """An orbax ``CheckpointManager`` over ``workdir/checkpoints``, keeping the newest ``keep``.

    Orbax writes each step into a temporary folder and renames it when complete, so a process
    killed mid-save leaves the previous checkpoint as the newest complete one.
    """

    def __init__(self, workdir: str, keep: int):
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        # Synchronous saves: the state is small, and the next train step donates its buffers.
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True, enable_async_checkpointing=False))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: Any) -> None:
        self.manager.save(step, args=ocp.args.StandardSave(state))

    def restore(self, like: Any, step: int | None = None) -> Any:
        """Restores into the structure, dtypes and shardings of ``like``.

        A checkpoint whose tree does not fit ``like`` (written by another version of the code)
        is refused with a one-line ``ConfigError``; nothing in the workdir is touched.
        """
        step = self.latest_step() if step is None else step
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except ValueError as e:
            reason = str(e).strip().splitlines()[0].rstrip(":")
            raise ConfigError(
                f"checkpoint {step} in {self.directory!r} does not fit this version's train "
                f"state ({reason}); it was written by an older trmrl_jax: use another --workdir"
            ) from e

    def close(self) -> None:
        self.manager.close()


def has_checkpoint(workdir: str) -> bool:
    d = os.path.join(workdir, "checkpoints")
    return os.path.isdir(d) and any(name.isdigit() for name in os.listdir(d))
