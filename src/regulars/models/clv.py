"""Customer lifetime value from a transaction model and a spend model.

Discounted cash flow as in Fader, Hardie & Lee (2005, JMR) and the ``lifetimes`` package:

    CLV = sum_{m=1..H} (E[Y(t_m)] - E[Y(t_{m-1})]) * E[spend] * margin / (1 + d)**m

where ``E[Y(t)]`` is the transaction model's conditional expected number of purchases in
the next ``t`` time units, ``t_m`` is the end of month ``m`` in those units (a month is
365.25 / 12 = 30.4375 days) and ``E[spend]`` is the spend model's conditional expected
value per transaction.

The optional interval is a parametric bootstrap of the *parameters*: each draw samples the
log-parameters of both models from their asymptotic normal (mean at the estimate,
covariance the inverse Hessian) and recomputes every customer's CLV. It describes the
uncertainty of the expected value that comes from estimating the models, not the spread of
what one customer will actually spend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._base import as_float_array

__all__ = ["customer_lifetime_value", "DAYS_PER_MONTH"]

DAYS_PER_MONTH = 365.25 / 12


def _discounted_purchases(model, frequency, recency, T, horizon_months, discount_rate_monthly, freq_days):
    """Sum over months of the incremental expected purchases, discounted."""
    total = np.zeros(frequency.size)
    previous = np.zeros(frequency.size)
    times = [month * DAYS_PER_MONTH / freq_days for month in range(1, horizon_months + 1)]
    curve = getattr(model, "expected_purchases_curve", None)
    cumulative_by_month = curve(times, frequency, recency, T) if curve is not None else (
        model.expected_purchases(t, frequency, recency, T) for t in times)
    for month, cumulative in enumerate(cumulative_by_month, start=1):
        total += (cumulative - previous) / (1 + discount_rate_monthly) ** month
        previous = cumulative
    return total, previous


def customer_lifetime_value(
    transaction_model,
    spend_model,
    frequency,
    recency,
    T,
    monetary_value,
    horizon_months: int = 12,
    discount_rate_monthly: float = 0.01,
    freq_days: float = 7,
    margin: float = 1.0,
    n_bootstrap: int = 0,
    random_state=None,
    confidence: float = 0.9,
) -> pd.DataFrame:
    """Expected discounted value of each customer over the next ``horizon_months``.

    Parameters
    ----------
    transaction_model : BetaGeoModel or ParetoNBDModel
        Fitted; provides ``expected_purchases(t, frequency, recency, T)``.
    spend_model : GammaGammaModel
        Fitted; provides ``expected_spend(frequency, monetary_value)``.
    frequency, recency, T, monetary_value : array_like or Series
        One row per customer, time in the unit the transaction model was fitted in. The
        index of ``frequency`` (if a Series) becomes the index of the result.
    horizon_months : int, default 12
    discount_rate_monthly : float, default 0.01
        Cash flows of month ``m`` are divided by ``(1 + d)**m``.
    freq_days : float, default 7
        Length in days of the time unit of ``T`` (7 for weeks, 1 for days).
    margin : float, default 1.0
        Share of spend that is profit.
    n_bootstrap : int, default 0
        Parameter draws for the interval; 0 skips it.
    random_state : int, numpy Generator or None
    confidence : float, default 0.9
        Coverage of the ``clv_lower``/``clv_upper`` interval.

    Returns
    -------
    pandas.DataFrame
        ``expected_purchases`` (undiscounted, over the horizon), ``expected_spend``,
        ``clv``, and with ``n_bootstrap > 0`` also ``clv_lower`` and ``clv_upper``.

    Examples
    --------
    >>> from regulars.models import BetaGeoModel, GammaGammaModel
    >>> bg = BetaGeoModel()
    >>> bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    >>> gg = GammaGammaModel()
    >>> gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    >>> clv = customer_lifetime_value(bg, gg, [2, 0], [30.43, 0.0], [38.86, 38.86], [30.0, 0.0])
    >>> clv.round(2)
       expected_purchases  expected_spend    clv
    0                1.56           30.94  45.55
    1                0.25           35.22   8.37
    """
    for name, model in (("transaction_model", transaction_model), ("spend_model", spend_model)):
        check_is_fitted(model, "params_", msg=f"{name} is not fitted yet: call fit() first")
    index = frequency.index if isinstance(frequency, pd.Series) else None
    x = as_float_array(frequency, "frequency")
    tx = as_float_array(recency, "recency")
    t = as_float_array(T, "T")
    m = as_float_array(monetary_value, "monetary_value")
    if not (x.size == tx.size == t.size == m.size):
        raise ValueError("frequency, recency, T and monetary_value must have the same length")
    if int(horizon_months) != horizon_months or horizon_months < 1:
        raise ValueError(f"horizon_months must be a positive whole number, got {horizon_months}")
    if discount_rate_monthly <= -1 or freq_days <= 0:
        raise ValueError("discount_rate_monthly must be > -1 and freq_days > 0")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    horizon_months = int(horizon_months)
    args = (horizon_months, discount_rate_monthly, freq_days)

    # Customers with identical purchase histories have identical expected purchases: compute
    # those once per distinct (x, t_x, T) (spend is cheap and depends on each one's amounts).
    rows = pd.DataFrame({"x": x, "tx": tx, "t": t}).groupby(["x", "tx", "t"], sort=False).ngroup().to_numpy()
    _, first_row = np.unique(rows, return_index=True)
    discounted_rows, purchases_rows = _discounted_purchases(transaction_model, x[first_row], tx[first_row],
                                                            t[first_row], *args)
    spend_all = spend_model.expected_spend(x, m)
    result = pd.DataFrame(
        {
            "expected_purchases": purchases_rows[rows],
            "expected_spend": spend_all,
            "clv": discounted_rows[rows] * spend_all * margin,
        },
        index=index,
    )
    codes = pd.DataFrame({"x": x, "tx": tx, "t": t, "m": m}).groupby(["x", "tx", "t", "m"], sort=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    x, tx, t, m = x[first], tx[first], t[first], m[first]
    if n_bootstrap:
        rng = np.random.default_rng(random_state)
        transaction_draws = transaction_model.sample_params(n_bootstrap, rng)
        spend_draws = spend_model.sample_params(n_bootstrap, rng)
        draws = np.empty((n_bootstrap, x.size))
        for i in range(n_bootstrap):
            drawn_transactions = transaction_model.with_params(transaction_draws[i])
            drawn_spend = spend_model.with_params(spend_draws[i])
            try:
                value = _discounted_purchases(drawn_transactions, x, tx, t, *args)[0] * drawn_spend.expected_spend(x, m)
            except ValueError:  # a draw with q <= 1 has no finite mean spend
                value = np.full(x.size, np.nan)
            draws[i] = value * margin
        tail = (1 - confidence) / 2
        result["clv_lower"] = np.nanquantile(draws, tail, axis=0)[codes]
        result["clv_upper"] = np.nanquantile(draws, 1 - tail, axis=0)[codes]
    return result
