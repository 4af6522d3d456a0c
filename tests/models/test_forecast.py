"""Demand forecast: weekly pattern, intervals that cover held-out days at about the nominal rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regulars.models.forecast import DemandForecaster, weekday_profile
from regulars.models.readiness import NotEnoughData


def _series(days, seed, level=30.0):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2023-01-01", periods=days, freq="D")
    weekly = np.where(idx.day_of_week == 5, 1.6, np.where(idx.day_of_week == 0, 0.8, 1.0))
    yearly = 1 + 0.3 * np.sin(2 * np.pi * idx.day_of_year / 365.25)
    mu = level * weekly * yearly
    orders = rng.negative_binomial(20, 20 / (20 + mu))
    return pd.DataFrame({"day": idx.date, "orders": orders, "revenue": orders * 25.0})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intervals_cover_held_out_days_at_about_the_nominal_rate(seed):
    data = _series(800 + 56, seed)
    train, test = data.iloc[:800], data.iloc[800:]
    model = DemandForecaster(random_state=seed).fit(train)
    assert model.yearly_
    fc = model.forecast(56)
    assert list(pd.to_datetime(fc["day"])) == list(pd.to_datetime(test["day"]))
    y = test["orders"].to_numpy()
    inside = ((y >= fc["orders_lower"]) & (y <= fc["orders_upper"])).mean()
    # nominal 90%; 56 days give a standard error of about 4 points
    assert 0.78 <= inside <= 1.0
    assert abs(fc["orders"].sum() - y.sum()) / y.sum() < 0.15
    assert (fc["revenue_lower"] <= fc["revenue"]).all() and (fc["revenue"] <= fc["revenue_upper"]).all()


def test_weekly_pattern_and_busiest_days():
    model = DemandForecaster().fit(_series(200, 5))
    assert not model.yearly_  # less than two years: no yearly season
    profile = weekday_profile(model)
    assert profile["weekday"].iloc[0] == "Saturday" and profile["relative"].iloc[0] > 1.3
    fc = model.forecast(28)
    names = pd.to_datetime(fc["day"]).dt.day_name()
    assert fc.loc[names == "Saturday", "is_busy"].all()  # every Saturday is among the busy fifth
    assert fc.nlargest(4, "orders")["day"].map(lambda d: d.strftime("%A")).eq("Saturday").all()


def test_too_short_a_history_is_refused():
    with pytest.raises(NotEnoughData, match="at least 28"):
        DemandForecaster().fit(_series(20, 0))
