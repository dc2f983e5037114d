"""PPO's optimisers, their learning-rate schedules, and the epochs over minibatches of one
update (``make_ppo_update``), for either layout: one joint loss, or the reference's separate
policy and value loops.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from trmrl_jax.config import Config
from trmrl_jax.learners.ppo.losses import (
    PPOBatch,
    normalize_advantages,
    policy_loss,
    ppo_loss,
    value_loss,
)
from trmrl_jax.networks import Agent


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


def sgd_step(cfg: Config, tx: optax.GradientTransformation, loss_fn: Callable,
             axis_name: str) -> Callable:
    """A scan body: one optimiser step of ``tx`` on ``loss_fn(params, minibatch) -> (loss,
    metrics)``, gradients averaged over ``axis_name``; carry (params, opt_state)."""
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


def run_epochs(cfg: Config, step: Callable, params: Any, opt_state: Any, batch: PPOBatch,
               key: jax.Array, stop_on_kl: bool = False) -> tuple[Any, Any, dict]:
    """``num_epochs`` passes of ``step`` (from ``sgd_step``) over ``batch`` in
    ``minibatches_per_epoch`` minibatches, in a new order each epoch; returns (params,
    opt_state, metrics averaged over every step).

    ``stop_on_kl`` (with ``target_kl`` > 0): once an epoch's mean approximate KL between the
    acting policy and the current one exceeds ``target_kl``, the epochs after it change
    nothing (a guard against a policy that runs away within one update); the metrics then
    average over the epochs applied, and ``ppo_epochs`` counts them.
    """
    num_minibatches = cfg.minibatches_per_epoch
    keys = jax.random.split(key, cfg.num_epochs)

    def epoch(carry, key):
        order = jax.random.permutation(key, num_minibatches)
        mbs = jax.tree.map(lambda x: _minibatches(x, num_minibatches)[order], batch)
        return jax.lax.scan(step, carry, mbs)

    if not stop_on_kl:
        (params, opt_state), metrics = jax.lax.scan(epoch, (params, opt_state), keys)
        return params, opt_state, jax.tree.map(jnp.mean, metrics)

    def guarded_epoch(carry, key):
        state, stopped = carry
        new, metrics = epoch(state, key)
        new = jax.tree.map(lambda old, x: jnp.where(stopped, old, x), state, new)
        return (new, stopped | (metrics["approx_kl"].mean() > cfg.target_kl)), (metrics,
                                                                               ~stopped)

    ((params, opt_state), _), (metrics, applied) = jax.lax.scan(
        guarded_epoch, ((params, opt_state), jnp.asarray(False)), keys)
    weight = applied.astype(jnp.float32)  # [num_epochs]: 1 for the epochs applied.
    metrics = jax.tree.map(lambda x: (x.mean(1) * weight).sum() / weight.sum(), metrics)
    return params, opt_state, dict(metrics, ppo_epochs=weight.sum())


def make_ppo_update(cfg: Config, agent: Agent, axis_name: str
                    ) -> Callable[[Any, Any, PPOBatch, jax.Array], tuple[Any, Any, dict]]:
    """Every PPO epoch of one update, for one device of the ``axis_name`` axis.

    Returns ``optimise(params, opt_state, batch, key) -> (params, opt_state, metrics)``: batch
    leaves [B, T, ...] (trials) or [B * T, ...] (single steps, ``minibatch_size`` > 0), this
    device's share; gradients are averaged over ``axis_name``; metrics are means over every
    optimiser step. The ``joint`` layout takes one step of the joint loss per minibatch; the
    ``separate`` layout runs all policy epochs, then all value epochs (garage's PPO).
    """
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

    stop_on_kl = cfg.target_kl > 0

    def optimise(params: Any, opt_state: Any, batch: PPOBatch, key: jax.Array):
        if cfg.optimizer_layout == "joint":
            step = sgd_step(cfg, make_optimizer(cfg), joint_loss, axis_name)
            return run_epochs(cfg, step, params, opt_state, batch, key, stop_on_kl)
        policy_tx, value_tx = make_separate_optimizers(cfg)
        policy_key, value_key = jax.random.split(key)
        params, policy_state, metrics = run_epochs(
            cfg, sgd_step(cfg, policy_tx, policy_only, axis_name), params, opt_state[0], batch,
            policy_key, stop_on_kl)
        params, value_state, value_metrics = run_epochs(
            cfg, sgd_step(cfg, value_tx, value_only, axis_name), params, opt_state[1], batch,
            value_key)
        metrics = dict(metrics, value_loss=value_metrics["loss"],
                       value_grad_norm=value_metrics["grad_norm"],
                       loss=metrics["loss"] + value_metrics["loss"])
        return params, (policy_state, value_state), metrics

    return optimise
