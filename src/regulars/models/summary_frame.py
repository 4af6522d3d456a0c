"""The BTYD summary of an in-memory pandas DataFrame, in a few vectorised numpy passes.

:func:`regulars.models.summary.summarize` hands a DataFrame here instead of to a database
engine: a lifetimes user's transactions already sit in memory, and shipping ten million rows to
an engine and back cost more than summarising them. The arithmetic is exactly that of
:func:`~regulars.models.summary.summary_expression` (dates, one purchase per customer and day,
inclusive period ends, the first purchase excluded from the monetary value).

How: customers become integer codes (their own values when they are small non-negative
integers, else :func:`pandas.factorize`); each row gets a customer-day key; one
``numpy.sort`` of the keys (SIMD-accelerated) puts each customer's distinct purchase days
together (the key is ``code << bits | day``: shifts and masks, no integer division), from which
the first and last day and the number of purchase days follow by comparing neighbours. Amounts need no sort: per-customer totals are ``bincount`` sums, and the
first day's value is the sum over the rows falling on that day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["summarize_frame"]


def _codes(customers: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (ascending with the customer) and the customer of each code.

    Small non-negative integer ids are their own codes (no hashing, no copy); codes that no row
    uses are simply never seen.
    """
    values = customers.to_numpy()
    if values.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        if lo >= 0 and hi < 4 * len(values) + 1024:
            return values.astype(np.int64, copy=False), pd.Index(np.arange(hi + 1, dtype=values.dtype), name=customers.name)
    codes, uniques = pd.factorize(customers, sort=True)
    return codes.astype(np.int64), pd.Index(uniques, name=customers.name)


def summarize_frame(frame: pd.DataFrame, customer_col: str, time_col: str, value_col: str | None, unit: float,
                    observation_end, calibration_end, with_holdout: bool) -> pd.DataFrame:
    """The summary of :func:`~regulars.models.summary.summarize` for a DataFrame.

    ``observation_end``/``calibration_end`` are dates or None (None: the last transaction day /
    no holdout, as there); ``unit`` is the length of the time unit in days.
    """
    day = pd.to_datetime(frame[time_col]).to_numpy().astype("datetime64[D]")
    keep = ~np.isnat(day) & frame[customer_col].notna().to_numpy()
    if observation_end is not None:
        keep &= day <= np.datetime64(observation_end, "D")
    everything = bool(keep.all())  # skip the copies when no row is left out
    customers = frame[customer_col] if everything else frame[customer_col][keep]
    day = day.view(np.int64) if everything else day[keep].view(np.int64)
    value = None
    if value_col is not None:
        value = frame[value_col].to_numpy(dtype=float)
        value = value if everything else value[keep]
    obs_end = int(np.datetime64(observation_end, "D").astype(np.int64)) if observation_end is not None else (
        int(day.max()) if day.size else 0)
    cal_end = int(np.datetime64(calibration_end, "D").astype(np.int64)) if calibration_end is not None else obs_end
    codes, ids = _codes(customers)
    n_customers = len(ids)
    d0 = int(day.min()) if day.size else 0
    rel = day - d0
    # key = code << bits | day: shifts and masks instead of integer division; 32-bit when it fits
    # (a 32-bit sort is twice as fast)
    bits = max(int(rel.max()).bit_length(), 1) if rel.size else 1
    narrow = np.int32 if (n_customers.bit_length() + bits) < 31 else np.int64
    in_cal = None if cal_end >= obs_end else day <= cal_end
    cal_codes = codes if in_cal is None else codes[in_cal]
    cal_rel = rel if in_cal is None else rel[in_cal]
    keys = np.sort((cal_codes.astype(narrow) << bits) | cal_rel.astype(narrow))
    distinct = keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys
    who = distinct >> bits
    when = distinct & ((1 << bits) - 1)
    starts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]]) if who.size else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], who.size] - 1 if who.size else starts
    seen = who[starts].astype(np.int64)  # codes of the customers with a calibration purchase, ascending
    first = np.full(n_customers, -1, dtype=np.int32)  # a small table: the gather below stays in cache
    first[seen] = when[starts]
    purchase_days = np.diff(np.r_[starts, who.size])
    out = pd.DataFrame(index=ids[seen])
    out["frequency"] = (purchase_days - 1).astype(np.int64)
    out["recency"] = (when[ends].astype(np.int64) - when[starts]).astype(float) / unit
    out["T"] = (cal_end - d0 - when[starts].astype(np.int64)).astype(float) / unit
    if value is not None:
        cal_value = value if in_cal is None else value[in_cal]
        total = np.bincount(cal_codes, weights=cal_value, minlength=n_customers)
        on_first = rel == first[codes]
        if in_cal is not None:
            on_first &= in_cal
        first_value = np.bincount(codes[on_first], weights=value[on_first], minlength=n_customers)
        repeat = total[seen] - first_value[seen]
        frequency = out["frequency"].to_numpy()
        out["monetary_value"] = np.where(frequency > 0, repeat / np.maximum(frequency, 1), 0.0)
    if with_holdout:
        later = (first[codes] >= 0) if in_cal is None else (~in_cal & (first[codes] >= 0))
        if in_cal is None:
            later &= False
        hkeys = np.sort((codes[later].astype(narrow) << bits) | rel[later].astype(narrow))
        hdistinct = hkeys[np.r_[True, hkeys[1:] != hkeys[:-1]]] if hkeys.size else hkeys
        holdout_days = np.bincount(hdistinct >> bits, minlength=n_customers)[seen]
        out["frequency_holdout"] = holdout_days.astype(np.int64)
        if value is not None:
            holdout_value = np.bincount(codes[later], weights=value[later], minlength=n_customers)[seen]
            out["monetary_value_holdout"] = np.where(holdout_days > 0, holdout_value / np.maximum(holdout_days, 1), 0.0)
        out["duration_holdout"] = float(obs_end - cal_end) / unit
    out.index.name = customer_col
    return out
