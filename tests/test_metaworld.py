"""Meta-World against Meta-World: ``ml1_reach``, ``ml1_push`` and ``ml1_pick_place`` against
metaworld 3.1.1's own ``reach-v3``, ``push-v3`` and ``pick-place-v3`` (run in-process on MuJoCo
4) on the same tasks and actions.

Reach: 150 env steps of a task, the first 80 steered towards the hidden goal (so success and
the top of the reward's shaping are visited), the rest random. Push and pick-place: 200 steps,
the first 150 Meta-World's own scripted policy (``metaworld.policies``, shown the hidden goal)
with N(0, 0.1) noise, so approach, caging, gripping, the push or lift bonus and the goal are
all visited (caging reward over 0.9, tens of bonus and of success steps), the rest random.
- backend="mujoco_c" is Meta-World's physics bit for bit: the C engine's whole state (qpos, qvel,
  warm start, mocap, ...) equals the reference's after every step, so rewards and success are
  Meta-World's on the same states; observations and rewards differ only by float32 rounding.
  Measured: observations 6.1e-7 (all three), rewards 2.7e-6 (reach), 1.4e-6 (pick-place) and
  4.7e-5 (push: its pad-caging margins, |pad y - initial puck y| - 0.05, come near 0 and
  magnify float32 rounding; evaluated in float64 on Meta-World's own states the same code is
  within 1e-6 of it, Meta-World's float32 gripper effort included). Bounds about 5x these
  (``_OBS_ATOL``, ``_REWARD_ATOL``, ``_SCRIPTED_REWARD_ATOL``); success identical at every step.
- backend="mjx_warp" (float32) against the C engine (float64), free running from the same
  reset under 120 random actions, two tasks: largest differences measured qpos 7.2e-5,
  observation 7.2e-5, reward 3.9e-5; the bounds are about 5x these.
Meta-World's ``reset_mocap_welds`` writes 11 numbers into each weld's ``eq_data``, which has 12
slots in MuJoCo 4; the reference here writes them into the first 11 (what the product does).
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trmrl_jax import envs
from trmrl_jax.config import Config, ConfigError, validate
from trmrl_jax.envs.metaworld.base import NUM_TASKS
from trmrl_jax.presets import for_env

from conftest import full_state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STEPS, _STEERED = 150, 80
_OBS_ATOL, _REWARD_ATOL = 3e-6, 1.5e-5
_WARP_STEPS = 120
_SCRIPTED_STEPS, _SCRIPTED = 200, 150
_SCRIPTED_REWARD_ATOL = 2e-4
_WARP_BOUNDS = {"qpos": 4e-4, "obs": 4e-4, "reward": 2e-4}


def actions(env, rng: np.random.Generator) -> np.ndarray:
    """The next action for Meta-World's ``env``: towards its goal while steering, else random."""
    if env.curr_path_length < _STEERED:
        towards = np.clip(50.0 * (env._target_pos - env.tcp_center), -1.0, 1.0)
        return np.append(towards, rng.uniform(-1.0, 1.0)).astype(np.float32)
    return rng.uniform(-1.0, 1.0, 4).astype(np.float32)


@pytest.mark.parametrize("env", ["ml1_reach", "ml1_push", "ml1_pick_place"])
def test_tasks_are_ml1s_fifty_train_and_fifty_held_out(c_engine, env):
    dist = c_engine(env)[0]
    train, test = (np.asarray(dist.tasks[s]) for s in ("train", "test"))
    assert train.shape == test.shape == (NUM_TASKS, 6)
    assert not set(map(tuple, train)) & set(map(tuple, test))
    for tasks in (train, test):
        assert np.all(tasks >= np.float32(dist.rand_low)) and np.all(
            tasks <= np.float32(dist.rand_high))
        assert np.all(np.linalg.norm(tasks[:, :2] - tasks[:, 3:5], axis=1) >= 0.15)
    drawn = np.asarray(dist.sample_tasks(jax.random.PRNGKey(0), 64, "test")["rand_vec"])
    assert {tuple(t) for t in drawn} <= set(map(tuple, test))


