"""Write validated rows into a canonical table: new rows inserted, changed rows updated.

Rows are matched on the table's key. Only the columns the source provides
are compared and written, so a file that lacks a column never erases what
another source loaded into it. A row whose provided columns all equal the
stored ones is *unchanged* and not touched: loading the same file twice
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from regulars.data.ingest.readers import q
from regulars.data.schema import TABLES


@dataclass
class LoadCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged}


def upsert(con, table: str, src: str, columns: list[str], run_id: int) -> LoadCounts:
    """Merge temp table *src* (already valid, unique on the key) into *table*."""
    spec = TABLES[table]
    key = list(spec.key)
    cols = [c for c in spec.column_names if c in columns and c != "_run_id"]
    missing = [k for k in key if k not in cols]
    if missing:
        raise ValueError(f"cannot load {table} without its key column(s) {missing}")
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
    s_hash = "hash(" + ", ".join(f"s.{q(c)}" for c in cols) + ")"
    t_hash = "hash(" + ", ".join(f"t.{q(c)}" for c in cols) + ")"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _cls AS SELECT s.*, "
        f"CASE WHEN t.{q(key[0])} IS NULL THEN 0 WHEN {s_hash} = {t_hash} THEN 2 ELSE 1 END AS _st "
        f"FROM {src} s LEFT JOIN {table} t ON {on}"
    )
    counts = dict(con.execute("SELECT _st, count(*) FROM _cls GROUP BY _st").fetchall())
    result = LoadCounts(counts.get(0, 0), counts.get(1, 0), counts.get(2, 0))
    col_list = ", ".join(q(c) for c in cols)
    if result.new:
        con.execute(
            f"INSERT INTO {table} ({col_list}, _run_id) SELECT {col_list}, {run_id} FROM _cls WHERE _st = 0"
        )
    if result.updated:
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in cols if c not in key)
        on_u = " AND ".join(f"{table}.{q(k)} = s.{q(k)}" for k in key)
        con.execute(
            f"UPDATE {table} SET {sets}{', ' if sets else ''}_run_id = {run_id} "
            f"FROM (SELECT * FROM _cls WHERE _st = 1) s WHERE {on_u}"
        )
    con.execute("DROP TABLE _cls")
    return result
