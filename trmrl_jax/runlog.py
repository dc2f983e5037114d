"""The run log: ``metrics.jsonl`` (one row per logged update), TensorBoard events, the progress
a person watching sees, and the learning-curve figure.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from trmrl_jax.config import Config
from trmrl_jax.envs import SPLITS
from trmrl_jax.plots import plot_learning_curves

_GUARDS = ("finite", "fault_at")  # What the host loop checks, not what it logs.
# A row's per-episode curves -> their TensorBoard prefix (``eval/test/episode_2``); the
# meta-test's also get their mean over episodes (``eval/test/mean``).
_CURVES = {"train_return_per_episode": "train/return",
           "train_success_per_episode": "train/success",
           "eval_test_returns_per_episode": "eval/test",
           "eval_test_success_per_episode": "eval/test/success"}
_SCALARS = {"train_return": "train/return", "train_success": "train/success"}


def seed_scalars(metrics: dict) -> tuple[dict, dict]:
    """Seed-stacked metrics -> (means over seeds, per-seed lists)."""
    logged = {k: v for k, v in metrics.items() if k not in _GUARDS}
    return ({k: np.mean(v, axis=0).tolist() for k, v in logged.items()},
            {k: np.asarray(v).tolist() for k, v in logged.items()})


def tensorboard_scalars(row: dict) -> dict[str, float]:
    """A ``metrics.jsonl`` row -> TensorBoard scalars: lists become one tag per episode
    (1-based, ``eval/test/episode_2``) or per seed, so no curve is dropped."""
    out: dict[str, float] = {}
    for key, value in row.items():
        if key in ("update", "env_steps"):
            continue
        if key in _CURVES:
            out.update({f"{_CURVES[key]}/episode_{i + 1}": v for i, v in enumerate(value)})
            if key.startswith("eval_"):
                out[f"{_CURVES[key]}/mean"] = float(np.mean(value))
        elif key == "eval_test_return_per_seed":
            out.update({f"eval/test/seed_{s}": v for s, v in enumerate(value)})
        elif key == "per_seed":
            out.update({f"per_seed/{name}/seed_{s}": v for name, values in value.items()
                        if np.ndim(values) == 1 for s, v in enumerate(values)})
        elif isinstance(value, (int, float)):
            out[_SCALARS.get(key, key)] = value
        elif isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
            out.update({f"{key}/{i}": v for i, v in enumerate(value)})
    return out


def results_scalars(results: dict) -> dict[str, float]:
    """An ``eval.json`` dict -> ``eval/{split}/episode_{k}``, ``eval/{split}/mean`` and, with
    several seeds, ``eval/{split}/seed_{s}`` (each seed's mean over episodes); where it has
    success rates, ``eval/{split}/success/episode_{k}`` and ``eval/{split}/success/mean``."""
    out: dict[str, float] = {}
    for split in SPLITS:
        if split not in results:
            continue
        curve = results[split]["returns_per_episode"]
        out.update({f"eval/{split}/episode_{i + 1}": v for i, v in enumerate(curve)})
        out[f"eval/{split}/mean"] = float(np.mean(curve))
        success = results[split].get("success_per_episode", [])
        out.update({f"eval/{split}/success/episode_{i + 1}": v for i, v in enumerate(success)})
        if success:
            out[f"eval/{split}/success/mean"] = float(np.mean(success))
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


def metrics_row(cfg: Config, update: int, metrics: dict, dt: float, elapsed: float) -> dict:
    mean, per_seed = seed_scalars(metrics)
    row = {"update": update, "env_steps": update * cfg.steps_per_update,
           "sps": cfg.num_seeds * cfg.steps_per_update / dt, "time_s": elapsed, **mean}
    if cfg.num_seeds > 1:
        row["per_seed"] = per_seed
    return row


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


class Progress:
    """What a person watching sees: a progress bar on a terminal; otherwise (batch jobs, logs
    piped to a file) one plain line per logged update, with no carriage returns."""

    def __init__(self, cfg: Config, start: int, interactive: bool, physics: str | None = None):
        self.cfg, self.start = cfg, start
        # agent/env, and the physics where the distribution has one: trmrl/halfcheetah_vel[mjx].
        self.label = f"{cfg.agent}/{cfg.env}" + (f"[{physics}]" if physics else "")
        self.bar = None
        self.t0 = time.perf_counter()
        if interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=cfg.num_updates * cfg.steps_per_update, unit="step",
                            unit_scale=True, initial=start * cfg.steps_per_update,
                            desc=self.label)

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
        parts = [f"{self.label} update {update}/{cfg.num_updates}",
                 f"env steps {done:,}/{total:,} ({100 * done / total:.0f}%)",
                 f"{row['sps']:,.0f} steps/s", f"return {row['train_return']:.2f}"]
        if "eval_test_returns_per_episode" in row:
            parts.append(f"meta-test {np.mean(row['eval_test_returns_per_episode']):.2f}")
        if "eval_test_success_per_episode" in row:
            parts.append(f"success {np.mean(row['eval_test_success_per_episode']):.0%}")
        if "compile_s" in row:
            parts.append(f"compile {row['compile_s']:.0f} s")
        return " | ".join(parts + [f"ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}"])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
