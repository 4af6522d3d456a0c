"""Demand forecast: daily orders and revenue for the coming weeks, with intervals.

Model
-----
Daily order counts follow a negative binomial regression (a count GLM that allows more
spread than Poisson; Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd ed., CUP),
fitted with statsmodels on

* a linear trend over the fitting window, **held flat after the last day** (extrapolating a
  growth rate for weeks is what makes naive trend models miss; backtests on the demo shop
  confirmed it),
* day-of-week effects (weekly seasonality),
* ``yearly_terms`` Fourier pairs of the day of the year (yearly seasonality), only when at
  least two years of history exist (with less, a season and a trend cannot be told apart);
  then the window is the last ``window_days`` (two years), otherwise the last
  ``short_window_days`` (180), so the level follows the recent months.

Intervals are simulated: coefficients are drawn from their asymptotic normal, then counts
from the negative binomial, so they hold both the estimation and the day-to-day noise. They
are 80 % ranges; ``levels_`` (the simulation quantiles used) can be set from a calibration
window by the job (conformal levels, :mod:`regulars.models.intervals`).
Revenue on a simulated day is the sum of that many order values drawn from the recent order
values (normal approximation to the sum), so revenue intervals stay coherent with the
orders'. Busy days are the forecast days whose expected orders are in the top fifth.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .readiness import NotEnoughData

__all__ = ["DemandForecaster", "draw_levels", "forecast_frame", "weekday_profile"]


class DemandForecaster(BaseEstimator):
    """Negative binomial regression of daily orders with weekly and yearly seasonality.

    Parameters
    ----------
    window_days : int, default 730
        Days fitted when the yearly season is fitted.
    short_window_days : int, default 180
        Days fitted otherwise.
    yearly_terms : int, default 3
        Fourier pairs for the yearly season (used with >= ``yearly_min_days`` of history).
    yearly_min_days : int, default 730
    interval : float, default 0.8
        Nominal coverage of the lower/upper bounds.
    n_simulations : int, default 2000
    random_state : int, default 0

    Attributes
    ----------
    start_, end_ : date
        First and last day fitted.
    params_ : ndarray
    covariance_ : ndarray
    alpha_ : float
        Negative binomial dispersion (variance = mu + alpha mu**2).
    yearly_ : bool
        Whether the yearly season was fitted.
    order_value_mean_, order_value_var_ : float
    levels_, revenue_levels_ : (float, float)
        Simulation quantiles of the order and revenue bounds: ``((1 - interval) / 2, (1 +
        interval) / 2)`` unless calibrated (see :meth:`calibrate`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> days = pd.date_range("2024-01-01", periods=200, freq="D")
    >>> mu = 20 * np.where(days.day_of_week >= 5, 1.5, 1.0)
    >>> history = pd.DataFrame({"day": days.date, "orders": rng.poisson(mu), "revenue": 0.0})
    >>> history["revenue"] = history["orders"] * 30.0
    >>> model = DemandForecaster().fit(history)
    >>> fc = model.forecast(14)
    >>> list(fc.columns)
    ['day', 'orders', 'orders_lower', 'orders_upper', 'revenue', 'revenue_lower', 'revenue_upper', 'is_busy']
    >>> bool(fc.loc[pd.to_datetime(fc["day"]).dt.day_of_week == 5, "orders"].mean() > 25)
    True
    """

    def __init__(self, window_days: int = 730, short_window_days: int = 180, yearly_terms: int = 3,
                 yearly_min_days: int = 730, interval: float = 0.8, n_simulations: int = 2000, random_state: int = 0):
        self.window_days = window_days
        self.short_window_days = short_window_days
        self.yearly_terms = yearly_terms
        self.yearly_min_days = yearly_min_days
        self.interval = interval
        self.n_simulations = n_simulations
        self.random_state = random_state

    def _design(self, days: pd.DatetimeIndex) -> np.ndarray:
        t = (np.minimum(days, pd.Timestamp(self.end_)) - pd.Timestamp(self.start_)).days.to_numpy(dtype=float) / 365.25
        cols = [np.ones(len(days)), t]
        dow = days.day_of_week.to_numpy()
        cols += [(dow == k).astype(float) for k in range(1, 7)]
        if self.yearly_:
            doy = days.day_of_year.to_numpy(dtype=float) / 365.25
            for k in range(1, self.yearly_terms + 1):
                cols += [np.sin(2 * np.pi * k * doy), np.cos(2 * np.pi * k * doy)]
        return np.column_stack(cols)

    def fit(self, history: pd.DataFrame, order_values=None):
        """Fit on ``history`` with columns ``day, orders, revenue`` (missing days count as zero).

        Parameters
        ----------
        history : DataFrame
        order_values : array_like, optional
            Recent order values for the revenue simulation (default: revenue / orders of
            the last 90 days of ``history``).

        Returns
        -------
        self
        """
        from statsmodels.discrete.discrete_model import NegativeBinomial

        if history.empty:
            raise NotEnoughData("no sales history to forecast from")
        h = history.assign(day=pd.to_datetime(history["day"])).groupby("day")[["orders", "revenue"]].sum()
        full = pd.date_range(h.index.min(), h.index.max(), freq="D")
        h = h.reindex(full, fill_value=0)
        self.yearly_ = len(h) >= self.yearly_min_days and self.yearly_terms > 0
        h = h.iloc[-int(self.window_days if self.yearly_ else self.short_window_days):]
        if (h["orders"] > 0).sum() < 28:
            raise NotEnoughData(f"sales on only {(h['orders'] > 0).sum()} days; at least 28 are needed to forecast")
        self.start_, self.end_ = h.index[0].date(), h.index[-1].date()
        X = self._design(h.index)
        y = h["orders"].to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = np.r_[np.linalg.lstsq(X, np.log(y + 0.5), rcond=None)[0], 0.1]
            result = NegativeBinomial(y, X).fit(start_params=start, disp=0, maxiter=200)
        params = np.asarray(result.params, dtype=float)
        try:
            cov = np.asarray(result.cov_params(), dtype=float)
        except (ValueError, np.linalg.LinAlgError):  # a singular Hessian on very short histories
            cov = np.full((len(params), len(params)), np.nan)
        if not np.all(np.isfinite(cov)):
            cov = np.diag(np.full(len(params), 1e-4))
        self.params_ = params[:-1]
        self.alpha_ = float(max(params[-1], 1e-6))
        self.covariance_ = cov[:-1, :-1]
        if order_values is None:
            recent = h.iloc[-90:]
            per_order = recent["revenue"].sum() / max(recent["orders"].sum(), 1)
            self.order_value_mean_, self.order_value_var_ = float(per_order), float((0.5 * per_order) ** 2)
        else:
            v = np.asarray(order_values, dtype=float)
            v = v[np.isfinite(v)]
            self.order_value_mean_ = float(v.mean()) if v.size else 0.0
            self.order_value_var_ = float(v.var()) if v.size > 1 else 0.0
        self.history_ = h
        tail = (1 - self.interval) / 2
        self.levels_ = self.revenue_levels_ = (tail, 1 - tail)
        return self

    def draws(self, horizon_days: int = 56, start=None):
        """``(days, expected orders, simulated orders, simulated revenue)``, the draws of shape
        ``(n_simulations, days)``: the predictive distribution behind the bounds."""
        check_is_fitted(self, "params_", msg="DemandForecaster is not fitted yet: call fit() first")
        first = pd.Timestamp(start) if start is not None else pd.Timestamp(self.end_) + pd.Timedelta(days=1)
        days = pd.date_range(first, periods=int(horizon_days), freq="D")
        X = self._design(days)
        rng = np.random.default_rng(self.random_state)
        n = self.n_simulations
        beta = rng.multivariate_normal(self.params_, self.covariance_, size=n, method="eigh")
        mu = np.exp(np.clip(beta @ X.T, -20, 20))  # (n, days)
        size = 1.0 / self.alpha_
        counts = rng.negative_binomial(size, size / (size + mu))
        noise = rng.standard_normal(counts.shape) * np.sqrt(counts * self.order_value_var_)
        revenue = np.maximum(counts * self.order_value_mean_ + noise, 0.0)
        return days, np.exp(X @ self.params_), counts, revenue

    def forecast(self, horizon_days: int = 56, start=None) -> pd.DataFrame:
        """Daily forecast for ``horizon_days`` days from ``start`` (default: the day after the
        last fitted day), with 80 % bounds for orders and revenue, and ``is_busy``."""
        days, expected, counts, revenue = self.draws(horizon_days, start)
        return forecast_frame(days, expected, expected * self.order_value_mean_, counts, revenue, self.levels_,
                              self.revenue_levels_)

    def calibrate(self, actual: pd.DataFrame, start) -> "DemandForecaster":
        """Set ``levels_`` so that the bounds would have held ``interval`` of the days of
        ``actual`` (``day, orders, revenue`` from ``start`` on, days without sales included as
        zeros): split-conformal levels from where each day fell in its simulated distribution."""
        _, _, counts, revenue = self.draws(len(actual), start)
        self.levels_, self.revenue_levels_ = draw_levels(counts, revenue, actual, self.interval)
        return self


def forecast_frame(days, expected, expected_revenue, counts, revenue, levels, revenue_levels) -> pd.DataFrame:
    """The forecast table from simulated draws: bounds at the given quantile levels."""
    out = pd.DataFrame({
        "day": pd.DatetimeIndex(days).date,
        "orders": expected,
        "orders_lower": np.quantile(counts, levels[0], axis=0),
        "orders_upper": np.quantile(counts, levels[1], axis=0),
        "revenue": expected_revenue,
        "revenue_lower": np.quantile(revenue, revenue_levels[0], axis=0),
        "revenue_upper": np.quantile(revenue, revenue_levels[1], axis=0),
    })
    out["is_busy"] = out["orders"] >= out["orders"].quantile(0.8)
    return out


def draw_levels(counts: np.ndarray, revenue: np.ndarray, actual: pd.DataFrame, interval: float):
    """Conformal quantile levels of the order and revenue bounds from simulated draws and what happened."""
    from .intervals import conformal_levels

    y = actual["orders"].to_numpy(dtype=float)
    u = (counts <= y[None, :]).mean(axis=0)
    low = (counts <= y[None, :] - 1).mean(axis=0)
    levels = conformal_levels(u, low, interval)
    v = actual["revenue"].to_numpy(dtype=float)
    ru = (revenue <= v[None, :]).mean(axis=0)
    rl = (revenue < v[None, :]).mean(axis=0)
    return levels, conformal_levels(ru, rl, interval)


def weekday_profile(model: DemandForecaster) -> pd.DataFrame:
    """Expected orders per weekday relative to the average day (from the fitted effects)."""
    effects = np.r_[0.0, model.params_[2:8]]
    rel = np.exp(effects) / np.exp(effects).mean()
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    return pd.DataFrame({"weekday": names, "relative": rel}).sort_values("relative", ascending=False, ignore_index=True)
