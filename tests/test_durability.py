"""Faults a batch job meets: divergence, SIGKILL during a checkpoint write, SIGTERM and a second
signal, damaged checkpoints, a checkpoint of another version, a log cut back on resume."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from trmrl_jax.checkpoint import DAMAGED_DIR, Checkpointer
from trmrl_jax.config import Config, ConfigError
from trmrl_jax.distributed import replicate
from trmrl_jax.runlog import cut_metrics
from trmrl_jax.signals import StopSignals
from trmrl_jax.step import Run, init_state
from trmrl_jax.train import TrainingDiverged, train
from trmrl_jax.workdir import restore_or_init

from conftest import small_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)
# A CLI run's fields (the defaults, then these): 256 env steps per update, a few ms each. The
# host loop is under test here, not the network: the MLP agent compiles fastest.
CLI_FIELDS = dict(agent="mlp", episode_length=8, episodes_per_trial=2, num_tasks=16, window=4,
                  head_hidden=16, num_minibatches=2, num_epochs=1, eval_tasks=2, eval_episodes=2)


def test_non_finite_loss_stops_training_with_the_step(tmp_path):
    # Rewards of -1e38 overflow the squared value error: the loss is no longer finite.
    cfg = small_config(reward_scale=1e38, workdir=str(tmp_path / "nan"))
    with pytest.raises(TrainingDiverged, match="non-finite at update 1 .* for seed 0; the last "
                                               "good checkpoint"):
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
        ckpt.restore({"params": {"policy": {"Dense_0": np.ones(3, np.float32)}}}, 1)
    assert "\n" not in str(err.value)
    assert ckpt.latest_step() == 1


def _cli(workdir, **fields) -> list[str]:
    return [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
            *[f"--{k}={v}" for k, v in {**CLI_FIELDS, **fields}.items()]]


def _wait_for_rows(path, rows: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(path) and sum(1 for _ in open(path)) >= rows:
            return
        time.sleep(0.005)
    raise AssertionError(f"no {rows} rows in {path} (exit status {proc.poll()})")


def _updates(workdir) -> list[int]:
    return [json.loads(line)["update"] for line in open(os.path.join(workdir, "metrics.jsonl"))]


def _final_state(workdir):
    """The newest checkpoint of a run, restored as ``train`` would resume it."""
    with open(os.path.join(workdir, "config.json")) as f:
        cfg = Config.from_dict(json.load(f))
    ckpt = Checkpointer(workdir, cfg.keep_checkpoints)
    state = restore_or_init(Run.create(cfg), ckpt)
    ckpt.close()
    return state


def _error_lines(stderr: str) -> list[str]:
    """The E-level lines of absl/XLA's C++ logging (E, then the date: ``E1128 13:24:03...``)."""
    return [line for line in stderr.splitlines() if re.match(r"E\d{4} ", line)]


def test_sigterm_checkpoints_then_a_relaunch_ends_as_an_uninterrupted_run(tmp_path):
    """SIGTERM in the middle of a run: the update under way finishes, a checkpoint is written
    (the only one before the end: checkpoint_every is larger than the run), exit status 75;
    the same command then finishes the run with bit-identical state to a run never stopped.
    Neither launch logs an E-level line; with the default cache setting (and HOME in a new
    folder) nothing is cached on CPU (BUILD.md, "Faults a batch job meets")."""
    fields = dict(total_env_steps=256 * 300, checkpoint_every=1000)
    workdir = str(tmp_path / "stopped")
    args = _cli(workdir, **fields)
    env = dict(ENV, HOME=str(tmp_path / "home"))
    with open(tmp_path / "stderr", "w") as err:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _wait_for_rows(os.path.join(workdir, "metrics.jsonl"), 3, proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=300) == 75
    stderr = (tmp_path / "stderr").read_text().replace("\r", "\n")
    lines = stderr.strip().splitlines()
    assert "SIGTERM received: stopping after this update" in stderr
    done = re.fullmatch(r"stopped by SIGTERM after update (\d+) of 300; checkpoint \1 is in "
                        r"\S+; run the same command to continue", lines[-1])
    assert done, lines[-3:]
    stopped_at = int(done.group(1))
    assert 3 <= stopped_at < 300
    assert Checkpointer(workdir, 3).all_steps() == [stopped_at]
    assert _updates(workdir) == list(range(1, stopped_at + 1))  # Flushed, row for row.

    relaunch = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
    assert relaunch.returncode == 0, relaunch.stderr[-2000:]
    assert _error_lines(stderr) == [] and _error_lines(relaunch.stderr) == []
    cached = os.path.isdir(tmp_path / "home" / ".cache" / "trmrl_jax" / "xla")
    assert cached == (jax.default_backend() != "cpu")
    assert _updates(workdir) == list(range(1, 301))
    resumed = _final_state(workdir)
    straight, _ = train(Config(**CLI_FIELDS, **fields, workdir=str(tmp_path / "straight")),
                        progress=False)
    assert int(np.asarray(resumed.update)[0]) == 300
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_burst_of_signals_is_one_stop_request(tmp_path):
    """``timeout`` signals the process, then its process group: the same SIGTERM arrives twice
    within microseconds. Two signals 5 ms apart stop the run as one: a checkpoint, exit 75."""
    workdir = str(tmp_path / "run")
    with open(tmp_path / "stderr", "w") as err:
        proc = subprocess.Popen(_cli(workdir, total_env_steps=256 * 100_000), cwd=ROOT, env=ENV,
                                stdout=subprocess.DEVNULL, stderr=err)
        _wait_for_rows(os.path.join(workdir, "metrics.jsonl"), 1, proc)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.005)  # Two signals, not one: the first has been delivered by now.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 75
    text = (tmp_path / "stderr").read_text()
    assert text.count("received") == 1 and "SIGTERM received: stopping after this update" in text
    stopped = re.search(r"stopped by SIGTERM after update (\d+) of", text)
    assert stopped and Checkpointer(workdir, 3).all_steps() == [int(stopped.group(1))]


