"""Per-customer recency/frequency/monetary summary that the BTYD models are fitted on.

Built as one Ibis expression (no loop over customers), so it runs where the transactions
live: DuckDB by default, PySpark too (dates are cast before differencing and only portable
operations are used).

Period arithmetic
-----------------
* Each timestamp is cast to a **date** first; all transactions of a customer on one
  calendar day are merged into one purchase whose value is the sum of that day's values.
  The purchase period is therefore always the day, whatever ``freq`` is.
* Day differences are whole days between dates (``date_diff``), so time of day never
  matters. ``freq`` only sets the unit of ``recency``, ``T`` and ``duration_holdout``:
  ``"D"`` gives whole days, ``"W"`` gives ``days / 7`` as a float (the convention of
  the published CDNOW numbers, e.g. 213 days = 30.43 weeks).
* ``frequency`` = number of purchase days - 1 (repeat purchases), ``recency`` = last
  purchase day - first purchase day, ``T`` = end of calibration - first purchase day, where
  the end of calibration is ``calibration_end`` if given, else ``observation_end``. Both
  ends are inclusive dates. Transactions after ``observation_end`` are ignored; with a
  ``calibration_end``, only customers whose first purchase is on or before it appear.
* ``monetary_value`` = mean value of the repeat purchase days, i.e. excluding the first
  purchase (0 when ``frequency`` is 0); this is what the Gamma-Gamma model expects and
  what reproduces the published CDNOW estimates. Refunds should be netted into the
  transaction they belong to before summarising; a separate row is a separate purchase.
* Holdout (only with ``calibration_end``): ``frequency_holdout`` = purchase days after
  ``calibration_end`` up to ``observation_end``; ``monetary_value_holdout`` = their mean
  value (0 when none); ``duration_holdout`` = ``observation_end - calibration_end``.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from regulars.values import to_date

__all__ = ["summarize", "summary_expression"]

_UNIT_DAYS = {"D": 1.0, "W": 7.0}


def _as_date(value, name: str) -> dt.date:
    try:
        day = to_date(value)
    except ValueError as error:
        raise ValueError(f"{name} must be a date, got {value!r}") from error
    if day is None:
        raise ValueError(f"{name} must be a date, got None")
    return day


def _check(columns, customer_col: str, time_col: str, value_col: str | None, freq: str) -> None:
    if freq not in _UNIT_DAYS:
        raise ValueError(f"freq must be 'D' (days) or 'W' (weeks), got {freq!r}")
    missing = [c for c in (customer_col, time_col, value_col) if c is not None and c not in columns]
    if missing:
        raise ValueError(f"transactions has no column(s) {missing}; it has {list(columns)}")


def summary_expression(
    transactions,
    customer_col: str,
    time_col: str,
    value_col: str | None = None,
    freq: str = "D",
    observation_end=None,
    calibration_end=None,
) -> ibis.Table:
    """Build (without executing) the Ibis expression behind :func:`summarize`.

    Parameters are those of :func:`summarize`; the result has a ``customer_col`` column
    instead of an index and is not sorted.
    """
    table = ibis.memtable(transactions) if isinstance(transactions, pd.DataFrame) else transactions
    _check(table.columns, customer_col, time_col, value_col, freq)
    unit = _UNIT_DAYS[freq]

    day = table[time_col].cast("date")
    value = table[value_col].cast("float64") if value_col is not None else ibis.literal(0.0)
    rows = table.select(customer=table[customer_col], day=day, value=value)
    if observation_end is None:
        obs_end = rows.day.max().as_scalar()
    else:
        obs_end = ibis.literal(_as_date(observation_end, "observation_end"))
    if calibration_end is None:
        cal_end = obs_end
    else:
        cal_date = _as_date(calibration_end, "calibration_end")
        if observation_end is not None and cal_date > _as_date(observation_end, "observation_end"):
            raise ValueError(f"calibration_end {cal_date} is after observation_end {observation_end}")
        cal_end = ibis.literal(cal_date)

    rows = rows.filter(rows.day.notnull() & rows.customer.notnull() & (rows.day <= obs_end))
    daily = rows.group_by(["customer", "day"]).aggregate(value=rows.value.sum())
    calibration = daily.filter(daily.day <= cal_end)
    # One pass: the repeat purchases' value is everything but the first day's (days are unique per customer).
    per_customer = calibration.group_by("customer").aggregate(
        first_day=calibration.day.min(),
        last_day=calibration.day.max(),
        purchase_days=calibration.count(),
        all_value=calibration.value.sum(),
        first_value=calibration.value.argmin(calibration.day),
    )
    per_customer = per_customer.mutate(repeat_value=per_customer.all_value - per_customer.first_value)
    frequency = (per_customer.purchase_days - 1).cast("int64")
    columns = {
        "customer": per_customer.customer,
        "frequency": frequency,
        "recency": per_customer.last_day.delta(per_customer.first_day, unit="day").cast("float64") / unit,
        "T": cal_end.delta(per_customer.first_day, unit="day").cast("float64") / unit,
    }
    if value_col is not None:
        columns["monetary_value"] = (per_customer.repeat_value / frequency.nullif(0).cast("float64")).fill_null(0.0)
    summary = per_customer.select(**columns)

    if calibration_end is not None:
        holdout = daily.filter((daily.day > cal_end) & (daily.day <= obs_end))
        holdout = holdout.group_by("customer").aggregate(
            frequency_holdout=holdout.count(), value_holdout=holdout.value.sum()
        )
        summary = summary.left_join(holdout, "customer").select(
            *[summary[c] for c in summary.columns],
            frequency_holdout=holdout.frequency_holdout.fill_null(0).cast("int64"),
            value_holdout=holdout.value_holdout,
        )
        extra = {}
        if value_col is not None:
            extra["monetary_value_holdout"] = (
                summary.value_holdout / summary.frequency_holdout.nullif(0).cast("float64")
            ).fill_null(0.0)
        extra["duration_holdout"] = obs_end.delta(cal_end, unit="day").cast("float64") / unit
        summary = summary.mutate(**extra).drop("value_holdout")
    return summary.rename({customer_col: "customer"}) if customer_col != "customer" else summary


def summarize(
    transactions,
    customer_col: str,
    time_col: str,
    value_col: str | None = None,
    freq: str = "D",
    observation_end=None,
    calibration_end=None,
) -> pd.DataFrame:
    """Summarise transactions into one row per customer for the BTYD models.

    See the module docstring for the exact period arithmetic.

    Parameters
    ----------
    transactions : ibis.Table or pandas.DataFrame
        One row per transaction. A table is summarised by its engine (DuckDB, Spark); a
        DataFrame in memory by a few numpy passes (:mod:`regulars.models.summary_frame`), with
        the same result.
    customer_col, time_col : str
        Customer key and transaction timestamp (or date) columns.
    value_col : str, optional
        Transaction value (net of refunds); adds ``monetary_value`` columns.
    freq : {"D", "W"}
        Unit of ``recency``, ``T`` and ``duration_holdout``: days, or weeks as days / 7.
    observation_end : date-like, optional
        Last day observed (inclusive). Defaults to the last transaction day in the data.
    calibration_end : date-like, optional
        Last day of the calibration period; adds the holdout columns.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_col``, sorted, with columns ``frequency, recency, T``
        [, ``monetary_value``] [, ``frequency_holdout``, ``monetary_value_holdout``,
        ``duration_holdout``].

    Examples
    --------
    >>> tx = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 18:00",
    ...                                   "2024-01-08 12:00", "2024-01-15 08:30", "2024-01-10 23:59"]),
    ...     "total": [10.0, 5.0, 20.0, 40.0, 7.0],
    ... })
    >>> summary = summarize(tx, "customer_id", "ordered_at", "total", freq="W",
    ...                     observation_end="2024-01-15", calibration_end="2024-01-10")
    >>> print(summary.to_string())  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency         T  monetary_value  frequency_holdout  monetary_value_holdout  duration_holdout
    customer_id
    a                    1      1.0  1.285714            20.0                  1                    40.0          0.714286
    b                    0      0.0  0.000000             0.0                  0                     0.0          0.714286
    """
    if isinstance(transactions, pd.DataFrame):  # in memory already: numpy passes, no engine round trip
        from .summary_frame import summarize_frame

        _check(transactions.columns, customer_col, time_col, value_col, freq)
        obs = _as_date(observation_end, "observation_end") if observation_end is not None else None
        cal = _as_date(calibration_end, "calibration_end") if calibration_end is not None else None
        if cal is not None and obs is not None and cal > obs:
            raise ValueError(f"calibration_end {cal} is after observation_end {observation_end}")
        return summarize_frame(transactions, customer_col, time_col, value_col, _UNIT_DAYS[freq], obs, cal,
                               with_holdout=calibration_end is not None)
    expression = summary_expression(
        transactions, customer_col, time_col, value_col, freq, observation_end, calibration_end
    )
    frame = expression.order_by(customer_col).to_pandas()
    return frame.set_index(customer_col)
