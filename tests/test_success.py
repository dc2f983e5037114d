"""Success in the meta-test (distributions that report it: Meta-World) and physics faults that
stop a run, named by trial and step, before anything they spoiled is written."""

import json
import os
import subprocess
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import State

from trmrl_jax import envs
from trmrl_jax.checkpoint import Checkpointer
from trmrl_jax.envs.point_nav import PointNav
from trmrl_jax.evaluate import evaluate_seeds
from trmrl_jax.faults import PhysicsFault, fault_message
from trmrl_jax.rollout import episode_any, first_fault
from trmrl_jax.runlog import Progress, results_scalars, tensorboard_scalars
from trmrl_jax.step import Run, init_state

from conftest import small_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, TESTS]))
# A tiny ML1 reach run: trials of 2 episodes of 10 steps on 4 tasks, an MLP (compiles fastest).
REACH = ["--env=ml1_reach", "--backend=mujoco_c", "--agent=mlp", "--episode_length=10",
         "--episodes_per_trial=2", "--num_tasks=4", "--window=4", "--head_hidden=16",
         "--num_minibatches=2", "--num_epochs=1", "--total_env_steps=160", "--eval_tasks=3",
         "--eval_episodes=2"]
FAULT_STEP = 3  # 1-based step of every episode at which ``FaultyNav`` breaks, on some tasks.


class FaultyNav(PointNav):
    """point_nav whose "physics" reports faults: with ``broken``, the action of step
    ``FAULT_STEP`` of each episode is NaN on tasks whose goal lies left of the origin, so the
    position stops being finite there (the fault flag is a non-finite state, as the Sawyer
    simulators report it)."""

    reports = ("fault",)

    def __init__(self, broken: bool = True):
        self.broken = broken

    def reset(self, key: jax.Array, task: dict) -> State:
        state = super().reset(key, task)
        return state.replace(pipeline_state=jnp.zeros((), jnp.int32),
                             metrics=dict(state.metrics, fault=jnp.zeros(())))

    def step(self, state: State, action: jax.Array, task: dict) -> State:
        t = state.pipeline_state + 1
        if self.broken:
            action = jnp.where((t == FAULT_STEP) & (task["goal"][0] < 0), jnp.nan, action)
        state = super().step(state, action, task)
        fault = (~jnp.all(jnp.isfinite(state.obs))).astype(jnp.float32)
        return state.replace(pipeline_state=t, metrics=dict(state.metrics, fault=fault))


def register(variant: str) -> None:
    """``faulty_nav``: FaultyNav broken (``broken``) or not (``sound``)."""
    envs.register("faulty_nav", lambda: FaultyNav(broken=variant == "broken"))


