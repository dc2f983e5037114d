"""Task distributions, the trial wrapper and the public registry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trmrl_jax import envs

DISTRIBUTIONS = ["point_nav", "halfcheetah_vel"]
_FEATURE_RANGES = {  # Train range of the task feature each split is checked against.
    "point_nav": lambda f: np.linalg.norm(f, axis=-1),  # goal radius: train 1, OOD > 1.
    "halfcheetah_vel": lambda f: f[..., 0],  # target velocity: train [0, 3], OOD > 3.
}
_TRAIN_MAX = {"point_nav": 1.0 + 1e-5, "halfcheetah_vel": 3.0}


@pytest.fixture(scope="module", params=DISTRIBUTIONS)
def env(request):
    return request.param, envs.make(request.param, backend="spring")


def test_batch_of_tasks_steps_with_declared_sizes_and_task_dependent_rewards(env):
    name, dist = env
    tasks = dist.sample_tasks(jax.random.PRNGKey(0), 8, "train")
    # The same start state and the same action for every task.
    state = jax.vmap(dist.reset)(jnp.repeat(jax.random.PRNGKey(1)[None], 8, 0), tasks)
    assert state.obs.shape == (8, dist.observation_size)
    action = jnp.full((8, dist.action_size), 0.5)
    step = jax.jit(jax.vmap(dist.step))
    for _ in range(3):
        state = step(state, action, tasks)
    assert np.all(np.isfinite(state.obs)) and state.obs.shape == (8, dist.observation_size)
    np.testing.assert_allclose(state.obs, state.obs[:1].repeat(8, 0), atol=1e-5)  # Same physics.
    assert len(np.unique(np.round(np.asarray(state.reward), 5))) == 8  # Different rewards.
    assert dist.task_features(jax.tree.map(lambda x: x[0], tasks)).shape == (dist.task_size,)


def test_splits_and_ood_range(env):
    name, dist = env
    feature = _FEATURE_RANGES[name]
    train = feature(jax.vmap(dist.task_features)(dist.sample_tasks(jax.random.PRNGKey(0), 64)))
    test = feature(jax.vmap(dist.task_features)(
        dist.sample_tasks(jax.random.PRNGKey(0), 64, "test")))
    ood = feature(jax.vmap(dist.task_features)(
        dist.sample_tasks(jax.random.PRNGKey(0), 64, "ood")))
    assert train.max() <= _TRAIN_MAX[name] and test.max() <= _TRAIN_MAX[name]
    assert ood.min() > _TRAIN_MAX[name]
    # Held-out tasks are not the training tasks.
    all_train = jax.vmap(dist.task_features)(dist.sample_tasks(jax.random.PRNGKey(0), 64))
    all_test = jax.vmap(dist.task_features)(dist.sample_tasks(jax.random.PRNGKey(0), 64, "test"))
    assert not np.allclose(all_train, all_test)
    with pytest.raises(ValueError, match="split='valid' is not allowed"):
        dist.sample_tasks(jax.random.PRNGKey(0), 2, "valid")


def test_trial_keeps_task_across_episodes_and_flags_boundaries():
    dist = envs.make("point_nav")
    trial = envs.TrialEnv(dist, episode_length=3, num_episodes=2)
    task = dist.sample_task(jax.random.PRNGKey(0), "train")
    ts = trial.reset(jax.random.PRNGKey(1), task)
    flags, positions = [], []
    for t in range(6):
        if t == 3:
            ts = trial.next_episode(ts)
        o = trial.observe(ts)
        flags.append(float(o.episode_start[0]))
        positions.append(np.asarray(o.obs))
        np.testing.assert_allclose(o.task, task["goal"])  # Same task all trial long.
        ts, reward = trial.step(ts, jnp.ones(2))
        np.testing.assert_allclose(o.prev_action if t == 0 else ts.prev_action, 0 if t == 0 else 1)
    assert flags == [1, 0, 0, 1, 0, 0]
    np.testing.assert_allclose(positions[3], 0.0)  # The new episode restarts at the origin...
    np.testing.assert_allclose(positions[2], [0.2, 0.2], atol=1e-6)  # ...after moving.
    # The last transition of episode 1 is still in the memory inputs of episode 2.
    assert float(trial.observe(trial.next_episode(ts)).prev_reward[0]) == float(reward)


def test_new_trials_sample_new_tasks():
    dist = envs.make("halfcheetah_vel")
    a = dist.sample_tasks(jax.random.PRNGKey(0), 4)
    b = dist.sample_tasks(jax.random.PRNGKey(1), 4)
    assert not np.allclose(a["velocity"], b["velocity"])


def test_registry_refuses_unknown_names():
    with pytest.raises(ValueError, match="env='nope' is not registered"):
        envs.make("nope")
    assert {"point_nav", "halfcheetah_vel"} <= set(envs.registered())
