"""Meta-test: frozen parameters, held-out tasks, K sequential episodes with memory kept.

The curve of mean return against episode index is the measure of fast adaptation: a meta-learner
improves from episode 1 to 2 and holds on; a memoryless agent stays flat.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Callable, NamedTuple

import jax
import numpy as np

from trmrl_jax.envs import SPLITS, TaskDistribution, TrialEnv
from trmrl_jax.networks import Agent
from trmrl_jax.normalization import RunningStats
from trmrl_jax.plots import plot_adaptation
from trmrl_jax.rollout import episode_returns, rollout
from trmrl_jax.stats import per_episode


class MetaTest(NamedTuple):
    """One split's meta-test of seed-stacked parameters."""

    returns: np.ndarray  # [S, num_tasks, episodes] undiscounted return of each episode.
    reward_per_step: np.ndarray  # [S, episodes * episode_length] mean reward over the tasks.


@functools.lru_cache(maxsize=16)
def make_evaluator(env: TaskDistribution, agent: Agent, *, episode_length: int, episodes: int,
                   normalize_obs: bool, deterministic: bool = True,
                   reset_inputs_each_episode: bool = False
                   ) -> Callable[[Any, RunningStats, Any, jax.Array], tuple[jax.Array, jax.Array]]:
    """Returns ``evaluate(params [S], obs_stats [S], tasks [n], key) -> (returns [S, n,
    episodes], reward per step [S, episodes * episode_length], mean over the n tasks)``
    (jitted), for seed-stacked parameters.

    The seeds are vmapped into one program and meet the same tasks and noise. Tasks are an
    argument, so one compilation serves every split; the function is cached, so the meta-tests
    during training reuse it instead of compiling again.
    """
    trial_env = TrialEnv(env, episode_length, episodes, reset_inputs_each_episode)

    def one_seed(params, stats, tasks, key):
        n = jax.tree.leaves(tasks)[0].shape[0]
        traj = rollout(agent, trial_env, params, stats, tasks, jax.random.split(key, n),
                       deterministic=deterministic, normalize_obs=normalize_obs)
        return episode_returns(traj.reward, episode_length), traj.reward.mean(0)

    return jax.jit(jax.vmap(one_seed, in_axes=(0, 0, None, None)))


def summarize(returns: np.ndarray) -> dict:
    """[num_tasks, K] (or [seeds, num_tasks, K]) returns -> the ``eval.json`` record of a split."""
    returns = np.asarray(returns).reshape(-1, returns.shape[-1])
    return dict(per_episode(returns), num_tasks=returns.shape[0])


def meta_test(env: TaskDistribution, agent: Agent, params: Any, stats: RunningStats, *,
              key: jax.Array, num_tasks: int, episode_length: int, episodes: int,
              normalize_obs: bool, splits: tuple[str, ...] = SPLITS,
              deterministic: bool = True, reset_inputs_each_episode: bool = False
              ) -> dict[str, MetaTest]:
    """Meta-tests seed-stacked parameters [S, ...] on ``num_tasks`` tasks of each split.

    The same ``key`` gives the same held-out tasks, so runs and agents are compared on equal terms.
    """
    evaluate = make_evaluator(env, agent, episode_length=episode_length, episodes=episodes,
                              normalize_obs=normalize_obs, deterministic=deterministic,
                              reset_inputs_each_episode=reset_inputs_each_episode)
    task_key, run_key = jax.random.split(key)
    return {split: MetaTest(*map(np.asarray, evaluate(
        params, stats, env.sample_tasks(task_key, num_tasks, split), run_key)))
            for split in splits}


@functools.lru_cache(maxsize=16)
def _random_policy(env: TaskDistribution, episode_length: int, episodes: int
                   ) -> Callable[[Any, jax.Array], jax.Array]:
    """``(tasks [n], key) -> returns [n, episodes]`` of uniformly random actions (jitted)."""
    trial_env = TrialEnv(env, episode_length, episodes)

    def one(task, key):
        reset_key, act_key = jax.random.split(key)

        def step(ts, k):
            action = jax.random.uniform(k, (env.action_size,), minval=-1.0, maxval=1.0)
            return trial_env.step(ts, action)

        def episode(ts, k):
            ts, rewards = jax.lax.scan(step, ts, jax.random.split(k, episode_length))
            return trial_env.next_episode(ts), rewards.sum()

        _, returns = jax.lax.scan(episode, trial_env.reset(reset_key, task),
                                  jax.random.split(act_key, episodes))
        return returns

    return jax.jit(lambda tasks, key: jax.vmap(one)(
        tasks, jax.random.split(key, jax.tree.leaves(tasks)[0].shape[0])))


def random_policy_levels(env: TaskDistribution, *, key: jax.Array, num_tasks: int,
                         episode_length: int, episodes: int, splits: tuple[str, ...]
                         ) -> dict[str, float]:
    """{split: mean return per episode} of actions drawn uniformly from [-1, 1]^A on the tasks
    ``meta_test`` draws from the same ``key``: the floor of ``adaptation.png``. A random policy
    has no memory, so one level stands for every episode."""
    task_key, run_key = jax.random.split(key)
    run = _random_policy(env, episode_length, episodes)
    return {split: float(np.mean(run(env.sample_tasks(task_key, num_tasks, split), run_key)))
            for split in splits}


def write_results(results: dict, workdir: str, title: str = "") -> None:
    """``eval.json`` and ``adaptation.png`` (with the reference levels ``results`` holds)."""
    with open(os.path.join(workdir, "eval.json"), "w") as f:
        json.dump(results, f, indent=2)
    references = {"random actions" if name == "random" else name: levels
                  for name, levels in results.get("reference", {}).items()}
    plot_adaptation({"meta-test": {k: v for k, v in results.items() if k in SPLITS}},
                    os.path.join(workdir, "adaptation.png"), title, references)