def test_episode_success_is_any_step_and_the_first_fault_is_found():
    flags = jnp.array([[0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0.0]])
    np.testing.assert_array_equal(episode_any(flags, 3), [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(first_fault(flags), [2, 5, -1])


def test_success_rates_have_tensorboard_names_and_a_place_in_the_progress_line():
    row = {"update": 1, "env_steps": 384, "sps": 1000.0, "train_return": -3.0,
           "train_success": 0.5, "train_success_per_episode": [0.25, 0.75],
           "eval_test_returns_per_episode": [-2.0, -1.0],
           "eval_test_success_per_episode": [0.0, 0.5]}
    tags = tensorboard_scalars(row)
    assert (tags["train/success"], tags["train/success/episode_2"]) == (0.5, 0.75)
    assert (tags["eval/test/success/episode_2"], tags["eval/test/success/mean"]) == (0.5, 0.25)
    results = {"test": {"returns_per_episode": [-2.0, -1.0], "success_per_episode": [0.0, 0.5]}}
    assert results_scalars(results)["eval/test/success/mean"] == 0.25
    line = Progress(small_config(), 0, interactive=False).line(1, row)
    assert "| meta-test -1.50 | success 25% |" in line


def test_point_nav_reports_nothing_and_logs_no_success(tiny_run):
    workdir, proc = tiny_run
    results = json.load(open(os.path.join(workdir, "eval.json")))
    assert not any("success" in key for split in ("test", "ood") for key in results[split])
    rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    assert not any("success" in key for row in rows for key in row)
    assert "success" not in proc.stdout and not os.path.exists(
        os.path.join(workdir, "success.png"))


def test_compare_of_two_seeds_on_ml1_reach_writes_the_success_table(tmp_path):
    """Success per episode in each run's eval.json (per seed, and pooled with its interval),
    metrics.jsonl, the progress line, and compare's results.json, results.md and success.png."""
    root = tmp_path / "cmp"
    proc = subprocess.run([sys.executable, "-m", "experiments.compare", *REACH, "--agents=mlp",
                           "--seeds=2", "--curve_points=1", f"--workdir={root}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.load(open(root / "mlp" / "eval.json"))
    for split in ("train", "test"):
        rate = run[split]["success_per_episode"]
        low, high = run[split]["success_ci95_per_episode"]
        assert len(rate) == 2 and all(0 <= lo <= m <= hi <= 1 for lo, m, hi in
                                      zip(low, rate, high))
        seeds = np.asarray([s[split]["success_per_episode"] for s in run["per_seed"]])
        np.testing.assert_allclose(seeds.mean(0), rate)
        assert np.all(seeds * 3 == np.round(seeds * 3))  # Fractions of the 3 tasks.
    rows = [json.loads(line) for line in open(root / "mlp" / "metrics.jsonl")]
    assert all(0 <= r["train_success"] <= 1 and len(r["train_success_per_episode"]) == 2
               for r in rows)
    assert "eval_test_success_per_episode" in rows[-1] and "fault_at" not in rows[-1]
    assert "| success " in proc.stdout
    results = json.load(open(root / "results.json"))["results"]["mlp"]["test"]
    assert results["success_per_episode"] == pytest.approx(run["test"]["success_per_episode"])
    assert len(results["success_per_seed"]) == 2
    table = open(root / "results.md").read()
    assert "test tasks, success rate per episode (mean over seeds [95 % interval]):" in table
    assert "| run | ep 1 | ep 2 | seeds |" in table
    assert any(line.startswith("| mlp | ") and line.endswith(" | 2 |")
               for line in table.splitlines())
    assert os.path.getsize(root / "success.png") > 1000
    assert os.path.getsize(root / "mlp" / "success.png") > 1000


def test_a_physics_fault_stops_train_with_one_line_and_the_checkpoints_intact(tmp_path):
    """Two sound updates (checkpoints 1 and 2), then the same run resumed on a distribution
    that faults: exit 2, one line naming the update, trial and step; nothing written after."""
    workdir = tmp_path / "run"
    flags = ["--env=faulty_nav", "--agent=mlp", "--episode_length=8", "--episodes_per_trial=2",
             "--num_tasks=16", "--window=4", "--head_hidden=16", "--num_minibatches=2",
             "--num_epochs=1", "--eval_tasks=2", "--eval_episodes=2", "--checkpoint_every=1",
             f"--workdir={workdir}"]
    script = ("import sys, test_success; test_success.register(sys.argv.pop(1)); "
              "from trmrl_jax.cli.train import run; run()")

    def train(variant: str, updates: int) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", script, variant, *flags,
                               f"--total_env_steps={256 * updates}"], cwd=ROOT,
                              capture_output=True, text=True, timeout=600, env=ENV)

    assert train("sound", 2).returncode == 0
    os.remove(workdir / "eval.json")
    proc = train("broken", 4)
    assert proc.returncode == 2, proc.stderr[-3000:]
    line, = proc.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: physics fault at update 3 (env step 768) for seed 0: trial ")
    assert (f"of 16, step {FAULT_STEP} of the trial (episode 1, step {FAULT_STEP}) hit a MuJoCo "
            "warning, a buffer overflow or a non-finite state; the last good checkpoint "
            f"(update 2) is kept in {workdir}/checkpoints") in line
    assert Checkpointer(str(workdir), 3).all_steps() == [1, 2]
    rows = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
    assert [r["update"] for r in rows] == [1, 2] and not os.path.exists(workdir / "eval.json")


def test_a_physics_fault_in_the_meta_test_names_the_split_seed_and_task(tmp_path):
    register("broken")
    run = Run.create(small_config(env="faulty_nav", agent="mlp", num_seeds=2, seed=5,
                                  workdir=str(tmp_path)))
    with pytest.raises(PhysicsFault, match=r"in the meta-test on test tasks \(seed [56]\): "
                                           rf"trial \d of 8, step {FAULT_STEP} of the trial.*; "
                                           "its results were not written$"):
        evaluate_seeds(run, jax.device_get(init_state(run)), num_tasks=8, episodes_per_trial=2,
                       splits=("test",))


def test_a_fault_of_a_distribution_sized_for_a_batch_gives_the_sizes():
    warp = types.SimpleNamespace(worlds=64, backend="mjx_warp")
    small = fault_message(warp, "at update 1", 3, 256, 9, 8, worlds=256)
    assert small.endswith("mjx_warp's buffers are sized for 64 worlds per call and this call "
                          "steps 256: build it with make(..., worlds=256)")
    assert "step 10 of the trial (episode 2, step 2)" in small
    assert "raise the per-world sizes" in fault_message(warp, "", 0, 64, 0, 8, worlds=64)
    assert "buffers" not in fault_message(types.SimpleNamespace(worlds=None), "", 0, 4, 0, 8, 4)


def test_runs_size_the_warp_buffers_for_the_worlds_one_call_steps():
    """Training steps num_tasks x num_seeds / devices worlds per call; the meta-test its
    tasks x seeds, on a distribution sized for them (built once)."""
    run = Run.create(small_config(env="ml1_reach", backend="mjx_warp", num_tasks=8, num_seeds=2,
                                  num_devices=1))
    assert run.env.worlds == run.worlds == 16 and run.env.physics.naconmax == 16 * 16
    meta_test = run.learner_for(3 * 2)
    assert meta_test.env.worlds == 6 and run.learner_for(6) is meta_test
    assert run.learner_for(16) is run.learner
    assert Run.create(small_config(env="ml1_reach", backend="mujoco_c")).env.worlds is None
