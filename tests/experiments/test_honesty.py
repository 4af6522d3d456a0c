"""Honesty checks of issue 19: coverage, CUPED unbiasedness, A/A false positives, peeking,
bandit regret, difference-in-differences and sample-ratio mismatch, on simulated experiments
with known truth (seeded, vectorised: a few seconds each)."""

from __future__ import annotations

import numpy as np
import pytest

from regulars.experiments.allocation import assign
from regulars.experiments.analysis import analyse
from regulars.experiments.bandit import simulate
from regulars.experiments.cuped import cuped
from regulars.experiments.estimates import bootstrap_difference, rate_difference, welch_difference
from regulars.experiments.quasi import difference_in_differences
from regulars.experiments.sequential import confidence_sequence, mixture_variance
from regulars.experiments.srm import sample_ratio_check

SIMS = 1000          # >= 500 simulated experiments; 1000 keeps the 93-97 % band at +-2.9 binomial SDs
N = 2000             # customers per experiment


def shop(rng, n, effect=0.0):
    """Customers of a small shop: pre-period spend, then window revenue that tracks it; the
    treatment adds *effect* per customer on average (through more buyers and larger baskets)."""
    loyal = rng.random(n) < 0.3
    pre = rng.binomial(1, np.where(loyal, 0.6, 0.1)) * rng.gamma(2.0, 25.0, n)
    t = rng.random(n) < 0.5
    buys = rng.random(n) < np.where(loyal, 0.45, 0.08)
    revenue = buys * (rng.gamma(2.0, 10.0, n) + 0.8 * pre)
    revenue = revenue + t * effect * rng.gamma(4.0, 0.25, n)        # mean lift = effect
    return t, revenue, pre, buys


def simulate_estimates(effect, seed=0):
    rng = np.random.default_rng(seed)
    raw, adj = [], []
    for _ in range(SIMS):
        t, y, pre, _ = shop(rng, N, effect)
        raw.append(welch_difference(y[t], y[~t]))
        y_adj, fit = cuped(y, pre)
        adj.append(welch_difference(y_adj[t], y_adj[~t]))
    return raw, adj


def coverage(diffs, truth):
    return np.mean([d.lower <= truth <= d.upper for d in diffs])


@pytest.fixture(scope="module")
def planted():
    return simulate_estimates(effect=2.0, seed=1)


def test_95_percent_intervals_cover_the_true_effect_93_to_97_percent(planted):
    raw, adj = planted
    assert 0.93 <= coverage(raw, 2.0) <= 0.97
    assert 0.93 <= coverage(adj, 2.0) <= 0.97


def test_cuped_does_not_bias_the_estimate_and_narrows_it(planted):
    raw, adj = planted
    est_raw = np.array([d.estimate for d in raw])
    est_adj = np.array([d.estimate for d in adj])
    assert abs(est_adj.mean() - 2.0) < 3 * est_adj.std() / np.sqrt(SIMS)
    assert abs(est_raw.mean() - 2.0) < 3 * est_raw.std() / np.sqrt(SIMS)
    assert est_adj.std() < 0.93 * est_raw.std()                         # real variance reduction (~20 % here)
    assert np.mean([d.se for d in adj]) < np.mean([d.se for d in raw])


def test_bootstrap_intervals_cover_too():
    """Percentile intervals of skewed, mostly-zero revenue run slightly narrow on small arms (92-93 %
    at 1,000 customers per arm in this shop); from about 2,000 per arm they are on target."""
    rng = np.random.default_rng(7)
    hits = []
    for _ in range(600):
        t, y, _, _ = shop(rng, 2 * N, 2.0)
        d = bootstrap_difference(y[t], y[~t], n_resamples=300, seed=int(rng.integers(2**31)))
        hits.append(d.lower <= 2.0 <= d.upper)
    assert 0.93 <= np.mean(hits) <= 0.97


