"""The compiled train step: rollout of whole trials, GAE and every PPO epoch in one program.

``make_train_step`` returns one jitted function ``state -> (state, metrics)``. Inside it,
``shard_map`` over a 1-D device mesh (axis ``data``) splits the batch of tasks over devices;
``vmap`` over a leading seed axis runs ``num_seeds`` independent runs side by side. Every trial
draws its randomness from its *global* index, and minibatches are fixed residue classes of the
trial index, so one device and several devices compute the same update.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp
from flax import struct
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from trmrl_jax import envs
from trmrl_jax.config import Config, validate
from trmrl_jax.distributed import AXIS, make_mesh
from trmrl_jax.envs import Observation, TaskDistribution, TrialEnv
from trmrl_jax.networks import Agent, make_agent
from trmrl_jax.normalization import RunningStats
from trmrl_jax.ppo import PPOBatch, discounted_returns, gae, init_optimizer_state, make_ppo_update
from trmrl_jax.rollout import Trajectory, episode_returns, normalized, rollout


@struct.dataclass
class TrainState:
    """Everything a run needs to continue exactly; leaves carry a leading [num_seeds] axis."""

    params: Any
    opt_state: Any
    obs_stats: RunningStats
    key: jax.Array  # Raw uint32 PRNG key: the source of every update's randomness.
    update: jax.Array  # int32, updates done.


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


def make_update(cfg: Config, env: TaskDistribution, agent: Agent, num_devices: int
                ) -> Callable[[TrainState], tuple[TrainState, dict]]:
    """One update for one seed, written for one device of the ``data`` axis (inside shard_map)."""
    trial_env = TrialEnv(env, cfg.episode_length, cfg.episodes_per_trial,
                         cfg.reset_memory_each_episode)
    local = cfg.num_tasks // num_devices
    t_len = cfg.trial_length
    on_steps = cfg.minibatch_size > 0
    optimise = make_ppo_update(cfg, agent, AXIS)

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
        params, opt_state, metrics = optimise(state.params, state.opt_state, batch, epoch_key)

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
