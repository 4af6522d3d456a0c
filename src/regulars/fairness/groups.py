"""The groups a fairness audit compares, and whether a model used them as inputs.

Attributes audited when the shop's data has them: ``country``, ``region``,
``acquisition_channel``, ``age_band`` (from ``birth_date``, on the audit date) and ``gender``
(only when the customers table has such a column). Groups smaller than ``min_group`` customers
are pooled as ``"other"`` (their rates would be noise); unknown values are ``"unknown"``.

Examples
--------
>>> import datetime as dt
>>> age_band(pd.Series(pd.to_datetime(["1990-06-01", "1950-01-01", None])), dt.date(2025, 1, 1)).tolist()
['25-34', '65+', 'unknown']
>>> sensitive_inputs(["orders", "days_since_last_order", "country_is_us", "age"])
['age', 'country_is_us']
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

#: Attributes a shop may hold that a model must not use unless the shop opts in.
SENSITIVE_ATTRIBUTES = ("country", "region", "city", "postal_code", "acquisition_channel", "age", "age_band",
                        "birth_date", "gender")
AGE_BANDS = [(0, 25, "under 25"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 65, "55-64"),
             (65, 200, "65+")]
MIN_GROUP = 30


def age_band(birth_date: pd.Series, on: dt.date) -> pd.Series:
    """Age band of each birth date on the day *on* ("unknown" without a date)."""
    born = pd.to_datetime(birth_date, errors="coerce")
    ref = pd.Timestamp(on)
    before_birthday = (born.dt.month > ref.month) | ((born.dt.month == ref.month) & (born.dt.day > ref.day))
    years = (ref.year - born.dt.year - before_birthday.astype(float)).to_numpy(dtype=float)
    out = np.full(len(born), "unknown", dtype=object)
    for lo, hi, name in AGE_BANDS:
        out[(years >= lo) & (years < hi)] = name
    return pd.Series(out, index=birth_date.index)


def customer_groups(customers: pd.DataFrame, on: dt.date, min_group: int = MIN_GROUP) -> pd.DataFrame:
    """One row per customer: the attributes present in *customers*, small groups pooled as "other".

    *customers* has ``customer_id`` and any of ``country, region, acquisition_channel, birth_date,
    gender``; attributes that are entirely missing are left out.
    """
    out = pd.DataFrame({"customer_id": customers["customer_id"].to_numpy()})
    for col in ("country", "region", "acquisition_channel", "gender"):
        if col in customers and customers[col].notna().any():
            out[col] = _pool(customers[col].astype(object).where(customers[col].notna(), "unknown")
                             .astype(str).str.strip().replace("", "unknown").to_numpy(), min_group)
    if "birth_date" in customers and customers["birth_date"].notna().any():
        out["age_band"] = _pool(age_band(customers["birth_date"], on).to_numpy(), min_group)
    return out


def _pool(values: np.ndarray, min_group: int) -> np.ndarray:
    series = pd.Series(values, dtype=object)
    counts = series.value_counts()  # hashing, not sorting a million strings
    small = set(counts.index[counts.to_numpy() < min_group]) - {"unknown"}
    return series.where(~series.isin(small), "other").to_numpy() if small else values


_SENSITIVE = re.compile(r"(^|_)(" + "|".join(SENSITIVE_ATTRIBUTES) + r")(_|$)")


def sensitive_inputs(feature_names: Iterable[str]) -> list[str]:
    """The model inputs named after a sensitive attribute (country, region, age, gender, ...)."""
    return sorted(f for f in feature_names if _SENSITIVE.search(str(f).lower()))
