"""A run's folder: whether it can be written, whether it holds a run this config may continue,
its ``config.json``, and the train state to continue from (the newest checkpoint that restores).

Every refusal is a ``ConfigError`` raised before anything in the folder is changed.
"""

from __future__ import annotations

import json
import os
import sys

from trmrl_jax.checkpoint import Checkpointer, DamagedCheckpoint, has_checkpoint
from trmrl_jax.config import Config, ConfigError
from trmrl_jax.distributed import barrier, is_primary, process_values, replicate
from trmrl_jax.learners import State
from trmrl_jax.step import Run, init_state

# Fields a resumed run may change; any other difference makes the workdir's run incompatible.
RESUMABLE_CHANGES = frozenset({
    "total_env_steps", "lr_decay_end", "eval_every", "log_every", "checkpoint_every",
    "keep_checkpoints", "eval_tasks", "eval_episodes", "ood", "workdir", "num_devices",
    "coordinator_address", "num_processes", "process_id", "coordinator_timeout_s", "resume"})


def workdir_problem(path: str) -> str | None:
    """Why ``path`` cannot be, or become, a writable folder, or None when it can: checked
    before a run writes anything (``validate`` does not, as ``evaluate`` may read a run it cannot
    write)."""
    path = os.path.abspath(path)
    if os.path.lexists(path) and not os.path.exists(path):
        return "is a broken link"
    if os.path.exists(path):
        if not os.path.isdir(path):
            return "is a file, not a folder"
        return None if os.access(path, os.W_OK | os.X_OK) else "is not writable"
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"lies under {parent!r}, which is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be created: {parent!r} is not writable"
    return None


def read_config_dict(workdir: str) -> dict | None:
    """The fields saved in ``workdir/config.json``, or None when there is none; a file that is
    not a JSON object (cut short by a full disk, say) is refused in one line."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            saved = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError):
        saved = None
    if not isinstance(saved, dict):
        raise ConfigError(f"{path!r} is damaged (not a JSON object of config fields); restore "
                          "it, or move the folder away and use another --workdir")
    return saved


def read_config(workdir: str) -> Config:
    """The ``Config`` of the run in ``workdir`` (``ConfigError`` when it has none or it is
    damaged)."""
    saved = read_config_dict(workdir)
    if saved is None:
        raise ConfigError(f"workdir={workdir!r} holds no config.json (experiments.train "
                          "writes it)")
    return Config.from_dict(saved)


def write_config(cfg: Config) -> None:
    """``config.json``, written aside and then renamed: another process may be reading it."""
    path = os.path.join(cfg.workdir, "config.json")
    with open(path + ".tmp", "w") as f:
        f.write(cfg.to_json())
    os.replace(path + ".tmp", path)


def check_workdir(cfg: Config) -> None:
    """Refuses a workdir that cannot be written or that holds a run of an incompatible config
    (before anything is written)."""
    problem = workdir_problem(cfg.workdir)
    if problem:
        raise ConfigError(f"workdir={cfg.workdir!r} {problem}; choose a writable folder")
    if not cfg.resume and has_checkpoint(cfg.workdir):
        raise ConfigError(f"workdir {cfg.workdir!r} holds checkpoints and resume=False; "
                          "use --resume to continue that run or another --workdir")
    saved = read_config_dict(cfg.workdir)
    if saved is None:
        return
    for name, value in cfg.to_dict().items():
        if name not in RESUMABLE_CHANGES and name in saved and saved[name] != value:
            raise ConfigError(
                f"workdir {cfg.workdir!r} holds a run with {name}={saved[name]!r}, not {value!r}; "
                "use another --workdir or the same config")
    before = Config.from_dict(saved)
    if _decays(before) and before.lr_decay_stop != cfg.lr_decay_stop:
        raise ConfigError(
            f"resuming with total_env_steps={cfg.total_env_steps} and lr_decay_end="
            f"{cfg.lr_decay_end} would move the end of the learning-rate decay from update "
            f"{before.lr_decay_stop} to {cfg.lr_decay_stop}; pass --lr_decay_end="
            f"{before.lr_decay_stop} to keep the schedule")


def _decays(cfg: Config) -> bool:
    return cfg.lr_final_fraction < 1.0 or cfg.value_lr_final_fraction < 1.0


def restore_or_init(run: Run, ckpt: Checkpointer, *, set_aside_damaged: bool = False
                    ) -> State:
    """The newest checkpoint of the workdir that restores, or a fresh state when it has none;
    replicated on the mesh.

    A damaged checkpoint (files that cannot be read) is reported in one line on stderr and
    skipped for the one before it; with ``set_aside_damaged`` (training, which will write that
    step again) it is moved to ``damaged_checkpoints/``, never deleted. A checkpoint of another
    version is refused (``ConfigError``), as is a workdir whose checkpoints are all damaged.
    """
    fresh = replicate(init_state(run), run.mesh)
    state, restored, damaged = fresh, None, []
    for step in reversed(ckpt.all_steps()):
        try:
            state, restored = ckpt.restore(fresh, step), step
            break
        except DamagedCheckpoint as e:
            damaged.append(e)
    if damaged and restored is None:  # Refused, nothing moved: starting afresh is the user's call.
        raise ConfigError(f"no checkpoint in {ckpt.directory!r} restores "
                          f"({'; '.join(map(str, damaged))}); move them away to start afresh, "
                          "or use another --workdir")
    for e in damaged:
        if is_primary():
            where = ckpt.set_aside(e.step) if set_aside_damaged else None
            print(f"warning: {e}; skipped, {f'moved to {where}' if where else 'left in place'}, "
                  f"using checkpoint {restored}", file=sys.stderr, flush=True)
    if set_aside_damaged:  # Every process then lists the same steps, whatever it saw itself.
        barrier("trmrl_jax_checkpoints_set_aside")
        ckpt.reload()
    steps = process_values(-1 if restored is None else restored)
    if len(set(steps)) > 1:
        raise ConfigError(f"the processes restored different checkpoints ({steps}); every "
                          f"process must see the same {ckpt.directory!r} (a shared file system)")
    return state