def test_a_second_signal_after_the_burst_stops_at_once(tmp_path):
    """A signal more than ``StopSignals.BURST_S`` after the first ends the process at once with
    128 + its number (here while the main thread sleeps, as it would inside a long step)."""
    script = ("import time\nfrom trmrl_jax.signals import StopSignals\n"
              "with StopSignals():\n    print('ready', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while (line := proc.stdout.readline()) != "ready\n":  # Past the imports' own lines.
        assert line, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)  # Within the burst: the same request.
    time.sleep(StopSignals.BURST_S + 0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    text = proc.stderr.read()
    assert text.count("received") == 2 and "SIGINT received: stopping after this update" in text
    assert text.rstrip().endswith("SIGTERM received again: stopping at once")


def _truncate(folder) -> None:
    """Every file of ``folder`` cut to half its length, as a full disk or a broken copy does."""
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            os.truncate(path, os.path.getsize(path) // 2)


def test_a_truncated_newest_checkpoint_is_skipped_with_a_warning_and_kept(tmp_path, capsys):
    cfg = small_config(agent="mlp", checkpoint_every=1, keep_checkpoints=3,
                       total_env_steps=16 * 24 * 3, workdir=str(tmp_path / "run"))
    train(cfg, progress=False)
    before = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    shutil.copytree(tmp_path / "run", tmp_path / "all")
    ckpts = tmp_path / "run" / "checkpoints"
    assert sorted(os.listdir(ckpts)) == ["1", "2", "3"]
    _truncate(ckpts / "3")

    # Every checkpoint damaged: refused in one line naming each, and nothing moved.
    for step in ("1", "2", "3"):
        _truncate(tmp_path / "all" / "checkpoints" / step)
    with pytest.raises(ConfigError, match=r"no checkpoint in .* restores \(checkpoint 3 .* is "
                                          r"damaged .*checkpoint 1 .* is damaged") as err:
        train(cfg.replace(workdir=str(tmp_path / "all")), progress=False)
    assert "\n" not in str(err.value)
    assert sorted(os.listdir(tmp_path / "all" / "checkpoints")) == ["1", "2", "3"]
    capsys.readouterr()

    train(cfg.replace(total_env_steps=16 * 24 * 4), progress=False)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    moved = str(tmp_path / "run" / DAMAGED_DIR / "3")
    assert len(warnings) == 1, warnings
    assert re.fullmatch(rf"warning: checkpoint 3 in '{re.escape(str(ckpts))}' is damaged "
                        rf"\(.+\); skipped, moved to {re.escape(moved)}, using checkpoint 2",
                        warnings[0]), warnings[0]
    assert sorted(os.listdir(moved)) == ["_CHECKPOINT_METADATA", "commit_success.txt", "default"]
    assert sorted(os.listdir(ckpts)) == ["2", "3", "4"]  # Update 3 done again, and saved again.
    after = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert [r["update"] for r in after] == [1, 2, 3, 4]
    assert after[2]["train_return"] == before[2]["train_return"]  # The same update 3 again.


def test_a_diverging_seed_is_named_and_the_run_stops(tmp_path):
    """Seed 1 of 2 starts from non-finite parameters (a checkpoint at update 1 holding them):
    the message names seed 1 alone and the checkpoint stays the newest."""
    cfg = small_config(agent="mlp", num_seeds=2, seed=7, workdir=str(tmp_path / "run"))
    run = Run.create(cfg)
    state = jax.device_get(init_state(run))
    poison = jax.tree.map(lambda x: np.asarray(x).copy(), state.params)
    for leaf in jax.tree.leaves(poison):
        leaf[1] = np.nan
    state = state.replace(params=poison, update=np.ones_like(state.update))
    ckpt = Checkpointer(cfg.workdir, cfg.keep_checkpoints)
    ckpt.save(1, replicate(state, run.mesh))
    ckpt.close()
    with pytest.raises(TrainingDiverged, match=r"non-finite at update 2 \(env step 768\) for "
                                               r"seed\(s\) 8 of 7..8 \(the whole run stops.*"
                                               r"last good checkpoint \(update 1\)"):
        train(cfg, progress=False)
    assert Checkpointer(cfg.workdir, 3).all_steps() == [1]


def test_metrics_are_cut_back_by_writing_aside_and_renaming(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [json.dumps({"update": u, "train_return": -u}) + "\n" for u in range(1, 6)]
    path.write_text("".join(rows) + '{"update": 6, "train_ret')  # A kill tore the last append.
    inode = os.stat(path).st_ino
    cut_metrics(str(path), 3)
    assert path.read_text() == "".join(rows[:3])
    assert os.stat(path).st_ino != inode  # A new file renamed over the log, not a rewrite.
    assert sorted(os.listdir(tmp_path)) == ["metrics.jsonl"]  # Nothing left aside.
    inode = os.stat(path).st_ino
    cut_metrics(str(path), 3)  # Nothing to cut: the log is left alone.
    assert os.stat(path).st_ino == inode
