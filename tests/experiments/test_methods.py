"""The statistical building blocks against references: scipy's bootstrap, statsmodels' power,
known uplift structure, allocation properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from regulars.experiments.allocation import assign, hash_unit, parse_arms
from regulars.experiments.estimates import bootstrap_difference, rate_difference, welch_difference
from regulars.experiments.power import plan_mean, plan_rate
from regulars.experiments.uplift import TLearner, XLearner, qini_curve, uplift_scores


def test_zero_inflated_bootstrap_matches_scipys_resampling():
    rng = np.random.default_rng(0)
    t = rng.binomial(1, 0.15, 3000) * rng.gamma(2, 30, 3000)
    c = rng.binomial(1, 0.12, 3000) * rng.gamma(2, 30, 3000)
    ours = bootstrap_difference(t, c, n_resamples=4000, seed=1)
    ref = stats.bootstrap((t, c), lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis), n_resamples=4000,
                          method="percentile", rng=np.random.default_rng(2), vectorized=True)
    assert ours.lower == pytest.approx(ref.confidence_interval.low, abs=0.15)
    assert ours.upper == pytest.approx(ref.confidence_interval.high, abs=0.15)
    assert ours.se == pytest.approx(ref.standard_error, rel=0.05)


def test_welch_and_rates_match_references():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1, 2, 500), rng.normal(0, 1, 300)
    w = welch_difference(a, b)
    assert w.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    r = rate_difference(3, 40, 9, 40)                   # few successes: Fisher's exact test
    assert r.p_value == pytest.approx(stats.fisher_exact([[3, 37], [9, 31]]).pvalue)


def test_power_matches_the_textbook_formula():
    # n = 2 (z_a/2 + z_b)^2 sd^2 / delta^2 for equal arms
    n = 2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 * 40.0**2 / 2.0**2
    assert plan_mean(12.0, 40.0, 2.0).n_per_arm[1] == int(np.ceil(n))
    p = plan_rate(0.10, 0.02, available=100_000)
    assert "enough" in p.sentence and p.weeks_needed is None
    static = plan_rate(0.10, 0.02, available=1000)
    assert "not growing" in static.sentence


def test_assignment_is_keyed_uniform_and_stable():
    ids = [f"c{i}" for i in range(50_000)]
    u = hash_unit(ids, "k1")
    assert stats.kstest(u, "uniform").pvalue > 0.001
    assert np.corrcoef(u, hash_unit(ids, "k2"))[0, 1] == pytest.approx(0, abs=0.02)  # salts are independent
    shares = parse_arms("control:0.1,a:0.45,b:0.45")
    arms = assign(ids, "k1", shares)
    assert (arms == "control").mean() == pytest.approx(0.1, abs=0.01)
    assert list(assign(ids[:10], "k1", shares)) == list(arms[:10])
    with pytest.raises(ValueError, match="NAME:SHARE"):
        parse_arms("control,offer")


def persuadable_shop(n, rng):
    """Likely buyers (x0 high) buy anyway; the persuadable are a different group (x1 high)."""
    X = rng.normal(size=(n, 4))
    t = rng.random(n) < 0.5
    base = 1 / (1 + np.exp(-(X[:, 0] * 1.5 - 1.5)))
    lift = 0.25 * (X[:, 1] > 0.5)
    y = (rng.random(n) < np.clip(base + t * lift, 0, 1)).astype(int)
    return X, t, y, lift


@pytest.mark.parametrize("learner", [TLearner, XLearner])
def test_uplift_learners_find_the_persuadable_not_the_likely_buyers(learner):
    rng = np.random.default_rng(3)
    X, t, y, lift = persuadable_shop(16_000, rng)
    train = np.arange(len(y)) < 11_000
    model = learner(n_estimators=100, random_state=0).fit(X[train], y[train], t[train])
    score = model.predict_uplift(X[~train])
    ours = uplift_scores(y[~train], t[~train], score)["qini"]
    likely = uplift_scores(y[~train], t[~train], X[~train, 0])["qini"]       # target the likely buyers
    random = uplift_scores(y[~train], t[~train], rng.random((~train).sum()))["qini"]
    assert ours > likely + 0.05 and ours > random + 0.05
    assert np.corrcoef(score, lift[~train])[0, 1] > 0.5


def test_qini_curve_ends_at_the_total_incremental_responses():
    y = np.array([1, 0, 1, 0, 1, 0])
    t = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    x, q = qini_curve(y, t, np.arange(6)[::-1])
    assert q[-1] == pytest.approx(2 - 1 * 3 / 3) and x[-1] == 1.0
