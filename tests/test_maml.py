"""MAML: acting (adaptation between the episodes of a trial, in the carry) and the outer update
(adaptation recomputed differentiably) compute the same thing, and a short run learns to adapt."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_train import TinyBandit

from trmrl_jax import envs
from trmrl_jax.config import ConfigError, validate
from trmrl_jax.envs import TrialEnv
from trmrl_jax.evaluate import EVAL_SEED, random_policy_levels
from trmrl_jax.learners import MAML
from trmrl_jax.rollout import normalized, rollout
from trmrl_jax.train import train

from conftest import small_config


def test_acting_adapts_as_the_update_recomputes_it():
    """The log-probabilities of episodes 2 and 3 acted with parameters adapted in the carry
    equal those the outer loss computes by adapting again from the stored trial: same data
    (actions as executed, rewards from the observations), same steps."""
    cfg = small_config(agent="maml", episode_length=8, episodes_per_trial=3, mlp_hidden=16,
                       maml_inner_lr=0.5, maml_inner_steps=2)
    env = envs.make(cfg.env)
    learner = MAML(cfg, env)
    state = learner.init(jax.random.PRNGKey(1))
    # Observation statistics away from (0, 1), so normalisation is exercised too.
    params = learner.acting_params(state)
    params = params.replace(obs_stats=params.obs_stats.replace(
        mean=params.obs_stats.mean + 0.3, var=params.obs_stats.var * 2.0))
    tasks = env.sample_tasks(jax.random.PRNGKey(2), 8, "train")
    trial_env = TrialEnv(env, cfg.episode_length, cfg.episodes_per_trial)
    traj = rollout(learner, trial_env, params, tasks, jax.random.split(jax.random.PRNGKey(3), 8),
                   deterministic=False)
    states = normalized(traj.obs, params.obs_stats, cfg.normalize_obs).obs
    out = jax.vmap(learner.trial_policy, in_axes=(None, 0, 0, 0))(
        params.network, states, jnp.clip(traj.action, -1.0, 1.0), traj.reward)
    h = cfg.episode_length
    recomputed = out.policy.log_prob(traj.action[:, h:])
    np.testing.assert_allclose(recomputed, traj.log_prob[:, h:], atol=2e-5, rtol=1e-5)
    # And the adaptation is not a no-op: theta itself gives other log-probabilities.
    unadapted = learner.policy(params.network, states[:, h:]).policy.log_prob(traj.action[:, h:])
    assert np.abs(unadapted - traj.log_prob[:, h:]).max() > 1e-2


def test_maml_needs_an_episode_after_adapting():
    with pytest.raises(ConfigError, match="episodes_per_trial=1 leaves MAML no episode"):
        validate(small_config(agent="maml", episodes_per_trial=1, window=8))


def test_maml_learns_to_adapt_on_a_bandit(tmp_path):
    """A target to find from rewards alone: after training, the meta-test's last episode (its
    policy adapted on the two before) beats the first, and every episode beats random actions."""
    envs.register("tiny_bandit", TinyBandit)
    cfg = small_config(env="tiny_bandit", agent="maml", episode_length=8, episodes_per_trial=3,
                       window=4, num_tasks=64, mlp_hidden=16, num_epochs=4, num_minibatches=4,
                       total_env_steps=64 * 24 * 40, maml_inner_lr=0.1, learning_rate=3e-3,
                       eval_tasks=64, eval_episodes=3, workdir=str(tmp_path / "run"))
    train(cfg, progress=False)
    with open(tmp_path / "run" / "eval.json") as f:
        results = json.load(f)
    random = random_policy_levels(envs.make(cfg.env), key=jax.random.PRNGKey(EVAL_SEED),
                                  num_tasks=cfg.eval_tasks, episode_length=cfg.episode_length,
                                  episodes_per_trial=cfg.eval_episodes, splits=("train",))
    curve = results["train"]["returns_per_episode"]
    assert curve[2] > curve[0] + 0.5, curve
    assert min(curve) > random["train"] + 1.5, (curve, random)