def test_mujoco_c_is_metaworlds_physics_reward_and_success(metaworld_env, c_engine):
    dist, reset, step = c_engine("ml1_reach")
    rng = np.random.default_rng(0)
    successes, rewards = 0, []
    for index in (0, 7):
        task = jax.tree.map(lambda x: x[index], dist.tasks["train"])
        task = {"rand_vec": task}
        env = metaworld_env("reach-v3", task["rand_vec"])
        obs, _ = env.reset()
        state = reset(jax.random.PRNGKey(0), task)
        np.testing.assert_allclose(state.obs, obs, atol=_OBS_ATOL)
        for _ in range(_STEPS):
            action = actions(env, rng)
            obs, reward, _, _, info = env.step(action)
            state = step(state, jnp.asarray(action), task)
            sim = np.asarray(state.pipeline_state.sim).view(np.float64)
            np.testing.assert_array_equal(sim, full_state(env.model, env.data))
            np.testing.assert_allclose(state.obs, obs, atol=_OBS_ATOL)
            assert abs(float(state.reward) - reward) < _REWARD_ATOL
            assert float(state.metrics["success"]) == info["success"]
            assert float(state.metrics["fault"]) == 0.0
            successes += info["success"]
            rewards.append(reward)
    assert successes > 10 and min(rewards) < 2.0 and max(rewards) == 10.0


def test_mjx_warp_follows_the_c_engine(c_engine):
    """Free running from the same reset, both vmapped over two tasks."""
    dist_c = c_engine("ml1_reach")[0]
    dist_w = envs.make("ml1_reach", backend="mjx_warp", worlds=2)
    tasks = jax.tree.map(lambda x: x[:2], dist_c.tasks["train"])
    tasks = {"rand_vec": tasks}
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    rng = np.random.default_rng(1)
    acts = jnp.asarray(rng.uniform(-1.0, 1.0, (_WARP_STEPS, 2, 4)), jnp.float32)

    def trajectory(dist):
        def body(state, action):
            state = jax.vmap(dist.step)(state, action, tasks)
            return state, (state.pipeline_state.frame.qpos, state.obs, state.reward,
                           state.metrics["fault"])
        start = jax.vmap(dist.reset)(keys, tasks)
        return start.obs, jax.lax.scan(body, start, acts)[1]

    (obs0_c, (qpos_c, obs_c, reward_c, _)) = jax.jit(lambda: trajectory(dist_c))()
    (obs0_w, (qpos_w, obs_w, reward_w, fault_w)) = jax.jit(lambda: trajectory(dist_w))()
    np.testing.assert_allclose(obs0_w, obs0_c, atol=1e-6)
    worst = {"qpos": np.abs(qpos_w - qpos_c).max(), "obs": np.abs(obs_w - obs_c).max(),
             "reward": np.abs(reward_w - reward_c).max()}
    assert all(worst[k] < _WARP_BOUNDS[k] for k in worst), worst
    assert not np.any(fault_w)


def test_mjx_warp_reports_a_contact_buffer_too_small_for_the_batch(c_engine):
    """Sized for 1 world (16 contacts), 8 worlds of 4 contacts each overflow it."""
    dist = envs.make("ml1_reach", backend="mjx_warp", worlds=1)
    tasks = {"rand_vec": c_engine("ml1_reach")[0].tasks["train"][:8]}
    states = jax.jit(jax.vmap(dist.reset))(jax.random.split(jax.random.PRNGKey(0), 8), tasks)
    assert np.all(states.metrics["fault"] == 1.0)


def test_env_flag_starts_from_metaworlds_episodes_on_the_c_engine():
    config = for_env("ml1_reach")
    assert (config.episode_length, config.backend) == (500, "mujoco_c")


def test_a_backend_that_cannot_simulate_the_env_is_refused():
    with pytest.raises(ConfigError, match="backend='spring' cannot simulate env='ml1_reach'"):
        validate(Config(env="ml1_reach", backend="spring"))
    with pytest.raises(ConfigError, match="backend='mjx_warp' cannot simulate"):
        validate(Config(env="halfcheetah_vel", backend="mjx_warp"))


@pytest.mark.parametrize("name,env", [("push-v3", "ml1_push"),
                                      ("pick-place-v3", "ml1_pick_place")])
