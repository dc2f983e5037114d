"""PEARL's loss on a meta-batch of tasks: SAC (twin Q, V with a target V, tanh-Gaussian policy,
entropy weight fixed by the reward scale) on latent-conditioned networks, plus the information
bottleneck KL(posterior || prior) on the context encoder.

One scalar whose gradient is each network's own loss's: stop-gradients route the critic's loss
(and the KL) to Q and the encoder, the V loss to V, the policy loss to the policy; z is stopped
for V and the policy (the encoder learns from the critic only, as in PEARL).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from trmrl_jax.learners.pearl.networks import Networks, Posterior, context_features
from trmrl_jax.learners.pearl.replay import Transitions

POLICY_REG = 1e-3  # oyster's weights of the policy's mean^2 and log_std^2 penalties.


def posterior_of(nets: Networks, params: dict, context: Transitions) -> Posterior:
    """The posterior over z of each task's context (leaves [M, c, ...]) -> [M, L]."""
    return Posterior.of(*nets.factors(params, context_features(
        context.obs, context.action, context.reward[..., None])))


def pearl_loss(nets: Networks, params: dict, target_v: dict, context: Transitions,
               batch: Transitions, z_keys: jax.Array, policy_keys: jax.Array, *, gamma: float,
               reward_scale: float, kl_lambda: float) -> tuple[jax.Array, dict]:
    """context: leaves [M, c, ...] (what z is inferred from); batch: leaves [M, b, ...] (the
    RL transitions of the same M tasks); z_keys [M]: one z per task; policy_keys [M, b]: one
    action per transition. Returns (the summed loss, its parts)."""
    m, b = batch.reward.shape
    chex.assert_shape(z_keys, (m,) + z_keys.shape[1:])  # Raw keys: [M, 2].
    chex.assert_shape(policy_keys, (m, b) + z_keys.shape[1:])
    posterior = posterior_of(nets, params, context)
    z = jnp.broadcast_to(posterior.sample(z_keys)[:, None], (m, b, nets.latent))  # [M, b, L]
    z_fixed = jax.lax.stop_gradient(z)
    kl = jnp.mean(posterior.kl_to_prior())

    q = nets.q_values(params["q"], batch.obs, batch.action, z)  # [2, M, b]
    next_v = nets.value(target_v, batch.next_obs, z_fixed)
    # Episodes end by the time limit only: every transition bootstraps.
    q_target = jax.lax.stop_gradient(reward_scale * batch.reward + gamma * next_v)
    q_loss = jnp.sum(jnp.mean(jnp.square(q - q_target), axis=(1, 2)))

    pi = nets.pi(params, batch.obs, z_fixed)
    action, log_pi = pi.sample_with_log_prob(policy_keys)  # [M, b, A], [M, b]
    q_new = jnp.min(nets.q_values(jax.lax.stop_gradient(params["q"]), batch.obs, action,
                                  z_fixed), axis=0)
    v = nets.value(params["v"], batch.obs, z_fixed)
    v_loss = jnp.mean(jnp.square(v - jax.lax.stop_gradient(q_new - log_pi)))
    policy_loss = jnp.mean(log_pi - q_new) + POLICY_REG * (
        jnp.mean(jnp.square(pi.mean)) + jnp.mean(jnp.square(pi.log_std)))

    loss = q_loss + kl_lambda * kl + v_loss + policy_loss
    return loss, {"loss": loss, "q_loss": q_loss, "v_loss": v_loss, "policy_loss": policy_loss,
                  "kl": kl, "q": jnp.mean(q), "log_pi": jnp.mean(log_pi),
                  "z_var": jnp.mean(posterior.var)}
