"""GAE against a hand-computed case; the clipped loss on cases worked out by hand; the
optimiser's separate value-head learning rate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trmrl_jax.learners.ppo.losses import gae, normalize_advantages, ppo_loss
from trmrl_jax.learners.ppo.optimise import make_optimizer
from trmrl_jax.networks.heads import PolicyOutput
from trmrl_jax.normalization import RunningStats
from trmrl_jax.step import Run, init_state

from conftest import small_config


def test_gae_hand_computed():
    gamma, lam = 0.9, 0.8
    r = jnp.array([1.0, 0.0, 2.0])[:, None]
    v = jnp.array([0.5, 1.0, 1.5])[:, None]
    dones = jnp.array([0.0, 0.0, 1.0])[:, None]
    adv, ret = gae(r, v, dones, jnp.array([7.0]), gamma, lam)
    # deltas: d2 = 2 - 1.5 = 0.5 (done: no bootstrap), d1 = 0 + .9*1.5 - 1 = 0.35,
    # d0 = 1 + .9*1 - .5 = 1.4; A2 = .5, A1 = .35 + .72*.5 = .71, A0 = 1.4 + .72*.71 = 1.9112
    np.testing.assert_allclose(adv[:, 0], [1.9112, 0.71, 0.5], rtol=1e-5)
    np.testing.assert_allclose(ret[:, 0], [2.4112, 1.71, 2.0], rtol=1e-5)


def test_gae_bootstraps_when_not_done():
    adv, _ = gae(jnp.zeros((1, 1)), jnp.zeros((1, 1)), jnp.zeros((1, 1)), jnp.array([2.0]),
                 0.5, 1.0)
    assert float(adv[0, 0]) == pytest.approx(1.0)


def _out(mean, log_std, value):
    return PolicyOutput(mean=jnp.asarray(mean), log_std=jnp.asarray(log_std),
                        value=jnp.asarray(value))


def test_ppo_loss_unclipped_and_clipped():
    actions = jnp.zeros((2, 1))
    out = _out(jnp.zeros((2, 1)), jnp.zeros((2, 1)), jnp.array([1.0, 3.0]))
    logp = out.policy.log_prob(actions)
    adv = jnp.array([1.0, -2.0])
    ret = jnp.array([2.0, 3.0])
    kw = dict(clip_eps=0.2, vf_coef=0.5, ent_coef=0.0)
    loss, m = ppo_loss(out, actions, logp, adv, ret, **kw)
    assert float(m["policy_loss"]) == pytest.approx(-(1.0 - 2.0) / 2)  # ratio 1: -mean(adv)
    assert float(m["value_loss"]) == pytest.approx(0.5 * (1.0 + 0.0) / 2)
    assert float(loss) == pytest.approx(0.5 + 0.5 * 0.25)
    # Old log-prob lower by log(2): ratio 2, clipped to 1.2 for the positive advantage; the
    # negative advantage takes the unclipped (more pessimistic) 2 * -2.
    loss, m = ppo_loss(out, actions, logp - jnp.log(2.0), adv, ret, **kw)
    assert float(m["policy_loss"]) == pytest.approx(-(1.2 * 1.0 + 2.0 * -2.0) / 2, rel=1e-5)
    assert float(m["clip_fraction"]) == pytest.approx(1.0)


def test_running_stats_merge_matches_numpy():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 3))
    s = RunningStats.create(3)
    for chunk in np.split(x, 4):
        s = s.merge(jnp.asarray(len(chunk), jnp.float32), chunk.sum(0), (chunk ** 2).sum(0))
    np.testing.assert_allclose(s.mean, x.mean(0), rtol=1e-4)
    np.testing.assert_allclose(s.var, x.var(0), rtol=1e-3)


def test_normalize_advantages():
    adv = normalize_advantages(jnp.array([1.0, 2.0, 3.0, 6.0]))
    assert float(adv.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(adv.std()) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("agent", ["trmrl", "rl2", "mlp"])
def test_value_head_gets_its_own_learning_rate(agent):
    """Adam's first step moves every parameter by its learning rate: the value head's by
    ``value_learning_rate``, everything else (trunk, policy head, log std) by ``learning_rate``."""
    cfg = small_config(agent=agent, learning_rate=1e-3, value_learning_rate=1e-2,
                       weight_decay=0.0)
    run = Run.create(cfg)
    params = init_state(run).params
    grads = jax.tree.map(lambda x: jnp.full_like(x, 1e-3), params)  # Norm well under the clip.
    optimizer = make_optimizer(cfg)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    steps = {jax.tree_util.keystr(path): np.abs(np.asarray(u)) for path, u
             in jax.tree_util.tree_leaves_with_path(updates)}
    value = [k for k in steps if "['value']" in k]
    assert value and len(value) < len(steps)
    for name, step in steps.items():
        lr = cfg.value_learning_rate if name in value else cfg.learning_rate
        np.testing.assert_allclose(step, lr, rtol=1e-3, err_msg=name)


def test_kl_early_stop_keeps_the_epochs_before_the_policy_runs_away():
    """``target_kl``: never reached, the update is the one without it; reached after the first
    epoch (a tiny target, here in the separate layout's policy loop), the later epochs change
    nothing, and the metrics say one ran."""
    from trmrl_jax.distributed import replicate
    from trmrl_jax.step import make_train_step

    def one_update(target_kl, layout="joint"):
        run = Run.create(small_config(optimizer_layout=layout, num_epochs=3,
                                      target_kl=target_kl))
        state, metrics = make_train_step(run)(replicate(init_state(run), run.mesh))
        return jax.device_get(state.params), jax.device_get(metrics)

    off, metrics_off = one_update(0.0)
    never, metrics_never = one_update(1e9)
    assert "ppo_epochs" not in metrics_off and metrics_never["ppo_epochs"][0] == 3
    for a, b in zip(jax.tree.leaves(off), jax.tree.leaves(never)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    separate_off, _ = one_update(0.0, "separate")
    once, metrics_once = one_update(1e-12, "separate")
    assert metrics_once["ppo_epochs"][0] == 1
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(separate_off),
                                                      jax.tree.leaves(once)))
