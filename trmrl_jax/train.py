"""The compiled train step (rollout + GAE + every PPO epoch in one program) and the host loop.

``make_train_step`` returns one jitted function ``state -> (state, metrics)``. Inside it,
``shard_map`` over a 1-D device mesh (axis ``data``) splits the batch of tasks over devices;
``vmap`` over a leading seed axis runs ``num_seeds`` independent runs side by side. Every trial
draws its randomness from its *global* index, and minibatches are fixed residue classes of the
trial index, so one device and several devices compute the same update.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from trmrl_jax import distributed, envs
from trmrl_jax.config import Config, ConfigError, validate
from trmrl_jax.envs import Observation, TaskDistribution, TrialEnv
from trmrl_jax.networks import Agent, make_agent
from trmrl_jax.normalization import RunningStats
from trmrl_jax.ppo import (discounted_returns, gae, normalize_advantages, policy_loss, ppo_loss,
                           value_loss)
from trmrl_jax.rollout import Trajectory, episode_returns, normalized, rollout

AXIS = "data"


@struct.dataclass
class TrainState:
    """Everything a run needs to continue exactly; leaves carry a leading [num_seeds] axis."""

    params: Any
    opt_state: Any
    obs_stats: RunningStats
    key: jax.Array  # Raw uint32 PRNG key: the source of every update's randomness.
    update: jax.Array  # int32, updates done.


def lr_schedule(cfg: Config, lr: float, final_fraction: float, steps_per_update: int
                ) -> optax.Schedule:
    """``lr`` decayed to ``lr * final_fraction`` from update ``lr_decay_begin`` to
    ``lr_decay_stop``, constant within an update (the reference decays per iteration).

    Update u (counted from 0) has gone through min(max(u + 1 - begin, 0), n) of the n = stop -
    begin decay steps, as in the reference's per-iteration milestones. The schedule reads only
    the optimiser's step count and ``lr_decay_*``, so changing ``total_env_steps`` on resume
    does not move it once ``lr_decay_end`` is set.
    """
    begin, n = cfg.lr_decay_begin, cfg.lr_decay_stop - cfg.lr_decay_begin

    def schedule(count: jax.Array) -> jax.Array:
        progress = jnp.clip(count // steps_per_update + 1 - begin, 0, n) / n
        if cfg.lr_decay_shape == "geometric":
            return lr * final_fraction ** progress
        return lr * (1.0 + (final_fraction - 1.0) * progress)

    return schedule


def _param_group(path: tuple) -> str:
    """``value`` (value head), ``policy`` (policy head and its std) or ``trunk`` (the memory:
    encoder or GRU; memoryless agents have none)."""
    keys = {getattr(k, "key", None) for k in path}
    if keys & {"value", "value_log_std"}:
        return "value"
    return "policy" if keys & {"policy", "log_std"} else "trunk"


def _labels(label: Callable[[str], str]) -> Callable[[Any], Any]:
    """A parameter-labelling function for ``optax.multi_transform`` from a group -> label map."""
    return lambda params: jax.tree_util.tree_map_with_path(
        lambda path, _: label(_param_group(path)), params)


def _adamw(cfg: Config, lr: float, final_fraction: float) -> optax.GradientTransformation:
    steps = cfg.num_epochs * cfg.minibatches_per_epoch  # Optimiser steps per update.
    return optax.adamw(lr_schedule(cfg, lr, final_fraction, steps), weight_decay=cfg.weight_decay)


def _clipped(cfg: Config, tx: optax.GradientTransformation) -> optax.GradientTransformation:
    if not cfg.max_grad_norm:
        return tx
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), tx)


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
    """The ``joint`` layout's optimiser: global-norm clipping, then AdamW with the value head at
    ``value_learning_rate`` and everything else at ``learning_rate``."""
    return _clipped(cfg, optax.multi_transform(
        {"policy": _adamw(cfg, cfg.learning_rate, cfg.lr_final_fraction),
         "value": _adamw(cfg, cfg.value_learning_rate, cfg.value_lr_final_fraction)},
        _labels(lambda group: "value" if group == "value" else "policy")))


def make_separate_optimizers(cfg: Config
                             ) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    """The ``separate`` layout (garage's PPO): a policy AdamW over the trunk and the policy head,
    and a value AdamW over the value head and, when the value reads the memory
    (``value_input='memory'``), the shared trunk too. Each leaves the other's parameters alone
    (no update, no weight decay), as two torch optimisers over their own parameters do."""
    value_groups = {"value", "trunk"} if cfg.value_input == "memory" else {"value"}

    def optimizer(lr: float, final: float, groups: set) -> optax.GradientTransformation:
        return _clipped(cfg, optax.multi_transform(
            {"train": _adamw(cfg, lr, final), "frozen": optax.set_to_zero()},
            _labels(lambda group: "train" if group in groups else "frozen")))

    return (optimizer(cfg.learning_rate, cfg.lr_final_fraction, {"policy", "trunk"}),
            optimizer(cfg.value_learning_rate, cfg.value_lr_final_fraction, value_groups))


def init_optimizer_state(cfg: Config, params: Any) -> Any:
    """Optimiser state of either layout: one state (joint) or (policy, value) states."""
    if cfg.optimizer_layout == "joint":
        return make_optimizer(cfg).init(params)
    return tuple(tx.init(params) for tx in make_separate_optimizers(cfg))


def example_observation(env: TaskDistribution, batch: int) -> Observation:
    """A zero observation batch [batch, ...] with the distribution's sizes."""
    return Observation(obs=jnp.zeros((batch, env.observation_size)),
                       prev_action=jnp.zeros((batch, env.action_size)),
                       prev_reward=jnp.zeros((batch, 1)), episode_start=jnp.ones((batch, 1)),
                       task=jnp.zeros((batch, env.task_size)))


def init_state(cfg: Config, env: TaskDistribution, agent: Agent) -> TrainState:
    """Initial state of every seed, stacked on a leading [num_seeds] axis."""
    def one(seed_key: jax.Array) -> TrainState:
        init_key, run_key = jax.random.split(seed_key)
        params = agent.init(init_key, example_observation(env, 1))
        return TrainState(params=params, opt_state=init_optimizer_state(cfg, params),
                          obs_stats=RunningStats.create(env.observation_size), key=run_key,
                          update=jnp.zeros((), jnp.int32))

    seeds = jnp.arange(cfg.num_seeds) + cfg.seed
    return jax.jit(jax.vmap(lambda s: one(jax.random.PRNGKey(s))))(seeds)


@struct.dataclass
class PPOBatch:
    """The data of a PPO update (or of one minibatch): whole trials, leaves [B, T, ...], or
    single steps, leaves [B * T, ...] (``minibatch_size`` > 0)."""

    inputs: Any  # Normalised Observation for trials; ``Agent.samples`` of it for single steps.
    action: jax.Array  # [..., A] the sampled actions.
    log_prob: jax.Array  # [...] their log-probabilities under the acting policy.
    advantage: jax.Array  # [...] GAE advantages.
    target: jax.Array  # [...] value targets (lambda-returns or Monte-Carlo returns).


def _minibatches(x: jax.Array, num: int) -> jax.Array:
    """[B, ...] -> [num, B // num, ...]; minibatch m holds the rows with index = m (mod num)."""
    return jnp.swapaxes(x.reshape((x.shape[0] // num, num) + x.shape[1:]), 0, 1)


def make_update(cfg: Config, env: TaskDistribution, agent: Agent, num_devices: int
                ) -> Callable[[TrainState], tuple[TrainState, dict]]:
    """One update for one seed, written for one device of the ``data`` axis (inside shard_map)."""
    trial_env = TrialEnv(env, cfg.episode_length, cfg.episodes_per_trial,
                         cfg.reset_memory_each_episode)
    local = cfg.num_tasks // num_devices
    t_len = cfg.trial_length
    on_steps = cfg.minibatch_size > 0
    num_minibatches = cfg.minibatches_per_epoch
    outputs = agent.apply_samples if on_steps else agent.sequence

    def joint_loss(params, mb: PPOBatch):
        return ppo_loss(outputs(params, mb.inputs), mb.action, mb.log_prob, mb.advantage,
                        mb.target, clip_eps=cfg.clip_eps, vf_coef=cfg.vf_coef,
                        ent_coef=cfg.ent_coef, value_kind=cfg.value_loss)

    def policy_only(params, mb: PPOBatch):
        return policy_loss(outputs(params, mb.inputs), mb.action, mb.log_prob, mb.advantage,
                           clip_eps=cfg.clip_eps, ent_coef=cfg.ent_coef)

    def value_only(params, mb: PPOBatch):
        return value_loss(outputs(params, mb.inputs), mb.target, cfg.value_loss), {}

    def sgd_step(tx: optax.GradientTransformation, loss_fn: Callable) -> Callable:
        """A scan body: one optimiser step of ``tx`` on ``loss_fn`` for one minibatch."""
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def step(carry, mb: PPOBatch):
            params, opt_state = carry
            if cfg.normalize_advantages:
                mb = mb.replace(advantage=normalize_advantages(mb.advantage, AXIS))
            (loss, metrics), grads = grad_fn(params, mb)
            grads = jax.lax.pmean(grads, AXIS)
            updates, opt_state = tx.update(grads, opt_state, params)
            metrics = dict(metrics, loss=loss, grad_norm=optax.global_norm(grads))
            return (optax.apply_updates(params, updates), opt_state), metrics

        return step

    def epochs(step: Callable, params, opt_state, batch: PPOBatch, key: jax.Array):
        """``num_epochs`` passes over ``batch`` in minibatches, in a new order each epoch;
        returns (params, opt_state, metrics averaged over every step)."""
        def epoch(carry, key):
            order = jax.random.permutation(key, num_minibatches)
            mbs = jax.tree.map(lambda x: _minibatches(x, num_minibatches)[order], batch)
            return jax.lax.scan(step, carry, mbs)

        (params, opt_state), metrics = jax.lax.scan(
            epoch, (params, opt_state), jax.random.split(key, cfg.num_epochs))
        return params, opt_state, jax.tree.map(jnp.mean, metrics)

    def optimise(state: TrainState, batch: PPOBatch, key: jax.Array):
        """All PPO epochs of the update in the configured optimiser layout."""
        if cfg.optimizer_layout == "joint":
            return epochs(sgd_step(make_optimizer(cfg), joint_loss), state.params,
                          state.opt_state, batch, key)
        policy_tx, value_tx = make_separate_optimizers(cfg)
        policy_key, value_key = jax.random.split(key)
        params, policy_state, metrics = epochs(sgd_step(policy_tx, policy_only), state.params,
                                               state.opt_state[0], batch, policy_key)
        params, value_state, value_metrics = epochs(sgd_step(value_tx, value_only), params,
                                                    state.opt_state[1], batch, value_key)
        metrics = dict(metrics, value_loss=value_metrics["loss"],
                       value_grad_norm=value_metrics["grad_norm"],
                       loss=metrics["loss"] + value_metrics["loss"])
        return params, (policy_state, value_state), metrics

    def local_slice(x: jax.Array) -> jax.Array:
        start = jax.lax.axis_index(AXIS) * local
        return jax.lax.dynamic_slice_in_dim(x, start, local)

    def update(state: TrainState) -> tuple[TrainState, dict]:
        key, task_key, trial_key, epoch_key = jax.random.split(state.key, 4)
        task_keys = local_slice(jax.random.split(task_key, cfg.num_tasks))
        tasks = jax.vmap(lambda k: env.sample_task(k, "train"))(task_keys)
        traj: Trajectory = rollout(
            agent, trial_env, state.params, state.obs_stats, tasks,
            local_slice(jax.random.split(trial_key, cfg.num_tasks)),
            deterministic=False, normalize_obs=cfg.normalize_obs)
        chex.assert_shape([traj.reward, traj.value, traj.log_prob], (local, t_len))
        chex.assert_shape(traj.action, (local, t_len, env.action_size))

        # Advantages and targets over each whole trial: the trial (not the episode) is what
        # PPO optimises. Time-major [T, B_local].
        dones = jnp.zeros((t_len, local)).at[-1].set(1.0)
        rewards = cfg.reward_scale * traj.reward.T
        adv, target = gae(rewards, traj.value.T, dones, jnp.zeros(local), cfg.gamma,
                          cfg.gae_lambda)
        if cfg.value_target == "monte_carlo":
            target = discounted_returns(rewards, dones, cfg.gamma)
        obs = normalized(traj.obs, state.obs_stats, cfg.normalize_obs)  # Stats used to act.
        batch = PPOBatch(inputs=obs, action=traj.action, log_prob=traj.log_prob,
                         advantage=adv.T, target=target.T)  # leaves [B_local, T, ...]
        if on_steps:  # [B_local, T, ...] -> [B_local * T, ...] independent samples.
            batch = jax.tree.map(lambda x: x.reshape((local * t_len,) + x.shape[2:]),
                                 batch.replace(inputs=agent.samples(state.params, obs)))
        params, opt_state, metrics = optimise(state, batch, epoch_key)

        flat_obs = traj.obs.obs.reshape(-1, env.observation_size)
        count, total, total_sq = jax.lax.psum(
            (jnp.asarray(flat_obs.shape[0], jnp.float32), flat_obs.sum(0),
             jnp.square(flat_obs).sum(0)), AXIS)
        returns = episode_returns(traj.reward, cfg.episode_length).mean(0)  # [E]
        finite = jnp.isfinite(metrics["loss"]) & jnp.all(jnp.stack(
            [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(params)]))
        metrics = jax.lax.pmean(dict(metrics, train_return=returns.mean(),
                                     train_return_per_episode=returns,
                                     value=traj.value.mean()), AXIS)
        metrics["finite"] = jax.lax.pmin(finite.astype(jnp.int32), AXIS)
        new_state = TrainState(params=params, opt_state=opt_state,
                               obs_stats=state.obs_stats.merge(count, total, total_sq),
                               key=key, update=state.update + 1)
        return new_state, metrics

    return update


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D ``data`` mesh over the first ``num_devices`` devices (0: all, over all processes)."""
    devices = jax.devices()
    if num_devices:
        if num_devices > len(devices):
            raise ConfigError(f"num_devices={num_devices} but only {len(devices)} devices exist; "
                              f"use 0 (all) or at most {len(devices)}")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (AXIS,))


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places ``tree`` replicated on every device of ``mesh`` (over all processes, each giving
    the same host value): the layout the step returns, so every call shares one compilation."""
    sharding = NamedSharding(mesh, P())
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree)


def make_train_step(cfg: Config, env: TaskDistribution, agent: Agent, mesh: Mesh
                    ) -> Callable[[TrainState], tuple[TrainState, dict]]:
    """The compiled step: all seeds, all devices, one update. State (``replicate``d) is donated."""
    update = jax.vmap(make_update(cfg, env, agent, mesh.size))
    # Outputs are replicated by construction (pmean of gradients and metrics, psum of statistics);
    # check_vma=False spares every scan carry a pcast to "varying".
    sharded = jax.shard_map(update, mesh=mesh, in_specs=P(), out_specs=P(), check_vma=False)
    return jax.jit(sharded, donate_argnums=0)


@dataclasses.dataclass(frozen=True)
class Run:
    """The pieces of a run that do not change while it trains."""

    cfg: Config
    env: TaskDistribution
    agent: Agent
    mesh: Mesh

    @classmethod
    def create(cls, cfg: Config) -> "Run":
        mesh = make_mesh(cfg.num_devices)
        validate(cfg, mesh.size)
        env = envs.make(cfg.env, backend=cfg.backend)
        return cls(cfg=cfg, env=env, agent=make_agent(cfg, env.action_size), mesh=mesh)


def train(cfg: Config, *, progress: bool = True, callbacks: Sequence[Callable] = ()
          ) -> tuple[TrainState, list[dict]]:
    """Trains ``cfg`` (resuming from ``cfg.workdir`` when it holds a checkpoint), meta-tests the
    final parameters, and returns the final state and the logged metrics.

    ``callbacks``: functions called after every update as ``callback(update, metrics, state)``
    (``metrics``: that update's row of ``metrics.jsonl``; ``state``: a host copy of the
    ``TrainState``, leaves [num_seeds, ...]); see ``loop.run_training``.
    """
    from trmrl_jax.loop import run_training  # The host loop: logging, checkpoints, evaluation.

    distributed.initialize(cfg)  # Multi-process runs join the coordinator before anything else.
    return run_training(Run.create(cfg), progress=progress, callbacks=callbacks)
