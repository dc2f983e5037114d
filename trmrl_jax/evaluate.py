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
from trmrl_jax.faults import PhysicsFault, fault_message
from trmrl_jax.learners import Learner, State
from trmrl_jax.plots import plot_adaptation
from trmrl_jax.rollout import episode_any, episode_returns, first_fault, rollout, uniform_actions
from trmrl_jax.stats import per_episode, summarize_seeds
from trmrl_jax.step import Run, with_matmul_precision

EVAL_SEED = 20221  # Fixed: every run and agent is meta-tested on the same held-out tasks.


class MetaTest(NamedTuple):
    """One split's meta-test of seed-stacked parameters."""

    returns: np.ndarray  # [S, num_tasks, episodes] undiscounted return of each episode.
    reward_per_step: np.ndarray  # [S, episodes * episode_length] mean reward over the tasks.
    # What the distribution ``reports``: ``success`` [S, num_tasks, episodes] 1.0 where an
    # episode succeeded; ``fault`` [S, num_tasks] the first faulty step of the trial, -1: none.
    reports: dict[str, np.ndarray]


@functools.lru_cache(maxsize=16)
def make_evaluator(learner: Learner, episodes_per_trial: int, deterministic: bool = True
                   ) -> Callable[[Any, Any, jax.Array], tuple[jax.Array, jax.Array, dict]]:
    """Returns ``evaluate(params [S], tasks [n], key) -> (returns [S, n, episodes], reward per
    step [S, episodes * episode_length], mean over the n tasks, ``MetaTest.reports``)``
    (jitted), for seed-stacked acting parameters (``learner.acting_params``).

    The seeds are vmapped into one program and meet the same tasks and noise. Tasks are an
    argument, so one compilation serves every split; the function is cached, so the meta-tests
    during training reuse it instead of compiling again.
    """
    cfg = learner.cfg
    trial_env = TrialEnv(learner.env, cfg.episode_length, episodes_per_trial,
                         cfg.reset_memory_each_episode)

    def one_seed(params, tasks, key):
        n = jax.tree.leaves(tasks)[0].shape[0]
        traj = rollout(learner, trial_env, params, tasks, jax.random.split(key, n),
                       deterministic=deterministic)
        reports = {"success": lambda x: episode_any(x, cfg.episode_length),
                   "fault": first_fault}
        return (episode_returns(traj.reward, cfg.episode_length), traj.reward.mean(0),
                {name: reports[name](x) for name, x in traj.reports.items()})

    return jax.jit(with_matmul_precision(jax.vmap(one_seed, in_axes=(0, None, None)),
                                         cfg.matmul_precision))


def summarize(returns: np.ndarray, success: np.ndarray | None = None) -> dict:
    """[num_tasks, K] (or [seeds, num_tasks, K]) returns -> the ``eval.json`` record of a split;
    with ``success`` (the same shape, 1.0 where the episode succeeded), its rate per episode
    (``success_per_episode``, with its spread over tasks) too."""
    returns = np.asarray(returns).reshape(-1, returns.shape[-1])
    out = dict(per_episode(returns), num_tasks=returns.shape[0])
    if success is not None:
        out.update(per_episode(np.asarray(success).reshape(returns.shape), "success"))
    return out


def meta_test(learner: Learner, params: Any, *, key: jax.Array, num_tasks: int,
              episodes_per_trial: int, splits: tuple[str, ...] = SPLITS,
              deterministic: bool | None = None) -> dict[str, MetaTest]:
    """Meta-tests seed-stacked acting parameters [S, ...] on ``num_tasks`` tasks of each split,
    acting with the policy's mean (``deterministic``; None: ``learner.deterministic_test``).

    The same ``key`` gives the same held-out tasks, so runs and agents are compared on equal terms.
    """
    if deterministic is None:
        deterministic = learner.deterministic_test
    evaluate = make_evaluator(learner, episodes_per_trial, deterministic)
    task_key, run_key = jax.random.split(key)
    return {split: MetaTest(*jax.tree.map(np.asarray, evaluate(
        params, learner.env.sample_tasks(task_key, num_tasks, split), run_key)))
            for split in splits}


@functools.lru_cache(maxsize=16)
def _uniform_returns(env: TaskDistribution, episode_length: int, episodes_per_trial: int
                     ) -> Callable[[Any, jax.Array], jax.Array]:
    """``(tasks [n], key) -> returns [n, episodes]`` of uniformly random actions (jitted)."""
    trial_env = TrialEnv(env, episode_length, episodes_per_trial)

    def run(tasks, key):
        keys = jax.random.split(key, jax.tree.leaves(tasks)[0].shape[0])
        return episode_returns(uniform_actions(trial_env, tasks, keys).reward, episode_length)

    return jax.jit(run)


