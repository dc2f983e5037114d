"""The learner seam: what every meta-learner provides, so the compiled step, the host loop, the
meta-test, ``api.load`` and the pictures work for any of them.

A learner owns its train state (a pytree with an ``update`` counter), one update for one seed on
one device's share of the batch of tasks (``make_update``, called inside ``shard_map``), and how
it acts in a trial: a *policy with a carry*. The carry is whatever the learner remembers within
a trial (a transformer's working memories, a recurrent state, a posterior over the task, or
parameters adapted between episodes); ``act`` advances it by one step and ``end_episode`` at each
episode boundary, so the meta-test never needs to know which learner it runs.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp

from trmrl_jax.config import Config
from trmrl_jax.distributed import AXIS
from trmrl_jax.envs import Observation, TaskDistribution, TrialEnv
from trmrl_jax.networks.heads import PolicyOutput
from trmrl_jax.normalization import RunningStats
from trmrl_jax.rollout import Trajectory, episode_any, episode_returns, first_fault, rollout

Carry = Any
State = Any  # A learner's train state: a flax struct with ``params`` and an int32 ``update``.


class Learner(abc.ABC):
    """A meta-learner for one ``Config`` on one task distribution.

    Subclasses implement ``init``, ``make_update``, ``acting_params``, ``initial_carry`` and
    ``act``; ``end_episode`` defaults to keeping the carry as it is.
    """

    # The meta-test acts with the policy's mean action; False: it samples, for learners that
    # adapt from their own exploration (MAML's policy gradient needs sampled actions).
    deterministic_test: bool = True

    def __init__(self, cfg: Config, env: TaskDistribution):
        self.cfg, self.env = cfg, env

    @abc.abstractmethod
    def init(self, key: jax.Array) -> State:
        """The initial train state of one seed (no seed axis)."""

    @abc.abstractmethod
    def make_update(self, num_devices: int) -> Callable[[State], tuple[State, dict]]:
        """One update of one seed, written for one device of the ``distributed.AXIS`` mesh axis
        (inside ``shard_map``): ``state -> (state, metrics)``. Metrics are scalars (or small
        per-episode vectors) averaged over devices, with ``finite`` (int32, 0 when the loss or
        the parameters stopped being finite) and ``train_return``."""

    @abc.abstractmethod
    def acting_params(self, state: State) -> Any:
        """What ``act`` needs from a train state (leaves keep any leading seed axis)."""

    @abc.abstractmethod
    def initial_carry(self, batch: int, key: jax.Array) -> Carry:
        """The carry at the start of a trial (empty memory), for ``batch`` trials; key: [batch]
        PRNG keys, one per trial, for a carry that draws randomness (PEARL's z)."""

    @abc.abstractmethod
    def act(self, params: Any, carry: Carry, obs: Observation
            ) -> tuple[Carry, PolicyOutput]:
        """One step of ``batch`` trials: obs leaves [B, ...] raw, as ``TrialEnv.observe`` gives
        them -> (carry, the policy's outputs [B, ...])."""

    def end_episode(self, params: Any, carry: Carry, obs: Observation) -> Carry:
        """The carry after an episode ends and before the next of the same trial begins; obs
        leaves [B, ...] raw: the episode's final state, with its last action and reward as
        ``prev_action`` (clipped into [-1, 1]) and ``prev_reward``."""
        del params, obs
        return carry

    def num_params(self) -> int:
        """How many parameters the learner trains (``state.params``), for the tables."""
        state = jax.eval_shape(self.init, jax.random.PRNGKey(0))
        return sum(math.prod(x.shape) for x in jax.tree.leaves(state.params))

    def act_recorded(self, params: Any, carry: Carry, obs: Observation
                     ) -> tuple[Carry, PolicyOutput, dict]:
        """``act`` and what its network recorded on the way, by layer (for TrMRL each layer's
        attention weights, ``{"layers_i": {"attention": ...}}``); the pictures draw them."""
        return (*self.act(params, carry, obs), {})


def device_share(x: jax.Array, size: int) -> jax.Array:
    """This device's ``size`` rows (inside ``shard_map``) of a batch [size * devices, ...]."""
    return jax.lax.dynamic_slice_in_dim(x, jax.lax.axis_index(AXIS) * size, size)


def collect_trials(learner: Learner, trial_env: TrialEnv, params: Any, task_key: jax.Array,
                   trial_key: jax.Array, num_devices: int) -> Trajectory:
    """This device's share (inside ``shard_map``) of one training trial on each of
    ``cfg.num_tasks`` fresh train tasks, acting with sampled actions. Tasks and trial noise
    come from each trial's *global* index, so one device and several collect the same trials.
    Returns a ``Trajectory`` with leaves [num_tasks // num_devices, T, ...]."""
    num_tasks = learner.cfg.num_tasks
    local = num_tasks // num_devices
    tasks = jax.vmap(lambda k: learner.env.sample_task(k, "train"))(
        device_share(jax.random.split(task_key, num_tasks), local))
    return rollout(learner, trial_env, params, tasks,
                   device_share(jax.random.split(trial_key, num_tasks), local), deterministic=False)


def observed_stats(stats: RunningStats, obs: jax.Array) -> RunningStats:
    """``stats`` merged with the raw states ``obs`` [..., O] of every device's share (inside
    ``shard_map``), so every device keeps the same statistics."""
    flat = obs.reshape(-1, obs.shape[-1])
    count, total, total_sq = jax.lax.psum(
        (jnp.asarray(flat.shape[0], jnp.float32), flat.sum(0), jnp.square(flat).sum(0)), AXIS)
    return stats.merge(count, total, total_sq)


def update_metrics(metrics: dict, params: Any, reward: jax.Array, reports: dict[str, jax.Array],
                   episode_length: int) -> dict:
    """An update's metrics as the host loop reads them: ``metrics`` (scalars of the optimiser
    steps, with ``loss``) and the training return (mean, and per episode of reward [B, E * H])
    averaged over devices, and ``finite`` (int32, 0 once the loss or ``params`` stop being
    finite on any device). ``reports``: the trials' per-step flags [B, E * H]
    (``Trajectory.reports``); with ``success``, ``train_success`` (mean, and per episode: the
    fraction of trials whose episode succeeded); with ``fault``, ``fault_at`` (``fault_index``)."""
    returns = episode_returns(reward, episode_length).mean(0)  # [E]
    finite = jnp.isfinite(metrics["loss"]) & jnp.all(jnp.stack(
        [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(params)]))
    success = {}
    if "success" in reports:
        rate = episode_any(reports["success"], episode_length).mean(0)  # [E]
        success = {"train_success": rate.mean(), "train_success_per_episode": rate}
    metrics = jax.lax.pmean(dict(metrics, train_return=returns.mean(),
                                 train_return_per_episode=returns, **success), AXIS)
    metrics["finite"] = jax.lax.pmin(finite.astype(jnp.int32), AXIS)
    if "fault" in reports:
        metrics["fault_at"] = fault_index(reports["fault"])
    return metrics


def fault_index(fault: jax.Array) -> jax.Array:
    """This device's share (inside ``shard_map``) of the per-step fault flags [B_local, T] ->
    int32 [] ``trial * T + step`` of the first fault of the lowest trial of the whole batch
    (``trial``: its global index, as ``collect_trials`` numbers them), -1 where none: one number
    per seed tells the host where the physics went wrong."""
    local, length = fault.shape
    step = first_fault(fault)  # [B_local]
    trial = jax.lax.axis_index(AXIS) * local + jnp.arange(local)
    none = jnp.iinfo(jnp.int32).max
    at = jax.lax.pmin(jnp.min(jnp.where(step >= 0, trial * length + step, none)), AXIS)
    return jnp.where(at == none, -1, at)
