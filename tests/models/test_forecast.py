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
    # nominal 80%; 56 days give a standard error of about 5 points
    assert 0.65 <= inside <= 0.95
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


def test_repeat_last_week_forecast_and_its_ranges():
    from regulars.models.naive_forecast import SeasonalNaiveForecaster

    data = _series(300, 3)
    model = SeasonalNaiveForecaster().fit(data.iloc[:244])
    fc = model.forecast(56)
    # the point forecast is the last week repeated, weekday by weekday
    last_week = data["orders"].iloc[237:244].to_numpy(dtype=float)
    assert (fc["orders"].to_numpy() == np.tile(last_week, 8)).all()
    y = data["orders"].iloc[244:].to_numpy()
    inside = ((y >= fc["orders_lower"]) & (y <= fc["orders_upper"])).mean()
    assert 0.65 <= inside <= 0.95  # ranges from its own past errors, nominal 80%
    assert (fc["orders_lower"] <= fc["orders_upper"]).all()


def test_levels_from_draws_are_conformal():
    from regulars.models.forecast import draw_levels

    rng = np.random.default_rng(0)
    draws = rng.poisson(20, (2000, 300))
    actual = pd.DataFrame({"orders": rng.poisson(20, 300) * 1.4, "revenue": rng.normal(500, 150, 300)})
    levels, _ = draw_levels(draws, draws * 25.0, actual, 0.8)
    # outcomes more spread than the draws: wider levels than the nominal 10-90%
    assert levels[0] < 0.1 and levels[1] > 0.9
