"""Which demand forecast to serve: the model, or "repeat last week" when that has done better.

``fit_forecast(ws, as_of)`` replays the forecast from up to :data:`ORIGINS` earlier dates, 8 weeks
apart (``as_of - 56``, ``as_of - 112``, ...; rolling-origin evaluation, Hyndman &
Athanasopoulos 2021, section 5.10): each time the negative binomial demand model
(:class:`~regulars.models.forecast.DemandForecaster`) and the seasonal naive rule
(:class:`~regulars.models.naive_forecast.SeasonalNaiveForecaster`) are fitted on the days
before that date and compared with the next 8 weeks on their weekly totals (mean absolute
percentage error per week, the figure the backtest reports). The forecaster with the lower
error over all replayed weeks is served; its 80 % ranges are calibrated on the same days
(conformal levels, pooled over the origins: eight weeks alone are too few days to set a
coverage), it is refitted on everything before ``as_of``, and a sentence says which forecast
is served and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regulars.features.purchase_history import daily_sales, order_values
from regulars.models.forecast import DemandForecaster, draw_levels
from regulars.models.naive_forecast import SeasonalNaiveForecaster
from regulars.models.readiness import NotEnoughData

__all__ = ["FORECASTERS", "HOLDOUT_DAYS", "ForecastChoice", "fit_forecast", "weekly_error"]

HOLDOUT_DAYS = 56
ORIGINS = 6
#: Days between replay origins (their 8-week windows overlap when shorter than HOLDOUT_DAYS).
SPACING = 28
FORECASTERS = {"model": ("the demand model", DemandForecaster),
               "naive": ("'repeat last week'", SeasonalNaiveForecaster)}


@dataclass
class ForecastChoice:
    """The forecaster served, the one it was compared with, and why."""

    key: str
    model: object
    errors: dict[str, float]
    sentence: str

    @property
    def name(self) -> str:
        return FORECASTERS[self.key][0]

    def to_dict(self) -> dict:
        return {"served": self.key, "name": self.name, "weekly_error": self.errors, "sentence": self.sentence}


def weekly_error(predicted, actual) -> float:
    """Mean absolute percentage error of weekly totals (whole weeks only; a week of 0 counts as 1)."""
    predicted, actual = np.asarray(predicted, dtype=float), np.asarray(actual, dtype=float)
    weeks = len(actual) // 7
    if not weeks:
        return float("nan")
    p = predicted[: weeks * 7].reshape(weeks, 7).sum(axis=1)
    y = actual[: weeks * 7].reshape(weeks, 7).sum(axis=1)
    return float(np.mean(np.abs(p - y) / np.maximum(y, 1)))


def actual_days(history: pd.DataFrame, start, days: int) -> pd.DataFrame:
    """``day, orders, revenue`` for ``days`` days from ``start``, days without sales as zeros."""
    span = pd.date_range(pd.Timestamp(start), periods=int(days), freq="D")
    h = history.assign(day=pd.to_datetime(history["day"])).groupby("day")[["orders", "revenue"]].sum()
    return h.reindex(span, fill_value=0).astype(float).rename_axis("day").reset_index()


def _fit(key: str, history: pd.DataFrame, values):
    return FORECASTERS[key][1]().fit(history, values)


def fit_forecast(ws, as_of, tables=None) -> ForecastChoice:
    """Choose, calibrate and fit the forecast served as of ``as_of`` (see the module docstring).

    Raises
    ------
    NotEnoughData
        When neither forecaster can be fitted on the history before ``as_of``.
    """
    tables = tables or ws
    as_of = pd.Timestamp(as_of).date()
    history = ws.execute(daily_sales(tables, as_of))
    values = ws.execute(order_values(tables, as_of))["net"].to_numpy()
    replays: dict[str, list] = {k: [] for k in FORECASTERS}  # (weekly error, draws, actual)
    for i in range(1, ORIGINS + 1):
        start = as_of - dt.timedelta(days=HOLDOUT_DAYS + SPACING * (i - 1))
        before = history[pd.to_datetime(history["day"]) < pd.Timestamp(start)]
        actual = actual_days(history, start, HOLDOUT_DAYS)
        for key in FORECASTERS:
            try:
                early = _fit(key, before, values)
            except (NotEnoughData, ValueError, np.linalg.LinAlgError):
                continue
            days, expected, counts, revenue = early.draws(HOLDOUT_DAYS, start)
            replays[key].append((weekly_error(expected, actual["orders"]), counts, revenue, actual))
    # compare on the origins both could be replayed from
    both = min(len(replays["model"]), len(replays["naive"]))
    errors = {k: float(np.mean([r[0] for r in v[:both]])) for k, v in replays.items() if both}
    first = as_of - dt.timedelta(days=HOLDOUT_DAYS + SPACING * (max(both, 1) - 1))
    if errors:
        key = min(errors, key=lambda k: (errors[k], k != "model"))
        other = next(k for k in errors if k != key)
        sentence = (f"{FORECASTERS[key][0].capitalize()} is served: replayed from {both} dates since {first}, its "
                    f"weekly totals were off by {100 * errors[key]:.0f}% on average, against {100 * errors[other]:.0f}% "
                    f"for {FORECASTERS[other][0]}.")
    else:
        key = "model" if replays["model"] else "naive"
        sentence = (f"{FORECASTERS[key][0].capitalize()} is served without a comparison: the history is too short to "
                    "replay both forecasts on earlier weeks.")
    calibrated = replays[key]
    try:
        model = _fit(key, history, values)
    except (NotEnoughData, ValueError, np.linalg.LinAlgError):
        key = "naive" if key == "model" else "model"
        model = _fit(key, history, values)  # raises NotEnoughData when neither fits
        sentence += f" It could not be fitted on the full history, so {FORECASTERS[key][0]} is served."
        calibrated = replays[key]
    if calibrated:
        counts = np.concatenate([r[1] for r in calibrated], axis=1)
        revenue = np.concatenate([r[2] for r in calibrated], axis=1)
        actual = pd.concat([r[3] for r in calibrated], ignore_index=True)
        model.levels_, model.revenue_levels_ = draw_levels(counts, revenue, actual, model.interval)
    return ForecastChoice(key, model, errors, sentence)
