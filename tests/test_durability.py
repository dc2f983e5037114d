"""Divergence guard, a kill during a checkpoint write, a checkpoint of another version."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import small_config
from trmrl_jax.checkpoint import Checkpointer
from trmrl_jax.config import ConfigError
from trmrl_jax.loop import TrainingDiverged
from trmrl_jax.train import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_non_finite_loss_stops_training_with_the_step(tmp_path):
    # Rewards of -1e38 overflow the squared value error: the loss is no longer finite.
    cfg = small_config(reward_scale=1e38, workdir=str(tmp_path / "nan"))
    with pytest.raises(TrainingDiverged, match="non-finite at update 1 .*last good checkpoint"):
        train(cfg, progress=False)
    assert Checkpointer(cfg.workdir, 3).latest_step() is None  # Nothing bad was saved.


def _entries(ckpt_dir):
    return os.listdir(ckpt_dir) if os.path.isdir(ckpt_dir) else []


def test_sigkill_during_checkpoint_write_resumes_from_previous_complete_one(tmp_path):
    workdir = str(tmp_path / "kill")
    args = [sys.executable, "-m", "experiments.train", "--episode_length=8",
            "--episodes_per_trial=2", "--num_tasks=16", "--window=4", "--d_model=16",
            "--num_heads=2", "--d_ff=32", "--head_hidden=16", "--num_minibatches=2",
            "--num_epochs=1", "--total_env_steps=10240", "--checkpoint_every=1",
            "--keep_checkpoints=2", "--eval_tasks=2", "--eval_episodes=2", f"--workdir={workdir}"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt_dir = os.path.join(workdir, "checkpoints")
    caught = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        tmp = [e for e in _entries(ckpt_dir) if "tmp" in e]
        done = [e for e in _entries(ckpt_dir) if e.isdigit()]
        if tmp and done:  # A save in progress, with an earlier one complete.
            proc.send_signal(signal.SIGKILL)
            caught = tmp
            break
        time.sleep(0.0005)
    proc.wait()
    assert caught, "never saw a checkpoint being written"
    latest_before = Checkpointer(workdir, 2).latest_step()
    assert latest_before is not None

    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    assert not [e for e in _entries(ckpt_dir) if "tmp" in e]  # No half-written checkpoint left.
    assert Checkpointer(workdir, 2).latest_step() == 40
    updates = [json.loads(line)["update"] for line in open(os.path.join(workdir, "metrics.jsonl"))]
    assert updates == list(range(1, 41))  # Continued, neither duplicated nor truncated.
    assert os.path.exists(os.path.join(workdir, "eval.json"))


def test_checkpoint_of_another_version_is_refused_in_one_line(tmp_path):
    """A checkpoint whose tree no longer fits the train state (as when the value-head fix
    renamed the head parameters) is refused with a one-line ConfigError, and stays on disk."""
    ckpt = Checkpointer(str(tmp_path), keep=2)
    ckpt.save(1, {"params": {"Dense_0": np.ones(3, np.float32)}})
    with pytest.raises(ConfigError, match="does not fit this version") as err:
        ckpt.restore({"params": {"policy": {"Dense_0": np.ones(3, np.float32)}}})
    assert "\n" not in str(err.value)
    assert ckpt.latest_step() == 1
