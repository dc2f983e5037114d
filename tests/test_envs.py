"""Task distributions, the trial wrapper and the public registry."""

import dataclasses
import functools
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trmrl_jax import envs

_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class Spec:
    """How to check one distribution's splits and what makes its tasks differ."""

    values: Callable[[np.ndarray], np.ndarray]  # Task features [n, task_size] -> checked values.
    train: tuple  # Closed range of train/test values.
    ood: Optional[tuple]  # Closed range of OOD values, outside ``train``; None: no OOD range.
    # "reward", "direction" (sign of d * v_x), "two" (two tasks, two rewards) or "dynamics".
    differ_by: str = "reward"


SPECS = {
    "point_nav": Spec(lambda f: np.linalg.norm(f, axis=-1), (1 - _EPS, 1 + _EPS),
                      (1.25 - _EPS, 1.5 + _EPS)),  # Goal radius.
    "halfcheetah_vel": Spec(lambda f: f[..., 0], (0.0, 3.0), (3.0, 4.0)),  # Target velocity.
    "halfcheetah_dir": Spec(lambda f: f[..., 0], (-1.0, 1.0), None, "direction"),
    "ant_fwd_back": Spec(lambda f: f[..., 0], (-1.0, 1.0), None, "two"),  # cos(angle).
    "ant_dir_arc": Spec(lambda f: np.arctan2(f[..., 1], f[..., 0]) % (2 * np.pi),  # Angle.
                    (0.0, 1.5 * np.pi), (1.5 * np.pi, 2 * np.pi + _EPS)),
    "ant_goal": Spec(lambda f: np.linalg.norm(f, axis=-1), (0.0, 3.0 + _EPS),
                     (3.0, 4.0 + _EPS)),  # Goal radius.
    "halfcheetah_rand_params": Spec(np.abs, (0.0, 1.0), (1.0, 1.5 + _EPS),  # |log_1.5 factor|.
                                    "dynamics"),
}
DISTRIBUTIONS = list(SPECS)
# Brax graphs take tens of seconds to compile with XLA's default CPU options on 2 cores; these
# cut it about 3x (the physics agrees with a default compile to float32 rounding).
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True,
                 "xla_cpu_use_fusion_emitters": False}
_BATCH, _STEPS, _ACTION = 8, 3, 0.5


def _fast_jit(fn, *args):
    """``fn`` compiled for ``args`` with ``_FAST_COMPILE``; call the result with no arguments."""
    return functools.partial(jax.jit(fn).lower(*args).compile(_FAST_COMPILE), *args)


@functools.cache
def _dist(name, backend="spring"):
    return envs.make(name, backend=backend)


@functools.cache
def _compiled_rollout(name, backend="spring"):
    dist = _dist(name, backend)

    def run(tasks):
        keys = jnp.repeat(jax.random.PRNGKey(1)[None], _BATCH, 0)
        reset = jax.vmap(dist.reset)(keys, tasks)
        start = jax.tree.map(lambda x: jnp.broadcast_to(x[:1], x.shape), reset)
        action = jnp.full((_BATCH, dist.action_size), _ACTION)

        def step(state, _):
            state = jax.vmap(dist.step)(state, action, tasks)
            return state, (state.obs, state.reward)

        return reset.obs, jax.lax.scan(step, start, None, length=_STEPS)[1]

    tasks = jax.eval_shape(lambda key: dist.sample_tasks(key, _BATCH), jax.random.PRNGKey(0))
    return jax.jit(run).lower(tasks).compile(_FAST_COMPILE)


def rollout(name, tasks, backend="spring"):
    """Resets a batch of 8 tasks with one key, then steps *every* task from task 0's start state
    with the same action: (reset obs [8, obs], obs [3, 8, obs], rewards [3, 8]).
    One compilation per distribution and backend, shared by all tests."""
    reset_obs, (obs, reward) = _compiled_rollout(name, backend)(tasks)
    return np.asarray(reset_obs), np.asarray(obs), np.asarray(reward)


def sample(name, num, split="train", seed=0):
    """``num`` tasks of ``split`` and their features [num, task_size], from one fast compile."""
    dist = _dist(name)

    def tasks_and_features(key):
        tasks = dist.sample_tasks(key, num, split)
        return tasks, jax.vmap(dist.task_features)(tasks)

    return _fast_jit(tasks_and_features, jax.random.PRNGKey(seed))()


@pytest.fixture(scope="module", params=DISTRIBUTIONS)
def env(request):
    return request.param, _dist(request.param)


