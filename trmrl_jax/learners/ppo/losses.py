"""PPO's pure functions: GAE, Monte-Carlo returns, the clipped policy loss, the value losses and
the batch they read. Hyper-parameters are arguments, bound by ``optimise.make_ppo_update``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

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


