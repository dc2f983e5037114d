"""PEARL: it meta-learns point navigation (posterior at work between episodes), acting and
training compute the same posterior and policy, and the per-task replay buffers wrap around."""

import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trmrl_jax.config import ConfigError, validate
from trmrl_jax.envs import TrialEnv
from trmrl_jax.learners.pearl.losses import posterior_of
from trmrl_jax.learners.pearl.replay import TaskBuffers, Transitions
from trmrl_jax.rollout import carry_keys, rollout
from trmrl_jax.step import Run
from trmrl_jax.train import train

from conftest import small_config


def pearl_config(**changes):
    base = dict(agent="pearl", episode_length=20, episodes_per_trial=2, num_tasks=8,
                pearl_train_tasks=40, pearl_replay_capacity=2000, pearl_grad_steps=100,
                pearl_meta_batch=8, pearl_batch_size=64, pearl_context_size=40, pearl_hidden=64,
                pearl_encoder_hidden=64, pearl_learning_rate=3e-3, gamma=0.9, eval_tasks=20,
                eval_episodes=3)
    return small_config(**dict(base, **changes))


def test_pearl_learns_point_nav_and_adapts_between_episodes(tmp_path):
    """75 updates of 8 trials and 100 gradient steps: the meta-test beats random actions
    clearly, and the posterior after episode 1 makes the later episodes better (seeds 0-3
    measured: mean return 7.2-8.2 above random, episode 3 4.4-8.0 above episode 1)."""
    cfg = pearl_config(workdir=str(tmp_path / "run"))
    cfg = cfg.replace(total_env_steps=75 * cfg.steps_per_update, checkpoint_every=75)
    _, history = train(cfg, progress=False)
    assert all(np.isfinite(h["q_loss"]) for h in history)
    with open(tmp_path / "run" / "eval.json") as f:
        results = json.load(f)
    curve = np.asarray(results["test"]["returns_per_episode"])
    random_level = results["reference"]["random"]["test"]
    assert curve.mean() > random_level + 4.0, (curve, random_level)
    assert curve[-1] > curve[0] + 3.0, curve


