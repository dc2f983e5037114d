"""Training: ``train(config)`` and the host loop around the compiled step (resume, log,
checkpoint, stop on divergence or on a signal, meta-test).

Nothing here runs inside the step; between steps the host only reads a small dict of scalars.
The run log, stop signals, the run folder and the meta-test live in ``runlog``, ``signals``,
``workdir`` and ``evaluate``.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Sequence

import jax
import numpy as np

from trmrl_jax.checkpoint import Checkpointer
from trmrl_jax.config import Config
from trmrl_jax.distributed import initialize, is_primary
from trmrl_jax.evaluate import evaluate_seeds, write_results
from trmrl_jax.faults import PhysicsFault, fault_message
from trmrl_jax.learners import State
from trmrl_jax.runlog import (
    MetricsLog,
    Progress,
    metrics_row,
    results_scalars,
    write_learning_curve,
)
from trmrl_jax.signals import StopSignals
from trmrl_jax.step import Run, make_train_step
from trmrl_jax.workdir import check_workdir, restore_or_init, write_config


class TrainingDiverged(RuntimeError):
    """The loss or the parameters stopped being finite."""


class TrainingStopped(Exception):
    """SIGTERM or SIGINT stopped the run between two updates, after checkpointing the last one;
    running the same command again continues it exactly."""


Callback = Callable[[int, dict, State], None]


def _eval_row(run: Run, state: State) -> dict:
    """A meta-test on test tasks during training: the points of a learning curve."""
    res = evaluate_seeds(run, jax.device_get(state), num_tasks=run.cfg.eval_tasks,
                         episodes_per_trial=run.cfg.eval_episodes, splits=("test",))
    row = {"eval_test_returns_per_episode": res["test"]["returns_per_episode"],
           "eval_test_return_per_seed": [float(np.mean(r["test"]["returns_per_episode"]))
                                         for r in res.get("per_seed", [res])]}
    if "success_per_episode" in res["test"]:
        row["eval_test_success_per_episode"] = res["test"]["success_per_episode"]
    return row


def _diverged(cfg: Config, update: int, finite: np.ndarray, last_saved: int, where: str) -> str:
    """The divergence message, naming the seeds whose loss or parameters are not finite."""
    seeds = [cfg.seed + i for i in np.flatnonzero(np.asarray(finite) == 0)]
    which = (f"seed {seeds[0]}" if cfg.num_seeds == 1 else
             f"seed(s) {', '.join(map(str, seeds))} of {cfg.seed}..{cfg.seed + cfg.num_seeds - 1}"
             " (the whole run stops: its seeds share one program and one checkpoint)")
    return (f"loss or parameters became non-finite at update {update} "
            f"(env step {update * cfg.steps_per_update}) for {which}; the last good checkpoint "
            f"(update {last_saved}) is kept in {where}")


def _faulted(run: Run, update: int, fault_at: np.ndarray, last_saved: int, where: str) -> str:
    """The physics-fault message of an update, from its ``fault_at`` [S] (``trial * T + step``
    of the first fault of each seed, -1: none; ``learners.base.fault_index``)."""
    cfg = run.cfg
    seed = int(np.flatnonzero(np.asarray(fault_at) >= 0)[0])
    trial, step = divmod(int(fault_at[seed]), cfg.trial_length)
    return (fault_message(run.env, f"at update {update} (env step {update * cfg.steps_per_update})"
                          f" for seed {cfg.seed + seed}", trial, cfg.num_tasks, step,
                          cfg.episode_length, run.worlds)
            + f"; the last good checkpoint (update {last_saved}) is kept in {where}")


def _stopped(signal_name: str, when: str, last_saved: int, where: str) -> TrainingStopped:
    saved = f"checkpoint {last_saved} is in {where}" if last_saved else "nothing to checkpoint yet"
    return TrainingStopped(f"stopped by {signal_name} {when}; {saved}; run the same command to "
                           "continue")


def run_training(run: Run, *, progress: bool = True, callbacks: Sequence[Callback] = ()
                 ) -> tuple[State, list[dict]]:
    """Every process runs the same steps; process 0 alone writes logs, results and plots.
    Every process takes part in checkpoint saves, as orbax requires.

    Each callback is called on every process after every update as ``callback(update, row,
    state)``: ``row`` is the metrics row of that update (``metrics.jsonl``'s keys, means over
    seeds; ``eval_test_*`` when a meta-test was due), ``state`` a host copy of the whole
    ``State`` (leaves [num_seeds, ...]).

    Raises ``TrainingStopped`` after SIGTERM/SIGINT (checkpoint written, logs flushed, no
    meta-test), ``TrainingDiverged`` when a seed's loss or parameters stop being finite, and
    ``faults.PhysicsFault`` when the physics flagged a step (the update's results are dropped).
    """
    cfg = run.cfg
    check_workdir(cfg)
    with StopSignals() as stop:  # From the start: a signal while compiling stops before update 1.
        return _train(run, stop, progress, callbacks)


def _train(run: Run, stop: StopSignals, progress: bool, callbacks: Sequence[Callback]
           ) -> tuple[State, list[dict]]:
    """``run_training`` inside its signal handlers: resume, compile, update, meta-test."""
    cfg = run.cfg
    primary = is_primary()
    ckpt = Checkpointer(cfg.workdir, cfg.keep_checkpoints)
    # Before config.json: a refused checkpoint changes nothing.
    state = restore_or_init(run, ckpt, set_aside_damaged=True)
    if primary:
        write_config(cfg)
    start = int(np.asarray(state.update)[0])
    log = MetricsLog(cfg, start) if primary else None

    t0 = time.perf_counter()
    if start < cfg.num_updates:  # A finished run only meta-tests again: nothing to compile.
        step = make_train_step(run).lower(state).compile()
    compile_s = time.perf_counter() - t0

    shown = (Progress(cfg, start, sys.stdout.isatty(), run.env.backend)
             if progress and primary else None)
    history: list[dict] = []
    last_saved = start
    finished = False
    try:
        for update in range(start + 1, cfg.num_updates + 1):
            signalled = stop.agreed()
            if signalled:
                if update - 1 > last_saved:
                    ckpt.save(update - 1, state)
                    last_saved = update - 1
                raise _stopped(signalled, f"after update {update - 1} of {cfg.num_updates}",
                               last_saved, ckpt.directory)
            t = time.perf_counter()
            new_state, metrics = step(state)
            metrics = jax.device_get(metrics)
            dt = time.perf_counter() - t
            if np.any(metrics.get("fault_at", -1) >= 0):  # Before the loss it may have spoiled.
                raise PhysicsFault(_faulted(run, update, metrics["fault_at"], last_saved,
                                            ckpt.directory))
            if not np.all(metrics["finite"]):
                raise TrainingDiverged(_diverged(cfg, update, metrics["finite"], last_saved,
                                                 ckpt.directory))
            state = new_state
            due_eval = bool(cfg.eval_every) and update % cfg.eval_every == 0
            due_log = due_eval or update % cfg.log_every == 0 or update == cfg.num_updates
            row = metrics_row(cfg, update, metrics, dt, time.perf_counter() - t0)
            if due_log:
                if update == start + 1:
                    row["compile_s"] = compile_s
                if primary and due_eval:
                    row.update(_eval_row(run, state))
                if log is not None:
                    log.write(row)
                history.append(row)
            if shown is not None:
                shown.update(update, row if due_log else None)
            if callbacks:
                host_state = jax.device_get(state)  # The next step donates the device buffers.
                for callback in callbacks:
                    callback(update, row, host_state)
            if update % cfg.checkpoint_every == 0 or update == cfg.num_updates:
                ckpt.save(update, state)
                last_saved = update
        signalled = stop.agreed()
        if signalled:
            raise _stopped(signalled, "before the final meta-test", last_saved, ckpt.directory)

        if primary:  # The meta-test runs on process 0's own device, from a host copy of the state.
            ood = cfg.ood and run.env.has_ood
            splits = ("train", "test", "ood") if ood else ("train", "test")
            results = evaluate_seeds(run, jax.device_get(state), num_tasks=cfg.eval_tasks,
                                     episodes_per_trial=cfg.eval_episodes, splits=splits,
                                     references=True)
            results["env_steps"] = cfg.num_updates * cfg.steps_per_update
            write_results(results, cfg.workdir, title=f"{cfg.agent} on {cfg.env}")
            log.scalars(results_scalars(results), results["env_steps"])
            write_learning_curve(cfg, results)
        finished = True
    finally:
        if shown is not None:
            shown.close()
        if log is not None:
            log.close(finished)
        ckpt.close()
    return state, history


def train(cfg: Config, *, progress: bool = True, callbacks: Sequence[Callable] = ()
          ) -> tuple[State, list[dict]]:
    """Trains ``cfg`` (resuming from ``cfg.workdir`` when it holds a checkpoint), meta-tests the
    final parameters, and returns the final state and the logged metrics.

    ``callbacks``: functions called after every update as ``callback(update, metrics, state)``
    (``metrics``: that update's row of ``metrics.jsonl``; ``state``: a host copy of the
    ``State``, leaves [num_seeds, ...]); see ``run_training``.
    """
    initialize(cfg)  # Multi-process runs join the coordinator before anything else.
    return run_training(Run.create(cfg), progress=progress, callbacks=callbacks)
