"""PPO over whole trials (the paper's learner, and RL^2's, MLP's and the oracle's): rollout of a
batch of trials with memory, GAE over each trial, every PPO epoch, in one function per seed and
device shard.

Every trial draws its randomness from its *global* index (``base.collect_trials``), and
minibatches are fixed residue classes of the trial index, so one device and several devices
compute the same update.
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp
from flax import struct

from trmrl_jax.config import Config
from trmrl_jax.distributed import AXIS
from trmrl_jax.envs import Observation, TaskDistribution, TrialEnv
from trmrl_jax.learners.base import (
    Carry,
    Learner,
    collect_trials,
    observed_stats,
    update_metrics,
)
from trmrl_jax.learners.ppo.losses import PPOBatch, discounted_returns, gae
from trmrl_jax.learners.ppo.optimise import init_optimizer_state, make_ppo_update
from trmrl_jax.networks import Agent, PolicyOutput, make_agent
from trmrl_jax.normalization import RunningStats
from trmrl_jax.rollout import Trajectory, normalized


@struct.dataclass
class TrainState:
    """Everything a PPO run needs to continue exactly (one seed; the compiled step stacks seeds
    on a leading [num_seeds] axis)."""

    params: Any
    opt_state: Any
    obs_stats: RunningStats
    key: jax.Array  # Raw uint32 PRNG key: the source of every update's randomness.
    update: jax.Array  # int32, updates done.


@struct.dataclass
class ActingParams:
    """What acting needs: network parameters and the observation statistics they were trained
    with."""

    network: Any
    obs_stats: RunningStats


def example_observation(env: TaskDistribution, batch: int) -> Observation:
    """A zero observation batch [batch, ...] with the distribution's sizes."""
    return Observation(obs=jnp.zeros((batch, env.observation_size)),
                       prev_action=jnp.zeros((batch, env.action_size)),
                       prev_reward=jnp.zeros((batch, 1)), episode_start=jnp.ones((batch, 1)),
                       task=jnp.zeros((batch, env.task_size)))


def init_train_state(cfg: Config, env: TaskDistribution, agent: Agent, key: jax.Array
                     ) -> TrainState:
    """One seed's initial state: ``agent``'s parameters, their optimiser state, empty
    observation statistics and the run's PRNG key."""
    init_key, run_key = jax.random.split(key)
    params = agent.init(init_key, example_observation(env, 1))
    return TrainState(params=params, opt_state=init_optimizer_state(cfg, params),
                      obs_stats=RunningStats.create(env.observation_size), key=run_key,
                      update=jnp.zeros((), jnp.int32))


class PPO(Learner):
    """PPO on trials of ``cfg.episodes_per_trial`` episodes, for the network ``cfg.agent``."""

    def __init__(self, cfg: Config, env: TaskDistribution):
        super().__init__(cfg, env)
        self.agent: Agent = make_agent(cfg, env.action_size)

    def init(self, key: jax.Array) -> TrainState:
        return init_train_state(self.cfg, self.env, self.agent, key)

    def acting_params(self, state: TrainState) -> ActingParams:
        return ActingParams(network=state.params, obs_stats=state.obs_stats)

    def initial_carry(self, batch: int, key: jax.Array) -> Carry:
        del key  # PPO's memory starts empty, with nothing to draw.
        return self.agent.initial_carry(batch)

    def act(self, params: ActingParams, carry: Carry, obs: Observation
            ) -> tuple[Carry, PolicyOutput]:
        return self.agent.step(params.network, carry,
                               normalized(obs, params.obs_stats, self.cfg.normalize_obs))

    def act_recorded(self, params: ActingParams, carry: Carry, obs: Observation
                     ) -> tuple[Carry, PolicyOutput, dict]:
        module = self.agent.module
        (carry, out), sown = module.apply(
            params.network, carry, normalized(obs, params.obs_stats, self.cfg.normalize_obs),
            method=module.step, mutable=["intermediates"])
        return carry, out, sown.get("intermediates", {})

    def make_update(self, num_devices: int) -> Callable[[TrainState], tuple[TrainState, dict]]:
        cfg, env, agent = self.cfg, self.env, self.agent
        trial_env = TrialEnv(env, cfg.episode_length, cfg.episodes_per_trial,
                             cfg.reset_memory_each_episode)
        local = cfg.num_tasks // num_devices
        t_len = cfg.trial_length
        optimise = make_ppo_update(cfg, agent, AXIS)

        def update(state: TrainState) -> tuple[TrainState, dict]:
            key, task_key, trial_key, epoch_key = jax.random.split(state.key, 4)
            traj: Trajectory = collect_trials(self, trial_env, self.acting_params(state),
                                              task_key, trial_key, num_devices)
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
            if cfg.minibatch_size:  # [B_local, T, ...] -> [B_local * T, ...] single steps.
                batch = jax.tree.map(lambda x: x.reshape((local * t_len,) + x.shape[2:]),
                                     batch.replace(inputs=agent.samples(state.params, obs)))
            params, opt_state, metrics = optimise(state.params, state.opt_state, batch,
                                                  epoch_key)

            metrics = update_metrics(dict(metrics, value=traj.value.mean()), params,
                                     traj.reward, traj.reports, cfg.episode_length)
            new_state = TrainState(params=params, opt_state=opt_state,
                                   obs_stats=observed_stats(state.obs_stats, traj.obs.obs),
                                   key=key, update=state.update + 1)
            return new_state, metrics

        return update