def test_batch_of_tasks_steps_with_declared_sizes_and_task_dependent_rewards(env):
    name, dist = env
    tasks, features = sample(name, _BATCH)
    reset_obs, obs, reward = rollout(name, tasks)
    assert reset_obs.shape == (_BATCH, dist.observation_size) and np.all(np.isfinite(reset_obs))
    assert obs.shape == (_STEPS, _BATCH, dist.observation_size)
    assert np.all(np.isfinite(obs)) and np.all(np.isfinite(reward))
    features = np.asarray(features)
    assert features.shape == (_BATCH, dist.task_size)
    differ_by = SPECS[name].differ_by
    if differ_by == "dynamics":  # Same start state and action, different next states.
        assert len(np.unique(np.round(obs[0], 4), axis=0)) == _BATCH
        return
    np.testing.assert_allclose(obs, obs[:, :1].repeat(_BATCH, 1), atol=1e-5)  # Same physics.
    if differ_by == "direction":
        direction = features[:, 0]
        assert set(direction) == {-1.0, 1.0}
        # reward = d * v_x - 0.05 |a|^2: opposite directions, opposite velocity terms.
        velocity_term = reward + 0.05 * dist.action_size * _ACTION**2
        forward, backward = velocity_term[:, direction > 0], velocity_term[:, direction < 0]
        assert np.all(np.abs(velocity_term) > 1e-3)
        np.testing.assert_allclose(forward, -backward[:, :1].repeat(forward.shape[1], 1),
                                   atol=1e-4)
    else:  # Different rewards: one per task, or one per direction.
        assert len(np.unique(np.round(reward[-1], 5))) == (2 if differ_by == "two" else _BATCH)


def test_splits_and_ood_range(env):
    name, dist = env
    spec = SPECS[name]
    features = {split: np.asarray(sample(name, 64, split)[1]) for split in envs.SPLITS}
    values = {split: spec.values(f) for split, f in features.items()}
    low, high = spec.train
    for split in ("train", "test"):
        assert low <= values[split].min() and values[split].max() <= high, split
    if spec.ood is None:  # No OOD range (halfcheetah_dir): OOD tasks are training tasks.
        assert low <= values["ood"].min() and values["ood"].max() <= high
    else:
        assert spec.ood[0] <= values["ood"].min() and values["ood"].max() <= spec.ood[1]
        assert np.all((values["ood"] > high) | (values["ood"] < low))
    # Held-out tasks are not the training tasks.
    assert not np.allclose(features["train"], features["test"])
    with pytest.raises(ValueError, match="split='valid' is not allowed"):
        dist.sample_tasks(jax.random.PRNGKey(0), 2, "valid")


def _rand_params_rows(tasks):
    """Log-1.5 factors per task: 0 (stock physics), all +1, all -1, then one parameter at a time
    (mass, inertia, friction, damping +1, damping -1)."""
    rows = [{}, dict.fromkeys(tasks, 1.0), dict.fromkeys(tasks, -1.0), {"mass": 1.0},
            {"inertia": 1.0}, {"friction": 1.0}, {"damping": 1.0}, {"damping": -1.0}]
    return {name: jnp.stack([jnp.full_like(u[0], row.get(name, 0.0)) for row in rows])
            for name, u in tasks.items()}


def test_rand_params_tasks_simulate_different_physics():
    tasks = _rand_params_rows(sample("halfcheetah_rand_params", _BATCH)[0])
    _, obs, _ = rollout("halfcheetah_rand_params", tasks)
    # Factors of 1 reproduce the stock halfcheetah from the same state and action...
    _, stock_obs, _ = rollout("halfcheetah_vel", sample("halfcheetah_vel", _BATCH)[0])
    np.testing.assert_allclose(obs[:, 0], stock_obs[:, 0], rtol=1e-4, atol=1e-4)
    # ...and other factors change the next states: every parameter but joint damping, which the
    # spring backend ignores (only Brax's generalized backend reads dof.damping).
    change = np.abs(obs - obs[:, :1]).max(axis=(0, 2))
    assert np.all(change[1:6] > 1e-3), change
    np.testing.assert_allclose(change[6:], 0.0, atol=1e-6)


