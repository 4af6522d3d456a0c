"""Pareto/NBD: published CDNOW numbers, 2F1 accuracy, gradients in both 2F1 cases, recovery."""

import mpmath
import numpy as np
import pytest
from scipy.special import hyp2f1
from sklearn.exceptions import NotFittedError

from regulars.models import ParetoNBDModel
from regulars.models._hyp2f1 import log_hyp2f1_a_a1
from regulars.models.pareto_nbd import pareto_nbd_log_likelihood
from regulars.models.simulation import simulate_pareto_nbd

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


@pytest.fixture(scope="module")
def fitted(cdnow_rfm):
    return ParetoNBDModel().fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])


def test_reproduces_published_cdnow_estimates(fitted):
    # beta is weakly identified (standard error ~6): the optimum is flat in that direction.
    tolerance = {"r": 6e-4, "alpha": 6e-3, "s": 6e-4, "beta": 2e-3}
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=tolerance[name]), name
    assert fitted.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert fitted.converged_


def test_published_parameters_give_published_log_likelihood(cdnow_rfm):
    x, tx, T = (cdnow_rfm[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ll = pareto_nbd_log_likelihood(tuple(PUBLISHED.values()), x, tx, T).sum()
    assert ll == pytest.approx(-9595.0, abs=0.05)


@mpmath.workdps(30)
def test_likelihood_matches_direct_integration():
    # L = C * [A + s * integral_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau] (Fader & Hardie 2005).
    for r, alpha, s, beta in [(0.553, 10.578, 0.606, 11.669), (0.8, 40.0, 1.3, 2.0), (2.0, 1.0, 0.3, 90.0)]:
        for x, tx, T in [(0, 0.0, 30.0), (3, 12.0, 39.0), (25, 5.0, 39.0), (7, 39.0, 39.0)]:
            integrand = lambda u: (alpha + u) ** -(r + x) * (beta + u) ** -(s + 1)  # noqa: E731
            integral = mpmath.quad(integrand, mpmath.linspace(tx, T, 40))  # steep: split the range
            log_c = mpmath.loggamma(r + x) - mpmath.loggamma(r) + r * mpmath.log(alpha) + s * mpmath.log(beta)
            direct = log_c + mpmath.log((alpha + T) ** -(r + x) * (beta + T) ** -s + s * integral)
            ours = pareto_nbd_log_likelihood((r, alpha, s, beta), np.array([x], float), np.array([tx]), np.array([T]))
            assert ours[0] == pytest.approx(float(direct), abs=1e-9)


@mpmath.workdps(30)
def test_hypergeometric_series_matches_scipy_and_mpmath():
    rng = np.random.default_rng(3)
    a, b, z = rng.uniform(0.05, 60, 300), rng.uniform(0.05, 60, 300), rng.uniform(0, 0.98, 300)
    log_f, d_a, d_b, d_z = log_hyp2f1_a_a1(a, b, z)
    np.testing.assert_allclose(np.exp(log_f), hyp2f1(a, b, a + 1, z), rtol=1e-11)
    for i in range(0, 300, 15):
        f = lambda aa, bb, zz: mpmath.log(mpmath.hyp2f1(aa, bb, aa + 1, zz))  # noqa: E731
        assert d_a[i] == pytest.approx(float(mpmath.diff(lambda v: f(v, b[i], z[i]), a[i])), rel=1e-9)
        assert d_b[i] == pytest.approx(float(mpmath.diff(lambda v: f(a[i], v, z[i]), b[i])), rel=1e-9)
        assert d_z[i] == pytest.approx(float(mpmath.diff(lambda v: f(a[i], b[i], v), z[i])), rel=1e-9)


def test_hypergeometric_series_does_not_overflow_for_heavy_buyers():
    # scipy's hyp2f1 overflows here; the log-space series does not.
    log_f, *_ = log_hyp2f1_a_a1(900.0, 880.0, 0.9)
    expected = float(mpmath.log(mpmath.hyp2f1(900, 880, 901, 0.9)))
    assert log_f == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        (0.553, 10.578, 0.606, 11.669),  # alpha < beta branch
        (0.5, 20.0, 0.8, 3.0),  # alpha >= beta branch
        (2.0, 1.0, 0.3, 50.0),  # alpha << beta (z close to 1)
        (0.7, 80.0, 1.5, 0.9),  # alpha >> beta
        (0.6, 9.0, 0.9, 9.0),  # alpha == beta (z = 0)
    ],
)
def test_analytic_gradient_matches_finite_differences(cdnow_rfm, params, central_difference_gradient):
    # Every third customer keeps the z -> 1 cases (slow 2F1 series) quick.
    x, tx, T = (cdnow_rfm[c].to_numpy(float)[::3] for c in ("frequency", "recency", "T"))
    _, grad = pareto_nbd_log_likelihood(params, x, tx, T, gradient=True)
    numeric = central_difference_gradient(lambda p: pareto_nbd_log_likelihood(p, x, tx, T).sum(), params)
    np.testing.assert_allclose(grad.sum(axis=0), numeric, rtol=1e-6, atol=1e-4)


