"""backend="mjx" and backend="mujoco_c" against MuJoCo's C engine (float64, CPU) stepped as the
reference's environments step it: gym 0.17's ``do_simulation`` (5 physics steps of 0.01 s per
action) on Gym's models, and the reference's reward formulas computed from the C engine's state.
``mujoco_c`` is that simulation itself, so its state must equal the reference's bit for bit; the
rest of this docstring is about ``mjx``.

Every run: 2 episodes of 60 random actions in [-1, 1] (120 env steps); at each episode start the
product resets and its reset state is copied into the C engine (the episode boundary).
- Teacher forced: before each action the product starts from the C engine's state, so each of
  the 120 steps compares one env step of the model on the states the reference visits.
- Free running: the two act independently after the reset; compared over the first 10 steps of
  each episode. Longer, no free run can stay close: both bodies' contact dynamics amplify any
  difference about tenfold every 10 env steps, so float32 against float64 parts by 0.7 (cheetah)
  and 0.5 (ant) in qpos within 60 steps, and even float64 MJX (``JAX_ENABLE_X64=1``) and C part
  by 2e-5 (cheetah) and 0.1 (ant); teacher forced under float64, the product matches C to 5e-15
  (cheetah) and 8e-7 (ant: the solver's tolerance), rewards to 6e-15 and 4e-7.
Measured largest differences (float32 product, CPU), qpos / qvel / observation / reward:
  HalfCheetah teacher forced 1.2e-5 / 1.6e-3 / 1.6e-3 / 5.3e-6, free 5.6e-6 / 3.5e-4 / 3.5e-4 /
  5.7e-6; Ant teacher forced 1.6e-4 / 1.2e-2 / 1.2e-2 / 6.6e-4, free 1.7e-4 / 1.7e-3 / 1.7e-3 /
  5.5e-4. The bounds below are about 5x these. With a frame skip of 4 (or another timestep) every
  one of them fails by orders of magnitude.
"""

import functools

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from mujoco import mjx

from trmrl_jax import envs
from trmrl_jax.physics.gym import gym_model
from trmrl_jax.physics.mjx import MjxState

_TIMESTEP, _FRAME_SKIP = 0.01, 5  # The reference's: gym 0.17's XML and ``frame_skip``.
_DT = _TIMESTEP * _FRAME_SKIP
_EPISODES, _STEPS = 2, 60
# Compiling MJX at XLA's lowest optimisation level cuts the compile time about 3x; the numbers
# agree with a default compile to float32 rounding.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


class Reference:
    """The reference's environment on MuJoCo's C engine: its model, ``do_simulation``, state."""

    def __init__(self, xml: str, options: dict):
        self.m = gym_model(xml)
        for name, value in options.items():
            setattr(self.m.opt, name, value)
        assert self.m.opt.timestep == _TIMESTEP
        self.d = mujoco.MjData(self.m)
        self.torso = mujoco.mj_name2id(self.m, mujoco.mjtObj.mjOBJ_BODY, "torso")

    def set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """gym 0.17's reset: ``mj_resetData``, then ``set_state`` (which runs a forward pass)."""
        mujoco.mj_resetData(self.m, self.d)
        self.d.qpos[:], self.d.qvel[:] = qpos, qvel
        mujoco.mj_forward(self.m, self.d)

    def do_simulation(self, action: np.ndarray) -> None:
        self.d.ctrl[:] = action
        for _ in range(_FRAME_SKIP):
            mujoco.mj_step(self.m, self.d)

    def torso_xpos(self) -> np.ndarray:
        """garage/gym 0.17 ``get_body_com("torso")``: the body frame position ``xpos``."""
        return self.d.xpos[self.torso].copy()

    def contact_cost(self) -> float:
        """Gym's ant contact cost; MuJoCo >= 2.0 fills ``cfrc_ext`` only when asked."""
        mujoco.mj_rnePostConstraint(self.m, self.d)
        return 0.5e-3 * np.sum(np.square(np.clip(self.d.cfrc_ext, -1.0, 1.0)))


