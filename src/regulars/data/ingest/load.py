"""Write validated rows into a canonical table: new rows inserted, changed rows updated.

Rows are matched on the table's key. Only the columns the source provides
are compared and written, so a file that lacks a column never erases what
another source loaded into it. A row whose provided columns all equal the
stored ones is *unchanged* and not touched: loading the same file twice
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from regulars.data import order_stats
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
    total = con.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0]
    # Only rows whose key is already stored are compared; the rest are inserted by an anti-join,
    # so a first load never copies the source into a classification table.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT s.* FROM {src} s JOIN {table} t ON {on} "
        f"WHERE {s_hash} <> {t_hash}"
    )
    matched = con.execute(f"SELECT count(*) FROM {src} s SEMI JOIN {table} t ON {on}").fetchall()[0][0]
    updated = con.execute("SELECT count(*) FROM _changed").fetchall()[0][0]
    result = LoadCounts(new=total - matched, updated=updated, unchanged=matched - updated)
    if table == "orders" and (result.new or result.updated):
        # the customers of new rows, and both the old and new customer of changed rows
        touched = [f"SELECT t.customer_id FROM {table} t JOIN _changed s ON {on}"]
        if "customer_id" in cols:
            touched.append(f"SELECT customer_id FROM {src}")
        con.execute("CREATE OR REPLACE TEMP TABLE _orders_touched AS " + " UNION ALL ".join(touched))
    col_list = ", ".join(q(c) for c in cols)
    if result.updated:
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in cols if c not in key)
        on_u = " AND ".join(f"{table}.{q(k)} = s.{q(k)}" for k in key)
        con.execute(
            f"UPDATE {table} SET {sets}{', ' if sets else ''}_run_id = {run_id} FROM _changed s WHERE {on_u}"
        )
    if result.new:
        src_cols = ", ".join(f"s.{q(c)}" for c in cols)
        where = "" if not matched else f" WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})"
        con.execute(f"INSERT INTO {table} ({col_list}, _run_id) SELECT {src_cols}, {run_id} FROM {src} s{where}")
    con.execute("DROP TABLE _changed")
    if table == "orders" and (result.new or result.updated):
        order_stats.refresh(con, "SELECT customer_id FROM _orders_touched")
        con.execute("DROP TABLE _orders_touched")
    return result
