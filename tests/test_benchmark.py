"""experiments.benchmark on a tiny config: its JSON schema, the Brax-PPO skip note, refusals."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--env=point_nav", "--num_envs=8", "--episode_length=8", "--episodes_per_trial=2",
        "--window=4", "--d_model=16", "--num_heads=2", "--d_ff=32", "--num_layers=1",
        "--head_hidden=16", "--repeats=2"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "experiments.benchmark", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT))


def test_tiny_benchmark_writes_every_field(tmp_path):
    out = tmp_path / "bench.json"
    # mlp and rl2 take the same code path as trmrl (our train step); left out to save time.
    learners = ["env_only", "brax_ppo", "trmrl_sliding", "trmrl_window"]
    proc = run(*TINY, f"--learners={','.join(learners)}", f"--json={out}", "--split")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result) >= {"results", "ratios", "config", "hardware"}
    ran = [n for n in learners if n != "brax_ppo"]
    assert list(result["results"]) == ran
    for name in ran:
        r = result["results"][name]
        for field in ("sps", "compile_s", "peak_mem_mb"):
            assert r[field] > 0, (name, field, r)
        assert r["timed_steps"] == 2 and len(r["step_s"]) == 2
        assert r["sps"] == pytest.approx(8 * 16 / r["step_s_median"])
    # point_nav is not a Brax env: Brax's PPO is skipped with a note, and so are its ratios.
    assert "is not a stock Brax environment" in result["skipped"]["brax_ppo"]
    assert set(result["ratios"]) == {"trmrl_sliding_vs_env_only", "sliding_vs_window"}
    assert result["ratios"]["sliding_vs_window"] == pytest.approx(
        result["results"]["trmrl_sliding"]["sps"] / result["results"]["trmrl_window"]["sps"])
    cfg = result["config"]
    assert (cfg["num_envs"], cfg["num_tasks"], cfg["trial_length"], cfg["window"]) == (8, 8, 16, 4)
    assert (cfg["num_epochs"], cfg["num_minibatches"]) == (4, 4)
    assert "cores" in result["hardware"] and "jax" in result["hardware"]
    for name in ran:
        assert name in proc.stdout
    assert "trmrl_sliding_vs_env_only" in proc.stdout
    # --split: each of ours is its physics, acting and update; the parts add up to the step.
    assert set(result["split"]) == {"trmrl_sliding", "trmrl_window"}
    for name, parts in result["split"].items():
        assert parts["update_s"] > 0
        assert parts["physics_s"] + parts["acting_s"] + parts["update_s"] == pytest.approx(
            result["results"][name]["step_s_median"])


@pytest.mark.parametrize("flag,message", [
    ("--learners=mlp,transformer", "unknown ['transformer']"),
    ("--window=100", "window=100 is larger than a trial"),
    ("--num_envs=6", "not divisible by num_minibatches=4"),
])
def test_bad_input_is_refused_before_compilation(flag, message):
    proc = run(*TINY, flag)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], proc.stderr[-2000:]
    assert "env steps/s" not in proc.stdout
