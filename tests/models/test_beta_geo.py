"""BG/NBD: published CDNOW numbers (Fader, Hardie & Lee 2005), gradients, recovery, I/O."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from regulars.models import BetaGeoModel
from regulars.models.beta_geo import bg_nbd_log_likelihood
from regulars.models.simulation import simulate_bg_nbd

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def fitted(cdnow_rfm):
    return BetaGeoModel().fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])


def test_reproduces_published_cdnow_estimates(fitted):
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=6e-4), name
    assert fitted.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert fitted.converged_


def test_published_conditional_expectation():
    # FHL 2005 section 5: customer with x=2, t_x=30.43, T=38.86 buys 1.226 times in 39 weeks.
    model = BetaGeoModel()
    model.params_ = dict(PUBLISHED)
    assert model.expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=5e-4)


def test_fit_on_our_own_summary_matches_published(cdnow_summary):
    # Unrounded times (the CSV has 2 decimals) move the estimates only in the 4th digit.
    model = BetaGeoModel().fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    for name, value in PUBLISHED.items():
        assert model.params_[name] == pytest.approx(value, rel=5e-3), name
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=1.0)


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (1.7, 0.4, 3.0, 0.6), (0.05, 60.0, 0.2, 9.0)])
def test_analytic_gradient_matches_finite_differences(cdnow_rfm, params, central_difference_gradient):
    x, tx, T = (cdnow_rfm[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    _, grad = bg_nbd_log_likelihood(params, x, tx, T, gradient=True)
    numeric = central_difference_gradient(lambda p: bg_nbd_log_likelihood(p, x, tx, T).sum(), params)
    np.testing.assert_allclose(grad.sum(axis=0), numeric, rtol=1e-6, atol=1e-4)


def test_standard_errors_are_positive_and_small(fitted):
    for name, se in fitted.standard_errors_.items():
        assert 0 < se < fitted.params_[name], name
    assert fitted.covariance_.shape == (4, 4)
    np.testing.assert_allclose(fitted.covariance_, fitted.covariance_.T)


def test_recovers_parameters_from_its_own_process(assert_recovers):
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 2.5}
    T = np.random.default_rng(7).uniform(20, 60, 20_000)
    data = simulate_bg_nbd(20_000, T=T, random_state=20, **truth)
    model = BetaGeoModel().fit(data["frequency"], data["recency"], data["T"])
    # Tolerance: 4 standard errors and 15% relative error for every parameter.
    assert_recovers(model, truth)


def test_weights_equal_repeated_rows(cdnow_rfm):
    head = cdnow_rfm.iloc[:400]
    repeated = pd.concat([head, head, head.iloc[:100]])
    weights = np.r_[np.full(100, 3.0), np.full(300, 2.0)]
    by_rows = BetaGeoModel().fit(repeated["frequency"], repeated["recency"], repeated["T"])
    by_weights = BetaGeoModel().fit(head["frequency"], head["recency"], head["T"], weights=weights)
    for name in PUBLISHED:
        assert by_weights.params_[name] == pytest.approx(by_rows.params_[name], rel=1e-5)
    assert by_weights.log_likelihood_ == pytest.approx(by_rows.log_likelihood_, rel=1e-9)


def test_predictions_are_coherent(fitted):
    alive = fitted.probability_alive([0, 2, 2, 10], [0, 30.43, 5.0, 10.0], [38.86, 38.86, 38.86, 38.86])
    assert alive[0] == 1.0  # no repeat purchase: BG/NBD cannot have dropped out yet
    assert alive[1] > alive[2]  # a more recent last purchase means more likely alive
    assert np.all((alive > 0) & (alive <= 1))
    expected = fitted.expected_purchases([10, 20, 40], 2, 30.43, 38.86)
    assert np.all(np.diff(expected) > 0)
    new = fitted.expected_purchases_new_customer([0, 39, 78])
    assert new[0] == 0 and np.all(np.diff(new) > 0)
    # The published incremental-tracking plot gives about 1.5 repeat purchases per customer in 78 weeks.
    assert 1 < new[2] < 2.5


def test_heavy_buyer_does_not_overflow(fitted):
    # 400 repeat purchases, the last one today: almost surely alive, ~10 purchases a week.
    value = fitted.expected_purchases(39, 400, 38.86, 38.86)
    assert np.isfinite(value).all() and 200 < value[0] < 400
    # The same buyer silent for the last 0.86 weeks (8 expected purchases missed) is probably gone.
    assert fitted.probability_alive(400, 38.0, 38.86)[0] < 0.2


def test_save_load_round_trip(fitted, tmp_path):
    path = tmp_path / "bgnbd.json"
    fitted.save(path)
    loaded = BetaGeoModel.load(path)
    assert loaded.params_ == fitted.params_
    assert loaded.log_likelihood_ == fitted.log_likelihood_
    np.testing.assert_array_equal(loaded.covariance_, fitted.covariance_)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.expected_purchases(10, 2, 30.0, 38.0), fitted.expected_purchases(10, 2, 30.0, 38.0))


def test_load_refuses_another_model(fitted, tmp_path):
    from regulars.models import ParetoNBDModel

    path = tmp_path / "bgnbd.json"
    fitted.save(path)
    with pytest.raises(ValueError, match="BetaGeoModel"):
        ParetoNBDModel.load(path)


def test_unfitted_model_refuses_to_predict(tmp_path):
    model = BetaGeoModel()
    for call in (
        lambda: model.expected_purchases(1, 1, 1, 2),
        lambda: model.probability_alive(1, 1, 2),
        lambda: model.expected_purchases_new_customer(1),
        lambda: model.save(tmp_path / "x.json"),
    ):
        with pytest.raises(NotFittedError):
            call()


def test_sklearn_contract():
    from sklearn.base import clone

    model = BetaGeoModel(penalizer=0.1, maxiter=50)
    assert clone(model).get_params() == {"penalizer": 0.1, "tol": 1e-8, "maxiter": 50}
    data = simulate_bg_nbd(500, 0.5, 5.0, 1.0, 3.0, T=30.0, random_state=0)
    assert model.fit(data["frequency"], data["recency"], data["T"]) is model
    assert "fit" not in vars(model) and "expected_purchases" not in vars(model)


def test_penalizer_shrinks_parameters(cdnow_rfm):
    plain = BetaGeoModel().fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])
    penalised = BetaGeoModel(penalizer=0.1).fit(cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"])
    sq = lambda m: sum(v**2 for v in m.params_.values())  # noqa: E731
    assert sq(penalised) < sq(plain)
    assert penalised.log_likelihood_ < plain.log_likelihood_


@pytest.mark.parametrize(
    "frequency, recency, T, message",
    [
        ([-1, 0], [1, 0], [2, 2], "frequency must be >= 0"),
        ([1.5, 0], [1, 0], [2, 2], "whole number"),
        ([1, 0], [-1, 0], [2, 2], "recency must be >= 0"),
        ([1, 0], [3, 0], [2, 2], "recency must be <= T"),
        ([0, 0], [1, 0], [2, 2], "recency must be 0 when frequency is 0"),
        ([1, 0], [1, 0], [2, -2], "T must be >= 0"),
        ([1, np.nan], [1, 0], [2, 2], "missing or infinite"),
        ([1, 0], [1, 0], [2], "same length"),
    ],
)
def test_bad_inputs_give_clear_errors(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoModel().fit(frequency, recency, T)


def test_error_names_the_first_bad_row():
    with pytest.raises(ValueError, match=r"1 row\(s\) fail, first at position 2"):
        BetaGeoModel().fit([1, 2, 3], [1, 1, 5], [2, 2, 4])


def test_bad_weights():
    with pytest.raises(ValueError, match="weights must be >= 0"):
        BetaGeoModel().fit([1, 0], [1, 0], [2, 2], weights=[1, -1])


@pytest.mark.parametrize("x, tx, T, t", [(0, 0.0, 38.86, 39.0), (2, 30.43, 38.86, 52.0), (25, 37.0, 38.86, 10.0), (1, 2.0, 5.0, 100.0)])
def test_expectations_match_the_untransformed_formulas(x, tx, T, t):
    # FHL 2005 eq. (9) and (10) as printed, evaluated with mpmath (no Euler transformation).
    import mpmath

    r, alpha, a, b = (0.243, 4.414, 0.793, 2.426)
    model = BetaGeoModel()
    model.params_ = dict(PUBLISHED)
    with mpmath.workdps(30):
        z = mpmath.mpf(t) / (alpha + T + t)
        numerator = (a + b + x - 1) / (a - 1) * (
            1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * mpmath.hyp2f1(r + x, b + x, a + b + x - 1, z)
        )
        denominator = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
        conditional = float(numerator / denominator)
        unconditional = float(
            (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * mpmath.hyp2f1(r, b, a + b - 1, mpmath.mpf(t) / (alpha + t)))
        )
    assert model.expected_purchases(t, x, tx, T)[0] == pytest.approx(conditional, rel=1e-10)
    assert model.expected_purchases_new_customer(t)[0] == pytest.approx(unconditional, rel=1e-10)


def test_expectations_are_continuous_at_a_equal_one():
    model = BetaGeoModel()
    model.params_ = {"r": 0.3, "alpha": 5.0, "a": 1.0, "b": 2.5}
    at_one = model.expected_purchases(20, 3, 15.0, 30.0)[0]
    new_at_one = model.expected_purchases_new_customer(20)[0]
    model.params_["a"] = 1.001
    assert np.isfinite(at_one) and at_one == pytest.approx(model.expected_purchases(20, 3, 15.0, 30.0)[0], rel=1e-3)
    assert new_at_one == pytest.approx(model.expected_purchases_new_customer(20)[0], rel=1e-3)
