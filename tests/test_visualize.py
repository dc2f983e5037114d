"""Pictures of one meta-test trial: attention maps (sown by the encoder) and point_nav paths."""

import dataclasses
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from test_pictures import png_size

import trmrl_jax
from trmrl_jax.api import Policy
from trmrl_jax.envs import TrialEnv
from trmrl_jax.evaluate import EVAL_SEED, meta_test
from trmrl_jax.step import Run, init_state
from trmrl_jax.visualize import TrialRecord, plot_velocity, record_trial, render_trial

from conftest import small_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_attention(record, window):
    """Each step's weights sum to 1 over its window of past steps and are 0 elsewhere."""
    length = record.reward.shape[0]
    t, s = np.arange(length)[:, None], np.arange(length)[None]
    outside = (s > t) | (s <= t - window)
    for weights in record.attention:
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        assert np.all(weights[:, outside] == 0.0)


def test_visualize_cli_writes_attention_and_paths(tiny_run, tmp_path):
    workdir, _ = tiny_run
    proc = subprocess.run([sys.executable, "-m", "experiments.visualize", f"--workdir={workdir}",
                           f"--out={tmp_path}", "--compilation_cache="], cwd=ROOT, text=True,
                          capture_output=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png_size(tmp_path / "attention.png") == (580, 660)  # 2 layers x 2 heads + rewards.
    assert png_size(tmp_path / "paths.png") == (1120, 340)  # A test task and an OOD task.
    assert "test task 0: return per episode" in proc.stdout


def test_recorded_trial_is_the_meta_test_trial(tiny_run):
    """Recording acts as the meta-test does: per-task returns equal ``meta_test``'s."""
    workdir, _ = tiny_run
    config, policy = trmrl_jax.load(workdir)
    task_key, run_key = jax.random.split(jax.random.PRNGKey(EVAL_SEED))
    n, index = config.eval_tasks, 2
    tasks = policy.env.sample_tasks(task_key, n, "test")
    record = record_trial(policy, jax.tree.map(lambda x: x[index], tasks),
                          jax.random.split(run_key, n)[index], config.eval_episodes)
    stacked = jax.tree.map(lambda x: x[None], policy.params)  # A seed axis of 1.
    returns = meta_test(policy.learner, stacked, key=jax.random.PRNGKey(EVAL_SEED), num_tasks=n,
                        episodes_per_trial=config.eval_episodes, splits=("test",))["test"].returns
    np.testing.assert_allclose(record.episode_returns(), returns[0, index], rtol=1e-5)
    assert len(record.attention) == config.num_layers
    assert record.attention[0].shape == (config.num_heads,) + (record.reward.shape[0],) * 2
    check_attention(record, config.window)


def _untrained_policy(cfg) -> Policy:
    """Seed 0 of ``cfg`` at initialisation, as ``load`` would give it."""
    run = Run.create(cfg)
    params = jax.tree.map(lambda x: x[0], run.learner.acting_params(init_state(run)))
    return Policy(cfg, run.env, run.learner, params)


@pytest.mark.parametrize("attention,position", [("sliding", "rotary"), ("window", "sinusoid")])
def test_sown_attention_leaves_the_actions_unchanged(attention, position):
    """Both attention modes: the recorded actions are those of ``act`` (no intermediates)."""
    cfg = small_config(attention=attention, position=position, window=5)
    policy = _untrained_policy(cfg)
    env = policy.env
    task = env.sample_task(jax.random.PRNGKey(3), "test")
    record = record_trial(policy, task, jax.random.PRNGKey(4), episodes=2)
    check_attention(record, cfg.window)
    trial = TrialEnv(env, cfg.episode_length, 2)
    ts = jax.vmap(trial.reset)(jax.random.split(jax.random.PRNGKey(4))[:1],
                               jax.tree.map(lambda x: x[None], task))
    observe, env_step = jax.jit(jax.vmap(trial.observe)), jax.jit(jax.vmap(trial.step))
    policy.reset(1)
    for t in range(trial.trial_length):
        action = policy.step(observe(ts))
        np.testing.assert_allclose(action[0], record.action[t], atol=1e-6)
        ts, _ = env_step(ts, action)
        if (t + 1) % cfg.episode_length == 0:
            ts = jax.vmap(trial.next_episode)(ts)


def test_velocity_plot_of_locomotion_trials(tmp_path):
    """The halfcheetah_vel / _dir picture from recorded data: one panel per trial."""
    t = np.arange(40)
    velocity = np.minimum(t % 20 / 5.0, 1.5)
    record = TrialRecord(obs=np.zeros((40, 17)), next_obs=np.zeros((40, 17)),
                         action=np.zeros((40, 6)), reward=-np.abs(velocity - 1.5),
                         metrics={"x_velocity": velocity}, task={"velocity": np.array(1.5)},
                         attention=[], episode_length=20)
    backward = dataclasses.replace(record, task={"direction": np.array(-1.0)})
    plot_velocity({"test task 0": record, "test task 1": backward}, str(tmp_path / "v.png"))
    assert png_size(tmp_path / "v.png") == (800, 520)
    # Velocity 0, 0.2, ..., 1.4 then at the target: -(1.5 + 1.3 + ... + 0.1) per episode.
    np.testing.assert_allclose(record.episode_returns(), [-6.4, -6.4], rtol=1e-6)


def test_rendered_rollout_of_a_halfcheetah_trial(tmp_path):
    """A recorded Brax trial keeps the physics' positions (the observation's own), and
    ``render_trial`` draws them into a GIF that plays in real time: one frame per 2 steps, each
    a picture (not one flat colour) that changes as the body moves."""
    from PIL import Image, ImageChops

    cfg = small_config(env="halfcheetah_vel", episode_length=6, window=4, policy_out_gain=1.0)
    policy = _untrained_policy(cfg)
    env = policy.env
    record = record_trial(policy, env.sample_task(jax.random.PRNGKey(0), "test"),
                          jax.random.PRNGKey(1), episodes=2)
    assert record.qpos.shape == (12, env.mujoco_model.nq)
    # Brax's halfcheetah observes the positions without the forward coordinate, then velocities.
    np.testing.assert_allclose(record.next_obs[:, :8], record.qpos[:, 1:], atol=1e-5)
    moved = record.qpos.copy()  # Stride the body forward so that consecutive frames differ.
    moved[:, 0] += 0.3 * np.arange(12)
    record = dataclasses.replace(record, qpos=moved)
    path = tmp_path / "rollout.gif"
    assert render_trial(record, env.mujoco_model, env.dt, str(path), width=160, height=120) == 6
    gif = Image.open(path)
    assert (gif.size, gif.n_frames, gif.info["duration"]) == ((160, 120), 6, round(2000 * env.dt))
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(gif.convert("RGB"))
        assert np.asarray(frames[-1]).std() > 20.0  # A picture, not a blank frame.
    below_text = (0, 45, 160, 120)  # The labels change every frame; the scene must too.
    assert all(ImageChops.difference(a.crop(below_text), b.crop(below_text)).getbbox()
               for a, b in zip(frames, frames[1:]))