def test_acting_and_training_compute_the_same_posterior_and_policy(key):
    """The posterior ``act`` accumulates step by step equals the one the loss computes from the
    same transitions in one batch; z is redrawn exactly at the later episodes' first steps; the
    policy's action and log-density in the loss equal ``act``'s."""
    cfg = pearl_config(episode_length=5, episodes_per_trial=3, pearl_hidden=16,
                       pearl_encoder_hidden=16)
    run = Run.create(cfg)
    learner, h, t_len = run.learner, cfg.episode_length, cfg.trial_length
    trial_env = TrialEnv(run.env, h, cfg.episodes_per_trial)
    tasks, keys = run.env.sample_tasks(key, 3, "test"), jax.random.split(key, 3)
    policy_keys = jax.vmap(lambda k: jax.random.split(k, t_len))(keys)  # [B, T, key]
    swap = functools.partial(jax.tree.map, lambda x: jnp.swapaxes(x, 0, 1))

    @jax.jit
    def both_sides(key):
        """A trial at initial parameters; ``act`` replayed over it step by step (as the meta-test
        acts: beliefs and outputs [B, T, ...]); the training side's posteriors and policy."""
        params = learner.nets.init(key)
        traj = rollout(learner, trial_env, params, tasks, keys, deterministic=False)

        def step(carry, obs):
            carry, out = learner.act(params, carry, obs)
            return carry, (carry, out)

        beliefs, outs = swap(jax.lax.scan(step, learner.initial_carry(3, carry_keys(keys)),
                                          swap(traj.obs))[1])
        context = Transitions(obs=traj.obs.obs, action=traj.action, reward=traj.reward,
                              next_obs=traj.obs.obs)
        batch = {t: posterior_of(learner.nets, params, jax.tree.map(lambda x: x[:, :t], context))
                 for t in (1, h, t_len - 1)}  # What act has folded in after step t.
        trained = learner.nets.pi(params, traj.obs.obs, beliefs.z).sample_with_log_prob(
            policy_keys)
        acted = jax.vmap(lambda out, k: out.policy.sample(k))(outs, policy_keys)
        return (beliefs, batch, trained, (acted, outs.policy.log_prob(acted)),
                (traj.log_prob, outs.policy.log_prob(traj.action)))

    beliefs, batch, (action, log_prob), (acted, acted_log_prob), rollout_log_probs = both_sides(
        key)
    for t, posterior in batch.items():
        np.testing.assert_allclose(beliefs.posterior.mean[:, t], posterior.mean, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(beliefs.posterior.var[:, t], posterior.var, rtol=1e-5)
    changed = np.any(np.asarray(beliefs.z[:, 1:] != beliefs.z[:, :-1]), axis=(0, 2))
    assert np.flatnonzero(changed).tolist() == list(range(h - 1, t_len - 1, h))
    np.testing.assert_allclose(action, acted, atol=1e-6)
    np.testing.assert_allclose(log_prob, acted_log_prob, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(*rollout_log_probs, atol=1e-5)  # The replay acts as rollout.


def test_task_buffers_wrap_around_per_task():
    def rows(start, n=3):  # Transitions numbered start.. so the test can tell them apart.
        r = jnp.arange(start, start + n, dtype=jnp.float32)
        return Transitions(obs=r[:, None], action=r[:, None], reward=r, next_obs=r[:, None] + 1)

    buffers = TaskBuffers.create(num_tasks=3, capacity=5, obs_size=1, action_size=1)
    batch = jax.tree.map(lambda *x: jnp.stack(x), rows(0), rows(10), rows(20))
    buffers = buffers.add(jnp.array([0, 2, 0]), batch)  # Task 0 twice: 6 into 5 slots.
    np.testing.assert_array_equal(buffers.size, [5, 0, 3])
    np.testing.assert_array_equal(buffers.next, [1, 0, 3])
    np.testing.assert_array_equal(buffers.data.reward[0], [22, 1, 2, 20, 21])  # 0 overwritten.
    np.testing.assert_array_equal(buffers.data.reward[2, :3], [10, 11, 12])
    np.testing.assert_array_equal(buffers.data.next_obs[0, :, 0], [23, 2, 3, 21, 22])
    drawn = buffers.sample(jax.random.PRNGKey(0), jnp.asarray(2), 200)
    assert set(np.asarray(drawn.reward).tolist()) == {10.0, 11.0, 12.0}  # Only what it holds.
    np.testing.assert_array_equal(drawn.obs[:, 0], drawn.reward)  # Fields stay together.


def test_pearl_refuses_what_does_not_apply():
    with pytest.raises(ConfigError, match="minibatch_size=64 is PPO's"):
        validate(pearl_config(minibatch_size=64))
    with pytest.raises(ConfigError, match="reset_memory_each_episode=True"):
        validate(pearl_config(reset_memory_each_episode=True))
    with pytest.raises(ConfigError, match="pearl_replay_capacity=30 holds less than one trial"):
        validate(pearl_config(pearl_replay_capacity=30))
    with pytest.raises(ConfigError, match="pearl_meta_batch=3 does not divide over 2 devices"):
        validate(pearl_config(pearl_meta_batch=3), num_devices=2)


_DEVICES_SCRIPT = """
import sys, numpy as np, jax
sys.path.insert(0, {tests!r})
from test_pearl import pearl_config
from trmrl_jax.distributed import replicate
from trmrl_jax.step import Run, init_state, make_train_step
states = []
for n in (1, 2):
    cfg = pearl_config(num_devices=n, episode_length=5, pearl_grad_steps=5, pearl_hidden=16,
                       pearl_encoder_hidden=16, pearl_batch_size=16, pearl_context_size=8,
                       pearl_replay_capacity=40)
    run = Run.create(cfg)
    state, step = replicate(init_state(run), run.mesh), make_train_step(run)
    for _ in range(3):
        state, _ = step(state)
    states.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(jax.device_get(state))]))
np.testing.assert_allclose(states[0], states[1], rtol=1e-4, atol=1e-5)
"""


def test_one_and_two_devices_give_the_same_state():
    """Collection split over devices and gathered into every replica's buffers, meta-batches
    split and gradients averaged: parameters, buffers and keys agree (measured: 5e-7)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", PYTHONPATH=root)
    code = _DEVICES_SCRIPT.format(tests=os.path.join(root, "tests"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
