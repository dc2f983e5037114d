"""Statistics of meta-test curves over seeds: intervals and the adapt-and-hold verdict.

A meta-test curve is the mean return of each episode of a trial, [K] per seed. Claims about an
agent rest on several seeds: the mean over seeds with a 95 % bootstrap interval (resampling
seeds, as rliable does for small numbers of runs), and, per seed, whether it adapts (episode 2
clearly above episode 1) and holds (no later episode clearly below episode 2).
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 10_000


def bootstrap_interval(values: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """95 % percentile-bootstrap interval of the mean over the first axis.

    values: [S, ...] one row per seed. Returns (low, high), each [...]. With one seed the
    interval is the value itself: one run gives no spread.
    """
    values = np.asarray(values, np.float64)
    n = values.shape[0]
    if n == 1:
        return values[0], values[0]
    rows = np.random.default_rng(seed).integers(0, n, size=(BOOTSTRAP_SAMPLES, n))
    means = values[rows].mean(axis=1)  # [BOOTSTRAP_SAMPLES, ...]
    tail = 100 * (1 - CONFIDENCE) / 2
    return np.percentile(means, tail, axis=0), np.percentile(means, 100 - tail, axis=0)


def per_episode(values: np.ndarray, name: str = "returns") -> dict:
    """Values [n, K] (n tasks or n seeds, K episodes; returns, or success as 0/1) -> mean,
    standard deviation and standard error of each episode over the n rows, as
    ``{name}_per_episode``, ``{name}_std_per_episode`` and ``{name}_se_per_episode``: the one
    place these are computed."""
    values = np.asarray(values, np.float64)
    n = values.shape[0]
    std = values.std(0, ddof=1) if n > 1 else np.zeros(values.shape[1])
    return {f"{name}_per_episode": values.mean(0).tolist(),
            f"{name}_std_per_episode": std.tolist(),
            f"{name}_se_per_episode": (std / np.sqrt(n)).tolist()}


def summarize_seeds(curves: np.ndarray, name: str = "returns") -> dict:
    """Per-seed curves [S, K] -> ``per_episode`` over seeds and the 95 % interval of each
    episode's mean (``{name}_ci95_per_episode``)."""
    low, high = bootstrap_interval(curves)
    return dict(per_episode(curves, name), **{f"{name}_ci95_per_episode": [low.tolist(),
                                                                          high.tolist()]},
                num_seeds=len(curves))


def adapts_and_holds(mean: np.ndarray, se: np.ndarray, k: float = 3.0) -> bool:
    """One seed's meta-test curve (mean and standard error over tasks, each [K], K >= 2):
    episode 2 beats episode 1 by more than ``k`` standard errors of the difference, and no
    later episode falls below episode 2 by more than ``k`` standard errors of that difference."""
    mean, se = np.asarray(mean, np.float64), np.asarray(se, np.float64)
    gap = lambda i, j: k * np.hypot(se[i], se[j])  # noqa: E731
    adapts = mean[1] - mean[0] > gap(1, 0)
    holds = all(mean[j] >= mean[1] - gap(j, 1) for j in range(2, len(mean)))
    return bool(adapts and holds)