def cheetah_vel_reward(ref: Reference, before: np.ndarray, action: np.ndarray, task) -> float:
    """garage ``HalfCheetahVelEnv.step``."""
    forward_vel = (ref.d.qpos[0] - before[0]) / _DT
    return -abs(forward_vel - float(task["velocity"])) - 0.05 * np.sum(np.square(action))


def cheetah_obs(ref: Reference) -> np.ndarray:
    """garage ``HalfCheetahEnvMetaBase._get_obs``."""
    return np.concatenate([ref.d.qpos[1:], ref.d.qvel, ref.torso_xpos()])


def ant_dir_reward(ref: Reference, before: np.ndarray, action: np.ndarray, task) -> float:
    """garage ``AntDirEnv.step``, its survive bonus gated by health (trials never terminate)."""
    angle = float(task["angle"])
    velocity = (ref.torso_xpos()[:2] - before[:2]) / _DT
    forward = velocity @ np.array([np.cos(angle), np.sin(angle)])
    healthy = np.isfinite(ref.d.qpos).all() and 0.2 <= ref.d.qpos[2] <= 1.0
    return forward - 0.5 * np.sum(np.square(action)) - ref.contact_cost() + float(healthy)


def ant_obs(ref: Reference) -> np.ndarray:
    """garage ``AntEnv._get_obs``."""
    return np.concatenate([ref.d.qpos[2:], ref.d.qvel])


CASES = {
    "halfcheetah_vel": (
        "half_cheetah.xml", {}, {"velocity": jnp.array(1.5)}, cheetah_vel_reward, cheetah_obs,
        lambda ref: ref.d.qpos.copy()),
    "ant_dir_pm1rad": (
        "ant.xml", {"integrator": mujoco.mjtIntegrator.mjINT_EULER,
                    "cone": mujoco.mjtCone.mjCONE_ELLIPTIC},
        {"angle": jnp.array(1.0)}, ant_dir_reward, ant_obs, Reference.torso_xpos),
}


@functools.cache
def _compiled(name):
    """(distribution, reset, step) of ``name`` on mjx, compiled for the fixed task. Full float32
    matmuls: on GPUs JAX would otherwise multiply in TF32 (on CPUs this changes nothing)."""
    dist = envs.make(name, backend="mjx")
    task = CASES[name][2]
    state = jax.eval_shape(dist.reset, jax.random.PRNGKey(0), task)
    action = jax.ShapeDtypeStruct((dist.action_size,), jnp.float32)
    with jax.default_matmul_precision("highest"):
        reset = jax.jit(dist.reset).lower(jax.random.PRNGKey(0), task).compile(_FAST_COMPILE)
        step = jax.jit(dist.step).lower(state, action, task).compile(_FAST_COMPILE)
    return dist, reset, step


def run(name: str, teacher_forced: bool, steps: int = _STEPS, compiled=None) -> np.ndarray:
    """Both simulators through the episodes of ``steps`` actions; [episodes, steps, 4] absolute
    differences of qpos and qvel (max over entries), observation and reward after each action.
    ``compiled``: a (distribution, reset, step) to use instead of the product's."""
    xml, options, task, reward_fn, obs_fn, before_fn = CASES[name]
    dist, reset, step = compiled or _compiled(name)
    ref = Reference(xml, options)
    actions = np.random.default_rng(0).uniform(-1.0, 1.0, (_EPISODES, _STEPS, dist.action_size))
    errors = np.zeros((_EPISODES, steps, 4))
    for episode in range(_EPISODES):
        state = reset(jax.random.PRNGKey(episode), task)
        ref.set_state(*(np.asarray(x, np.float64) for x in (state.pipeline_state.data.qpos,
                                                             state.pipeline_state.data.qvel)))
        np.testing.assert_allclose(state.obs, obs_fn(ref), atol=1e-6)
        for t, action in enumerate(actions[episode, :steps].astype(np.float32)):
            if teacher_forced:
                # put_data's integer fields may differ in width from make_data's (under x64).
                data = jax.tree.map(lambda new, old: jnp.asarray(new, old.dtype),
                                    mjx.put_data(ref.m, ref.d), state.pipeline_state.data)
                state = state.replace(pipeline_state=MjxState(data))
            before = before_fn(ref)
            ref.do_simulation(action)
            state = step(state, action, task)
            data = state.pipeline_state.data
            errors[episode, t] = [np.abs(np.asarray(data.qpos) - ref.d.qpos).max(),
                                  np.abs(np.asarray(data.qvel) - ref.d.qvel).max(),
                                  np.abs(np.asarray(state.obs) - obs_fn(ref)).max(),
                                  abs(float(state.reward) - reward_fn(ref, before, action, task))]
    return errors


