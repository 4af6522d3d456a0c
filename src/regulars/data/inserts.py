"""Insert a frame into a table through Arrow, each column cast to the table's type.

Shared by the stores of derived results (text, anomalies, fairness): DuckDB scans Arrow strings
several times faster than Python objects.

Examples
--------
>>> import duckdb, pandas as pd
>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE t (a INTEGER, b VARCHAR)")
>>> insert(con, "t", (("a", "INTEGER"), ("b", "VARCHAR")), pd.DataFrame({"b": ["x"], "a": ["7"]}))
>>> con.execute("SELECT * FROM t").fetchall()
[(7, 'x')]
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa


def insert(con, table: str, columns, data) -> None:
    """Append *data* (a DataFrame or Arrow table holding at least *columns*) to *table*."""
    names = [c for c, _ in columns]
    if isinstance(data, pd.DataFrame):
        if data.empty:
            return
        data = pa.Table.from_pandas(data[names], preserve_index=False)
    elif data.num_rows == 0:
        return
    else:
        data = data.select(names)
    view = f"_insert_{table}"
    con.register(view, data)
    try:
        casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns)
        con.execute(f"INSERT INTO {table} SELECT {casts} FROM {view}")
    finally:
        con.unregister(view)
