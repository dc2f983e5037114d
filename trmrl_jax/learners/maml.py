"""MAML (Finn et al., 2017) for meta-RL, with the PPO outer step (garage's MAML-PPO; the paper's
baseline is MAML-TRPO): a Gaussian MLP policy whose parameters adapt to the task by policy-
gradient steps between the episodes of a trial.

Adaptation after k episodes starts from the meta-parameters theta and takes ``maml_inner_steps``
steps of size ``maml_inner_lr`` on the vanilla policy-gradient loss of all k episodes so far,
with advantages = discounted return-to-go, normalised over those episodes (a trial's one episode
per adaptation is too little to fit garage's linear baseline to). Episode k + 1 is acted by the
adapted parameters. The outer objective is PPO's clipped surrogate of the episodes acted by
adapted parameters (the first episode of a trial only feeds the adaptation, as in MAML),
differentiated through the inner steps, with garage's linear feature baseline fitted per
episode index over the batch of tasks.

Acting and training run the same adaptation on the same data: the policy sees each step's
action as executed (clipped into [-1, 1]) and its reward through the next observation (or the
episode's final one), which is all a policy stepping through observations has.
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
from trmrl_jax.learners.base import Learner, collect_trials, observed_stats, update_metrics
from trmrl_jax.learners.ppo.learner import (
    ActingParams,
    TrainState,
    example_observation,
    init_train_state,
)
from trmrl_jax.learners.ppo.losses import PPOBatch, discounted_returns, policy_loss
from trmrl_jax.learners.ppo.optimise import make_optimizer, run_epochs, sgd_step
from trmrl_jax.networks import PolicyOutput, make_agent
from trmrl_jax.rollout import normalized

BASELINE_RIDGE = 1e-3  # Ridge term of the linear baseline's normal equations (float32-safe).


@struct.dataclass
class Adaptation:
    """MAML's carry over a trial: what it has seen and the parameters adapted to it."""

    params: Any  # Adapted policy parameters, leaves [B, ...] (used from the 2nd episode on).
    states: jax.Array  # [B, T, O] normalised states acted on.
    action: jax.Array  # [B, T, A] actions as executed (clipped).
    reward: jax.Array  # [B, T]
    t: jax.Array  # [B] int32 steps taken in the trial.


def linear_baseline(states: jax.Array, returns: jax.Array, episode_length: int) -> jax.Array:
    """garage's ``LinearFeatureBaseline`` fitted by ridge regression to episodes of several
    tasks at once (over every device's share, inside ``shard_map``): one episode per task is
    too little to fit it per task without fitting the noise away with the signal.

    states [N, H, O] (normalised), returns [N, H] -> predictions [N, H] from the features (s,
    s^2, u, u^2, u^3, 1), u = step within the episode / 100.
    """
    u = jnp.broadcast_to((jnp.arange(episode_length) / 100.0)[:, None], states.shape[:-1] + (1,))
    s = jnp.clip(states, -10.0, 10.0)
    features = jnp.concatenate([s, s * s, u, u * u, u * u * u, jnp.ones_like(u)], -1)
    flat = features.reshape(-1, features.shape[-1])
    gram, rhs = jax.lax.psum((flat.T @ flat, flat.T @ returns.reshape(-1)), AXIS)
    return features @ jnp.linalg.solve(gram + BASELINE_RIDGE * jnp.eye(flat.shape[-1]), rhs)


