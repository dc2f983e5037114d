"""Faithfulness to the reference implementation: the paper presets against BUILD.md's table, and
each piece of garage's PPO that the presets switch on (value target and loss, separate
optimisers, step minibatches, the learning-rate decay, window-slot sinusoids)."""

import dataclasses
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trmrl_jax.config import Config, ConfigError
from trmrl_jax.distributed import replicate
from trmrl_jax.learners.ppo.losses import discounted_returns, value_loss
from trmrl_jax.learners.ppo.optimise import lr_schedule, make_separate_optimizers
from trmrl_jax.networks import make_agent
from trmrl_jax.networks.encoder import sinusoid
from trmrl_jax.networks.heads import PolicyOutput
from trmrl_jax.presets import PRESETS
from trmrl_jax.step import Run, init_state, make_train_step
from trmrl_jax.workdir import check_workdir

from conftest import random_observation, small_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER = ("paper_halfcheetah_vel", "paper_halfcheetah_dir", "paper_ant_dir")


def _table() -> list[list[str]]:
    """Rows (cells) of BUILD.md's paper-preset table."""
    text = open(os.path.join(ROOT, "BUILD.md")).read()
    section = text.split("## The paper presets")[1].split("\n## ")[0]
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| Reference |")]


def _parse(value: str, like):
    if isinstance(like, bool):
        return {"True": True, "False": False}[value]
    return type(like)(float(value)) if isinstance(like, (int, float)) else value


def _table_values() -> dict[str, list]:
    """field -> [value for each paper preset] from the table's *Ours* column."""
    out = {}
    for row in _table():
        for name, values in re.findall(r"`(\w+)=([^`]+)`", row[2]):
            values = [v.strip() for v in values.split(" / ")]
            like = getattr(Config(), name)
            out[name] = [_parse(v, like) for v in (values if len(values) == 3 else values * 3)]
    return out


def test_paper_presets_are_the_build_table():
    table = _table_values()
    assert len(table) >= 30
    for i, name in enumerate(PAPER):
        cfg = PRESETS[name]
        for field, values in table.items():
            assert getattr(cfg, field) == values[i], (name, field)
    # Every field a paper preset moves away from the defaults has its row in the table.
    default = Config()
    moved = {f.name for f in dataclasses.fields(Config) for name in PAPER
             if getattr(PRESETS[name], f.name) != getattr(default, f.name)} - {"workdir"}
    assert moved <= set(table), sorted(moved - set(table))


def test_halfcheetah_presets_use_plain_xavier_and_ant_presets_a_small_output():
    """The reference scales the policy's output layer by 0.01 for Ant only."""
    for name, cfg in PRESETS.items():
        expected = 0.01 if cfg.env.startswith("ant") or cfg.env == "point_nav" else 1.0
        assert cfg.policy_out_gain == expected, name


def test_discounted_returns_and_gaussian_value_loss_by_hand():
    r = jnp.array([1.0, 0.0, 2.0])[:, None]
    dones = jnp.array([0.0, 0.0, 1.0])[:, None]
    np.testing.assert_allclose(discounted_returns(r, dones, 0.5)[:, 0], [1.5, 1.0, 2.0])
    out = PolicyOutput(mean=jnp.zeros((2, 1)), log_std=jnp.zeros((2, 1)),
                       value=jnp.array([1.0, 2.0]), value_log_std=jnp.log(jnp.full(2, 2.0)))
    # -log N(R; v, 2^2) = 0.5 ((R - v) / 2)^2 + log 2 + 0.5 log(2 pi); R - v = 2 and 0.
    expected = np.mean([0.5, 0.0]) + np.log(2.0) + 0.5 * np.log(2 * np.pi)
    assert float(value_loss(out, jnp.array([3.0, 2.0]), "gaussian")) == pytest.approx(expected)


def test_reference_decay_milestones():
    """Geometric decay from iteration 100 to 750 to 0.1x, one factor per iteration: iteration
    99 still at the full rate, iteration 100 one step down, 749 and after at 0.1x. A longer run
    (``total_env_steps``) does not move it."""
    cfg = PRESETS["paper_halfcheetah_vel"]
    schedule = lr_schedule(cfg, 1.0, 0.1, steps_per_update=320)
    at = lambda update: float(schedule(jnp.asarray(update * 320 + 5)))  # noqa: E731
    assert at(0) == at(99) == 1.0
    assert at(100) == pytest.approx(0.1 ** (1 / 650))
    assert at(749) == pytest.approx(0.1) and at(2000) == pytest.approx(0.1)
    longer = lr_schedule(cfg.replace(total_env_steps=10 * cfg.total_env_steps), 1.0, 0.1, 320)
    assert float(longer(jnp.asarray(400 * 320))) == at(400)


def test_resume_that_would_bend_the_schedule_is_refused(tmp_path):
    """A schedule that decays to the last update ends elsewhere when total_env_steps changes:
    resume is refused, with the flag that keeps it. A fixed end resumes."""
    cfg = small_config(lr_final_fraction=0.5, workdir=str(tmp_path))
    (tmp_path / "config.json").write_text(cfg.to_json())
    with pytest.raises(ConfigError, match=f"pass --lr_decay_end={cfg.num_updates} to keep"):
        check_workdir(cfg.replace(total_env_steps=2 * cfg.total_env_steps))
    check_workdir(cfg.replace(total_env_steps=2 * cfg.total_env_steps,
                              lr_decay_end=cfg.num_updates))
    constant = cfg.replace(lr_final_fraction=1.0)  # No decay: nothing to bend.
    (tmp_path / "config.json").write_text(constant.to_json())
    check_workdir(constant.replace(total_env_steps=2 * cfg.total_env_steps))


