"""Which demand forecast to serve: the model, or "repeat last week" when that has done better.

``fit_forecast(ws, as_of)`` keeps the last :data:`HOLDOUT_DAYS` before ``as_of`` aside, fits the
negative binomial demand model (:class:`~regulars.models.forecast.DemandForecaster`) and the
seasonal naive rule (:class:`~regulars.models.naive_forecast.SeasonalNaiveForecaster`) on the
days before them, and compares their weekly totals with what happened (mean absolute
percentage error per week, the figure the backtest reports). The winner's 80 % ranges are
calibrated on the same held-out weeks (conformal levels), it is refitted on everything before
``as_of``, and a sentence says which forecast is served and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regulars.models.forecast import DemandForecaster, daily_sales, order_values
from regulars.models.naive_forecast import SeasonalNaiveForecaster
from regulars.models.readiness import NotEnoughData

__all__ = ["FORECASTERS", "HOLDOUT_DAYS", "ForecastChoice", "fit_forecast", "weekly_error"]

HOLDOUT_DAYS = 56
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
    start = as_of - dt.timedelta(days=HOLDOUT_DAYS)
    before = history[pd.to_datetime(history["day"]) < pd.Timestamp(start)]
    actual = actual_days(history, start, HOLDOUT_DAYS)
    errors, early = {}, {}
    for key in FORECASTERS:
        try:
            early[key] = _fit(key, before, values)
        except (NotEnoughData, ValueError, np.linalg.LinAlgError):
            continue
        errors[key] = weekly_error(early[key].forecast(HOLDOUT_DAYS, start=start)["orders"], actual["orders"])
    if errors:
        key = min(errors, key=lambda k: (errors[k], k != "model"))
        other = [k for k in errors if k != key]
        sentence = (f"{FORECASTERS[key][0].capitalize()} is served: over the {HOLDOUT_DAYS} days from {start} its weekly "
                    f"totals were off by {100 * errors[key]:.0f}% on average")
        sentence += (f", against {100 * errors[other[0]]:.0f}% for {FORECASTERS[other[0]][0]}." if other else
                     f" ({FORECASTERS[[k for k in FORECASTERS if k != key][0]][0]} could not be fitted then).")
        calibrated = early[key].calibrate(actual, start)
    else:
        key, calibrated = "model", None
        sentence = ("The demand model is served without a comparison: the history before the last "
                    f"{HOLDOUT_DAYS} days is too short to check it against 'repeat last week'.")
    try:
        model = _fit(key, history, values)
    except (NotEnoughData, ValueError, np.linalg.LinAlgError):
        key = "naive" if key == "model" else "model"
        model = _fit(key, history, values)  # raises NotEnoughData when neither fits
        sentence += f" It could not be fitted on the full history, so {FORECASTERS[key][0]} is served."
        calibrated = None
    if calibrated is not None:
        model.levels_, model.revenue_levels_ = calibrated.levels_, calibrated.revenue_levels_
    return ForecastChoice(key, model, errors, sentence)