# Bounds on (qpos, qvel, obs, reward) differences, about 5x the largest measured (docstring).
TEACHER_FORCED = {"halfcheetah_vel": (1e-4, 1e-2, 1e-2, 5e-5),
                  "ant_dir_pm1rad": (1e-3, 6e-2, 6e-2, 5e-3)}
FREE_RUNNING = {"halfcheetah_vel": (5e-5, 2e-3, 2e-3, 5e-5),
                "ant_dir_pm1rad": (1e-3, 1e-2, 1e-2, 3e-3)}
_FREE_STEPS = 10


@pytest.mark.parametrize("name", list(CASES))
def test_every_step_is_mujocos_step_with_the_references_reward(name):
    worst = run(name, teacher_forced=True).max(axis=(0, 1))
    assert np.all(worst < TEACHER_FORCED[name]), worst


@pytest.mark.parametrize("name", list(CASES))
def test_first_steps_of_each_episode_run_free_as_mujoco_does(name):
    worst = run(name, teacher_forced=False, steps=_FREE_STEPS).max(axis=(0, 1))
    assert np.all(worst < FREE_RUNNING[name]), worst


@pytest.mark.parametrize("name", list(CASES))
def test_reset_noise_is_the_references(name):
    """gym 0.17's ``reset_model``: qpos0 + U(-0.1, 0.1) on every qpos entry, qvel 0.1 N(0, 1)."""
    dist, reset, _ = _compiled(name)
    states = [reset(jax.random.PRNGKey(k), CASES[name][2]).pipeline_state.data for k in range(64)]
    qpos = np.stack([d.qpos for d in states]) - dist.mujoco_model.qpos0
    qvel = np.stack([d.qvel for d in states])
    assert 0.09 < np.abs(qpos).max() <= 0.1 and 0.05 < qpos.std() < 0.065  # 0.1 / sqrt(3).
    assert 0.09 < qvel.std() < 0.11 and abs(qvel.mean()) < 0.02


def test_where_selects_whole_environment_states():
    """``Physics.where`` inside vmap: per environment, the new state or the old one."""
    dist, reset, _ = _compiled("halfcheetah_vel")
    task = CASES["halfcheetah_vel"][2]
    new, old = (reset(jax.random.PRNGKey(k), task) for k in (10, 11))
    stack = functools.partial(jax.tree.map, lambda *x: jnp.stack(x))
    picked = jax.vmap(dist.physics.where)(jnp.array([True, False]), stack(new, new),
                                          stack(old, old))
    np.testing.assert_array_equal(picked.obs, np.stack([new.obs, old.obs]))
    np.testing.assert_array_equal(picked.pipeline_state.q, np.stack(
        [new.pipeline_state.data.qpos, old.pipeline_state.data.qpos]))


