"""Our task distributions as standard Brax environments, trained by Brax's own PPO."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.wrappers.training import wrap as wrap_for_training
from brax.training.agents.ppo import train as brax_ppo

from trmrl_jax import envs
from trmrl_jax.envs import TaskEnv


def test_each_reset_samples_a_task_and_steps_keep_it():
    env = TaskEnv(envs.make("point_nav"), split="ood")
    states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), 8))
    goals = np.asarray(states.info["task"]["goal"])
    assert len(np.unique(goals[:, 0])) == 8  # A task per reset.
    radius = np.linalg.norm(goals, axis=-1)
    assert np.all((radius >= 1.25) & (radius <= 1.5))
    action = jnp.full((8, 2), 0.5)
    after = jax.vmap(env.step)(states, action)
    np.testing.assert_allclose(after.info["task"]["goal"], goals)
    expected = -np.linalg.norm(0.05 - goals, axis=-1)  # One step of 0.1 * 0.5 per axis.
    np.testing.assert_allclose(after.reward, expected, rtol=1e-6)


def test_a_fixed_task_is_kept_and_a_bad_split_refused():
    goal = {"goal": jnp.array([0.0, 1.0])}
    env = TaskEnv(envs.make("point_nav"), task=goal)
    state = env.reset(jax.random.PRNGKey(1))
    np.testing.assert_allclose(state.info["task"]["goal"], goal["goal"])
    assert (env.observation_size, env.action_size) == (2, 2)
    with pytest.raises(ValueError, match="split='val' is not allowed"):
        TaskEnv(envs.make("point_nav"), split="val")


def test_brax_training_wrappers_keep_each_slot_on_its_task():
    """Brax's own training wrappers (episode limit, vmap, auto-reset) run the adapter: an
    episode ends after its length, and the auto-reset slot keeps its task."""
    env = wrap_for_training(TaskEnv(envs.make("point_nav")), episode_length=3)
    state = jax.jit(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    goals = np.asarray(state.info["task"]["goal"])
    step = jax.jit(env.step)
    for t in range(4):
        state = step(state, jnp.ones((4, 2)))
        assert np.all(np.asarray(state.done) == (t == 2))
    np.testing.assert_allclose(state.info["task"]["goal"], goals)
    np.testing.assert_allclose(state.obs, 0.1)  # Reset to the origin after step 3, then one step.


def test_brax_ppo_trains_on_a_task_distribution():
    """Brax's PPO, unchanged, over point_nav tasks: two training epochs and their evaluations.
    (Brax 0.14.2's PPO needs JAX < 0.10: constraints.txt.)"""
    evals = []
    make_policy, params, metrics = brax_ppo.train(
        environment=TaskEnv(envs.make("point_nav")), num_timesteps=2 * 16 * 20, num_evals=3,
        episode_length=20, num_envs=16, unroll_length=20, batch_size=8, num_minibatches=2,
        num_updates_per_batch=1, num_eval_envs=8, seed=0,
        progress_fn=lambda step, m: evals.append(float(m["eval/episode_reward"])))
    assert len(evals) == 3 and all(-60.0 < r < 0.0 for r in evals), evals
    policy = make_policy(params, deterministic=True)
    action, _ = policy(jnp.zeros((1, 2)), jax.random.PRNGKey(0))
    assert action.shape == (1, 2) and np.all(np.isfinite(action))