def test_separate_optimisers_touch_only_their_own_parameters():
    """The policy AdamW leaves the value head alone; the value AdamW leaves the policy head
    alone and trains the encoder only when the value reads it (shared trunk)."""
    for value_input, trunk_in_value in (("memory", True), ("token", False)):
        cfg = small_config(optimizer_layout="separate", value_input=value_input,
                           value_loss="gaussian")
        run = Run.create(cfg)
        params = jax.tree.map(lambda x: x[0], init_state(run).params)
        grads = jax.tree.map(jnp.ones_like, params)
        moved = []
        for tx in make_separate_optimizers(cfg):
            updates, _ = jax.jit(tx.update)(grads, tx.init(params), params)
            moved.append({jax.tree_util.keystr(p) for p, u in
                          jax.tree_util.tree_leaves_with_path(updates) if np.any(u != 0)})
        policy, value = moved
        assert not any("value" in k for k in policy) and any("'policy'" in k for k in policy)
        assert any("value_log_std" in k for k in value)
        assert not any("'policy'" in k or "'log_std'" in k for k in value)
        assert any("layers_0" in k for k in value) == trunk_in_value
        assert any("layers_0" in k for k in policy)


@pytest.mark.parametrize("position", ["sinusoid", "rotary"])
def test_single_step_samples_give_the_trial_outputs(key, position):
    """Window-mode TrMRL on per-step samples (the reference's minibatches of single steps)
    computes exactly what one pass over the trial computes, episode reset included."""
    cfg = small_config(attention="window", position=position, reset_memory_each_episode=True)
    agent = make_agent(cfg, 2)
    obs = random_observation(key, 3, cfg.trial_length, episode_length=cfg.episode_length)
    params = agent.init(key, jax.tree.map(lambda x: x[:, 0], obs))
    whole = agent.sequence(params, obs)
    samples = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), agent.samples(params, obs))
    steps = agent.apply_samples(params, samples)
    for a, b in ((whole.mean, steps.mean), (whole.value, steps.value)):
        np.testing.assert_allclose(a.reshape(steps.mean.shape[0], -1),
                                   b.reshape(steps.mean.shape[0], -1), rtol=1e-5, atol=1e-6)


def test_window_slot_sinusoids_interleave_sin_and_cos():
    pe = np.asarray(sinusoid(jnp.arange(5), 8))
    freqs = 1.0 / 10000.0 ** (np.arange(4) / 4)
    np.testing.assert_allclose(pe[:, 0::2], np.sin(np.arange(5)[:, None] * freqs), atol=1e-6)
    np.testing.assert_allclose(pe[:, 1::2], np.cos(np.arange(5)[:, None] * freqs), atol=1e-6)


def test_the_reference_update_runs_and_is_finite():
    """A scaled-down paper preset (window reset per episode, single-step minibatches, separate
    Gaussian-value optimiser, no clipping, geometric decay) compiles into one step and learns
    finite parameters."""
    cfg = PRESETS["paper_halfcheetah_vel"].replace(
        env="point_nav", episode_length=8, num_tasks=4, num_layers=2, num_heads=2, d_model=16,
        d_ff=32, head_hidden=16, minibatch_size=16, num_epochs=2, lr_decay_begin=1,
        lr_decay_end=3, total_env_steps=4 * 16 * 4, workdir="unused")
    run = Run.create(cfg)
    state = replicate(init_state(run), run.mesh)
    step = make_train_step(run)
    for _ in range(3):
        state, metrics = step(state)
    assert int(np.asarray(metrics["finite"]).min()) == 1
    assert np.all(np.isfinite(np.asarray(metrics["value_grad_norm"])))
    assert float(np.asarray(state.params["params"]["heads"]["value_log_std"])[0]) != 0.0


def test_env_flag_alone_gives_the_distributions_settings(tmp_path):
    """``--env=NAME`` without ``--preset`` starts from NAME's preset (here: refused before
    compiling, naming one update of that preset, which point_nav's defaults would not)."""
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.train", "--env=halfcheetah_vel",
         f"--workdir={tmp_path}", "--total_env_steps=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 2
    steps = PRESETS["halfcheetah_vel"].steps_per_update
    assert f"smaller than one update ({steps} env steps)" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_a_distribution_without_a_preset_runs_its_own_episode_length_and_defaults():
    from trmrl_jax import envs
    from trmrl_jax.presets import for_env

    class Short(type(envs.make("point_nav"))):
        default_episode_length = 7
        training_defaults = {"num_tasks": 8, "gamma": 0.5}

    envs.register("short_point_nav", Short)
    cfg = for_env("short_point_nav")
    assert (cfg.env, cfg.episode_length, cfg.num_tasks, cfg.gamma) == ("short_point_nav", 7, 8, 0.5)
    assert cfg.learning_rate == Config().learning_rate
    # Meta-World's: 16 trials of 2 episodes of 500 steps per update, 2M env steps.
    assert (for_env("ml1_reach").steps_per_update, for_env("ml10").num_updates) == (16_000, 125)