@pytest.mark.parametrize("name", list(CASES))
def test_the_c_engine_backend_steps_the_references_simulation_bit_for_bit(name):
    """backend="mujoco_c": free running through both episodes (120 env steps, a reset between
    them), the C engine's whole float64 state equals the reference's after every step; the
    float32 observation and the reward equal the reference's to float32 rounding."""
    xml, options, task, reward_fn, obs_fn, before_fn = CASES[name]
    dist = envs.make(name, backend="mujoco_c")
    reset, step = jax.jit(dist.reset), jax.jit(dist.step)
    ref = Reference(xml, options)
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    expected = np.empty(mujoco.mj_stateSize(ref.m, spec))
    actions = np.random.default_rng(0).uniform(-1.0, 1.0, (_EPISODES, _STEPS, dist.action_size))
    for episode in range(_EPISODES):
        state = reset(jax.random.PRNGKey(episode), task)
        frame = state.pipeline_state.frame
        ref.set_state(np.asarray(frame.qpos, np.float64), np.asarray(frame.qvel, np.float64))
        for t, action in enumerate(actions[episode].astype(np.float32)):
            before = before_fn(ref)
            ref.do_simulation(action)
            state = step(state, action, task)
            mujoco.mj_getState(ref.m, ref.d, expected, spec)
            np.testing.assert_array_equal(np.asarray(state.pipeline_state.sim).view(np.float64),
                                          expected, err_msg=f"episode {episode}, step {t}")
            np.testing.assert_allclose(state.obs, obs_fn(ref), rtol=1e-6, atol=1e-6)
            assert abs(float(state.reward) - reward_fn(ref, before, action, task)) < 2e-5


def test_the_c_engine_and_mjx_vary_the_same_dynamics():
    """halfcheetah_rand_params: per task, the C engine scales the stock model by the task's
    factors as MJX does; 5 steps from one start under the same actions agree to float32
    divergence, while the tasks' dynamics differ from each other by far more."""
    obs = {}
    for backend in ("mjx", "mujoco_c"):
        dist = envs.make("halfcheetah_rand_params", backend=backend)
        tasks = dist.sample_tasks(jax.random.PRNGKey(1), 3)
        keys = jnp.stack([jax.random.PRNGKey(0)] * 3)  # One start: the tasks differ in dynamics.
        state = jax.jit(jax.vmap(dist.reset))(keys, tasks)
        step = jax.jit(jax.vmap(dist.step))
        for action in np.random.default_rng(0).uniform(-1, 1, (5, 1, dist.action_size)):
            state = step(state, np.repeat(action, 3, 0).astype(np.float32), tasks)
        obs[backend] = np.asarray(state.obs)
    assert np.abs(obs["mjx"] - obs["mujoco_c"]).max() < 2e-3
    assert np.abs(obs["mujoco_c"] - obs["mujoco_c"][:1]).max() > 0.1


def test_the_c_engine_steps_the_stock_model_again_after_varied_ones():
    """Its model copies are reused across batches: a stock batch after a varied one steps the
    stock model, bit for bit as before."""
    dist = envs.make("halfcheetah_rand_params", backend="mujoco_c")
    body = dist.physics
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    action = np.full((4, body.action_size), 0.5, np.float32)
    stock = jax.tree.map(lambda x: jnp.stack([x] * 4), body.model)
    varied = jax.vmap(dist.model)(dist.sample_tasks(jax.random.PRNGKey(1), 4))

    def run(model):
        state = jax.vmap(body.reset)(keys, model)
        return np.asarray(jax.vmap(body.step)(state, action, model).pipeline_state.sim)

    before = run(stock)
    assert not np.array_equal(run(varied), before)
    np.testing.assert_array_equal(run(stock), before)


def test_the_c_engine_reports_a_step_that_mujoco_warned_of_as_a_fault():
    """MuJoCo zeroes a non-finite control and goes on; the step reports ``fault`` for that world
    only, which the distribution records (``reports``) so that a run stops there."""
    dist = envs.make("halfcheetah_vel", backend="mujoco_c")
    assert dist.reports == ("fault",)
    tasks = dist.sample_tasks(jax.random.PRNGKey(1), 2)
    state = jax.vmap(dist.reset)(jax.random.split(jax.random.PRNGKey(0), 2), tasks)
    action = np.zeros((2, dist.action_size), np.float32)
    action[1, 0] = np.nan
    state = jax.jit(jax.vmap(dist.step))(state, action, tasks)
    np.testing.assert_array_equal(state.metrics["fault"], [0.0, 1.0])
