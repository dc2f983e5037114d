"""Whole trials of a batch of tasks: the one scan over E episodes of H steps that training, the
meta-test, the random-action level, the pictures and the benchmark's simulator-only learner all
run, so they agree by construction.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from trmrl_jax.envs import Observation, Task, TrialEnv, TrialState
from trmrl_jax.normalization import RunningStats

# act(carry, obs [B], x) -> (carry, action [B, A], aux): x is this step's slice of ``inputs``
# (None without them); aux is any per-step pytree the caller keeps.
ActFn = Callable[[Any, Observation, Any], tuple[Any, jax.Array, Any]]


@struct.dataclass
class TrialSteps:
    """Every step of one trial per task, batch-major: leaves [B, E * H, ...]."""

    obs: Observation  # What the agent saw before acting (raw, un-normalised).
    action: jax.Array  # [B, T, A] as acted (before the env clips it).
    reward: jax.Array  # [B, T]
    aux: Any  # What ``act`` returned beside the action.
    record: Any  # What ``record`` read from the trial state after the step.


def trial_scan(trial_env: TrialEnv, act: ActFn, carry: Any, ts: TrialState, *,
               inputs: Any = None,
               end_episode: Callable[[Any, Observation], Any] | None = None,
               record: Callable[[TrialState], Any] | None = None) -> tuple[Any, TrialSteps]:
    """Runs E = ``trial_env.episodes_per_trial`` episodes of H steps on a batch of trials.

    ts: [B] trial states from ``TrialEnv.reset``; inputs: leaves [E, H, ...] handed to ``act``
    step by step (e.g. per-step keys); end_episode(carry, obs) -> carry at each episode
    boundary, before the next episode's reset: obs [B] is what the agent would observe after the
    episode's last step (its final state, last action and reward); record(ts) -> per-step pytree
    read after each step.
    Returns (the final carry, ``TrialSteps`` with leaves [B, E * H, ...]).
    """
    def env_step(state, x):
        ts, carry = state
        obs = jax.vmap(trial_env.observe)(ts)
        carry, action, aux = act(carry, obs, x)
        ts, reward = jax.vmap(trial_env.step)(ts, action)
        seen = None if record is None else record(ts)
        return (ts, carry), TrialSteps(obs=obs, action=action, reward=reward, aux=aux, record=seen)

    def episode(state, xs):
        (ts, carry), steps = jax.lax.scan(env_step, state, xs, length=trial_env.episode_length)
        if end_episode is not None:
            carry = end_episode(carry, jax.vmap(trial_env.observe)(ts))
        return (jax.vmap(trial_env.next_episode)(ts), carry), steps

    (_, carry), steps = jax.lax.scan(episode, (ts, carry), inputs,
                                     length=trial_env.episodes_per_trial)
    # [E, H, B, ...] -> [B, E * H, ...]
    return carry, jax.tree.map(lambda x: jnp.moveaxis(x.reshape((-1,) + x.shape[2:]), 0, 1),
                               steps)


@struct.dataclass
class Trajectory:
    """One trial per task of a learner acting with memory, batch-major: leaves [B, T, ...]."""

    obs: Observation  # Raw (un-normalised) observations.
    action: jax.Array  # [B, T, A] the policy's sample (before clipping into the env).
    log_prob: jax.Array  # [B, T]
    value: jax.Array  # [B, T]
    reward: jax.Array  # [B, T]
    reports: dict[str, jax.Array]  # [B, T] each flag the distribution ``reports``, per step.
    record: Any = None  # What ``rollout``'s ``record`` read after each step, leaves [B, T, ...].


def carry_keys(keys: jax.Array) -> jax.Array:
    """[B] trial keys -> [B] keys for the randomness of the learner's carry (PEARL's draws of
    z), apart from the keys of the reset and the actions."""
    return jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)


def normalized(obs: Observation, stats: RunningStats, enabled: bool) -> Observation:
    return obs.replace(obs=stats.normalize(obs.obs)) if enabled else obs


def rollout(learner: Any, trial_env: TrialEnv, params: Any, tasks: Task, keys: jax.Array, *,
            deterministic: bool, record: Callable[[TrialState], Any] | None = None
            ) -> Trajectory:
    """One trial of ``learner`` (a ``learners.Learner``) acting with ``params`` on every task of
    the batch ``tasks`` [B].

    keys: [B] one PRNG key per trial, so a trial's randomness does not depend on how the batch
    is split over devices. The carry starts empty and is kept for the whole trial
    (``learner.end_episode`` at each boundary). deterministic: the policy's most likely action.
    record: as in ``trial_scan`` (e.g. the observation after each step, for a replay buffer);
    the flags the distribution ``reports`` are recorded beside it, and nothing else.
    """
    names = trial_env.env.reports
    split = jax.vmap(jax.random.split)(keys)  # [B, 2, key]
    ts = jax.vmap(trial_env.reset)(split[:, 0], tasks)

    def act(carry, obs, _):
        memory, keys = carry
        split = jax.vmap(jax.random.split)(keys)
        memory, out = learner.act(params, memory, obs)
        action = out.policy.mode() if deterministic else out.policy.sample(split[:, 1])
        return (memory, split[:, 0]), action, (out.policy.log_prob(action), out.value)

    _, steps = trial_scan(
        trial_env, act, (learner.initial_carry(keys.shape[0], carry_keys(keys)), split[:, 1]), ts,
        end_episode=lambda carry, obs: (learner.end_episode(params, carry[0], obs), carry[1]),
        record=lambda ts: ({name: ts.env_state.metrics[name] for name in names},
                           None if record is None else record(ts)))
    log_prob, value = steps.aux
    reports, seen = steps.record
    return Trajectory(obs=steps.obs, action=steps.action, log_prob=log_prob, value=value,
                      reward=steps.reward, reports=reports, record=seen)


def uniform_actions(trial_env: TrialEnv, tasks: Task, keys: jax.Array) -> TrialSteps:
    """One trial per task of actions drawn uniformly from [-1, 1]^A: the level an agent must
    beat. keys: [B], one per trial; each splits into the reset's key and one per episode, then
    one per step, as an unbatched scan over one task would draw them."""
    split = jax.vmap(jax.random.split)(keys)  # [B, 2, key]: reset, actions.
    ts = jax.vmap(trial_env.reset)(split[:, 0], tasks)
    per_episode = jax.vmap(lambda k: jax.random.split(k, trial_env.episodes_per_trial))(
        split[:, 1])  # [B, E, key]
    per_step = jax.vmap(jax.vmap(lambda k: jax.random.split(k, trial_env.episode_length)))(
        per_episode)  # [B, E, H, key]
    action_size = trial_env.env.action_size

    def act(carry, obs, step_keys):
        del obs
        return carry, jax.vmap(lambda k: jax.random.uniform(
            k, (action_size,), minval=-1.0, maxval=1.0))(step_keys), ()

    return trial_scan(trial_env, act, (), ts, inputs=jnp.moveaxis(per_step, 0, 2))[1]


def episode_returns(reward: jax.Array, episode_length: int) -> jax.Array:
    """[B, E * H] rewards -> [B, E] undiscounted return of each episode."""
    return reward.reshape(reward.shape[0], -1, episode_length).sum(-1)


def episode_any(flag: jax.Array, episode_length: int) -> jax.Array:
    """[B, E * H] per-step flags -> [B, E] 1.0 where any step of the episode has it (Meta-World's
    success of an episode)."""
    return flag.reshape(flag.shape[0], -1, episode_length).max(-1)


def first_fault(fault: jax.Array) -> jax.Array:
    """[B, T] per-step fault flags -> [B] int32 step of the trial (0-based) of each trial's
    first fault, -1 where none: where the run's message points."""
    return jnp.where(jnp.any(fault > 0, axis=-1), jnp.argmax(fault > 0, axis=-1), -1
                     ).astype(jnp.int32)
