"""Moments in terminal output in the shop's time zone (the rule of :mod:`regulars.reports.shop_time`).

:func:`regulars.cli.common.open_workspace` puts the workspace's time zone in
:data:`~regulars.reports.shop_time.SHOP_TIMEZONE`; :func:`in_shop_time` then rewrites a frame's
moments before it is printed: ``2024-05-01 14:30`` in a table (the zone named in a note), ISO 8601
with the offset in csv and json. A column whose every value is at midnight holds days (DuckDB
hands ``DATE`` columns to pandas as timestamps) and stays as it is.

>>> import pandas as pd
>>> df = pd.DataFrame({"started_at": pd.to_datetime(["2024-05-01 12:30"]), "as_of": pd.to_datetime(["2024-05-01"])})
>>> shown, changed = in_shop_time(df, "Europe/Paris", "table")
>>> shown.iloc[0].tolist(), changed
(['2024-05-01 14:30', Timestamp('2024-05-01 00:00:00')], ['started_at'])
>>> in_shop_time(df, "Europe/Paris", "csv")[0]["started_at"].iloc[0]
'2024-05-01T14:30:00+02:00'
"""

from __future__ import annotations

import datetime as dt

from regulars.reports.shop_time import _NAIVE_STAMP, iso, shown


def _is_moment_column(values) -> bool:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        present = values.dropna()
        return bool(len(present)) and not (present == present.dt.normalize()).all()
    if values.dtype != object and not pd.api.types.is_string_dtype(values):
        return False
    present = values.dropna()
    if not len(present):
        return False
    first = present.iloc[0]
    if isinstance(first, dt.datetime):
        return True
    return isinstance(first, str) and bool(_NAIVE_STAMP.match(first))


def in_shop_time(df, zone: str | None, fmt: str):
    """*df* with its moments in *zone* (table: ``YYYY-MM-DD HH:MM``; csv/json: ISO 8601 with offset),
    and the names of the columns it changed."""
    if not zone or df.empty:
        return df, []
    changed = [c for c in df.columns if _is_moment_column(df[c])]
    if not changed:
        return df, []
    out = df.copy()
    write = shown if fmt == "table" else iso
    for col in changed:
        out[col] = [None if v is None or v != v else write(v, zone) for v in out[col]]
    return out, changed
