"""PPO: GAE, the losses, the optimisers and their learning-rate schedules, and the epochs over
minibatches of one update. The losses are pure functions with hyper-parameters as arguments;
``make_ppo_update`` assembles them into the update the compiled train step calls.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from trmrl_jax.config import Config
from trmrl_jax.networks import Agent
from trmrl_jax.networks.heads import Gaussian, PolicyOutput


def gae(rewards: jax.Array, values: jax.Array, dones: jax.Array, last_value: jax.Array,
        gamma: float, lam: float) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation, time-major.

    rewards, values, dones: [T, ...]; ``dones[t]`` = 1 when the sequence ends after step t (no
    bootstrap through it); last_value: [...] value after the final step.
    Returns (advantages, returns), each [T, ...], returns = advantages + values.
    """
    next_values = jnp.concatenate([values[1:], last_value[None]], axis=0)
    not_done = 1.0 - dones
    deltas = rewards + gamma * not_done * next_values - values

    def body(next_adv, x):
        delta, nd = x
        adv = delta + gamma * lam * nd * next_adv
        return adv, adv

    _, adv = jax.lax.scan(body, jnp.zeros_like(last_value), (deltas, not_done), reverse=True)
    return adv, adv + values


def normalize_advantages(adv: jax.Array, axis_name: str | None = None) -> jax.Array:
    """Zero mean, unit std over the whole minibatch, across devices when ``axis_name`` is given
    (so the split of a minibatch over devices does not change the update)."""
    mean, mean_sq = adv.mean(), jnp.square(adv).mean()
    if axis_name is not None:
        mean, mean_sq = jax.lax.pmean((mean, mean_sq), axis_name)
    return (adv - mean) / (jnp.sqrt(jnp.maximum(mean_sq - mean ** 2, 0.0)) + 1e-8)


def discounted_returns(rewards: jax.Array, dones: jax.Array, gamma: float) -> jax.Array:
    """Monte-Carlo discounted returns, time-major: rewards, dones [T, ...] -> returns [T, ...].

    The value target of garage's PPO (the reference's trainer): no bootstrap, no lambda.
    """
    zeros = jnp.zeros_like(rewards)
    return gae(rewards, zeros, dones, zeros[0], gamma, 1.0)[0]


def policy_loss(out: PolicyOutput, actions: jax.Array, old_log_probs: jax.Array,
                advantages: jax.Array, *, clip_eps: float, ent_coef: float
                ) -> tuple[jax.Array, dict]:
    """Clipped surrogate - entropy bonus, averaged over all samples.

    out leaves, old_log_probs and advantages share leading axes [...]; actions [..., A].
    """
    log_probs = out.policy.log_prob(actions)
    log_ratio = log_probs - old_log_probs
    ratio = jnp.exp(log_ratio)
    surrogate = jnp.minimum(ratio * advantages,
                            jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages)
    loss = -surrogate.mean()
    entropy = out.policy.entropy().mean()
    metrics = {
        "policy_loss": loss, "entropy": entropy,
        "approx_kl": ((ratio - 1.0) - log_ratio).mean(),
        "clip_fraction": (jnp.abs(ratio - 1.0) > clip_eps).mean(),
    }
    return loss - ent_coef * entropy, metrics


def value_loss(out: PolicyOutput, targets: jax.Array, kind: str) -> jax.Array:
    """Mean value loss over all samples; out.value and targets share leading axes [...].

    ``squared``: 0.5 (v - R)^2. ``gaussian``: the negative log-likelihood of R under
    N(v, exp(out.value_log_std)^2), garage's GaussianMLPValueFunction loss.
    """
    if kind == "squared":
        return 0.5 * jnp.square(out.value - targets).mean()
    return -Gaussian(out.value[..., None], out.value_log_std[..., None]).log_prob(
        targets[..., None]).mean()


def ppo_loss(out: PolicyOutput, actions: jax.Array, old_log_probs: jax.Array,
             advantages: jax.Array, targets: jax.Array, *, clip_eps: float, vf_coef: float,
             ent_coef: float, value_kind: str = "squared") -> tuple[jax.Array, dict]:
    """The joint loss: ``policy_loss`` + vf_coef * ``value_loss`` (one optimiser step for both).

    out leaves and the other arguments share leading axes [...]; actions [..., A].
    """
    pi_loss, metrics = policy_loss(out, actions, old_log_probs, advantages, clip_eps=clip_eps,
                                   ent_coef=ent_coef)
    v_loss = value_loss(out, targets, value_kind)
    return pi_loss + vf_coef * v_loss, dict(metrics, value_loss=v_loss)


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


def make_ppo_update(cfg: Config, agent: Agent, axis_name: str
                    ) -> Callable[[Any, Any, PPOBatch, jax.Array], tuple[Any, Any, dict]]:
    """Every PPO epoch of one update, for one device of the ``axis_name`` axis.

    Returns ``optimise(params, opt_state, batch, key) -> (params, opt_state, metrics)``: batch
    leaves [B, T, ...] (trials) or [B * T, ...] (single steps, ``minibatch_size`` > 0), this
    device's share; gradients are averaged over ``axis_name``; metrics are means over every
    optimiser step. The ``joint`` layout takes one step of the joint loss per minibatch; the
    ``separate`` layout runs all policy epochs, then all value epochs (garage's PPO).
    """
    num_minibatches = cfg.minibatches_per_epoch
    outputs = agent.apply_samples if cfg.minibatch_size else agent.sequence

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
                mb = mb.replace(advantage=normalize_advantages(mb.advantage, axis_name))
            (loss, metrics), grads = grad_fn(params, mb)
            grads = jax.lax.pmean(grads, axis_name)
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

    def optimise(params: Any, opt_state: Any, batch: PPOBatch, key: jax.Array):
        if cfg.optimizer_layout == "joint":
            return epochs(sgd_step(make_optimizer(cfg), joint_loss), params, opt_state, batch,
                          key)
        policy_tx, value_tx = make_separate_optimizers(cfg)
        policy_key, value_key = jax.random.split(key)
        params, policy_state, metrics = epochs(sgd_step(policy_tx, policy_only), params,
                                               opt_state[0], batch, policy_key)
        params, value_state, value_metrics = epochs(sgd_step(value_tx, value_only), params,
                                                    opt_state[1], batch, value_key)
        metrics = dict(metrics, value_loss=value_metrics["loss"],
                       value_grad_norm=value_metrics["grad_norm"],
                       loss=metrics["loss"] + value_metrics["loss"])
        return params, (policy_state, value_state), metrics

    return optimise