def test_a_a_tests_find_nothing_at_most_6_percent_of_the_time():
    raw, adj = simulate_estimates(effect=0.0, seed=2)
    assert np.mean([d.significant for d in raw]) <= 0.06
    assert np.mean([d.significant for d in adj]) <= 0.06
    rng = np.random.default_rng(3)
    x = rng.binomial(N // 2, 0.1, size=(SIMS, 2))
    rates = [rate_difference(a, N // 2, b, N // 2) for a, b in x]
    assert np.mean([d.significant for d in rates]) <= 0.06


def test_always_valid_intervals_survive_peeking_that_breaks_fixed_intervals():
    """A/A tests looked at 20 times: stopping at the first 'significant' look."""
    rng = np.random.default_rng(4)
    looks, per_look = 20, 100
    y = rng.normal(0, 1, size=(SIMS, 2, looks * per_look))
    n = np.arange(1, looks + 1) * per_look
    sums = y.reshape(SIMS, 2, looks, per_look).sum(axis=3).cumsum(axis=2)
    est = sums[:, 0] / n - sums[:, 1] / n
    var = 2.0 / n
    fixed = np.abs(est) > 1.96 * np.sqrt(var)
    lo, hi = confidence_sequence(est, var, mixture_variance(var[-1]), 0.05)
    always = (lo > 0) | (hi < 0)
    assert fixed.any(axis=1).mean() > 0.15            # peeking breaks the fixed-horizon interval
    assert always.any(axis=1).mean() <= 0.05          # the always-valid one holds


def test_analysis_of_a_a_experiments_rarely_claims_an_effect():
    rng = np.random.default_rng(5)
    hits = 0
    import pandas as pd
    for i in range(200):
        t, y, pre, buys = shop(rng, N, 0.0)
        frame = pd.DataFrame({"arm": np.where(t, "offer", "control"), "converted": buys, "revenue": y, "pre_revenue": pre})
        c = analyse(frame, "control", {"control": 0.5, "offer": 0.5}, n_resamples=100, seed=i).comparisons[0]
        lo, hi = c.interval
        hits += lo > 0 or hi < 0
    assert hits / 200 <= 0.06


def test_bandit_regret_is_at_most_half_of_uniform_allocation_on_three_arms():
    runs = [simulate([0.04, 0.05, 0.07], customers=20_000, batch=500, min_share=0.05, seed=s) for s in range(10)]
    regret = np.mean([r.regret for r in runs])
    uniform = np.mean([r.uniform_regret for r in runs])
    assert regret <= 0.5 * uniform
    assert all(r.customers_per_variant[2] > r.customers_per_variant[0] for r in runs)
    # the exploration floor is honoured: every variant keeps at least ~5 % of customers
    assert all(min(r.customers_per_variant) >= 0.04 * 20_000 for r in runs)


def weekly_spend(rng, customers=3000, weeks=16, drift=0.0):
    base = rng.gamma(1.5, 8.0, size=(customers, 1))
    season = 2.0 * np.sin(np.arange(weeks) / 2.0)
    y = rng.poisson(0.4, size=(customers, weeks)) * (base + season.clip(min=-base.min()))
    treated = rng.random(customers) < 0.3
    y[treated] += drift * np.arange(weeks)
    return y, treated


def test_difference_in_differences_recovers_a_planted_effect():
    rng = np.random.default_rng(6)
    y, treated = weekly_spend(rng)
    y[treated, 10:] += 2.5
    r = difference_in_differences(y, treated, first_post=10)
    assert r.lower <= 2.5 <= r.upper and abs(r.estimate - 2.5) < 1.0
    assert not r.pre_trend_differs and not r.warnings
    y0, treated0 = weekly_spend(np.random.default_rng(60))
    r0 = difference_in_differences(y0, treated0, first_post=10)
    assert r0.lower <= 0 <= r0.upper


def test_difference_in_differences_warns_when_pre_trends_differ():
    rng = np.random.default_rng(8)
    y, treated = weekly_spend(rng, drift=0.4)
    r = difference_in_differences(y, treated, first_post=10)
    assert r.pre_trend_differs
    assert r.warnings and "pre-trends differ" in r.warnings[0]


def test_sample_ratio_mismatch_is_detected_on_a_skewed_assignment():
    ids = [f"c{i}" for i in range(40_000)]
    arms = assign(ids, "srm-test", {"control": 0.5, "offer": 0.5})
    fair = [int((arms == "control").sum()), int((arms == "offer").sum())]
    assert not sample_ratio_check(fair, [0.5, 0.5]).mismatch
    # a journey that silently fails to log 1 in 12 customers of the offer arm
    kept = (arms == "control") | (np.arange(len(ids)) % 12 != 0)
    skewed = [int(((arms == "control") & kept).sum()), int(((arms == "offer") & kept).sum())]
    check = sample_ratio_check(skewed, [0.5, 0.5])
    assert check.mismatch and check.p_value < 0.001
