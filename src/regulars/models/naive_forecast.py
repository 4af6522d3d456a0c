"""The "repeat last week" forecast, with ranges from its own past errors.

The seasonal naive forecast (Hyndman, R. J. & Athanasopoulos, G. (2021). *Forecasting:
Principles and Practice*, 3rd ed., OTexts, section 5.2) repeats the last observed week: the
forecast for a Tuesday is last Tuesday's orders. It is the baseline every demand model must
beat; when it wins the shop's backtest, regulars serves it (see :mod:`regulars.jobs.forecast`).

Its ranges come from how wrong it has been: for every day of the last ``error_days`` of
history taken as a forecast origin, the errors of the next ``max_horizon`` days' naive
forecasts are collected per week ahead (week 1, week 2, ...); a forecast ``h`` days ahead
draws from the errors of its week (rolling-origin empirical errors, as in Hyndman &
Athanasopoulos, section 5.5). Errors are kept relative to the square root of the level they
were made at (count noise grows like that), so a quiet season does not borrow the spread of a
busy one. Revenue alike.

Examples
--------
>>> days = pd.date_range("2024-01-01", periods=120, freq="D")
>>> orders = np.where(days.day_of_week >= 5, 30, 20) + np.random.default_rng(0).integers(-2, 3, 120)
>>> history = pd.DataFrame({"day": days.date, "orders": orders, "revenue": orders * 25.0})
>>> fc = SeasonalNaiveForecaster().fit(history).forecast(7)
>>> fc["orders"].tolist() == orders[-7:].astype(float).tolist()
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .forecast import draw_levels, forecast_frame
from .readiness import NotEnoughData

__all__ = ["SeasonalNaiveForecaster"]


class SeasonalNaiveForecaster(BaseEstimator):
    """Repeat the last week; ranges from the naive rule's own rolling-origin errors.

    Parameters
    ----------
    error_days : int, default 182
        Forecast origins whose errors make the ranges (the last half year).
    max_horizon : int, default 56
        Days ahead for which errors are collected (8 weeks).
    interval : float, default 0.8
    n_simulations : int, default 2000
    random_state : int, default 0

    Attributes
    ----------
    last_week_ : DataFrame
        The 7 days repeated (``orders``, ``revenue``), oldest first.
    end_ : date
        Last day of history.
    errors_ : dict
        ``"orders"``/``"revenue"`` -> list of error arrays, one per week ahead.
    levels_, revenue_levels_ : (float, float)
    """

    def __init__(self, error_days: int = 182, max_horizon: int = 56, interval: float = 0.8,
                 n_simulations: int = 2000, random_state: int = 0):
        self.error_days = error_days
        self.max_horizon = max_horizon
        self.interval = interval
        self.n_simulations = n_simulations
        self.random_state = random_state

    def fit(self, history: pd.DataFrame, order_values=None):
        """Fit on ``day, orders, revenue`` (missing days count as zero). ``order_values`` is
        accepted for the same signature as :class:`~regulars.models.forecast.DemandForecaster`."""
        if history.empty:
            raise NotEnoughData("no sales history to forecast from")
        h = history.assign(day=pd.to_datetime(history["day"])).groupby("day")[["orders", "revenue"]].sum()
        h = h.reindex(pd.date_range(h.index.min(), h.index.max(), freq="D"), fill_value=0).astype(float)
        if len(h) < 14:
            raise NotEnoughData(f"{len(h)} days of sales history; repeating last week needs at least 14")
        self.end_ = h.index[-1].date()
        self.last_week_ = h.iloc[-7:].reset_index(drop=True)
        self.errors_ = {c: self._errors(h[c].to_numpy()) for c in ("orders", "revenue")}
        tail = (1 - self.interval) / 2
        self.levels_ = self.revenue_levels_ = (tail, 1 - tail)
        return self

    def _errors(self, y: np.ndarray) -> list[np.ndarray]:
        """Scaled errors ``(actual - naive) / sqrt(max(naive, 1))`` per week ahead."""
        weeks = -(-self.max_horizon // 7)
        out: list[list[np.ndarray]] = [[] for _ in range(weeks)]
        first = max(7, len(y) - self.error_days - self.max_horizon)
        for h in range(self.max_horizon):
            origins = np.arange(first, len(y) - h)  # forecast made with days < origin known
            if origins.size == 0:
                continue
            naive = y[origins - 7 + (h % 7)]
            out[h // 7].append((y[origins + h] - naive) / np.sqrt(np.maximum(naive, 1.0)))
        pooled = [np.concatenate(e) if e else np.zeros(0) for e in out]
        # a week ahead without any past error borrows the nearest earlier week's
        for w in range(weeks):
            if pooled[w].size == 0:
                pooled[w] = pooled[w - 1] if w else np.zeros(1)
        return pooled

    def _point(self, days: pd.DatetimeIndex, column: str) -> np.ndarray:
        offset = (days - (pd.Timestamp(self.end_) - pd.Timedelta(days=6))).days.to_numpy()
        return self.last_week_[column].to_numpy()[offset % 7]

    def draws(self, horizon_days: int = 56, start=None):
        """``(days, expected orders, simulated orders, simulated revenue)`` like the demand model's."""
        check_is_fitted(self, "end_", msg="SeasonalNaiveForecaster is not fitted yet: call fit() first")
        first = pd.Timestamp(start) if start is not None else pd.Timestamp(self.end_) + pd.Timedelta(days=1)
        days = pd.date_range(first, periods=int(horizon_days), freq="D")
        ahead = (days - pd.Timestamp(self.end_)).days.to_numpy() - 1
        rng = np.random.default_rng(self.random_state)
        sims = {}
        for column in ("orders", "revenue"):
            point = self._point(days, column)
            pools = self.errors_[column]
            draws = np.empty((self.n_simulations, len(days)))
            for j, h in enumerate(ahead):
                pool = pools[min(max(h, 0) // 7, len(pools) - 1)]
                draws[:, j] = point[j] + rng.choice(pool, self.n_simulations) * np.sqrt(max(point[j], 1.0))
            sims[column] = np.maximum(draws, 0.0)
        sims["orders"] = np.round(sims["orders"])
        return days, self._point(days, "orders"), sims["orders"], sims["revenue"]

    def forecast(self, horizon_days: int = 56, start=None) -> pd.DataFrame:
        """Daily forecast (the same columns as the demand model's)."""
        days, expected, counts, revenue = self.draws(horizon_days, start)
        return forecast_frame(days, expected, self._point(days, "revenue"), counts, revenue, self.levels_,
                              self.revenue_levels_)

    def calibrate(self, actual: pd.DataFrame, start) -> "SeasonalNaiveForecaster":
        """Conformal levels of the bounds from a calibration window (see the demand model's)."""
        _, _, counts, revenue = self.draws(len(actual), start)
        self.levels_, self.revenue_levels_ = draw_levels(counts, revenue, actual, self.interval)
        return self
