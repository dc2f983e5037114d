"""The command lines as a user runs them: outputs of a run, meta-test, and refusals of bad input."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--episode_length=8", "--episodes_per_trial=2", "--num_tasks=16", "--window=4",
         "--d_model=16", "--num_heads=2", "--d_ff=32", "--head_hidden=16", "--num_minibatches=2",
         "--num_epochs=1", "--total_env_steps=768", "--eval_tasks=4", "--eval_episodes=3"]


def run(module, *args, check=True, home=None):
    env = dict(os.environ, PYTHONPATH=ROOT, **({"HOME": str(home)} if home else {}))
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr[-3000:])
    return proc


def snapshot(folder):
    """Every file under ``folder`` with its size and modification time."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(root, name)
            out[p] = (os.path.getsize(p), os.path.getmtime(p))
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A HOME of its own, so the default cache folder (~/.cache/trmrl_jax/xla) starts empty."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, home):
    """A run with the default settings."""
    workdir = str(tmp_path_factory.mktemp("cli") / "run")
    proc = run("experiments.train", *SMALL, f"--workdir={workdir}", home=home)
    return workdir, proc


def test_compilation_cache_is_keyed_by_the_host(trained, tmp_path):
    """An explicit --compilation_cache puts entries into the host's own subfolder. Renamed to
    the key of a host whose CPU lacks one feature, they are not loaded: the next launch
    compiles every program again into this host's subfolder and leaves the other's alone."""
    from trmrl_jax.cli.cache import host_key

    cache = tmp_path / "cache"
    args = ("experiments.evaluate", f"--workdir={trained[0]}", "--num_tasks=2", "--episodes=2",
            f"--out={tmp_path / 'eval'}", f"--compilation_cache={cache}")
    run(*args)
    mine = host_key()
    assert os.listdir(cache) == [mine]
    names = sorted(os.listdir(cache / mine))
    assert len(names) >= 2  # At least the initial state and the meta-test.
    lines = open("/proc/cpuinfo").read().splitlines()
    at = next(i for i, line in enumerate(lines)
              if line.split(":")[0].strip() in ("flags", "Features"))
    name, _, features = lines[at].partition(":")
    lines[at] = f"{name}: {' '.join(features.split()[1:])}"  # The first feature missing.
    other = host_key("\n".join(lines))
    assert other != mine
    os.rename(cache / mine, cache / other)
    theirs = snapshot(cache / other)
    run(*args)
    assert sorted(os.listdir(cache)) == sorted([mine, other])
    assert sorted(os.listdir(cache / mine)) == names
    assert snapshot(cache / other) == theirs


