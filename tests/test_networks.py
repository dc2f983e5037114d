"""T-Fixup statistics, masks, window/sliding agreement and KV-cache equivalence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from trmrl_jax import envs
from trmrl_jax.learners.ppo import example_observation
from trmrl_jax.networks import make_agent, tfixup
from trmrl_jax.networks.encoder import EncoderLayer, band_mask, banded_attention

from conftest import random_observation, small_config


def _init(cfg, key, action_size=2):
    agent = make_agent(cfg, action_size)
    params = agent.init(key, example_observation(envs.make("point_nav"), 1))
    return agent, params


def _flat(params):
    return {"/".join(k): v for k, v in traverse_util.flatten_dict(params["params"]).items()}


def test_tfixup_statistics_match_formula(key):
    d, n_layers, d_ff = 128, 4, 512
    cfg = small_config(d_model=d, num_layers=n_layers, num_heads=16, d_ff=d_ff)
    _, params = _init(cfg, key)
    flat = _flat(params)
    token = 2 + 2 + 2  # obs, prev action, prev reward, episode flag
    emb = flat["embed/kernel"]
    assert emb.shape == (token, d)
    np.testing.assert_allclose(emb.std(), tfixup.embedding_std(d, n_layers), rtol=0.1)
    for i in range(n_layers):
        for name in ("q", "k", "v", "o"):
            w = flat[f"layers_{i}/{name}/kernel"]
            np.testing.assert_allclose(w.std(), tfixup.encoder_std(d, d, n_layers), rtol=0.05)
            assert np.all(flat[f"layers_{i}/{name}/bias"] == 0)
        np.testing.assert_allclose(flat[f"layers_{i}/ff1/kernel"].std(),
                                   tfixup.encoder_std(d, d_ff, n_layers), rtol=0.05)
        np.testing.assert_allclose(flat[f"layers_{i}/ff2/kernel"].std(),
                                   tfixup.encoder_std(d_ff, d, n_layers), rtol=0.05)
    # Xavier(d, d) has std sqrt(1/d); T-Fixup scales it by 0.67 L^-1/4.
    assert tfixup.encoder_std(d, d, n_layers) == pytest.approx(
        np.sqrt(1 / d) * 0.67 * n_layers ** -0.25)
    assert tfixup.embedding_std(d, n_layers) == pytest.approx(d ** -0.5 * (36) ** -0.25)
    # No LayerNorm anywhere in the encoder.
    assert not any("scale" in name or "norm" in name.lower() for name in flat)


def test_default_init_differs(key):
    _, tf = _init(small_config(d_model=64, num_heads=4), key)
    _, default = _init(small_config(d_model=64, num_heads=4, init="default"), key)
    assert _flat(tf)["layers_0/q/kernel"].std() < 0.7 * _flat(default)["layers_0/q/kernel"].std()


def test_band_mask_hand_case():
    m = np.asarray(band_mask(jnp.arange(5), 2, None))
    expected = np.array([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 1, 0],
                         [0, 0, 0, 1, 1]], bool)
    np.testing.assert_array_equal(m, expected)
    m = np.asarray(band_mask(jnp.arange(4), 4, episode_length=2))
    np.testing.assert_array_equal(m, np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0],
                                               [0, 0, 1, 1]], bool))


@pytest.mark.parametrize("length,window,episode_length", [
    (200, 20, None), (50, 7, 10), (37, 9, None), (24, 6, 8), (60, 60, None)])
def test_banded_attention_equals_full_masked_attention(key, length, window, episode_length):
    """Block-by-block sliding attention (with padding, episode cuts and the full-matrix
    fallback) gives what the full [L, L] band-masked attention gives."""
    q, k, v = jax.random.normal(key, (3, 2, length, 4, 8))
    mask = band_mask(jnp.arange(length), window, episode_length)
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(8.0)
    weights = jax.nn.softmax(jnp.where(mask, scores, -1e9), axis=-1)
    expected = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
    np.testing.assert_allclose(banded_attention(q, k, v, window, episode_length), expected,
                               atol=1e-5)


def _step_by_step(agent, params, obs):
    def body(carry, x):
        return agent.step(params, carry, x)

    tm = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), obs)
    _, out = jax.lax.scan(body, agent.initial_carry(obs.obs.shape[0]), tm)
    return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), out)


@pytest.mark.parametrize("agent_name,attention,reset", [
    ("trmrl", "sliding", False), ("trmrl", "sliding", True), ("trmrl", "window", False),
    ("trmrl", "window", True), ("rl2", "sliding", False), ("mlp", "sliding", False)])
def test_acting_step_by_step_equals_one_pass(key, agent_name, attention, reset):
    """The KV cache (sliding), the re-encoded window and the GRU give, acting one step at a
    time, exactly what the one-pass encoding of the whole trial gives the PPO update."""
    cfg = small_config(agent=agent_name, attention=attention, reset_memory_each_episode=reset)
    agent, params = _init(cfg, key)
    obs = random_observation(jax.random.PRNGKey(1), 3, 24)
    one_pass = agent.sequence(params, obs)
    stepped = _step_by_step(agent, params, obs)
    np.testing.assert_allclose(stepped.mean, one_pass.mean, atol=2e-5)
    np.testing.assert_allclose(stepped.value, one_pass.value, atol=2e-5)


@pytest.mark.parametrize("attention", ["sliding", "window"])
def test_bfloat16_compute_tracks_float32(key, attention):
    """--compute_dtype=bfloat16 really computes the encoder in bfloat16 (cache included), stays
    close to float32 with the same parameters, and acting still matches the one-pass update."""
    cfg = small_config(attention=attention, policy_out_gain=1.0)
    agent32, params = _init(cfg, key)
    agent16 = make_agent(cfg.replace(compute_dtype="bfloat16"), 2)
    carry = agent16.initial_carry(3)
    leaves = jax.tree.leaves(carry.replace(t=None))
    assert leaves and all(x.dtype == jnp.bfloat16 for x in leaves)
    obs = random_observation(jax.random.PRNGKey(1), 3, 24)
    out32, out16 = agent32.sequence(params, obs), agent16.sequence(params, obs)
    assert out16.mean.dtype == jnp.float32  # The heads and the loss stay float32.
    scale = float(jnp.abs(out32.mean).mean())
    assert scale > 0.05
    err = float(jnp.abs(out16.mean - out32.mean).mean())
    assert 1e-6 < err < 0.05 * scale
    stepped = _step_by_step(agent16, params, obs)
    np.testing.assert_allclose(stepped.mean, out16.mean, atol=0.05 * scale)


def test_window_and_sliding_agree_for_one_layer(key):
    cfg = small_config(num_layers=1)
    agent_s, params = _init(cfg, key)
    agent_w = make_agent(cfg.replace(attention="window"), 2)
    obs = random_observation(jax.random.PRNGKey(2), 2, 24)
    np.testing.assert_allclose(agent_s.sequence(params, obs).mean,
                               agent_w.sequence(params, obs).mean, atol=2e-5)
    # With two layers the sliding receptive field grows, so they differ.
    cfg2 = small_config(num_layers=2)
    agent_s2, params2 = _init(cfg2, key)
    agent_w2 = make_agent(cfg2.replace(attention="window"), 2)
    assert not np.allclose(agent_s2.sequence(params2, obs).mean,
                           agent_w2.sequence(params2, obs).mean, atol=1e-6)


@pytest.mark.parametrize("rotary", [True, False])
def test_newest_only_layer_equals_the_full_layer_at_the_last_position(key, rotary):
    """The pruned last layer of window mode equals the full layer at the newest slot."""
    layer = EncoderLayer(d_model=32, num_heads=4, d_ff=64, num_layers=2, rotary=rotary)
    x = jax.random.normal(key, (3, 7, 32))
    pos = jnp.arange(7) + 5
    mask = jnp.tril(jnp.ones((7, 7), bool)) & (jnp.arange(7) >= 2)  # Two invalid oldest slots.
    params = layer.init(key, x, pos, mask)
    full = layer.apply(params, x, pos, mask)
    newest = layer.apply(params, x, pos, mask, newest_only=True)
    assert newest.shape == (3, 1, 32)
    np.testing.assert_allclose(newest[:, 0], full[:, -1], atol=1e-5)
    assert not np.allclose(newest[:, 0], full[:, -2], atol=1e-3)


@pytest.mark.parametrize("attention", ["sliding", "window"])
def test_memory_is_causal_and_bounded(key, attention):
    """The output at t ignores the future and, with one layer, anything older than N steps."""
    cfg = small_config(num_layers=1, attention=attention, window=4)
    agent, params = _init(cfg, key)
    obs = random_observation(jax.random.PRNGKey(3), 1, 16)
    changed = obs.replace(obs=obs.obs.at[:, 10].add(5.0))
    a, b = agent.sequence(params, obs).mean, agent.sequence(params, changed).mean
    np.testing.assert_allclose(a[:, :10], b[:, :10], atol=1e-6)  # Past of step 10: unchanged.
    assert not np.allclose(a[:, 10:14], b[:, 10:14])  # Steps seeing it within N = 4.
    np.testing.assert_allclose(a[:, 14:], b[:, 14:], atol=1e-6)  # Out of the window.


def test_reset_memory_each_episode_forgets_previous_episode(key):
    cfg = small_config(reset_memory_each_episode=True, window=12)
    agent, params = _init(cfg, key)
    obs = random_observation(jax.random.PRNGKey(4), 1, 24)
    changed = obs.replace(prev_reward=obs.prev_reward.at[:, 3].add(3.0))  # Episode 1 (t < 8).
    a, b = agent.sequence(params, obs).mean, agent.sequence(params, changed).mean
    np.testing.assert_allclose(a[:, 8:], b[:, 8:], atol=1e-6)
    keep = make_agent(cfg.replace(reset_memory_each_episode=False), 2)
    assert not np.allclose(keep.sequence(params, obs).mean[:, 8:12],
                           keep.sequence(params, changed).mean[:, 8:12])


def test_mixed_memory_and_oracle_inputs(key):
    agent, params = _init(small_config(policy_input="mixed_memory"), key)
    obs = random_observation(key, 2, 8)
    assert agent.sequence(params, obs).mean.shape == (2, 8, 2)
    oracle, oparams = _init(small_config(agent="oracle"), key)
    changed = obs.replace(task=obs.task + 1.0)
    assert not np.allclose(oracle.sequence(oparams, obs).mean,
                           oracle.sequence(oparams, changed).mean)
    mlp, mparams = _init(small_config(agent="mlp"), key)
    np.testing.assert_allclose(mlp.sequence(mparams, obs).mean,
                               mlp.sequence(mparams, changed).mean)
