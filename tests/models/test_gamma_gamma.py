"""Gamma-Gamma: published CDNOW numbers (Fader, Hardie & Lee 2005, JMR), conventions, refunds."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from regulars.models import GammaGammaModel
from regulars.models.gamma_gamma import gamma_gamma_log_likelihood
from regulars.models.simulation import simulate_gamma_gamma

PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def repeat_customers(cdnow_summary):
    return cdnow_summary[cdnow_summary["frequency"] > 0]


def test_reproduces_published_cdnow_estimates(repeat_customers):
    # Spend convention that reproduces the paper: per customer, the mean of the *repeat*
    # purchase days in the 39-week calibration period (first purchase excluded, same-day
    # transactions summed) -- the ``monetary_value`` of our summary.
    assert len(repeat_customers) == 946
    model = GammaGammaModel().fit(repeat_customers["frequency"], repeat_customers["monetary_value"])
    for name, value in PUBLISHED.items():
        assert model.params_[name] == pytest.approx(value, abs=6e-3), name
    assert model.n_customers_ == 946
    assert model.converged_


def test_other_spend_conventions_do_not_reproduce_the_paper(cdnow_transactions, repeat_customers):
    # Mean over all purchase days, first one included: p and gamma move far from the paper.
    calibration = cdnow_transactions[cdnow_transactions["ordered_at"] <= "1997-09-30"]
    daily = calibration.groupby(["customer_id", "ordered_at"])["dollar_value"].sum()
    mean_all_days = daily.groupby(level="customer_id").mean().loc[repeat_customers.index]
    model = GammaGammaModel().fit(repeat_customers["frequency"], mean_all_days)
    assert abs(model.params_["p"] - PUBLISHED["p"]) > 5
    assert abs(model.params_["gamma"] - PUBLISHED["gamma"]) > 5


def test_frequency_zero_rows_are_ignored_and_counted(cdnow_summary):
    model = GammaGammaModel().fit(cdnow_summary["frequency"], cdnow_summary["monetary_value"])
    assert model.n_dropped_no_repeat_ == 2357 - 946
    assert model.params_["p"] == pytest.approx(PUBLISHED["p"], abs=6e-3)
    assert abs(model.frequency_spend_correlation_) < 0.3  # the model's independence assumption


def test_published_expected_spend_example():
    # FHL 2005 (JMR) and the lifetimes docs: population mean spend p*gamma/(q-1) = 35.2 dollars.
    model = GammaGammaModel()
    model.params_ = dict(PUBLISHED)
    assert model.expected_spend(0, 0.0)[0] == pytest.approx(6.25 * 15.44 / 2.74)
    # Shrinkage: the estimate lies between the population mean and the customer's own mean.
    spend = model.expected_spend([1, 5, 50], [100.0, 100.0, 100.0])
    assert np.all((spend > 35.2) & (spend < 100)) and np.all(np.diff(spend) > 0)


@pytest.mark.parametrize("params", [(6.25, 3.74, 15.44), (0.8, 12.0, 300.0)])
def test_analytic_gradient_matches_finite_differences(repeat_customers, params, central_difference_gradient):
    x = repeat_customers["frequency"].to_numpy(float)
    m = repeat_customers["monetary_value"].to_numpy(float)
    _, grad = gamma_gamma_log_likelihood(params, x, m, gradient=True)
    numeric = central_difference_gradient(lambda p: gamma_gamma_log_likelihood(p, x, m).sum(), params)
    np.testing.assert_allclose(grad.sum(axis=0), numeric, rtol=1e-6, atol=1e-5)


def test_recovers_parameters_from_its_own_process(assert_recovers):
    truth = {"p": 4.0, "q": 5.0, "gamma": 20.0}
    frequency = np.random.default_rng(5).geometric(0.4, 20_000)
    spend = simulate_gamma_gamma(frequency, random_state=22, **truth)
    model = GammaGammaModel().fit(frequency, spend)
    # Tolerance: 4 standard errors and 15% relative error for every parameter.
    assert_recovers(model, truth)


def test_nonpositive_spend_is_dropped_with_a_warning_naming_the_count(repeat_customers):
    spend = repeat_customers["monetary_value"].copy()
    spend.iloc[[3, 10, 11]] = [-5.0, 0.0, -0.01]  # net of refunds
    with pytest.warns(UserWarning, match=r"3 customer\(s\) with frequency > 0 have a mean net spend <= 0"):
        model = GammaGammaModel().fit(repeat_customers["frequency"], spend)
    assert model.n_dropped_nonpositive_ == 3
    assert model.n_customers_ == 943


def test_nonpositive_spend_can_raise(repeat_customers):
    spend = repeat_customers["monetary_value"].copy()
    spend.iloc[0] = -1.0
    with pytest.raises(ValueError, match="first at position 0"):
        GammaGammaModel(on_nonpositive="raise").fit(repeat_customers["frequency"], spend)


def test_expected_spend_treats_nonpositive_mean_as_zero():
    model = GammaGammaModel()
    model.params_ = dict(PUBLISHED)
    at_zero, negative = model.expected_spend([4, 4], [0.0, -20.0])
    assert negative == at_zero == pytest.approx(6.25 * 15.44 / (6.25 * 4 + 2.74))


def test_expected_spend_needs_q_above_one():
    model = GammaGammaModel()
    model.params_ = {"p": 2.0, "q": 0.9, "gamma": 10.0}
    with pytest.raises(ValueError, match="q > 1"):
        model.expected_spend(1, 10.0)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="no customer with frequency > 0"):
        GammaGammaModel().fit([0, 0], [0.0, 0.0])
    with pytest.raises(ValueError, match="same length"):
        GammaGammaModel().fit([1, 2], [3.0])
    with pytest.raises(ValueError, match="whole numbers"):
        GammaGammaModel().fit([1.5, 2], [3.0, 4.0])
    with pytest.raises(ValueError, match="on_nonpositive"):
        GammaGammaModel(on_nonpositive="ignore").fit([1, 2], [3.0, 4.0])


def test_save_load_round_trip(repeat_customers, tmp_path):
    model = GammaGammaModel(penalizer=0.0).fit(repeat_customers["frequency"], repeat_customers["monetary_value"])
    model.save(tmp_path / "gg.json")
    loaded = GammaGammaModel.load(tmp_path / "gg.json")
    assert loaded.params_ == model.params_
    assert loaded.n_dropped_no_repeat_ == model.n_dropped_no_repeat_
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.expected_spend([2], [30.0]), model.expected_spend([2], [30.0]))


def test_unfitted_model_refuses_to_predict():
    with pytest.raises(NotFittedError):
        GammaGammaModel().expected_spend(1, 10.0)


def test_accepts_series_and_keeps_no_state_between_fits(repeat_customers):
    model = GammaGammaModel()
    spend = repeat_customers["monetary_value"].copy()
    spend.iloc[5] = -1.0
    with pytest.warns(UserWarning, match="1 customer"):
        model.fit(pd.Series(repeat_customers["frequency"]), spend)
    assert model.n_dropped_nonpositive_ == 1
    model.fit(repeat_customers["frequency"], repeat_customers["monetary_value"])
    assert model.n_dropped_nonpositive_ == 0
