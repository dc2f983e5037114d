"""Intervals over seeds and the adapt-and-hold verdict, on cases worked out by hand."""

import numpy as np

from trmrl_jax.stats import adapts_and_holds, bootstrap_interval, summarize_seeds


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_agreement():
    rng = np.random.default_rng(1)
    spread = rng.normal(0.0, 1.0, size=(10, 3))
    low, high = bootstrap_interval(spread)
    assert np.all(low < spread.mean(0)) and np.all(spread.mean(0) < high)
    # The interval of a mean over 10 seeds is about +-1.96 sigma / sqrt(10).
    np.testing.assert_allclose(high - low, 2 * 1.96 * spread.std(0, ddof=1) / np.sqrt(10),
                               rtol=0.3)
    low, high = bootstrap_interval(spread * 1e-3)
    assert np.all(high - low < 1e-2)
    one = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(bootstrap_interval(one)[0], one[0])


def test_summary_of_seeds():
    s = summarize_seeds(np.array([[-6.0, -4.0], [-5.0, -4.0], [-4.0, -4.0]]))
    np.testing.assert_allclose(s["returns_per_episode"], [-5.0, -4.0])
    np.testing.assert_allclose(s["returns_se_per_episode"], [1 / np.sqrt(3), 0.0])
    low, high = s["returns_ci95_per_episode"]
    assert low[0] < -5.0 < high[0] and low[1] == high[1] == -4.0


def test_adapts_and_holds():
    se = np.full(6, 0.1)  # Gaps of 3 standard errors of a difference: 3 * 0.1 * sqrt(2) = 0.42.
    assert adapts_and_holds([-6.0, -4.0, -4.1, -4.2, -4.3, -4.4], se)
    assert not adapts_and_holds([-6.0, -4.0, -4.1, -4.2, -4.3, -4.5], se)  # Slides back.
    assert not adapts_and_holds([-4.3, -4.0, -4.0, -4.0, -4.0, -4.0], se)  # No clear gain.
    assert adapts_and_holds([-6.0, -4.0, -3.0], se)  # Later episodes may improve further.
