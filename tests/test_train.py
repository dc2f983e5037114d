"""The compiled step, learning, resume, devices and the user-facing registry path."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import State

from trmrl_jax import envs
from trmrl_jax.checkpoint import Checkpointer
from trmrl_jax.distributed import replicate
from trmrl_jax.evaluate import evaluate_seeds
from trmrl_jax.step import Run, init_state, make_train_step
from trmrl_jax.train import train

from conftest import small_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_single_compilation_and_no_host_transfer_inside_the_step():
    cfg = small_config()
    run = Run.create(cfg)
    state = replicate(init_state(run), run.mesh)
    step = make_train_step(run)
    state, _ = step(state)  # Compiles.
    with jax.transfer_guard("disallow"):  # Any host<->device copy inside would raise.
        for _ in range(3):
            state, metrics = step(state)
    assert step._cache_size() == 1
    assert int(np.asarray(state.update)[0]) == 4
    assert set(metrics) >= {"train_return", "loss", "approx_kl", "finite"}


def test_trmrl_learns_point_nav(tmp_path):
    """A short run whose mean trial return improves clearly (random policy: about -19)."""
    cfg = small_config(episode_length=20, episodes_per_trial=2, num_tasks=64, window=20,
                       d_model=32, num_heads=2, d_ff=64, head_hidden=32, num_epochs=4,
                       num_minibatches=4, total_env_steps=64 * 40 * 40,
                       workdir=str(tmp_path / "run"))
    _, history = train(cfg, progress=False)
    first = np.mean([h["train_return"] for h in history[:3]])
    last = np.mean([h["train_return"] for h in history[-3:]])
    assert last > first + 3.0, (first, last)
    with open(tmp_path / "run" / "eval.json") as f:
        results = json.load(f)
    for split in ("train", "test", "ood"):
        assert len(results[split]["returns_per_episode"]) == cfg.eval_episodes
        assert results[split]["num_tasks"] == cfg.eval_tasks
    assert (tmp_path / "run" / "adaptation.png").stat().st_size > 1000


class TinyBandit(envs.TaskDistribution):
    """A user-defined distribution: reward = -(a - target)^2, target unobserved."""

    observation_size, action_size, task_size, default_episode_length = 1, 1, 1, 4

    def sample_task(self, key, split):
        lo, hi = (1.0, 2.0) if split == "ood" else (-1.0, 1.0)
        return {"target": jax.random.uniform(key, (), minval=lo, maxval=hi)}

    def reset(self, key, task):
        z = jnp.zeros(())
        return State(pipeline_state=None, obs=jnp.zeros(1), reward=z, done=z, metrics={})

    def step(self, state, action, task):
        return state.replace(reward=-jnp.square(action[0] - task["target"]))

    def task_features(self, task):
        return task["target"][None]


def test_user_registered_distribution_trains_through_train(tmp_path):
    """A user's distribution trains by name; every ``eval_every`` point is meta-tested and
    written, also when ``log_every`` does not divide it."""
    envs.register("tiny_bandit", TinyBandit)
    cfg = small_config(env="tiny_bandit", episode_length=4, episodes_per_trial=2, window=4,
                       agent="rl2", total_env_steps=16 * 8 * 6, log_every=2, eval_every=3,
                       workdir=str(tmp_path / "b"))
    state, history = train(cfg, progress=False)
    assert [h["update"] for h in history] == [2, 3, 4, 6] and np.isfinite(history[-1]["loss"])
    rows = [json.loads(line) for line in open(tmp_path / "b" / "metrics.jsonl")]
    assert [r["update"] for r in rows if "eval_test_returns_per_episode" in r] == [3, 6]
    assert os.path.exists(tmp_path / "b" / "eval.json")


def test_seeds_are_meta_tested_together_as_each_alone():
    """The seed-vmapped meta-test gives every seed what it gets evaluated on its own."""
    cfg = small_config(num_seeds=2)
    run = Run.create(cfg)
    state = jax.device_get(init_state(run))
    kwargs = dict(num_tasks=4, episodes_per_trial=2, splits=("test", "ood"))
    both = evaluate_seeds(run, state, **kwargs)
    alone_run = Run.create(cfg.replace(num_seeds=1))
    curves = []
    for i in range(2):
        alone = state.replace(params=jax.tree.map(lambda x: x[i:i + 1], state.params),
                              obs_stats=jax.tree.map(lambda x: x[i:i + 1], state.obs_stats))
        one = evaluate_seeds(alone_run, alone, **kwargs)
        for split in kwargs["splits"]:
            np.testing.assert_allclose(both["per_seed"][i][split]["returns_per_episode"],
                                       one[split]["returns_per_episode"], rtol=1e-5, atol=1e-5)
        curves.append(one["test"]["returns_per_episode"])
    assert not np.allclose(curves[0], curves[1])  # Two seeds, two different policies.


def test_resume_continues_exactly(tmp_path):
    """k updates, stop, resume k more == 2k straight: same parameters, metrics not duplicated."""
    base = small_config(checkpoint_every=2, total_env_steps=16 * 24 * 4)
    straight, _ = train(base.replace(workdir=str(tmp_path / "a")), progress=False)
    half = base.replace(workdir=str(tmp_path / "b"), total_env_steps=16 * 24 * 2)
    train(half, progress=False)
    resumed, _ = train(half.replace(total_env_steps=16 * 24 * 4), progress=False)
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    rows = [json.loads(line) for line in open(tmp_path / "b" / "metrics.jsonl")]
    assert [r["update"] for r in rows] == [1, 2, 3, 4]
    ref = [json.loads(line) for line in open(tmp_path / "a" / "metrics.jsonl")]
    np.testing.assert_allclose([r["train_return"] for r in rows],
                               [r["train_return"] for r in ref], rtol=1e-5)
    assert Checkpointer(str(tmp_path / "b"), 3).latest_step() == 4


def test_a_finished_run_meta_tests_again_without_compiling_a_step(tmp_path, monkeypatch):
    """Launching a finished run again (e.g. to re-meta-test it with newer evaluation code)
    restores the final state and writes eval.json anew; no train step is built."""
    import trmrl_jax.train as train_module

    cfg = small_config(total_env_steps=16 * 24 * 2, workdir=str(tmp_path))
    final, _ = train(cfg, progress=False)
    os.remove(tmp_path / "eval.json")

    def no_step(*args, **kwargs):
        raise AssertionError("a finished run built a train step")

    monkeypatch.setattr(train_module, "make_train_step", no_step)
    again, rows = train(cfg, progress=False)
    assert rows == [] and os.path.exists(tmp_path / "eval.json")
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(again)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


_DEVICES_SCRIPT = """
import sys, numpy as np, jax
sys.path.insert(0, {tests!r})
from conftest import small_config
from trmrl_jax.step import Run, init_state, make_train_step
from trmrl_jax.distributed import replicate
cfg = small_config(num_devices={n})
run = Run.create(cfg)
state = replicate(init_state(run), run.mesh)
step = make_train_step(run)
for _ in range(3):
    state, m = step(state)
