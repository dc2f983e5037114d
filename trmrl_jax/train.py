"""Training: ``train(config)`` and the host loop around the compiled step (resume, log,
checkpoint, stop on divergence or on a signal, meta-test).

Nothing here runs inside the step; between steps the host only reads a small dict of scalars.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np

from trmrl_jax.checkpoint import Checkpointer, DamagedCheckpoint, has_checkpoint
from trmrl_jax.config import Config, ConfigError, workdir_problem
from trmrl_jax.distributed import barrier, initialize, is_primary, process_values, replicate
from trmrl_jax.envs import SPLITS
from trmrl_jax.evaluate import meta_test, random_policy_levels, summarize, write_results
from trmrl_jax.plots import plot_learning_curves
from trmrl_jax.stats import summarize_seeds
from trmrl_jax.step import Run, TrainState, init_state, make_train_step

EVAL_SEED = 20221  # Fixed: every run and agent is meta-tested on the same held-out tasks.
# Fields a resumed run may change; any other difference makes the workdir's run incompatible.
RESUMABLE_CHANGES = frozenset({
    "total_env_steps", "lr_decay_end", "eval_every", "log_every", "checkpoint_every",
    "keep_checkpoints", "eval_tasks", "eval_episodes", "ood", "workdir", "num_devices",
    "coordinator_address", "num_processes", "process_id", "coordinator_timeout_s", "resume"})


class TrainingDiverged(RuntimeError):
    """The loss or the parameters stopped being finite."""


class TrainingStopped(Exception):
    """SIGTERM or SIGINT stopped the run between two updates, after checkpointing the last one;
    running the same command again continues it exactly."""


def check_workdir(cfg: Config) -> None:
    """Refuses a workdir that cannot be written or that holds a run of an incompatible config
    (before anything is written)."""
    problem = workdir_problem(cfg.workdir)
    if problem:
        raise ConfigError(f"workdir={cfg.workdir!r} {problem}; choose a writable folder")
    if not cfg.resume and has_checkpoint(cfg.workdir):
        raise ConfigError(f"workdir {cfg.workdir!r} holds checkpoints and resume=False; "
                          "use --resume to continue that run or another --workdir")
    path = os.path.join(cfg.workdir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        saved = json.load(f)
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


def _scalars(metrics: dict) -> tuple[dict, dict]:
    """Seed-stacked metrics -> (means over seeds, per-seed lists)."""
    mean = {k: np.mean(v, axis=0).tolist() for k, v in metrics.items() if k != "finite"}
    return mean, {k: np.asarray(v).tolist() for k, v in metrics.items() if k != "finite"}


def tensorboard_scalars(row: dict) -> dict[str, float]:
    """A ``metrics.jsonl`` row -> TensorBoard scalars: lists become one tag per episode
    (1-based, ``eval/test/episode_2``) or per seed, so no curve is dropped."""
    out: dict[str, float] = {}
    for key, value in row.items():
        if key in ("update", "env_steps"):
            continue
        if key == "train_return_per_episode":
            out.update({f"train/return/episode_{i + 1}": v for i, v in enumerate(value)})
        elif key == "eval_test_returns_per_episode":
            out.update({f"eval/test/episode_{i + 1}": v for i, v in enumerate(value)})
            out["eval/test/mean"] = float(np.mean(value))
        elif key == "eval_test_return_per_seed":
            out.update({f"eval/test/seed_{s}": v for s, v in enumerate(value)})
        elif key == "per_seed":
            out.update({f"per_seed/{name}/seed_{s}": v for name, values in value.items()
                        if np.ndim(values) == 1 for s, v in enumerate(values)})
        elif isinstance(value, (int, float)):
            out["train/return" if key == "train_return" else key] = value
        elif isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
            out.update({f"{key}/{i}": v for i, v in enumerate(value)})
    return out


def results_scalars(results: dict) -> dict[str, float]:
    """An ``eval.json`` dict -> ``eval/{split}/episode_{k}``, ``eval/{split}/mean`` and, with
    several seeds, ``eval/{split}/seed_{s}`` (each seed's mean over episodes)."""
    out: dict[str, float] = {}
    for split in SPLITS:
        if split not in results:
            continue
        curve = results[split]["returns_per_episode"]
        out.update({f"eval/{split}/episode_{i + 1}": v for i, v in enumerate(curve)})
        out[f"eval/{split}/mean"] = float(np.mean(curve))
        for s, seed in enumerate(results.get("per_seed", [])):
            out[f"eval/{split}/seed_{s}"] = float(np.mean(seed[split]["returns_per_episode"]))
    for name, levels in results.get("reference", {}).items():
        out.update({f"reference/{name}/{split}": v for split, v in levels.items()})
    return out


def cut_metrics(path: str, last_update: int) -> None:
    """Keeps the rows of ``path`` up to ``last_update``: a resumed run continues after it and
    never duplicates a row. Written aside, then renamed over the log, so a kill at any moment
    leaves the whole old log or the whole new one. A line that does not parse (the torn end of
    an append cut by a kill) is dropped."""
    with open(path) as f:
        lines = f.readlines()
    keep = []
    for line in lines:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("update", 0) <= last_update:
            keep.append(line if line.endswith("\n") else line + "\n")
    if keep == lines:
        return
    with open(path + ".tmp", "w") as f:
        f.writelines(keep)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


class MetricsLog:
    """``metrics.jsonl`` (one object per logged update) plus TensorBoard events: every scalar,
    the per-episode curves, the configuration as text and as hparams."""

    def __init__(self, cfg: Config, resume_update: int):
        self.path = os.path.join(cfg.workdir, "metrics.jsonl")
        if os.path.exists(self.path):
            cut_metrics(self.path, resume_update)
        from tensorboardX import SummaryWriter
        from tensorboardX.summary import hparams

        self.writer = SummaryWriter(os.path.join(cfg.workdir, "tensorboard"))
        table = "\n".join(["| field | value |", "|---|---|"]
                          + [f"| {k} | `{v}` |" for k, v in cfg.to_dict().items()])
        self.writer.add_text("config", table, resume_update * cfg.steps_per_update)
        experiment, start, self._end = hparams(
            cfg.to_dict(), {"eval/test/mean": 0.0, "train/return": 0.0})
        self.writer.file_writer.add_summary(experiment)
        self.writer.file_writer.add_summary(start)

    def write(self, row: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        self.scalars(tensorboard_scalars(row), row["env_steps"])

    def scalars(self, values: dict[str, float], env_steps: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, env_steps)
        self.writer.flush()

    def close(self, finished: bool = False) -> None:
        if finished:  # Marks the hparams session complete.
            self.writer.file_writer.add_summary(self._end)
        self.writer.close()


def evaluate_seeds(run: Run, state: TrainState, *, num_tasks: int, episodes: int,
                   splits: tuple[str, ...], references: bool = False) -> dict:
    """Meta-tests every seed (vmapped, one program); the split records pool seeds and tasks,
    ``per_seed`` keeps them; each has ``reward_per_step`` [episodes * episode_length], the mean
    reward at every step of the trial (how fast the agent adapts within an episode).
    ``references``: also ``reference.random``, the return per episode of uniformly random
    actions on the same tasks (the level an agent must beat)."""
    cfg = run.cfg
    tests = meta_test(run.env, run.agent, state.params, state.obs_stats,
                      key=jax.random.PRNGKey(EVAL_SEED), num_tasks=num_tasks,
                      episode_length=cfg.episode_length, episodes=episodes,
                      normalize_obs=cfg.normalize_obs, splits=splits,
                      reset_inputs_each_episode=cfg.reset_memory_each_episode)
    per_seed = [{split: dict(summarize(t.returns[i]), reward_per_step=t.reward_per_step[i].tolist())
                 for split, t in tests.items()} for i in range(cfg.num_seeds)]
    out = {}
    for split in splits:
        curves = np.asarray([r[split]["returns_per_episode"] for r in per_seed])
        pooled = dict(per_seed[0][split]) if cfg.num_seeds == 1 else dict(
            summarize_seeds(curves), num_tasks=num_tasks,
            std_over="seeds (each seed's curve is its mean over tasks)",
            reward_per_step=tests[split].reward_per_step.mean(0).tolist())
        out[split] = pooled
    if cfg.num_seeds > 1:
        out["per_seed"] = per_seed
    if references:
        out["reference"] = {"random": random_policy_levels(
            run.env, key=jax.random.PRNGKey(EVAL_SEED), num_tasks=num_tasks,
            episode_length=cfg.episode_length, episodes=episodes, splits=splits)}
    return out


def restore_or_init(run: Run, ckpt: Checkpointer, *, set_aside_damaged: bool = False
                    ) -> TrainState:
    """The newest checkpoint of the workdir that restores, or a fresh state when it has none;
    replicated on the mesh.

    A damaged checkpoint (files that cannot be read) is reported in one line on stderr and
    skipped for the one before it; with ``set_aside_damaged`` (training, which will write that
    step again) it is moved to ``damaged_checkpoints/``, never deleted. A checkpoint of another
    version is refused (``ConfigError``), as is a workdir whose checkpoints are all damaged.
    """
    fresh = replicate(init_state(run.cfg, run.env, run.agent), run.mesh)
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


def _row(run: Run, update: int, metrics: dict, dt: float, elapsed: float) -> dict:
    cfg = run.cfg
    mean, per_seed = _scalars(metrics)
    row = {"update": update, "env_steps": update * cfg.steps_per_update,
           "sps": cfg.num_seeds * cfg.steps_per_update / dt, "time_s": elapsed, **mean}
    if cfg.num_seeds > 1:
        row["per_seed"] = per_seed
    return row


def _eval_row(run: Run, state: TrainState) -> dict:
    """A meta-test on test tasks during training: the points of a learning curve."""
    res = evaluate_seeds(run, jax.device_get(state), num_tasks=run.cfg.eval_tasks,
                         episodes=run.cfg.eval_episodes, splits=("test",))
    return {"eval_test_returns_per_episode": res["test"]["returns_per_episode"],
            "eval_test_return_per_seed": [float(np.mean(r["test"]["returns_per_episode"]))
                                          for r in res.get("per_seed", [res])]}


def write_learning_curve(cfg: Config, results: dict) -> None:
    """``learning_curve.png`` of the whole run (every row of ``metrics.jsonl``, resumed parts
    included), ending with the final meta-test on test tasks."""
    with open(os.path.join(cfg.workdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    per_seed = results.get("per_seed", [results])
    final = {"env_steps": results["env_steps"], "eval_test_return_per_seed": [
        float(np.mean(r["test"]["returns_per_episode"])) for r in per_seed]}
    if not rows or rows[-1].get("eval_test_return_per_seed") is None:
        rows.append(final)  # Else the last update's meta-test is this one: same tasks, same seed.
    plot_learning_curves({cfg.agent: rows}, os.path.join(cfg.workdir, "learning_curve.png"),
                         title=f"{cfg.agent} on {cfg.env}")


Callback = Callable[[int, dict, TrainState], None]


class Progress:
    """What a person watching sees: a progress bar on a terminal; otherwise (batch jobs, logs
    piped to a file) one plain line per logged update, with no carriage returns."""

    def __init__(self, cfg: Config, start: int, interactive: bool):
        self.cfg, self.start = cfg, start
        self.bar = None
        self.t0 = time.perf_counter()
        if interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=cfg.num_updates * cfg.steps_per_update, unit="step",
                            unit_scale=True, initial=start * cfg.steps_per_update,
                            desc=f"{cfg.agent}/{cfg.env}")

    def update(self, update: int, row: dict | None) -> None:
        """Called after every update; ``row`` is the logged row, or None when none was due."""
        if self.bar is not None:
            if row is not None:
                self.bar.set_postfix(sps=f"{row['sps']:.0f}", ret=f"{row['train_return']:.2f}")
            self.bar.update(self.cfg.steps_per_update)
        elif row is not None:
            print(self.line(update, row), flush=True)

    def line(self, update: int, row: dict) -> str:
        cfg = self.cfg
        total = cfg.num_updates * cfg.steps_per_update
        per_update = (time.perf_counter() - self.t0) / (update - self.start)
        eta = round(per_update * (cfg.num_updates - update))
        done = row["env_steps"]
        parts = [f"{cfg.agent}/{cfg.env} update {update}/{cfg.num_updates}",
                 f"env steps {done:,}/{total:,} ({100 * done / total:.0f}%)",
                 f"{row['sps']:,.0f} steps/s", f"return {row['train_return']:.2f}"]
        if "eval_test_returns_per_episode" in row:
            parts.append(f"meta-test {np.mean(row['eval_test_returns_per_episode']):.2f}")
        if "compile_s" in row:
            parts.append(f"compile {row['compile_s']:.0f} s")
        return " | ".join(parts + [f"ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}"])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class StopSignals:
    """While active, SIGTERM and SIGINT (what a cluster sends before it kills a job, and Ctrl-C)
    ask the loop to stop between updates; a second one ends the process at once with status
    128 + its number (143 for SIGTERM, 130 for SIGINT), leaving the last checkpoint as it is.
    Signals within ``BURST_S`` of the first count as that one: ``timeout`` and some schedulers
    signal the process and then its whole process group, which delivers the same SIGTERM twice
    within microseconds.

    A Python signal handler runs only when the main thread next runs Python code, which can be
    minutes away inside a compiled step; so the handlers do nothing themselves, and a thread
    reads the signal numbers that Python's C-level handler writes to the wakeup socket the
    moment a signal arrives. Handlers can only be set from the main thread; elsewhere signals
    keep their own.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)
    BURST_S = 1.0

    def __init__(self) -> None:
        self.received = 0  # The first signal's number, 0 while none came.
        self._received_at = 0.0  # time.monotonic() of the first signal.
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is not threading.main_thread():
            return self
        reader, writer = self._sockets = socket.socketpair()
        writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, lambda signum, frame: None) for s in self.SIGNALS}
        self._thread = threading.Thread(target=self._watch, args=(reader,), daemon=True,
                                        name="trmrl_jax-stop-signals")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sockets is None:
            return
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        signal.set_wakeup_fd(self._previous_fd)
        reader, writer = self._sockets
        writer.close()  # The watching thread reads the end of the stream and returns.
        if self._thread is not None:
            self._thread.join()
        reader.close()

    def _watch(self, reader: socket.socket) -> None:
        while data := reader.recv(64):
            for signum in data:
                if signum not in self.SIGNALS:
                    continue
                name = signal.Signals(signum).name
                if self.received:
                    if time.monotonic() - self._received_at < self.BURST_S:
                        continue
                    os.write(2, f"\n{name} received again: stopping at once\n".encode())
                    os._exit(128 + signum)
                self.received, self._received_at = signum, time.monotonic()
                os.write(2, f"\n{name} received: stopping after this update with a checkpoint; "
                            "a second signal stops at once\n".encode())

    def agreed(self) -> str | None:
        """The name of a signal some process received (the lowest such process's), else None.
        Every process calls it between the same two updates, so all stop after the same one."""
        received = process_values(self.received)
        first = next((r for r in received if r), 0)
        if not first:
            return None
        name = signal.Signals(first).name
        return name if len(received) == 1 else f"{name} (process {received.index(first)})"


def _diverged(cfg: Config, update: int, finite: np.ndarray, last_saved: int, where: str) -> str:
    """The divergence message, naming the seeds whose loss or parameters are not finite."""
    seeds = [cfg.seed + i for i in np.flatnonzero(np.asarray(finite) == 0)]
    which = (f"seed {seeds[0]}" if cfg.num_seeds == 1 else
             f"seed(s) {', '.join(map(str, seeds))} of {cfg.seed}..{cfg.seed + cfg.num_seeds - 1}"
             " (the whole run stops: its seeds share one program and one checkpoint)")
    return (f"loss or parameters became non-finite at update {update} "
            f"(env step {update * cfg.steps_per_update}) for {which}; the last good checkpoint "
            f"(update {last_saved}) is kept in {where}")


def _stopped(signal_name: str, when: str, last_saved: int, where: str) -> TrainingStopped:
    saved = f"checkpoint {last_saved} is in {where}" if last_saved else "nothing to checkpoint yet"
    return TrainingStopped(f"stopped by {signal_name} {when}; {saved}; run the same command to "
                           "continue")


def run_training(run: Run, *, progress: bool = True, callbacks: Sequence[Callback] = ()
                 ) -> tuple[TrainState, list[dict]]:
    """Every process runs the same steps; process 0 alone writes logs, results and plots.
    Every process takes part in checkpoint saves, as orbax requires.

    Each callback is called on every process after every update as ``callback(update, row,
    state)``: ``row`` is the metrics row of that update (``metrics.jsonl``'s keys, means over
    seeds; ``eval_test_*`` when a meta-test was due), ``state`` a host copy of the whole
    ``TrainState`` (leaves [num_seeds, ...]).

    Raises ``TrainingStopped`` after SIGTERM/SIGINT (checkpoint written, logs flushed, no
    meta-test) and ``TrainingDiverged`` when a seed's loss or parameters stop being finite.
    """
    cfg = run.cfg
    check_workdir(cfg)
    with StopSignals() as stop:  # From the start: a signal while compiling stops before update 1.
        return _train(run, stop, progress, callbacks)


def _train(run: Run, stop: StopSignals, progress: bool, callbacks: Sequence[Callback]
           ) -> tuple[TrainState, list[dict]]:
    """``run_training`` inside its signal handlers: resume, compile, update, meta-test."""
    cfg = run.cfg
    primary = is_primary()
    ckpt = Checkpointer(cfg.workdir, cfg.keep_checkpoints)
    # Before config.json: a refused checkpoint changes nothing.
    state = restore_or_init(run, ckpt, set_aside_damaged=True)
    if primary:
        # Written aside, then renamed: another process's check_workdir may be reading it.
        path = os.path.join(cfg.workdir, "config.json")
        with open(path + ".tmp", "w") as f:
            f.write(cfg.to_json())
        os.replace(path + ".tmp", path)
    start = int(np.asarray(state.update)[0])
    log = MetricsLog(cfg, start) if primary else None

    t0 = time.perf_counter()
    if start < cfg.num_updates:  # A finished run only meta-tests again: nothing to compile.
        step = make_train_step(cfg, run.env, run.agent, run.mesh).lower(state).compile()
    compile_s = time.perf_counter() - t0

    shown = Progress(cfg, start, sys.stdout.isatty()) if progress and primary else None
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
            if not np.all(metrics["finite"]):
                raise TrainingDiverged(_diverged(cfg, update, metrics["finite"], last_saved,
                                                 ckpt.directory))
            state = new_state
            due_eval = bool(cfg.eval_every) and update % cfg.eval_every == 0
            due_log = due_eval or update % cfg.log_every == 0 or update == cfg.num_updates
            row = _row(run, update, metrics, dt, time.perf_counter() - t0)
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
                                     episodes=cfg.eval_episodes, splits=splits, references=True)
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
          ) -> tuple[TrainState, list[dict]]:
    """Trains ``cfg`` (resuming from ``cfg.workdir`` when it holds a checkpoint), meta-tests the
    final parameters, and returns the final state and the logged metrics.

    ``callbacks``: functions called after every update as ``callback(update, metrics, state)``
    (``metrics``: that update's row of ``metrics.jsonl``; ``state``: a host copy of the
    ``TrainState``, leaves [num_seeds, ...]); see ``run_training``.
    """
    initialize(cfg)  # Multi-process runs join the coordinator before anything else.
    return run_training(Run.create(cfg), progress=progress, callbacks=callbacks)