@pytest.mark.parametrize("where,message", [
    ("file", "is a file, not a folder"), ("file/run", "lies under"),
])
def test_a_workdir_that_is_or_lies_under_a_file_is_refused(tmp_path, where, message):
    (tmp_path / "file").write_text("not a folder")
    proc = run("experiments.train", *SMALL, f"--workdir={tmp_path / where}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"error: workdir={str(tmp_path / where)!r} {message}")
    assert sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.parametrize("command", ["experiments.train", "experiments.evaluate"])
def test_a_damaged_config_json_is_refused_and_the_folder_left_unchanged(trained, tmp_path,
                                                                         command):
    """A config.json cut short (a full disk) makes a relaunch, or a meta-test of the run, end in
    one line naming the file, exit 2, with nothing in the folder changed."""
    import shutil

    workdir = str(tmp_path / "run")
    shutil.copytree(trained[0], workdir)
    path = os.path.join(workdir, "config.json")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text[: len(text) // 2])
    before = snapshot(workdir)
    args = [*SMALL, f"--workdir={workdir}"] if command == "experiments.train" else [
        f"--workdir={workdir}"]
    proc = run(command, *args, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {path!r} is damaged (not a JSON object of config fields); restore it, or move "
        "the folder away and use another --workdir")
    assert snapshot(workdir) == before


def test_train_writes_every_output(trained):
    workdir, proc = trained
    assert "config: " in proc.stdout and "episode_length=8" in proc.stdout  # Effective config.
    rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
    assert len(rows) == 3
    assert all({"env_steps", "sps", "train_return"} <= set(r) for r in rows)
    assert [r["env_steps"] for r in rows] == [256, 512, 768]
    assert any(f.startswith("events.out.tfevents")
               for f in os.listdir(os.path.join(workdir, "tensorboard")))
    assert os.path.isdir(os.path.join(workdir, "checkpoints", "3"))
    results = json.load(open(os.path.join(workdir, "eval.json")))
    assert set(results) >= {"train", "test", "ood"}
    assert len(results["test"]["returns_per_episode"]) == 3
    assert os.path.getsize(os.path.join(workdir, "adaptation.png")) > 1000
    assert "meta-test test" in proc.stdout
    assert "Failed to import warp" not in proc.stdout + proc.stderr


def test_evaluate_cli(trained, tmp_path):
    """A meta-test of its own size; another run's levels (here the training run's final
    meta-test, on the same 4 tasks) join the random-action level as references."""
    workdir, _ = trained
    out = str(tmp_path / "eval")
    proc = run("experiments.evaluate", f"--workdir={workdir}", "--num_tasks=4", "--episodes=4",
               f"--out={out}", f"--references=mlp={workdir}")
    results = json.load(open(os.path.join(out, "eval.json")))
    assert results["ood"]["num_tasks"] == 4 and len(results["ood"]["returns_per_episode"]) == 4
    assert "meta-test ood" in proc.stdout
    trained_eval = json.load(open(os.path.join(workdir, "eval.json")))
    assert set(results["reference"]) == {"random", "mlp"}
    for split in ("train", "test", "ood"):
        assert results["reference"]["mlp"][split] == pytest.approx(
            sum(trained_eval[split]["returns_per_episode"]) / 3)


def test_evaluate_samples_actions_into_a_folder_of_its_own(trained):
    """--actions=sampled meta-tests the same tasks with sampled actions, records it, and writes
    into WORKDIR/actions_sampled: the run's own (mean-action) meta-test stays as it was."""
    workdir, _ = trained
    before = {p: v for p, v in snapshot(workdir).items() if "tensorboard" not in p}
    run("experiments.evaluate", f"--workdir={workdir}", "--num_tasks=4", "--episodes=3",
        "--actions=sampled")
    after = snapshot(workdir)
    assert all(after[p] == v for p, v in before.items())
    sampled = json.load(open(os.path.join(workdir, "actions_sampled", "eval.json")))
    mean = json.load(open(os.path.join(workdir, "eval.json")))
    assert (sampled["actions"], mean["actions"]) == ("sampled", "mean")
    assert sampled["test"]["num_tasks"] == mean["test"]["num_tasks"] == 4
    assert not np.allclose(sampled["test"]["returns_per_episode"],
                           mean["test"]["returns_per_episode"])


@pytest.mark.parametrize("references,message", [
    ("mlp", "references item 'mlp' must be NAME=WORKDIR"),
    ("mlp={workdir}", "was meta-tested on [4] tasks; use --num_tasks=4 here"),
    ("mlp=/nonexistent", "'/nonexistent' holds no meta-tested run")])
def test_evaluate_refuses_references_it_cannot_compare(trained, tmp_path, references, message):
    workdir, _ = trained
    proc = run("experiments.evaluate", f"--workdir={workdir}", "--num_tasks=5",
               f"--out={tmp_path}", "--references=" + references.format(workdir=workdir),
               check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and not os.listdir(tmp_path)


@pytest.mark.parametrize("flag,message", [
    ("--env=nope", "env='nope' is not registered"),
    ("--agent=transformer", "agent='transformer' is not allowed"),
    ("--num_tasks=0", "num_tasks=0 is not allowed; it must be an integer >= 1"),
    ("--clip_eps=-1", "clip_eps=-1.0 is not allowed; it must be a number in (0, 1)"),
    ("--window=100", "window=100 is larger than a trial"),
    ("--num_tasks=15", "num_tasks=15 is not divisible by num_minibatches=2"),
    ("--num_devices=64", "num_devices=64 but only"),
    ("--attention=sliding --position=sinusoid", "position='sinusoid'"),
    ("--num_heads=3", "d_model=16 must split into num_heads=3"),
    ("--d_model=32", "holds a run with d_model=16, not 32"),
    ("--noresume", "holds checkpoints and resume=False"),
])
def test_bad_input_is_refused_before_compilation_and_workdir_unchanged(trained, flag, message):
    workdir, _ = trained
    before = snapshot(workdir)
    proc = run("experiments.train", *SMALL, f"--workdir={workdir}", *flag.split(), check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert lines[-1].startswith("error: ") and message in lines[-1], proc.stderr[-2000:]
    assert snapshot(workdir) == before


def test_evaluate_refuses_a_folder_without_a_run(tmp_path):
    proc = run("experiments.evaluate", f"--workdir={tmp_path}", check=False)
    assert proc.returncode == 2 and "holds no trained run" in proc.stderr


def test_compare_writes_table_and_figures(tmp_path):
    workdir = str(tmp_path / "cmp")
    proc = run("experiments.compare", *SMALL, "--agents=trmrl,mlp,maml", "--seeds=2",
               "--curve_points=3", f"--workdir={workdir}")
    results = json.load(open(os.path.join(workdir, "results.json")))["results"]
    assert set(results) == {"trmrl", "mlp", "maml"}
    # The MLP widened to TrMRL's parameter count (--match_params); MAML keeps its width.
    assert abs(results["mlp"]["num_params"] / results["trmrl"]["num_params"] - 1) < 0.2
    assert results["maml"]["num_params"] < results["trmrl"]["num_params"] / 4
    for r in results.values():
        assert r["num_seeds"] == 2 and r["env_steps"] == 768
        assert len(r["test"]["returns_per_episode"]) == 3 and r["test"]["se_over"] == "seeds"
        low, high = r["test"]["returns_ci95_per_episode"]
        assert all(lo <= m <= hi for lo, m, hi in zip(low, r["test"]["returns_per_episode"], high))
        assert len(r["test"]["adapt_and_hold"]) == 2
        assert len(r["learning_curve"]) == 3
        assert len(r["learning_curve"][0]["test_return_per_seed"]) == 2
        # The reward of every step of the 3 x 8-step trial: its sum over an episode is that
        # episode's mean return, and the interval over the 2 seeds holds the mean.
        steps = np.asarray(r["test"]["reward_per_step"])
        np.testing.assert_allclose(steps.reshape(3, 8).sum(1), r["test"]["returns_per_episode"],
                                   rtol=1e-4, atol=1e-4)
        low, high = np.asarray(r["test"]["reward_per_step_ci95"])
        assert np.all((low <= steps + 1e-6) & (steps <= high + 1e-6))
    for name in ("adaptation.png", "reward_per_step.png", "learning_curves.png"):
        assert os.path.getsize(os.path.join(workdir, name)) > 1000
    table = open(os.path.join(workdir, "results.md")).read()
    assert "--agents=trmrl,mlp,maml" in table
    assert "| ep 3 | adapt and hold | params | env steps | seeds | train s |" in table
    mlp_test = f"{results['mlp']['test']['returns_per_episode'][0]:.2f} ["
    assert any(line.startswith("| mlp | " + mlp_test) for line in table.splitlines())
    assert "results in" in proc.stdout


def test_compare_window_ablation_refuses_other_agents(tmp_path):
    proc = run("experiments.compare", *SMALL, "--agents=rl2", "--windows=2,4",
               f"--workdir={tmp_path}", check=False)
    assert proc.returncode == 2 and "--windows is a TrMRL ablation" in proc.stderr


def test_per_agent_settings_reach_only_their_agent():
    from trmrl_jax.cli.compare import per_agent, variants
    from trmrl_jax.config import Config, ConfigError

    own = per_agent(["oracle.ent_coef=0.01", "oracle.mlp_hidden=32",
                     "trmrl.normalize_obs=false"], ["trmrl", "oracle", "rl2"])
    assert own == {"oracle": {"ent_coef": 0.01, "mlp_hidden": 32},
                   "trmrl": {"normalize_obs": False}}
    runs = variants(Config(ent_coef=0.002), ["trmrl", "oracle", "rl2"], [], own)
    assert (runs["oracle"].ent_coef, runs["oracle"].mlp_hidden) == (0.01, 32)
    assert runs["rl2"].ent_coef == runs["trmrl"].ent_coef == 0.002
    assert not runs["trmrl"].normalize_obs and runs["rl2"].normalize_obs
    assert variants(Config(), ["trmrl"], ["4", "8"], own)["trmrl_N8"].normalize_obs is False
    with pytest.raises(ConfigError, match="contradicts --windows"):
        variants(Config(), ["trmrl"], ["4"], {"trmrl": {"window": 8}})


@pytest.mark.parametrize("entry, message", [
    ("oracle.ent_coef", "is not AGENT.FIELD=VALUE"),
    ("pearl.ent_coef=0.01", "names agent 'pearl', which is not in --agents (trmrl, oracle)"),
    ("oracle.entropy=0.01", "'entropy' is not a setting of one agent"),
    ("oracle.agent=rl2", "'agent' is not a setting of one agent"),
    ("oracle.workdir=runs/x", "'workdir' is not a setting of one agent"),
    ("oracle.ent_coef=high", "'high' is not a float"),
    ("oracle.normalize_obs=yes", "'yes' is not true or false"),
])
def test_per_agent_refuses_what_it_cannot_apply(entry, message):
    from trmrl_jax.cli.compare import per_agent
    from trmrl_jax.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        per_agent([entry], ["trmrl", "oracle"])


def test_compare_refuses_a_per_agent_value_before_compiling(tmp_path):
    proc = run("experiments.compare", *SMALL, "--agents=trmrl,oracle",
               "--per_agent=oracle.ent_coef=-1", f"--workdir={tmp_path / 'cmp'}", check=False)
    assert proc.returncode == 2 and "ent_coef=-1.0" in proc.stderr, proc.stderr[-500:]
    assert not os.path.exists(tmp_path / "cmp")


def test_compare_refuses_eval_every_which_curve_points_sets(tmp_path):
    proc = run("experiments.compare", *SMALL, "--agents=trmrl", "--eval_every=5",
               f"--workdir={tmp_path / 'cmp'}", check=False)
    assert proc.returncode == 2 and "--eval_every=5" in proc.stderr, proc.stderr[-500:]
    assert "--curve_points" in proc.stderr and not os.path.exists(tmp_path / "cmp")


def test_training_seconds_adds_up_the_launches_of_a_resumed_run():
    from trmrl_jax.cli.compare import training_seconds

    first = [{"time_s": 10.0, "compile_s": 8.0}, {"time_s": 12.0}, {"time_s": 14.0}]
    second = [{"time_s": 20.0, "compile_s": 15.0}, {"time_s": 22.0}]  # Longer than the first.
    third = [{"time_s": 3.0}, {"time_s": 5.0}]  # A launch whose first row was not logged.
    assert training_seconds(first) == 14.0
    assert training_seconds(first + second) == 36.0
    assert training_seconds(first + second + third) == 41.0


def test_evaluate_meta_tests_a_run_on_another_physics(tmp_path):
    """A run trained on MuJoCo's C engine meta-tested on MJX (the same models: same parameters,
    same observation), into a folder of its own; Brax's HalfCheetah, another model, is refused
    in one line."""
    workdir = str(tmp_path / "run")
    run("experiments.train", *SMALL, "--env=halfcheetah_vel", "--backend=mujoco_c",
        "--total_env_steps=256", "--eval_tasks=2", "--eval_episodes=1", f"--workdir={workdir}")
    own = os.path.join(workdir, "eval.json")
    before = snapshot(workdir)
    run("experiments.evaluate", f"--workdir={workdir}", "--backend=mjx", "--num_tasks=2",
        "--episodes=1", "--splits=test")
    on_c = json.load(open(own))["test"]["returns_per_episode"]
    on_mjx = json.load(open(os.path.join(workdir, "on_mjx", "eval.json")))[
        "test"]["returns_per_episode"]
    assert np.all(np.isfinite(on_mjx)) and on_mjx != on_c
    np.testing.assert_allclose(on_mjx, on_c, rtol=0.05)
    assert {p: v for p, v in snapshot(workdir).items() if "on_mjx" not in p} == before
    proc = run("experiments.evaluate", f"--workdir={workdir}", "--backend=spring",
               f"--out={tmp_path / 'spring'}", check=False)
    assert proc.returncode == 2 and "does not simulate the models" in proc.stderr
    assert not os.path.exists(tmp_path / "spring")


def test_evaluate_skips_or_refuses_ood_where_the_distribution_has_none(tmp_path):
    """HalfCheetahDir has no out-of-distribution tasks: the default splits leave ood out, and
    --splits=ood is refused in one line before compiling."""
    workdir = str(tmp_path / "run")
    run("experiments.train", *SMALL, "--env=halfcheetah_dir", "--backend=mujoco_c",
        "--total_env_steps=256", "--eval_tasks=2", "--eval_episodes=1", f"--workdir={workdir}")
    run("experiments.evaluate", f"--workdir={workdir}", "--num_tasks=2", "--episodes=1",
        f"--out={tmp_path / 'eval'}")
    results = json.load(open(tmp_path / "eval" / "eval.json"))
    assert {"train", "test"} <= set(results) and "ood" not in results
    proc = run("experiments.evaluate", f"--workdir={workdir}", "--splits=test,ood",
               f"--out={tmp_path / 'ood'}", check=False)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "splits=ood: halfcheetah_dir has no out-of-distribution tasks" in proc.stderr
    assert not os.path.exists(tmp_path / "ood")
