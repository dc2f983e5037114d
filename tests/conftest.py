"""Shared fixtures: small configs that compile fast on a 2-core CPU."""

import os
import pickle
import subprocess
import sys
import warnings

# MuJoCo picks its OpenGL back end when first imported: draw headless through EGL (software).
if "DISPLAY" not in os.environ:
    os.environ.setdefault("MUJOCO_GL", "egl")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)

from trmrl_jax import envs  # noqa: E402
from trmrl_jax.config import Config  # noqa: E402
from trmrl_jax.envs import Observation  # noqa: E402


def small_config(**changes) -> Config:
    """A run that compiles fast, at full float32 matmul precision on every backend (the tests'
    tolerances are set on the CPU)."""
    base = Config(episode_length=8, episodes_per_trial=3, num_tasks=16, window=6, num_layers=2,
                  num_heads=2, d_model=16, d_ff=32, head_hidden=16, gru_size=16,
                  total_env_steps=16 * 24 * 4, num_minibatches=2, num_epochs=2, eval_tasks=4,
                  eval_episodes=3, matmul_precision="highest", workdir="unused")
    return base.replace(**changes)


def random_observation(key: jax.Array, batch: int, length: int, obs_size: int = 2,
                       action_size: int = 2, task_size: int = 2, episode_length: int = 8
                       ) -> Observation:
    """Random trial inputs [batch, length, ...] with the episode flag at each episode start."""
    k = jax.random.split(key, 4)
    start = (jnp.arange(length) % episode_length == 0).astype(jnp.float32)
    return Observation(
        obs=jax.random.normal(k[0], (batch, length, obs_size)),
        prev_action=jax.random.normal(k[1], (batch, length, action_size)),
        prev_reward=jax.random.normal(k[2], (batch, length, 1)),
        episode_start=jnp.broadcast_to(start[None, :, None], (batch, length, 1)),
        task=jax.random.normal(k[3], (batch, length, task_size)))


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)


TINY_FLAGS = ["--episode_length=8", "--episodes_per_trial=2", "--num_tasks=16", "--window=4",
              "--d_model=16", "--num_heads=2", "--d_ff=32", "--head_hidden=16",
              "--num_minibatches=2", "--num_epochs=1", "--total_env_steps=768", "--eval_tasks=4",
              "--eval_episodes=3", "--matmul_precision=highest"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """``experiments.train`` of 3 tiny point_nav updates, 2 seeds, a meta-test at every update,
    Weights & Biases offline, stdout piped (as in a batch job) -> (workdir, finished process)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    workdir = str(tmp_path_factory.mktemp("tiny") / "run")
    cache = str(tmp_path_factory.mktemp("tiny_xla_cache"))
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.train", *TINY_FLAGS, "--num_seeds=2",
         "--eval_every=1", f"--workdir={workdir}", f"--compilation_cache={cache}",
         "--wandb_project=tiny", "--wandb_mode=offline"],
        cwd=root, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir, proc


@pytest.fixture(scope="module")
def metaworld_env():
    """A factory of Meta-World's environment ``name`` (e.g. "reach-v3") set to a task's
    rand_vec (float64), as ML1 sets its tasks (goal hidden)."""
    metaworld = pytest.importorskip("metaworld")
    from metaworld.sawyer_xyz_env import SawyerMocapBase

    def reset_mocap_welds(self):
        for i in np.flatnonzero(self.model.eq_type == mujoco.mjtEq.mjEQ_WELD):
            self.model.eq_data[i, :11] = [0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 5.0]

    original = SawyerMocapBase.reset_mocap_welds
    SawyerMocapBase.reset_mocap_welds = reset_mocap_welds

    def make(name, rand_vec):
        cls = metaworld.env_dict.ALL_V3_ENVIRONMENTS[name]
        env = cls()
        env.set_task(metaworld.Task(env_name=name, data=pickle.dumps(
            {"env_cls": cls, "rand_vec": np.asarray(rand_vec, np.float64),
             "partially_observable": True})))
        return env

    yield make
    SawyerMocapBase.reset_mocap_welds = original


@pytest.fixture(scope="module")
def c_engine():
    """A factory of (distribution, jitted reset, jitted step) on the C engine, one per name."""
    made = {}

    def make(name):
        if name not in made:
            dist = envs.make(name, backend="mujoco_c")
            made[name] = dist, jax.jit(dist.reset), jax.jit(dist.step)
        return made[name]

    return make


def full_state(m, d) -> np.ndarray:
    state = np.empty(mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_INTEGRATION))
    mujoco.mj_getState(m, d, state, mujoco.mjtState.mjSTATE_INTEGRATION)
    return state
