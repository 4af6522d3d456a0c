"""Query results as JSON-ready rows: what reports hand to the CLI, the API and the dashboard.

>>> import datetime as dt, decimal
>>> jsonable({"at": dt.date(2024, 1, 2), "total": decimal.Decimal("9.50"), "x": float("nan")})
{'at': '2024-01-02', 'total': 9.5, 'x': None}
>>> import duckdb
>>> json_rows(duckdb.connect(), "SELECT DATE '2024-01-02' AS d, 1.5::DECIMAL(18,2) AS m, 'a' AS s")
[{'d': '2024-01-02', 'm': 1.5, 's': 'a'}]
"""

from __future__ import annotations

import datetime as dt
import decimal
import math

from regulars.data.connection import connection


def jsonable(value):
    """A value ready for JSON: dates as ISO text, decimals and numpy numbers as floats, NaN as None."""
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return jsonable(value.item())
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _iso(v):
    return v.isoformat()


def _float(v):
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def _converter(type_name: str):
    """How to make a column of this DuckDB type JSON-ready (None: as is)."""
    t = type_name.upper()
    if t.startswith(("TIMESTAMP", "DATE", "TIME")):
        return _iso
    if t.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL")):
        return _float
    if t in ("VARCHAR", "BOOLEAN", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "JSON"):
        return None
    return jsonable


def json_rows(db, sql: str, params: list | None = None) -> list[dict]:
    """Rows of *sql* as JSON-ready dicts (only columns whose type needs it are converted)."""
    cur = connection(db).execute(sql, params or [])
    names = [d[0] for d in cur.description]
    convert = [(i, n, c) for i, (n, c) in enumerate((d[0], _converter(str(d[1]))) for d in cur.description) if c]
    out = []
    for row in cur.fetchall():
        d = dict(zip(names, row))
        for i, n, c in convert:
            v = row[i]
            if v is not None:
                d[n] = c(v)
        out.append(d)
    return out


def scalar(db, sql: str, params: list | None = None):
    """The single value *sql* returns."""
    return connection(db).execute(sql, params or []).fetchall()[0][0]
