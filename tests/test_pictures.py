"""The figures a run writes, at their expected sizes, and the reference levels they show."""

import json
import os
import struct

import jax
import numpy as np

from trmrl_jax import envs
from trmrl_jax.evaluate import random_policy_levels


def png_size(path):
    """(width, height) from a PNG's IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_train_writes_learning_curve_and_adaptation_with_reference(tiny_run):
    workdir, _ = tiny_run
    assert png_size(os.path.join(workdir, "learning_curve.png")) == (1100, 418)
    assert png_size(os.path.join(workdir, "adaptation.png")) == (1518, 418)  # train, test, ood
    results = json.load(open(os.path.join(workdir, "eval.json")))
    levels = results["reference"]["random"]
    assert set(levels) == {"train", "test", "ood"}
    assert levels["ood"] < levels["test"] < 0  # Farther goals: a random walk ends farther away.


def test_random_level_matches_an_independent_random_walk():
    """point_nav, H = 20: the evaluator's uniformly random actions score what a NumPy random
    walk toward the same kind of goal scores (about -20 per episode)."""
    level = random_policy_levels(envs.make("point_nav"), key=jax.random.PRNGKey(0),
                                 num_tasks=512, episode_length=20, episodes_per_trial=2,
                                 splits=("test",))["test"]
    rng = np.random.default_rng(0)
    n = 20_000
    angle = rng.uniform(0, np.pi, n)
    goal = np.stack([np.cos(angle), np.sin(angle)], -1)
    pos = np.cumsum(0.1 * rng.uniform(-1, 1, (n, 20, 2)), axis=1)
    expected = -np.linalg.norm(pos - goal[:, None], axis=-1).sum(1).mean()
    assert abs(level - expected) < 0.15, (level, expected)
