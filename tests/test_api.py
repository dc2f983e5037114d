"""The Python API as the README shows it: train with callbacks, load a run and act with memory."""

import json
import os
import re

import jax
import numpy as np
import pytest

import trmrl_jax
from trmrl_jax import presets as presets_module
from trmrl_jax.config import ConfigError
from trmrl_jax.envs import TrialEnv
from trmrl_jax.evaluate import EVAL_SEED

from conftest import small_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_examples() -> list[str]:
    """The ```python blocks of the README's "Python API" section, in order."""
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_train_example_calls_back_after_every_update(tmp_path, monkeypatch):
    """The README's code unchanged; only the quickstart preset is shrunk to a tiny run."""
    tiny = small_config(total_env_steps=16 * 24 * 2, workdir="runs/quickstart")
    monkeypatch.setitem(presets_module.PRESETS, "quickstart", tiny)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(readme_examples()[0], namespace)
    rows = [json.loads(line) for line in open(tmp_path / "runs/mine/metrics.jsonl")]
    assert [u for u, _ in namespace["curve"]] == [384 * k for k in (1, 2)]
    np.testing.assert_allclose([r for _, r in namespace["curve"]],
                               [row["train_return"] for row in rows])
    assert len(namespace["history"]) == 2 and int(namespace["state"].update[0]) == 2


def test_readme_load_example_steps_a_trained_run(tiny_run, tmp_path, monkeypatch, capsys):
    workdir, _ = tiny_run
    (tmp_path / "runs").mkdir()
    os.symlink(workdir, tmp_path / "runs" / "quickstart")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(readme_examples()[1], namespace)
    returns = namespace["returns"]
    assert returns.shape == (20, 6) and np.all(np.isfinite(returns)) and np.all(returns < 0)
    assert "return per episode: [" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [0, 1])
def test_loaded_policy_reproduces_the_meta_test(tiny_run, seed):
    """``load`` then act, on the meta-test's own tasks and keys, gives ``eval.json``'s returns:
    seed 0 through the stateful ``step``, seed 1 through ``act`` jitted inside ``lax.scan``."""
    workdir, _ = tiny_run
    config, policy = trmrl_jax.load(workdir, seed=seed)
    episodes, n = config.eval_episodes, config.eval_tasks
    trial = TrialEnv(policy.env, config.episode_length, episodes)
    task_key, run_key = jax.random.split(jax.random.PRNGKey(EVAL_SEED))
    tasks = policy.env.sample_tasks(task_key, n, "test")
    reset_keys = jax.vmap(jax.random.split)(jax.random.split(run_key, n))[:, 0]
    states = jax.vmap(trial.reset)(reset_keys, tasks)

    def one_step(carry_states, _):
        carry, states = carry_states
        carry, action = policy.act(policy.params, carry, jax.vmap(trial.observe)(states))
        states, reward = jax.vmap(trial.step)(states, action)
        return (carry, states), reward

    rewards = []
    if seed == 0:
        observe, env_step = jax.jit(jax.vmap(trial.observe)), jax.jit(jax.vmap(trial.step))
        policy.reset(n)
        for t in range(trial.trial_length):
            action = policy.step(observe(states))
            states, reward = env_step(states, action)
            rewards.append(reward)
            if (t + 1) % config.episode_length == 0:
                policy.next_episode(observe(states))
                states = jax.vmap(trial.next_episode)(states)
        returns = np.stack(rewards, 1).reshape(n, episodes, -1).sum(-1)
    else:
        @jax.jit
        def run_trial(carry, states):
            def episode(c, _):
                c, r = jax.lax.scan(one_step, c, None, length=config.episode_length)
                return (c[0], jax.vmap(trial.next_episode)(c[1])), r.sum(0)
            return jax.lax.scan(episode, (carry, states), None, length=episodes)[1].T

        returns = np.asarray(run_trial(policy.init_carry(n), states))
    expected = json.load(open(os.path.join(workdir, "eval.json")))["per_seed"][seed]["test"]
    np.testing.assert_allclose(returns.mean(0), expected["returns_per_episode"], rtol=1e-5)


def test_load_refuses_what_is_not_a_run(tiny_run, tmp_path):
    with pytest.raises(ConfigError, match="holds no trained run"):
        trmrl_jax.load(str(tmp_path))
    with pytest.raises(ConfigError, match="seed=2 is outside the run's 2 seed"):
        trmrl_jax.load(tiny_run[0], seed=2)