@pytest.mark.parametrize("backend", ["mjx", "mujoco_c"])
def test_mujoco_rand_params_vary_the_model_per_task(backend):
    """On MuJoCo's physics every parameter, joint damping included, changes the next states:
    the model's own body_mass, body_inertia, dof_damping and geom_friction, per task."""
    tasks = _rand_params_rows(envs.make("halfcheetah_rand_params", backend=backend).sample_tasks(
        jax.random.PRNGKey(0), _BATCH))
    _, obs, _ = rollout("halfcheetah_rand_params", tasks, backend=backend)
    change = np.abs(obs - obs[:, :1]).max(axis=(0, 2))
    assert np.all(change[1:] > 1e-3), change


@pytest.mark.parametrize("backend", ["mjx", "mujoco_c"])
def test_mujoco_distributions_declare_the_reference_sizes(backend):
    """Gym's bodies as the reference observes them: HalfCheetah qpos[1:], qvel and the torso
    position (20); Ant qpos[2:], qvel (27), or with the torso x, y for ant_goal (29)."""
    observation = {"halfcheetah_vel": 20, "halfcheetah_dir": 20, "halfcheetah_rand_params": 20,
                   "ant_fwd_back": 27, "ant_dir_arc": 27, "ant_dir_pm1rad": 27, "ant_goal": 29}
    for name, size in observation.items():
        dist = envs.make(name, backend=backend)
        task = dist.sample_task(jax.random.PRNGKey(0), "train")
        state = jax.eval_shape(dist.step, jax.eval_shape(dist.reset, jax.random.PRNGKey(0), task),
                               jnp.zeros(dist.action_size), task)
        assert state.obs.shape == (dist.observation_size,) == (size,), name
        assert dist.task_size == _dist(name).task_size and dist.dt == 0.05, name
        assert dist.action_size == (6 if name.startswith("half") else 8), name


def test_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="backend='bullet' is not available for body "
                                         "'halfcheetah'; choose one of spring, positional, "
                                         "generalized, mjx, mujoco_c"):
        envs.make("halfcheetah_vel", backend="bullet")


def test_trial_keeps_task_across_episodes_and_flags_boundaries():
    dist = envs.make("point_nav")
    trial = envs.TrialEnv(dist, episode_length=3, episodes_per_trial=2)
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


def test_per_episode_reset_starts_every_episode_from_an_empty_token():
    """With the reference's per-episode reset, each episode's first token is (s0, 0, 0, 1): no
    action or reward of the previous episode reaches the agent."""
    dist = envs.make("point_nav")
    trial = envs.TrialEnv(dist, episode_length=3, episodes_per_trial=3,
                          reset_memory_each_episode=True)
    ts = trial.reset(jax.random.PRNGKey(1), dist.sample_task(jax.random.PRNGKey(0), "train"))
    for t in range(9):
        if t and t % 3 == 0:
            ts = trial.next_episode(ts)
        o = trial.observe(ts)
        if t % 3 == 0:
            np.testing.assert_allclose(o.obs, 0.0)
            np.testing.assert_allclose(o.prev_action, 0.0)
            np.testing.assert_allclose(o.prev_reward, 0.0)
            assert float(o.episode_start[0]) == 1.0
        else:
            assert float(o.prev_reward[0]) < 0 and float(o.episode_start[0]) == 0.0
        ts, _ = trial.step(ts, jnp.ones(2))


def test_reference_ant_dir_samples_plus_minus_one_radian():
    angles = envs.make("ant_dir_pm1rad").sample_tasks(jax.random.PRNGKey(0), 64)["angle"]
    assert set(np.asarray(angles).tolist()) == {-1.0, 1.0}
    angles = envs.make("ant_fwd_back").sample_tasks(jax.random.PRNGKey(0), 64)["angle"]
    np.testing.assert_allclose(sorted(set(np.asarray(angles).tolist())), [0.0, np.pi], rtol=1e-6)


def test_new_trials_sample_new_tasks():
    a, _ = sample("halfcheetah_vel", 4, seed=0)
    b, _ = sample("halfcheetah_vel", 4, seed=1)
    assert not np.allclose(a["velocity"], b["velocity"])


def test_registry_refuses_unknown_names():
    with pytest.raises(ValueError, match="env='nope' is not registered"):
        envs.make("nope")
    assert set(DISTRIBUTIONS) <= set(envs.registered())


def test_config_allows_exactly_the_physics_backends():
    """``Config.backend``'s allowed values are the simulators ``physics.make`` (bodies) and
    ``physics.sawyer.make`` (Meta-World's scenes) build."""
    from trmrl_jax import physics
    from trmrl_jax.config import BACKENDS
    from trmrl_jax.physics import sawyer

    assert set(BACKENDS) == set(physics.BACKENDS + sawyer.BACKENDS)
