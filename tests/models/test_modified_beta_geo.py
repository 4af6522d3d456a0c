"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): published CDNOW estimates, gradient, recovery,
and the point of the model: one-time buyers can have left."""

import numpy as np
import pytest

from regulars.models import BetaGeoModel
from regulars.models.modified_beta_geo import ModifiedBetaGeoModel, mbg_nbd_log_likelihood
from regulars.models.simulation import simulate_mbg_nbd

# BTYDplus (Platzer & Reutterer), mbgnbd.EstimateParameters on the CDNOW 1/10 sample in weeks;
# the same values are asserted by lifetimes' test_params_out_is_close_to_BTYDplus.
PUBLISHED = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def fitted(cdnow_rfm):
    return ModifiedBetaGeoModel().fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])


def test_reproduces_published_cdnow_estimates(fitted):
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=6e-4), name
    assert fitted.converged_ and fitted.fit_problems() == []
    # BG/NBD on the same data: -9582.43; MBG/NBD fits these data a little better
    assert fitted.log_likelihood_ == pytest.approx(-9582.13, abs=0.01)


@pytest.mark.parametrize("params", [(0.525, 6.183, 0.891, 1.614), (1.7, 0.4, 3.0, 0.6), (0.05, 60.0, 0.2, 9.0)])
def test_analytic_gradient_matches_finite_differences(cdnow_rfm, params, central_difference_gradient):
    x, tx, T = (cdnow_rfm[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    _, grad = mbg_nbd_log_likelihood(params, x, tx, T, gradient=True)
    numeric = central_difference_gradient(lambda p: mbg_nbd_log_likelihood(p, x, tx, T).sum(), params)
    np.testing.assert_allclose(grad.sum(axis=0), numeric, rtol=1e-6, atol=1e-4)


def test_recovers_parameters_from_its_own_process(assert_recovers):
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 2.5}
    T = np.random.default_rng(8).uniform(20, 60, 50_000)
    data = simulate_mbg_nbd(50_000, T=T, random_state=21, **truth)
    model = ModifiedBetaGeoModel().fit(data["frequency"], data["recency"], data["T"])
    assert_recovers(model, truth)


def test_one_time_buyers_can_have_left(fitted, cdnow_rfm):
    bg = BetaGeoModel().fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])
    weeks = np.array([1.0, 10.0, 38.0, 78.0])
    assert (bg.probability_alive(0, 0, weeks) == 1.0).all()  # the BG/NBD's blind spot
    alive = fitted.probability_alive(0, 0, weeks)
    assert (alive < 1).all() and (np.diff(alive) < 0).all()  # the longer ago, the less likely still buying


def test_expectations_agree_with_the_predictive_distribution_and_the_process(fitted):
    # E[Y(t)] is the sum of P(N >= n) over n >= 1 (the distribution behind the ranges)
    x, tx, T = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.43, 35.0]), np.array([38.86, 38.86, 38.86])
    sf = fitted.count_distribution(39.0, x, tx, T)
    total = sum(sf.sf(np.full(3, n)) for n in range(1, 400))
    np.testing.assert_allclose(total, fitted.expected_purchases(39.0, x, tx, T), rtol=1e-9)
    # a new customer's expected repeat purchases match the simulated process (200,000 customers)
    p = fitted.params_
    sim = simulate_mbg_nbd(200_000, p["r"], p["alpha"], p["a"], p["b"], T=52.0, random_state=3)
    assert fitted.expected_purchases_new_customer(52.0)[0] == pytest.approx(sim["frequency"].mean(), rel=0.02)