class MAML(Learner):
    """MAML on trials of ``cfg.episodes_per_trial`` episodes (see the module docstring)."""

    deterministic_test = False  # The inner policy gradient needs sampled actions.

    def __init__(self, cfg: Config, env: TaskDistribution):
        super().__init__(cfg, env)
        self.agent = make_agent(cfg, env.action_size)  # A policy MLP of mlp_hidden units.
        self._param_shapes = jax.eval_shape(
            lambda k: self.agent.init(k, example_observation(env, 1)), jax.random.PRNGKey(0))

    def init(self, key: jax.Array) -> TrainState:
        return init_train_state(self.cfg, self.env, self.agent, key)

    def acting_params(self, state: TrainState) -> ActingParams:
        return ActingParams(network=state.params, obs_stats=state.obs_stats)

    # -- The policy and its adaptation (one trial, unbatched) --------------------------------

    def policy(self, params: Any, states: jax.Array) -> PolicyOutput:
        """Normalised states [..., O] -> the policy's outputs [...] (value 0: MAML has none)."""
        empty = states[..., :0]
        return self.agent.sequence(params, Observation(
            obs=states, prev_action=empty, prev_reward=empty, episode_start=empty, task=empty))

    def inner_advantages(self, reward: jax.Array, episodes: jax.Array) -> jax.Array:
        """Normalised advantages [T] of the first ``episodes`` episodes of one trial (zero on
        the steps after them): return-to-go within each episode, centred and scaled over those
        steps (one trial holds too little to fit a state baseline to)."""
        h, t_len = self.cfg.episode_length, reward.shape[0]
        mask = (jnp.arange(t_len) < episodes * h).astype(jnp.float32)
        ends = (jnp.arange(t_len) % h == h - 1).astype(jnp.float32)
        returns = discounted_returns(reward, ends, self.cfg.gamma) * mask
        count = jnp.maximum(mask.sum(), 1.0)
        mean = returns.sum() / count
        std = jnp.sqrt(jnp.square((returns - mean) * mask).sum() / count)
        return (returns - mean) * mask / (std + 1e-8)

    def adapt(self, params: Any, states: jax.Array, action: jax.Array, reward: jax.Array,
              episodes: jax.Array) -> Any:
        """theta -> the parameters adapted to the first ``episodes`` episodes of one trial
        (states [T, O], action [T, A] as executed, reward [T]); differentiable in theta."""
        adv = jax.lax.stop_gradient(self.inner_advantages(reward, episodes))
        count = jnp.maximum((jnp.arange(reward.shape[0]) < episodes * self.cfg.episode_length)
                            .sum(), 1)

        def inner_loss(p):
            return -(self.policy(p, states).policy.log_prob(action) * adv).sum() / count

        for _ in range(self.cfg.maml_inner_steps):
            grads = jax.grad(inner_loss)(params)
            params = jax.tree.map(lambda p, g: p - self.cfg.maml_inner_lr * g, params, grads)
        return params

    def trial_policy(self, params: Any, states: jax.Array, action: jax.Array,
                     reward: jax.Array) -> PolicyOutput:
        """The outputs [T - H, ...] on episodes 2..E of one trial, each from theta adapted to
        the episodes before it (what the outer loss differentiates)."""
        h = self.cfg.episode_length
        outs = [self.policy(self.adapt(params, states, action, reward, jnp.asarray(e)),
                            states[e * h:(e + 1) * h])
                for e in range(1, self.cfg.episodes_per_trial)]
        return jax.tree.map(lambda *x: jnp.concatenate(x, 0), *outs)

    # -- Acting: the policy with a carry -----------------------------------------------------

    def initial_carry(self, batch: int, key: jax.Array) -> Adaptation:
        del key  # Adaptation draws nothing: its randomness is the sampled actions'.
        t_len = self.cfg.trial_length
        return Adaptation(
            params=jax.tree.map(lambda x: jnp.zeros((batch,) + x.shape, x.dtype),
                                self._param_shapes),
            states=jnp.zeros((batch, t_len, self.env.observation_size)),
            action=jnp.zeros((batch, t_len, self.env.action_size)),
            reward=jnp.zeros((batch, t_len)), t=jnp.zeros((batch,), jnp.int32))

    @staticmethod
    def _seen(carry: Adaptation, obs: Observation, keep: jax.Array) -> Adaptation:
        """The previous step's action and reward written into the carry where ``keep`` [B]."""
        def put(buf, value):
            prev = jnp.maximum(carry.t - 1, 0)
            new = jax.vmap(lambda b, v, i: b.at[i].set(v))(buf, value, prev)
            return jnp.where(keep.reshape((-1,) + (1,) * (buf.ndim - 1)), new, buf)

        return carry.replace(action=put(carry.action, obs.prev_action),
                             reward=put(carry.reward, obs.prev_reward[:, 0]))

    def act(self, params: ActingParams, carry: Adaptation, obs: Observation
            ) -> tuple[Adaptation, PolicyOutput]:
        states = normalized(obs, params.obs_stats, self.cfg.normalize_obs).obs  # [B, O]
        # Within an episode the observation brings the previous step's action and reward; at
        # an episode start ``end_episode`` has already written them.
        carry = self._seen(carry, obs, (carry.t > 0) & (obs.episode_start[:, 0] == 0))
        adapted = carry.t >= self.cfg.episode_length  # [B]: from the 2nd episode on.
        theta = jax.tree.map(
            lambda a, p: jnp.where(adapted.reshape((-1,) + (1,) * p.ndim), a, p[None]),
            carry.params, params.network)
        out = jax.vmap(self.policy)(theta, states)
        carry = carry.replace(
            states=jax.vmap(lambda b, v, i: b.at[i].set(v))(carry.states, states, carry.t),
            t=carry.t + 1)
        return carry, out

    def end_episode(self, params: ActingParams, carry: Adaptation, obs: Observation
                    ) -> Adaptation:
        carry = self._seen(carry, obs, jnp.ones_like(carry.t, bool))
        episodes = carry.t // self.cfg.episode_length
        adapted = jax.vmap(self.adapt, in_axes=(None, 0, 0, 0, 0))(
            params.network, carry.states, carry.action, carry.reward, episodes)
        return carry.replace(params=adapted)

    # -- Training ----------------------------------------------------------------------------

    def make_update(self, num_devices: int) -> Callable[[TrainState], tuple[TrainState, dict]]:
        cfg = self.cfg
        h, t_len, local = cfg.episode_length, cfg.trial_length, cfg.num_tasks // num_devices
        trial_env = TrialEnv(self.env, h, cfg.episodes_per_trial, cfg.reset_memory_each_episode)

        def outer_loss(params, mb: PPOBatch):
            out = jax.vmap(self.trial_policy, in_axes=(None, 0, 0, 0))(params, *mb.inputs)
            return policy_loss(out, mb.action, mb.log_prob, mb.advantage, clip_eps=cfg.clip_eps,
                               ent_coef=cfg.ent_coef)

        step = sgd_step(cfg, make_optimizer(cfg), outer_loss, AXIS)

        def outer_advantages(states, reward):
            """[B, T] each episode's return-to-go minus the linear baseline of its episode
            index (fitted over the batch of tasks)."""
            ends = (jnp.arange(t_len) % h == h - 1).astype(jnp.float32)
            returns = jax.vmap(lambda r: discounted_returns(r, ends, cfg.gamma))(reward)
            by_episode = lambda x: jnp.swapaxes(x.reshape((local, -1, h) + x.shape[2:]), 0, 1)  # noqa: E731
            fits = jax.vmap(lambda s, r: linear_baseline(s, r, h))(by_episode(states),
                                                                    by_episode(returns))
            return returns - jnp.swapaxes(fits, 0, 1).reshape(local, t_len)

        def update(state: TrainState) -> tuple[TrainState, dict]:
            key, task_key, trial_key, epoch_key = jax.random.split(state.key, 4)
            traj = collect_trials(self, trial_env, self.acting_params(state), task_key,
                                  trial_key, num_devices)
            chex.assert_shape([traj.reward, traj.log_prob], (local, t_len))
            states = normalized(traj.obs, state.obs_stats, cfg.normalize_obs).obs
            executed = jnp.clip(traj.action, -1.0, 1.0)
            adv = outer_advantages(states, traj.reward)
            batch = PPOBatch(inputs=(states, executed, traj.reward), action=traj.action[:, h:],
                             log_prob=traj.log_prob[:, h:], advantage=adv[:, h:],
                             target=jnp.zeros_like(adv[:, h:]))
            params, opt_state, metrics = run_epochs(cfg, step, state.params, state.opt_state,
                                                    batch, epoch_key, cfg.target_kl > 0)
            metrics = update_metrics(metrics, params, traj.reward, traj.reports, h)
            return state.replace(params=params, opt_state=opt_state, key=key,
                                 obs_stats=observed_stats(state.obs_stats, traj.obs.obs),
                                 update=state.update + 1), metrics

        return update


__all__ = ["MAML", "Adaptation", "linear_baseline"]
