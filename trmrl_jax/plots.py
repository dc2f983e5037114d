"""The figures every run writes, shared by ``train``, ``evaluate`` and ``compare``.

``adaptation.png``: mean return per episode of the trial, one panel per task split (their scales
differ too much to share axes), one line per run, reference levels as dashed lines;
``success.png`` the same of the success rate, for distributions that report success.
``learning_curve.png`` / ``learning_curves.png``: training return and meta-test return against
env steps, one line per run.
"""

from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np

from trmrl_jax.envs import SPLITS


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")  # Files only: never open a window, work without a display.
    import matplotlib.pyplot as plt

    return plt


_YLABELS = {"returns": "mean return", "success": "success rate"}


def plot_adaptation(runs: Mapping[str, Mapping[str, dict]], path: str, title: str = "",
                    references: Mapping[str, Mapping[str, float]] | None = None,
                    metric: str = "returns") -> None:
    """``runs[label][split]``: an ``eval.json`` split record (``{metric}_per_episode`` [K] and
    ``{metric}_se_per_episode`` [K]; error bars show ``{metric}_ci95_per_episode`` [2, K]
    instead when the record has it); ``references[name][split]``: a level drawn across every
    episode (e.g. ``{"random actions": {"test": -19.0}}``). ``metric``: ``returns``, or
    ``success`` (the success rate per episode of the trial)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    splits = [s for s in SPLITS if any(s in r for r in runs.values())]
    fig, axes = plt.subplots(1, len(splits), figsize=(4.6 * len(splits), 3.8), squeeze=False)
    for ax, split in zip(axes[0], splits):
        for label, record in runs.items():
            if split not in record:
                continue
            y = np.asarray(record[split][f"{metric}_per_episode"])
            interval = record[split].get(f"{metric}_ci95_per_episode")  # Over seeds, if known.
            yerr = (record[split][f"{metric}_se_per_episode"] if interval is None
                    else [y - np.asarray(interval[0]), np.asarray(interval[1]) - y])
            ax.errorbar(np.arange(1, len(y) + 1), y, yerr=yerr, marker="o", capsize=3,
                        label=label)
        for (name, levels), style in zip((references or {}).items(),
                                         itertools.cycle(("--", ":", "-."))):
            if split in levels:
                ax.axhline(levels[split], color="gray", linestyle=style, label=name)
        ax.set(title=f"{split} tasks", xlabel="episode of the trial", ylabel=_YLABELS[metric])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title or "meta-test adaptation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(runs: Mapping[str, Sequence[dict]], path: str, title: str = "") -> None:
    """``runs[label]``: ``metrics.jsonl`` rows of one run. Left: training return per episode
    (``train_return``, mean over seeds); right: the meta-test points (``eval_test_return_per_seed``
    [S], mean over the test episodes): mean over seeds, with the min-max band of the seeds."""
    plt = pyplot()
    fig, (train_ax, eval_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, rows in runs.items():
        steps = [r["env_steps"] for r in rows if "train_return" in r]
        train_ax.plot(steps, [r["train_return"] for r in rows if "train_return" in r],
                      label=label)
        points = [r for r in rows if "eval_test_return_per_seed" in r]
        if points:
            x = [p["env_steps"] for p in points]
            y = np.asarray([p["eval_test_return_per_seed"] for p in points])  # [points, S]
            eval_ax.plot(x, y.mean(1), marker="o", label=label)
            if y.shape[1] > 1:
                eval_ax.fill_between(x, y.min(1), y.max(1), alpha=0.2)
    train_ax.set(title="training return (per episode)", xlabel="env steps", ylabel="return")
    eval_ax.set(title="meta-test return (test tasks, mean over episodes)", xlabel="env steps",
                ylabel="return (mean, min-max over seeds)")
    for ax in (train_ax, eval_ax):
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reward_per_step(runs: Mapping[str, Mapping[str, dict]], episode_length: int, path: str,
                         title: str = "") -> None:
    """``runs[label][split]``: ``reward_per_step`` [T] (mean over tasks and seeds) and, with
    several seeds, ``reward_per_step_ci95`` [2, T], drawn as a band. One panel per split, episode
    boundaries dashed: how many steps of the first episode an agent needs to find its task, and
    how much of that search the next episodes skip."""
    plt = pyplot()
    splits = [s for s in SPLITS if any(s in r for r in runs.values())]
    fig, axes = plt.subplots(len(splits), 1, figsize=(9, 2.9 * len(splits)), squeeze=False)
    for ax, split in zip(axes[:, 0], splits):
        for label, record in runs.items():
            if split not in record:
                continue
            y = np.asarray(record[split]["reward_per_step"])
            ax.plot(np.arange(1, len(y) + 1), y, lw=1.0, label=label)
            if "reward_per_step_ci95" in record[split]:
                low, high = record[split]["reward_per_step_ci95"]
                ax.fill_between(np.arange(1, len(y) + 1), low, high, alpha=0.2)
        length = max(len(r[split]["reward_per_step"]) for r in runs.values() if split in r)
        for boundary in range(episode_length, length, episode_length):
            ax.axvline(boundary + 0.5, color="gray", lw=0.6, ls="--")
        ax.set(title=f"{split} tasks", xlabel="step of the trial", ylabel="mean reward")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", ncol=len(runs))
    fig.suptitle(title or "reward per step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