def random_policy_levels(env: TaskDistribution, *, key: jax.Array, num_tasks: int,
                         episode_length: int, episodes_per_trial: int, splits: tuple[str, ...]
                         ) -> dict[str, float]:
    """{split: mean return per episode} of actions drawn uniformly from [-1, 1]^A on the tasks
    ``meta_test`` draws from the same ``key``: the floor of ``adaptation.png``. A random policy
    has no memory, so one level stands for every episode."""
    task_key, run_key = jax.random.split(key)
    run = _uniform_returns(env, episode_length, episodes_per_trial)
    return {split: float(np.mean(run(env.sample_tasks(task_key, num_tasks, split), run_key)))
            for split in splits}


def evaluate_seeds(run: Run, state: State, *, num_tasks: int, episodes_per_trial: int,
                   splits: tuple[str, ...], references: bool = False,
                   deterministic: bool | None = None) -> dict:
    """Meta-tests every seed of ``state`` (vmapped, one program); the split records pool seeds
    and tasks, ``per_seed`` keeps them; each has ``reward_per_step`` [episodes * episode_length],
    the mean reward at every step of the trial (how fast the agent adapts within an episode),
    and where the distribution reports ``success``, ``success_per_episode`` (the fraction of
    tasks whose episode succeeded; pooled over seeds with its interval, as the returns).
    ``references``: also ``reference.random``, the return per episode of uniformly random
    actions on the same tasks (the level an agent must beat). ``deterministic``: act with the
    policy's mean or sample its actions (None: the learner's own meta-test); ``actions`` records
    which.

    Raises ``PhysicsFault`` when a step of the meta-test faulted."""
    cfg = run.cfg
    learner = run.learner_for(num_tasks * cfg.num_seeds)  # The seeds' trials step as one batch.
    if deterministic is None:
        deterministic = learner.deterministic_test
    tests = meta_test(learner, run.learner.acting_params(state),
                      key=jax.random.PRNGKey(EVAL_SEED), num_tasks=num_tasks,
                      episodes_per_trial=episodes_per_trial, splits=splits,
                      deterministic=deterministic)
    for split, t in tests.items():
        check_faults(learner.env, t, split, cfg.episode_length, cfg.seed)
    per_seed = [{split: dict(summarize(t.returns[i], t.reports["success"][i]
                                       if "success" in t.reports else None),
                             reward_per_step=t.reward_per_step[i].tolist())
                 for split, t in tests.items()} for i in range(cfg.num_seeds)]
    out: dict = {"actions": "mean" if deterministic else "sampled"}
    for split in splits:
        curves = np.asarray([r[split]["returns_per_episode"] for r in per_seed])
        pooled = dict(per_seed[0][split]) if cfg.num_seeds == 1 else dict(
            summarize_seeds(curves), num_tasks=num_tasks,
            std_over="seeds (each seed's curve is its mean over tasks)",
            reward_per_step=tests[split].reward_per_step.mean(0).tolist())
        if cfg.num_seeds > 1 and "success" in tests[split].reports:
            pooled.update(summarize_seeds(
                np.asarray([r[split]["success_per_episode"] for r in per_seed]), "success"))
        out[split] = pooled
    if cfg.num_seeds > 1:
        out["per_seed"] = per_seed
    if references:
        out["reference"] = {"random": random_policy_levels(
            run.learner_for(num_tasks).env, key=jax.random.PRNGKey(EVAL_SEED),
            num_tasks=num_tasks, episode_length=cfg.episode_length,
            episodes_per_trial=episodes_per_trial, splits=splits)}
    return out


def check_faults(env: TaskDistribution, test: MetaTest, split: str, episode_length: int,
                 first_seed: int) -> None:
    """Raises ``PhysicsFault`` naming the first seed and task of ``test`` whose trial faulted."""
    if "fault" not in test.reports or np.all(test.reports["fault"] < 0):
        return
    steps = test.reports["fault"]  # [S, n]
    seed, task = np.argwhere(steps >= 0)[0]
    raise PhysicsFault(fault_message(
        env, f"in the meta-test on {split} tasks (seed {first_seed + seed})", int(task),
        steps.shape[1], int(steps[seed, task]), episode_length, steps.size)
        + "; its results were not written")


def write_results(results: dict, workdir: str, title: str = "") -> None:
    """``eval.json``, ``adaptation.png`` (with the reference levels ``results`` holds) and,
    where the distribution reports success, ``success.png``."""
    with open(os.path.join(workdir, "eval.json"), "w") as f:
        json.dump(results, f, indent=2)
    references = {"random actions" if name == "random" else name: levels
                  for name, levels in results.get("reference", {}).items()}
    splits = {"meta-test": {k: v for k, v in results.items() if k in SPLITS}}
    plot_adaptation(splits, os.path.join(workdir, "adaptation.png"), title, references)
    if any("success_per_episode" in v for v in splits["meta-test"].values()):
        plot_adaptation(splits, os.path.join(workdir, "success.png"), title, metric="success")