def test_likelihood_is_continuous_across_the_two_cases():
    x, tx, T = np.array([0.0, 4.0, 12.0]), np.array([0.0, 20.0, 35.0]), np.array([39.0, 39.0, 39.0])
    below = pareto_nbd_log_likelihood((0.5, 10.0 - 1e-9, 0.7, 10.0), x, tx, T)
    above = pareto_nbd_log_likelihood((0.5, 10.0 + 1e-9, 0.7, 10.0), x, tx, T)
    np.testing.assert_allclose(below, above, atol=1e-8)


def test_recovers_parameters_from_its_own_process(assert_recovers):
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    T = np.random.default_rng(8).uniform(20, 80, 20_000)
    data = simulate_pareto_nbd(20_000, T=T, random_state=21, **truth)
    model = ParetoNBDModel().fit(data["frequency"], data["recency"], data["T"])
    # Tolerance: 4 standard errors and 25% relative error (s and beta are weakly identified).
    assert_recovers(model, truth, max_relative_error=0.25)


def test_predictions_are_coherent(fitted):
    alive = fitted.probability_alive([0, 2, 2], [0, 30.43, 5.0], [38.86, 38.86, 38.86])
    assert np.all((alive > 0) & (alive <= 1))
    assert alive[1] > alive[2]
    expected = fitted.expected_purchases([10, 39, 78], 2, 30.43, 38.86)
    assert np.all(np.diff(expected) > 0)
    new = fitted.expected_purchases_new_customer([0, 39, 78])
    assert new[0] == 0 and np.all(np.diff(new) > 0)


def test_expected_purchases_at_s_equal_one_is_the_limit():
    model = ParetoNBDModel()
    model.params_ = {"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": 12.0}
    at_one = model.expected_purchases_new_customer(39)[0]
    model.params_["s"] = 1.0 + 1e-7
    assert model.expected_purchases_new_customer(39)[0] == pytest.approx(at_one, rel=1e-6)
    assert at_one == pytest.approx(0.5 * 12 / 10 * np.log((12 + 39) / 12), rel=1e-12)


def test_save_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "pnbd.json")
    loaded = ParetoNBDModel.load(tmp_path / "pnbd.json")
    assert loaded.params_ == fitted.params_
    assert loaded.standard_errors_ == fitted.standard_errors_
    np.testing.assert_array_equal(loaded.probability_alive(3, 20.0, 39.0), fitted.probability_alive(3, 20.0, 39.0))


def test_unfitted_model_refuses_to_predict():
    with pytest.raises(NotFittedError):
        ParetoNBDModel().probability_alive(1, 1, 2)
    with pytest.raises(NotFittedError):
        ParetoNBDModel().expected_purchases(1, 1, 1, 2)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="recency must be <= T"):
        ParetoNBDModel().fit([1], [5], [4])
    with pytest.raises(ValueError, match="recency must be 0 when frequency is 0"):
        ParetoNBDModel().fit([0], [1], [4])