leaves = jax.tree.leaves(jax.device_get(state.params))
np.save({out!r}, np.concatenate([np.ravel(x) for x in leaves]))
"""


def test_one_and_two_devices_give_the_same_parameters(tmp_path):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               PYTHONPATH=ROOT)
    outs = []
    for n in (1, 2):
        out = str(tmp_path / f"p{n}.npy")
        code = _DEVICES_SCRIPT.format(tests=os.path.join(ROOT, "tests"), n=n, out=out)
        subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT,
                       capture_output=True)
        outs.append(np.load(out))
    assert outs[0].shape == outs[1].shape
    np.testing.assert_allclose(outs[0], outs[1], rtol=2e-4, atol=2e-5)


def test_matmul_precision_reaches_the_compiled_programs():
    """``matmul_precision`` is in the lowered train step and meta-test, on every matmul; with
    ``default`` none asks for more than the backend's default."""
    from trmrl_jax.evaluate import make_evaluator

    def lowered(cfg) -> tuple[str, str]:
        run = Run.create(cfg)
        state = replicate(init_state(run), run.mesh)
        params = run.learner.acting_params(jax.device_get(init_state(run)))
        tasks = run.env.sample_tasks(jax.random.PRNGKey(0), 2, "test")
        meta_test = make_evaluator(run.learner, 2).lower(params, tasks, jax.random.PRNGKey(1))
        return make_train_step(run).lower(state).as_text(), meta_test.as_text()

    for text in lowered(small_config(matmul_precision="highest")):
        dots = [line for line in text.splitlines() if "dot_general" in line]
        assert dots and all("precision = [HIGHEST, HIGHEST]" in line for line in dots)
    for text in lowered(small_config(matmul_precision="default")):
        assert "HIGH" not in text