def test_scripted_grasps_get_metaworlds_reward_and_success(metaworld_env, c_engine, name, env):
    """Meta-World's own scripted policy (shown the hidden goal) with N(0, 0.1) noise, then random
    actions: the approach, the caging and gripping terms, the push or lift bonus, the goal."""
    from metaworld.policies import ENV_POLICY_MAP

    dist, reset, step = c_engine(env)
    scripted, rng = ENV_POLICY_MAP[name](), np.random.default_rng(0)
    worst, grasps, bonuses, successes = 0.0, [], 0, 0
    for index in (0, 7):
        task = {"rand_vec": dist.tasks["train"][index]}
        reference = metaworld_env(name, task["rand_vec"])
        obs, _ = reference.reset()
        state = reset(jax.random.PRNGKey(0), task)
        np.testing.assert_allclose(state.obs, obs, atol=_OBS_ATOL)
        np.testing.assert_allclose(dist.goal(task), reference._target_pos, atol=1e-7)
        for t in range(_SCRIPTED_STEPS):
            if t < _SCRIPTED:
                shown = np.concatenate([obs[:36], reference._target_pos])
                action = scripted.get_action(shown) + rng.normal(0.0, 0.1, 4)
            else:
                action = rng.uniform(-1.0, 1.0, 4)
            action = np.clip(action, -1.0, 1.0).astype(np.float32)
            obs, reward, _, _, info = reference.step(action)
            state = step(state, jnp.asarray(action), task)
            sim = np.asarray(state.pipeline_state.sim).view(np.float64)
            np.testing.assert_array_equal(sim, full_state(reference.model, reference.data))
            np.testing.assert_allclose(state.obs, obs, atol=_OBS_ATOL)
            worst = max(worst, abs(float(state.reward) - reward))
            assert float(state.metrics["success"]) == info["success"], t
            assert float(state.metrics["fault"]) == 0.0
            grasps.append(info["grasp_reward"])
            bonuses += 1.0 < reward < 10.0  # Near the puck with the gripper open (and lifted).
            successes += info["success"]
    assert worst < _SCRIPTED_REWARD_ATOL, worst
    assert max(grasps) > 0.9 and bonuses > 10 and successes > 50, (max(grasps), bonuses,
                                                                   successes)


@pytest.fixture(scope="module")
def pick_place_run(tmp_path_factory):
    """A few tiny ml1_pick_place updates through the command line -> the run folder."""
    workdir = tmp_path_factory.mktemp("pick_place") / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.train", "--env=ml1_pick_place",
         "--backend=mujoco_c", "--episode_length=10", "--episodes_per_trial=2", "--num_tasks=8",
         "--window=4", "--d_model=16", "--num_heads=2", "--d_ff=32", "--head_hidden=16",
         "--num_minibatches=2", "--num_epochs=1", "--total_env_steps=480", "--eval_tasks=4",
         "--eval_episodes=2", "--compilation_cache=", f"--workdir={workdir}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def test_training_on_ml1_pick_place_runs_end_to_end(pick_place_run):
    """Finite returns in training and in the meta-test (reach and push share the code path)."""
    rows = [json.loads(line) for line in open(pick_place_run / "metrics.jsonl")]
    assert rows and all(np.isfinite(r["train_return"]) for r in rows), rows
    results = json.load(open(pick_place_run / "eval.json"))
    assert np.all(np.isfinite(results["test"]["returns_per_episode"])), results["test"]


def test_visualize_draws_a_pick_place_trial(pick_place_run, tmp_path):
    """``experiments.visualize`` writes rollout.gif of a test task's trial: 2 episodes of 10
    steps, one frame per 4, over the table (not one flat colour)."""
    from PIL import Image

    proc = subprocess.run(
        [sys.executable, "-m", "experiments.visualize", f"--workdir={pick_place_run}",
         f"--out={tmp_path}", "--frame_every=4", "--compilation_cache="],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    gif = Image.open(tmp_path / "rollout.gif")
    assert (gif.size, gif.n_frames) == ((320, 240), 5)
    assert np.asarray(gif.convert("RGB")).std() > 20.0
    assert "test task 0: return per episode" in proc.stdout
