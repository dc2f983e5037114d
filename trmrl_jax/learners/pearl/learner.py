"""PEARL (Rakelly et al., 2019, "Efficient Off-Policy Meta-Reinforcement Learning via
Probabilistic Context Variables") behind the learner seam: SAC whose networks read a latent task
variable z, inferred by a posterior over the transitions seen so far.

What it does, and where it differs from the paper's code (katerakelly/oyster):

- SAC as PEARL has it: twin Q, V with a Polyak-averaged target V, a tanh-squashed Gaussian policy,
  the entropy weight fixed at 1 / ``pearl_reward_scale`` (no learned temperature). One Adam over
  all networks (oyster's four Adams share one rate); the Q, V and policy losses are taken at the
  same parameters (oyster steps Q before computing the V and policy losses).
- The posterior is the N(0, I) prior times one Gaussian factor per transition (s, a, r), each
  weighted by its precision (oyster multiplies the factors alone and meets the prior only in
  the KL). The encoder learns from the critic's loss plus ``pearl_kl_lambda`` times the KL,
  averaged over the meta-batch's tasks (oyster sums them).
- A fixed set of ``pearl_train_tasks`` training tasks, drawn at ``init``, each with an RL replay
  buffer and a context buffer that holds the task's latest trial (oyster clears its encoder
  buffer when it collects for a task anew, and fills it with prior-z data).
- Each update collects one trial of ``episodes_per_trial`` episodes on ``num_tasks`` training
  tasks (drawn with replacement), acting as the meta-test does: z from the prior in the first
  episode, from the posterior of the trial so far in each later one; then ``pearl_grad_steps``
  gradient steps on meta-batches of ``pearl_meta_batch`` tasks that hold data.
- Observations are used raw (``normalize_obs`` does not apply), as in oyster.

The carry of a trial is the posterior (its natural parameters), the current z, the previous
observation and a key. ``act`` sees s_t with a_{t-1}, r_{t-1}: it first folds the previous
transition (s_{t-1}, a_{t-1}, r_{t-1}) into the posterior, then, at the first step of every
episode after the first, draws a new z. The draw thus happens at the next episode's first step
(not in ``end_episode``), after the finished episode's last transition is in the posterior; and
a policy stepped without ``end_episode`` (``api.Policy``) acts as PEARL's meta-test does.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct

from trmrl_jax.config import Config
from trmrl_jax.distributed import AXIS
from trmrl_jax.envs import Observation, Task, TaskDistribution, TrialEnv
from trmrl_jax.learners.base import Learner, device_share, update_metrics
from trmrl_jax.learners.pearl.losses import pearl_loss
from trmrl_jax.learners.pearl.networks import Networks, Posterior, context_features
from trmrl_jax.learners.pearl.replay import TaskBuffers, Transitions
from trmrl_jax.networks.heads import PolicyOutput
from trmrl_jax.rollout import Trajectory, rollout


@struct.dataclass
class TrainState:
    """Everything a PEARL run needs to continue exactly (one seed; P = ``pearl_train_tasks``)."""

    params: dict  # Networks' parameters: encoder, policy, q (twin, [2, ...]), v.
    target_v: Any  # Polyak average of params["v"].
    opt_state: Any
    tasks: Task  # The fixed training tasks, leaves [P, ...].
    replay: TaskBuffers  # RL transitions per training task, [P, pearl_replay_capacity, ...].
    context: TaskBuffers  # Each training task's latest trial, [P, trial_length, ...].
    key: jax.Array  # Raw uint32 PRNG key: the source of every update's randomness.
    update: jax.Array  # int32, updates done.


@struct.dataclass
class Belief:
    """The carry of a trial, leaves [B, ...]: what the agent believes about the task."""

    posterior: Posterior  # [B, L] over z, from the transitions folded in so far.
    z: jax.Array  # [B, L] the z the policy acts with during this episode.
    prev_obs: jax.Array  # [B, O] s_{t-1}: with a_{t-1}, r_{t-1} of obs_t, the last transition.
    seen: jax.Array  # [B, 1] 0.0 at the trial's first step (no transition yet), then 1.0.
    key: jax.Array  # [B] raw PRNG keys for the draws of z.


class PEARL(Learner):
    """PEARL on trials of ``cfg.episodes_per_trial`` episodes (see the module docstring)."""

    def __init__(self, cfg: Config, env: TaskDistribution):
        super().__init__(cfg, env)
        self.nets = Networks.create(cfg, env.observation_size, env.action_size)
        self.optimizer = optax.adam(cfg.pearl_learning_rate)
        self.loss = functools.partial(
            pearl_loss, self.nets, gamma=cfg.gamma, reward_scale=cfg.pearl_reward_scale,
            kl_lambda=cfg.pearl_kl_lambda)

    def init(self, key: jax.Array) -> TrainState:
        net_key, task_key, run_key = jax.random.split(key, 3)
        cfg, env = self.cfg, self.env
        params = self.nets.init(net_key)
        buffers = functools.partial(TaskBuffers.create, cfg.pearl_train_tasks,
                                    obs_size=env.observation_size, action_size=env.action_size)
        return TrainState(
            params=params, target_v=jax.tree.map(jnp.copy, params["v"]),
            opt_state=self.optimizer.init(params),
            tasks=env.sample_tasks(task_key, cfg.pearl_train_tasks, "train"),
            replay=buffers(capacity=cfg.pearl_replay_capacity),
            context=buffers(capacity=cfg.trial_length), key=run_key,
            update=jnp.zeros((), jnp.int32))

    def acting_params(self, state: TrainState) -> dict:
        return state.params

    def initial_carry(self, batch: int, key: jax.Array) -> Belief:
        keys = jax.vmap(jax.random.split)(key)  # [B, 2, key]: later draws, this one.
        prior = Posterior.prior((batch, self.nets.latent))
        return Belief(posterior=prior, z=prior.sample(keys[:, 1]),
                      prev_obs=jnp.zeros((batch, self.env.observation_size)),
                      seen=jnp.zeros((batch, 1)), key=keys[:, 0])

    def act(self, params: dict, carry: Belief, obs: Observation) -> tuple[Belief, PolicyOutput]:
        mean, var = self.nets.factors(params, context_features(
            carry.prev_obs, obs.prev_action, obs.prev_reward))
        # At the trial's first step there is no transition yet: its weight is 0.
        posterior = carry.posterior.times(carry.seen * mean / var, carry.seen / var)
        keys = jax.vmap(jax.random.split)(carry.key)
        redraw = obs.episode_start * carry.seen > 0  # [B, 1] a later episode's first step.
        z = jnp.where(redraw, posterior.sample(keys[:, 1]), carry.z)
        return (Belief(posterior=posterior, z=z, prev_obs=obs.obs, seen=jnp.ones_like(carry.seen),
                       key=keys[:, 0]),
                self.nets.output(params, obs.obs, z))

    def make_update(self, num_devices: int) -> Callable[[TrainState], tuple[TrainState, dict]]:
        cfg, env = self.cfg, self.env
        trial_env = TrialEnv(env, cfg.episode_length, cfg.episodes_per_trial)
        local_tasks = cfg.num_tasks // num_devices
        local_meta = cfg.pearl_meta_batch // num_devices

        def collect(state: TrainState, key: jax.Array) -> tuple[TrainState, Trajectory]:
            """One trial on each of ``num_tasks`` training tasks, written into their buffers
            (every device writes every device's trials) -> (state, this device's trials, leaves
            [local_tasks, T, ...])."""
            task_key, trial_key = jax.random.split(key)
            ids = jax.random.randint(task_key, (cfg.num_tasks,), 0, cfg.pearl_train_tasks)
            tasks = jax.tree.map(lambda x: x[device_share(ids, local_tasks)], state.tasks)
            traj = rollout(self, trial_env, state.params, tasks,
                           device_share(jax.random.split(trial_key, cfg.num_tasks), local_tasks),
                           deterministic=False, record=lambda ts: ts.env_state.obs)
            steps = Transitions(obs=traj.obs.obs, action=traj.action, reward=traj.reward,
                                next_obs=traj.record)
            chex.assert_shape(steps.reward, (local_tasks, cfg.trial_length))
            every = jax.lax.all_gather(steps, AXIS, tiled=True)  # [num_tasks, T, ...]
            return state.replace(replay=state.replay.add(ids, every),
                                 context=state.context.add(ids, every)), traj

        def grad_step(state: TrainState, key: jax.Array) -> tuple[TrainState, dict]:
            """One gradient step on a meta-batch of tasks that hold data; each device takes
            its share of the tasks, and the gradients are averaged over devices."""
            task_key, draw_key = jax.random.split(key)
            held = (state.replay.size > 0).astype(jnp.float32)
            ids = device_share(jax.random.choice(task_key, cfg.pearl_train_tasks,
                                                (cfg.pearl_meta_batch,), p=held / held.sum()),
                              local_meta)
            keys = jax.vmap(lambda k: jax.random.split(k, 4))(
                device_share(jax.random.split(draw_key, cfg.pearl_meta_batch), local_meta))
            context = jax.vmap(lambda k, i: state.context.sample(k, i, cfg.pearl_context_size))(
                keys[:, 0], ids)  # Leaves [M_local, c, ...].
            batch = jax.vmap(lambda k, i: state.replay.sample(k, i, cfg.pearl_batch_size))(
                keys[:, 1], ids)  # Leaves [M_local, b, ...].
            policy_keys = jax.vmap(lambda k: jax.random.split(k, cfg.pearl_batch_size))(
                keys[:, 3])
            grads, metrics = jax.grad(self.loss, has_aux=True)(
                state.params, state.target_v, context, batch, keys[:, 2], policy_keys)
            grads = jax.lax.pmean(grads, AXIS)
            updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
            target_v = optax.incremental_update(params["v"], state.target_v, cfg.pearl_tau)
            return state.replace(params=params, target_v=target_v, opt_state=opt_state), metrics

        def update(state: TrainState) -> tuple[TrainState, dict]:
            key, collect_key, train_key = jax.random.split(state.key, 3)
            state, traj = collect(state, collect_key)
            state, metrics = jax.lax.scan(grad_step, state,
                                          jax.random.split(train_key, cfg.pearl_grad_steps))
            metrics = jax.tree.map(jnp.mean, metrics)  # Means over the gradient steps.
            metrics = update_metrics(metrics, state.params, traj.reward, traj.reports,
                                     cfg.episode_length)
            return state.replace(key=key, update=state.update + 1), metrics

        return update
