"""customer_lifetime_value: discounted cash flow by hand, bootstrap interval, errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from regulars.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, customer_lifetime_value
from regulars.models.clv import DAYS_PER_MONTH


@pytest.fixture(scope="module")
def models(cdnow_summary):
    s = cdnow_summary
    bg = BetaGeoModel().fit(s["frequency"], s["recency"], s["T"])
    gg = GammaGammaModel().fit(s["frequency"], s["monetary_value"])
    return bg, gg


def test_discounted_cash_flow_by_hand(models):
    bg, gg = models
    x, tx, T, m = 3, 25.0, 38.0, 40.0
    months = np.arange(0, 7)
    cumulative = np.array([bg.expected_purchases(k * DAYS_PER_MONTH / 7, x, tx, T)[0] for k in months])
    spend = gg.expected_spend(x, m)[0]
    by_hand = sum(np.diff(cumulative) * spend * 0.3 / 1.02 ** months[1:])
    out = customer_lifetime_value(bg, gg, [x], [tx], [T], [m], horizon_months=6, discount_rate_monthly=0.02, margin=0.3)
    assert out["clv"].iloc[0] == pytest.approx(by_hand, rel=1e-12)
    assert out["expected_purchases"].iloc[0] == pytest.approx(cumulative[-1])
    assert out["expected_spend"].iloc[0] == pytest.approx(spend)


def test_no_discount_equals_expected_purchases_times_spend(models):
    bg, gg = models
    out = customer_lifetime_value(bg, gg, [0, 5], [0, 30.0], [30.0, 38.0], [0, 25.0], discount_rate_monthly=0.0)
    np.testing.assert_allclose(out["clv"], out["expected_purchases"] * out["expected_spend"], rtol=1e-12)


def test_days_unit_matches_weeks_unit(models):
    # The same customer described in days, with a BG/NBD model rescaled to days (alpha * 7).
    bg, gg = models
    bg_days = bg.with_params([bg.params_["r"], bg.params_["alpha"] * 7, bg.params_["a"], bg.params_["b"]])
    weeks = customer_lifetime_value(bg, gg, [2], [20.0], [30.0], [35.0], freq_days=7)
    days = customer_lifetime_value(bg_days, gg, [2], [140.0], [210.0], [35.0], freq_days=1)
    assert days["clv"].iloc[0] == pytest.approx(weeks["clv"].iloc[0], rel=1e-10)


def test_bootstrap_interval_brackets_the_estimate_and_is_reproducible(models, cdnow_summary):
    bg, gg = models
    s = cdnow_summary.iloc[:300]
    args = (bg, gg, s["frequency"], s["recency"], s["T"], s["monetary_value"])
    first = customer_lifetime_value(*args, n_bootstrap=60, random_state=1)
    again = customer_lifetime_value(*args, n_bootstrap=60, random_state=1)
    pd.testing.assert_frame_equal(first, again)
    assert list(first.index) == list(s.index)
    assert (first["clv_lower"] <= first["clv_upper"]).all()
    inside = (first["clv_lower"] <= first["clv"]) & (first["clv"] <= first["clv_upper"])
    assert inside.mean() > 0.95
    assert (first["clv_upper"] - first["clv_lower"]).gt(0).all()


def test_works_with_pareto_nbd(cdnow_summary, models):
    _, gg = models
    s = cdnow_summary
    pnbd = ParetoNBDModel().fit(s["frequency"], s["recency"], s["T"])
    out = customer_lifetime_value(pnbd, gg, s["frequency"], s["recency"], s["T"], s["monetary_value"], n_bootstrap=5, random_state=0)
    assert out["clv"].notna().all() and (out["clv"] >= 0).all()
    # Top customers by CLV are mostly the frequent recent buyers.
    top = out["clv"].nlargest(50).index
    assert s.loc[top, "frequency"].mean() > 5 * s["frequency"].mean()


def test_unfitted_models_are_refused(models):
    bg, gg = models
    with pytest.raises(NotFittedError, match="spend_model"):
        customer_lifetime_value(bg, GammaGammaModel(), [1], [1.0], [2.0], [3.0])
    with pytest.raises(NotFittedError, match="transaction_model"):
        customer_lifetime_value(BetaGeoModel(), gg, [1], [1.0], [2.0], [3.0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"horizon_months": 0}, "horizon_months"),
        ({"horizon_months": 1.5}, "horizon_months"),
        ({"freq_days": 0}, "freq_days"),
        ({"confidence": 1.0}, "confidence"),
    ],
)
def test_bad_arguments(models, kwargs, message):
    bg, gg = models
    with pytest.raises(ValueError, match=message):
        customer_lifetime_value(bg, gg, [1], [1.0], [2.0], [3.0], **kwargs)


def test_mismatched_lengths(models):
    bg, gg = models
    with pytest.raises(ValueError, match="same length"):
        customer_lifetime_value(bg, gg, [1, 2], [1.0, 1.0], [2.0, 2.0], [3.0])
