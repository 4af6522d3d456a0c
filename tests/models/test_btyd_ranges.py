"""Predictive count distributions, their quantiles, conformal levels, and fits on a boundary."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import nbinom

from regulars.models import BetaGeoModel, ParetoNBDModel
from regulars.models.intervals import NBMixture, conformal_levels, count_pit, count_quantiles
from regulars.models.modified_beta_geo import ModifiedBetaGeoModel

MODELS = {
    "bgnbd": (BetaGeoModel, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    "mbgnbd": (ModifiedBetaGeoModel, {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
    "pnbd": (ParetoNBDModel, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
}
X = np.array([0.0, 1.0, 2.0, 5.0, 20.0])
TX = np.array([0.0, 3.0, 30.43, 20.0, 38.0])
T = np.array([38.86, 10.0, 38.86, 38.0, 38.86])


def _model(key):
    cls, params = MODELS[key]
    model = cls()
    model.params_ = dict(params)
    return model


@pytest.mark.parametrize("key", MODELS)
@pytest.mark.parametrize("t", [13.0, 39.0, 104.0])
def test_distribution_sums_to_the_models_expectation(key, t):
    model = _model(key)
    d = model.count_distribution(t, X, TX, T)
    total = sum(d.sf(np.full(X.size, n)) for n in range(1, 2000))
    np.testing.assert_allclose(total, model.expected_purchases(t, X, TX, T), rtol=1e-6)
    np.testing.assert_allclose(d.mean(), total, rtol=1e-9)


@pytest.mark.parametrize("key", MODELS)
def test_quantiles_are_the_least_count_reaching_each_level(key):
    d = _model(key).count_distribution(52.0, X, TX, T)
    levels = [0.05, 0.1, 0.37, 0.5, 0.9, 0.99]
    walked = d.quantiles(levels)
    for i, q in enumerate(levels):
        bisected = count_quantiles(d.sf, q, X.size)
        np.testing.assert_array_equal(walked[i], bisected)
        below = 1 - d.sf(walked[i] + 1)  # P(N <= Q) >= q, and one less is short of it
        assert (below >= q - 1e-12).all()
        assert (np.where(walked[i] > 0, 1 - d.sf(walked[i]), 0.0) < q + 1e-12).all()


def test_a_single_negative_binomial_matches_scipy():
    k, q = np.array([0.7, 3.0, 40.0, 900.0]), np.array([0.3, 0.5, 0.8, 0.6])
    d = NBMixture(k, q[:, None], np.ones((4, 1)))
    levels = [0.1, 0.5, 0.9]
    expected = np.vstack([nbinom.ppf(lv, k, q) for lv in levels])
    np.testing.assert_array_equal(d.quantiles(levels), expected)  # the 900 row is bisected (pmf(0) underflows)


def test_conformal_levels_give_the_nominal_coverage_on_new_data():
    # customers whose counts are over-dispersed relative to the model: the model's own 80% ranges
    # cover too little; levels calibrated on one half cover ~80% of the other half
    rng = np.random.default_rng(0)
    n = 20_000
    mean = rng.gamma(2.0, 1.5, n)
    y = rng.negative_binomial(1.0, 1.0 / (1.0 + mean))  # variance mean + mean**2
    model = NBMixture(np.full(n, 20.0), (20.0 / (20.0 + mean))[:, None], np.ones((n, 1)))  # nearly Poisson

    def coverage(levels, rows):
        sub = NBMixture(model.k[rows], model.q[rows], model.w[rows])
        lo, hi = sub.quantiles(levels)
        return ((y[rows] >= lo) & (y[rows] <= hi)).mean()

    half = np.arange(n) < n // 2
    assert coverage([0.1, 0.9], ~half) < 0.75
    cal = NBMixture(model.k[half], model.q[half], model.w[half])
    levels = conformal_levels(*count_pit(cal.sf, y[half]), coverage=0.8)
    assert 0.77 <= coverage(levels, ~half) <= 0.83


def test_a_fit_without_dropout_is_reported_as_a_boundary_fit():
    # purchases with no dropout at all (a plain NBD): the BG/NBD drives a towards 0
    rng = np.random.default_rng(5)
    n = 5000
    T = rng.uniform(30, 60, n)
    lam = rng.gamma(0.8, 1 / 6.0, n)
    x = rng.poisson(lam * T)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    bg = BetaGeoModel().fit(x, tx, T)
    problems = bg.fit_problems("BG/NBD")
    assert bg.boundary_ or bg.weakly_identified_
    assert problems and "BG/NBD" in problems[0]
    # the same data from a process with dropout fit cleanly
    from regulars.models.simulation import simulate_bg_nbd

    clean = simulate_bg_nbd(n, 0.8, 6.0, 0.8, 2.5, T=T, random_state=1)
    assert BetaGeoModel().fit(clean["frequency"], clean["recency"], clean["T"]).fit_problems() == []


def test_pit_of_counts():
    d = NBMixture(np.array([2.0, 2.0]), np.array([[0.5], [0.5]]), np.ones((2, 1)))
    upper, lower = count_pit(d.sf, np.array([0.0, 2.0]))
    np.testing.assert_allclose(upper, [0.25, 0.6875])  # F(0), F(2) of NB(2, 1/2)
    np.testing.assert_allclose(lower, [0.0, 0.5])  # F(-1) = 0, F(1)
    frame = pd.DataFrame({"u": upper})
    assert frame.notna().all().all()
