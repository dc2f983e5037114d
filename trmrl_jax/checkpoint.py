"""Whole-train-state checkpoints with orbax: parameters, optimiser state, observation statistics,
PRNG key and counters, so a resumed run continues exactly (a params-only checkpoint would not).

Two ways a checkpoint can fail to restore are told apart: one whose saved tree does not fit this
version's train state (``ConfigError``: the workdir belongs to another version of the code), and
one whose files cannot be read (``DamagedCheckpoint``: truncated or missing files, as a full disk
or an interrupted copy leaves them), which the loop skips for the previous one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from typing import Any, Iterator

import jax
import numpy as np
import orbax.checkpoint as ocp

from trmrl_jax.config import ConfigError

DAMAGED_DIR = "damaged_checkpoints"  # Beside checkpoints/: where damaged steps are set aside.


class DamagedCheckpoint(Exception):
    """A checkpoint whose tree fits but whose files cannot be read."""

    def __init__(self, step: int, directory: str, reason: str):
        super().__init__(f"checkpoint {step} in {directory!r} is damaged ({reason})")
        self.step = step


def _reason(error: BaseException, limit: int = 200) -> str:
    """The first line of an error, without tensorstore's spec dump, at most ``limit`` long."""
    lines = str(error).strip().splitlines()
    text = (lines[0] if lines else "").split(" [tensorstore_spec=")[0].rstrip(":")
    text = f"{type(error).__name__}: {text}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _OrbaxErrors(logging.Filter):
    """Drops orbax's ERROR lines (the loop reports a damaged step in one line of its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "orbax" not in record.pathname


@contextlib.contextmanager
def _orbax_errors_hidden() -> Iterator[None]:
    """Orbax's ERROR lines are hidden while it opens and reads checkpoints."""
    hide = _OrbaxErrors()
    logger = logging.getLogger("absl")
    logger.addFilter(hide)
    try:
        yield
    finally:
        logger.removeFilter(hide)


def _misfit(saved: Any, like: Any) -> str | None:
    """The first leaf where the saved tree (orbax metadata) and ``like`` differ, or None."""
    on_disk, wanted = ocp.tree.to_flat_dict(saved), ocp.tree.to_flat_dict(like)
    for key in sorted(set(on_disk) | set(wanted), key=lambda k: tuple(map(str, k))):
        name = "/".join(map(str, key))
        if key not in on_disk:
            return f"{name} is missing"
        if key not in wanted:
            return f"{name} is not part of this version's state"
        s, w = on_disk[key], wanted[key]
        if tuple(s.shape) != tuple(w.shape) or np.dtype(s.dtype) != np.dtype(w.dtype):
            return (f"{name} is {np.dtype(s.dtype)}{list(s.shape)}, "
                    f"not {np.dtype(w.dtype)}{list(w.shape)}")
    return None


class Checkpointer:
    """An orbax ``CheckpointManager`` over ``workdir/checkpoints``, keeping the newest ``keep``.

    Orbax writes each step into a temporary folder and renames it when complete, so a process
    killed mid-save leaves the previous checkpoint as the newest complete one.
    """

    def __init__(self, workdir: str, keep: int):
        self.workdir = os.path.abspath(workdir)
        self.directory = os.path.join(self.workdir, "checkpoints")
        # Synchronous saves: the state is small, and the next train step donates its buffers.
        with _orbax_errors_hidden():
            self.manager = ocp.CheckpointManager(
                self.directory, item_handlers=ocp.StandardCheckpointHandler(),
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=keep, create=True, enable_async_checkpointing=False))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        """Every complete checkpoint's step, oldest first."""
        return sorted(self.manager.all_steps())

    def save(self, step: int, state: Any) -> None:
        self.manager.save(step, args=ocp.args.StandardSave(state))

    def restore(self, like: Any, step: int) -> Any:
        """Restores checkpoint ``step`` into the structure, dtypes and shardings of ``like``.

        Raises ``ConfigError`` (one line) when the checkpoint's tree does not fit ``like``: it was
        written by another version of the code. Raises ``DamagedCheckpoint`` when its files
        cannot be read. Either way nothing in the workdir is touched.
        """
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        with _orbax_errors_hidden():
            try:
                metadata = self.manager.item_metadata(step)
            except Exception as e:  # Any unreadable metadata file (JSON, OCDBT, missing).
                raise DamagedCheckpoint(step, self.directory,
                                        f"its metadata cannot be read: {_reason(e)}") from e
            tree = getattr(metadata, "tree", None)
            if tree is None:
                raise DamagedCheckpoint(step, self.directory, "it has no readable tree metadata")
            misfit = _misfit(tree, abstract)
            if misfit:
                raise ConfigError(
                    f"checkpoint {step} in {self.directory!r} does not fit this version's train "
                    f"state ({misfit}); it was written by another version of trmrl_jax: use "
                    "another --workdir")
            try:
                return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
            except Exception as e:  # Truncated or missing array files.
                raise DamagedCheckpoint(step, self.directory, _reason(e)) from e

    def set_aside(self, step: int) -> str:
        """Moves a damaged step out of ``checkpoints/`` into ``damaged_checkpoints/`` (kept for
        inspection, never deleted), so the run can write that step again; returns where."""
        target = os.path.join(self.workdir, DAMAGED_DIR, str(step))
        suffix = 1
        while os.path.exists(target):
            target = os.path.join(self.workdir, DAMAGED_DIR, f"{step}.{suffix}")
            suffix += 1
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(os.path.join(self.directory, str(step)), target)
        return target

    def reload(self) -> None:
        """Re-reads the steps on disk (after ``set_aside``, here or on another process)."""
        with _orbax_errors_hidden():
            self.manager.reload()

    def close(self) -> None:
        self.manager.close()


def has_checkpoint(workdir: str) -> bool:
    d = os.path.join(workdir, "checkpoints")
    return os.path.isdir(d) and any(name.isdigit() for name in os.listdir(d))
