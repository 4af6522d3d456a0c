"""Per-customer order totals, kept current on every write to ``orders``.

``customer_order_stats`` holds, per customer, what RFM needs from the whole order history
(one row per customer instead of ten orders each), so a refresh scores customers without
re-reading every order:

- ``last_order_date``: date of the latest purchase (``total > 0``);
- ``orders``: number of purchases;
- ``net``: sum of ``total - coalesce(refunded, 0)`` over purchases and returns (``DECIMAL(18,2)``);
- ``latest_at``: latest ``ordered_at`` of any counted row (purchases and returns).

Counted rows are those the features mart counts: a customer, an ``ordered_at``, and a status
outside :data:`~regulars.data.schema.EXCLUDED_STATUSES`. The totals hold for any as-of date
after every ``latest_at`` (:func:`covers`); for an earlier date, callers read the orders.

Every writer of ``orders`` in regulars refreshes the customers it touched, in its own
transaction: ingestion (:func:`refresh` after each upsert), identity merges (the surviving
customer) and erasure (the row goes with the customer's other rows). Each refresh also records
the number of order rows and the latest ``ordered_at`` (``customer_order_stats_source``; both
come from DuckDB's table statistics in under a millisecond); when either no longer matches,
something wrote to ``orders`` behind regulars' back and :func:`covers` says no, so readers fall
back to the orders themselves. (An in-place edit that keeps both unchanged is not detected:
write orders through ``regulars ingest``.)
"""

from __future__ import annotations

import datetime as dt

from regulars.data.schema import EXCLUDED_STATUSES

__all__ = ["TABLE", "covers", "create_statements", "mismatches", "refresh"]

TABLE = "customer_order_stats"
SOURCE = "customer_order_stats_source"
_SOURCE = "SELECT count(*) AS orders_rows, max(ordered_at) AS max_ordered_at FROM orders"

_STATUSES = ", ".join(f"'{s}'" for s in EXCLUDED_STATUSES)
_COUNTED = (
    f"customer_id IS NOT NULL AND ordered_at IS NOT NULL "
    f"AND (status IS NULL OR lower(status) NOT IN ({_STATUSES}))"
)
_AGGREGATE = (
    "SELECT customer_id, CAST(max(ordered_at) FILTER (WHERE total > 0) AS DATE) AS last_order_date, "
    "count(*) FILTER (WHERE total > 0) AS orders, CAST(sum(total - coalesce(refunded, 0)) AS DECIMAL(18,2)) AS net, "
    f"max(ordered_at) AS latest_at FROM orders WHERE {_COUNTED}"
)


def create_statements() -> list[str]:
    """Create the table and fill it from the orders already stored (a migration)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (customer_id VARCHAR, last_order_date DATE, "
        "orders BIGINT, net DECIMAL(18,2), latest_at TIMESTAMP)",
        f"CREATE TABLE IF NOT EXISTS {SOURCE} (orders_rows BIGINT, max_ordered_at TIMESTAMP)",
        f"DELETE FROM {TABLE}",
        f"INSERT INTO {TABLE} {_AGGREGATE} GROUP BY customer_id",
        *_record_source(),
    ]


def _record_source() -> list[str]:
    return [f"DELETE FROM {SOURCE}", f"INSERT INTO {SOURCE} {_SOURCE}"]


def refresh(con, customers_sql: str) -> None:
    """Recompute the rows of the customers that *customers_sql* selects (one ``customer_id`` column).

    Runs inside the caller's transaction. When the selection covers most stored customers
    (a first load), the whole table is rebuilt in one pass instead.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stats_touched AS SELECT DISTINCT customer_id FROM ({customers_sql}) "
                "WHERE customer_id IS NOT NULL")
    touched = con.execute("SELECT count(*) FROM _stats_touched").fetchall()[0][0]
    if touched:
        stored = con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]
        if touched * 2 >= stored:
            con.execute(f"DELETE FROM {TABLE}")
            con.execute(f"INSERT INTO {TABLE} {_AGGREGATE} GROUP BY customer_id")
        else:
            con.execute(f"DELETE FROM {TABLE} WHERE customer_id IN (SELECT customer_id FROM _stats_touched)")
            con.execute(f"INSERT INTO {TABLE} {_AGGREGATE} "
                        "AND customer_id IN (SELECT customer_id FROM _stats_touched) GROUP BY customer_id")
    for statement in _record_source():
        con.execute(statement)
    con.execute("DROP TABLE _stats_touched")


def covers(con, as_of: dt.date) -> bool:
    """True when the stored totals are exactly those of the orders before *as_of*: no order
    was written since the last refresh, and none is dated on or after *as_of*."""
    recorded = con.execute(f"SELECT orders_rows, max_ordered_at FROM {SOURCE}").fetchall()
    now = con.execute(_SOURCE).fetchall()
    if recorded != now:
        return False
    latest = now[0][1]
    return latest is None or latest < dt.datetime(as_of.year, as_of.month, as_of.day)


def mismatches(con) -> int:
    """Number of customers whose stored totals differ from a recomputation (0 when consistent)."""
    return con.execute(
        f"SELECT count(*) FROM ((({_AGGREGATE} GROUP BY customer_id) EXCEPT ALL (SELECT * FROM {TABLE})) "
        f"UNION ALL ((SELECT * FROM {TABLE}) EXCEPT ALL ({_AGGREGATE} GROUP BY customer_id)))"
    ).fetchall()[0][0]
