"""Per-customer order totals, kept current on every write to ``orders``.

``customer_order_stats`` holds, per customer, what RFM and the buy-till-you-die summary need
from the whole order history (one row per customer instead of ten orders each), so a refresh
scores customers without re-reading every order. *Purchase*, *return* and *net* are those of
:mod:`regulars.data.purchases` as of now (a fully refunded order is not a purchase; net is
``total - coalesce(refunded, 0)``, ``DECIMAL(18,2)``):

- ``first_order_date``, ``last_order_date``: dates of the first and the latest purchase;
- ``orders``: number of purchases; ``purchase_days``: number of distinct days with a purchase;
- ``purchases_net``: net of the purchases; ``first_day_net``: net of the first day's purchases;
- ``net``: net of purchases and returns (``total <= 0``) together;
- ``n_gaps``, ``log_gap_mean``, ``log_gap_var``: number of gaps (days) between consecutive
  purchase days, mean and sample variance of their logarithms (null without a gap);
- ``latest_at``: latest ``ordered_at`` of any counted row (purchases and returns).

Counted rows are those :func:`regulars.data.purchases.counted` counts that have a customer
(guest orders have none and are left out). The totals hold for any as-of date after every
``ordered_at``, ``refunded_at`` and ``cancelled_at`` (:func:`covers`); for an earlier date,
callers read the orders.

Every writer of ``orders`` in regulars refreshes the customers it touched, in its own
transaction: ingestion (:func:`refresh` after each upsert), identity merges (the surviving
customer) and erasure (the row goes with the customer's other rows). Each refresh also records
the number of order rows and the latest of their ``ordered_at``, ``refunded_at`` and
``cancelled_at`` (``customer_order_stats_source``; these come from DuckDB's table statistics in
about a millisecond); when either no longer matches,
something wrote to ``orders`` behind regulars' back and :func:`covers` says no, so readers fall
back to the orders themselves. (An in-place edit that keeps both unchanged is not detected:
write orders through ``regulars ingest``.)
"""

from __future__ import annotations

import datetime as dt

from regulars.data import purchases
from regulars.data.schema import EXCLUDED_STATUSES

__all__ = ["TABLE", "covers", "create_statements", "mark_current", "mismatches", "rebuild", "refresh"]

TABLE = "customer_order_stats"
SOURCE = "customer_order_stats_source"
#: ``max_ordered_at`` holds the latest dated change of any order: placed, refunded or cancelled.
_SOURCE = ("SELECT count(*) AS orders_rows, greatest(max(ordered_at), max(refunded_at), max(cancelled_at)) "
           "AS max_ordered_at FROM orders")
_COUNTED = f"customer_id IS NOT NULL AND {purchases.counted_sql()}"
_PURCHASE = f"total > 0 AND {purchases.net_sql()} > 0"
_COLUMNS = ("customer_id VARCHAR, first_order_date DATE, last_order_date DATE, orders BIGINT, purchase_days BIGINT, "
            "purchases_net DECIMAL(18,2), first_day_net DECIMAL(18,2), net DECIMAL(18,2), latest_at TIMESTAMP, "
            "n_gaps BIGINT, log_gap_mean DOUBLE, log_gap_var DOUBLE")


def _aggregate(where: str = "") -> str:
    """Per customer, from a per-(customer, day, purchase or not) grouping of the counted orders."""
    money = "CAST({} AS DECIMAL(18,2))"
    return (
        "SELECT customer_id, min(day) FILTER (WHERE purchase) AS first_order_date, "
        "max(day) FILTER (WHERE purchase) AS last_order_date, "
        "CAST(coalesce(sum(n) FILTER (WHERE purchase), 0) AS BIGINT) AS orders, "
        "count(*) FILTER (WHERE purchase) AS purchase_days, "
        f"{money.format('sum(net) FILTER (WHERE purchase)')} AS purchases_net, "
        f"{money.format('arg_min(net, day) FILTER (WHERE purchase)')} AS first_day_net, "
        f"{money.format('sum(net)')} AS net, max(latest) AS latest_at, "
        "count(gap) AS n_gaps, avg(ln(gap)) AS log_gap_mean, var_samp(ln(gap)) AS log_gap_var "
        "FROM (SELECT *, CASE WHEN purchase THEN CAST(day - lag(day) OVER "
        "(PARTITION BY customer_id, purchase ORDER BY day) AS DOUBLE) END AS gap "
        f"FROM (SELECT customer_id, CAST(ordered_at AS DATE) AS day, {_PURCHASE} AS purchase, count(*) AS n, "
        f"sum({purchases.net_sql()}) AS net, max(ordered_at) AS latest "
        f"FROM orders WHERE {_COUNTED}{where} GROUP BY ALL)) GROUP BY customer_id"
    )


def create_statements() -> list[str]:
    """Create the table and fill it from the orders already stored (the current definitions)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} ({_COLUMNS})",
        f"CREATE TABLE IF NOT EXISTS {SOURCE} (orders_rows BIGINT, max_ordered_at TIMESTAMP)",
        f"DELETE FROM {TABLE}",
        f"INSERT INTO {TABLE} {_aggregate()}",
        *_record_source(),
    ]


def create_statements_v6() -> list[str]:
    """Migration 6 as released: the orders table had no ``refunded_at``/``cancelled_at`` yet.

    A later migration rebuilds the totals with the current definitions (:func:`rebuild`).
    """
    statuses = ", ".join(f"'{s}'" for s in EXCLUDED_STATUSES)
    counted = (f"customer_id IS NOT NULL AND ordered_at IS NOT NULL "
               f"AND (status IS NULL OR lower(status) NOT IN ({statuses}))")
    aggregate = (_aggregate().replace(f"WHERE {_COUNTED}", f"WHERE {counted}")
                 .replace(f"{_PURCHASE} AS purchase", "total > 0 AS purchase"))
    source = "SELECT count(*) AS orders_rows, max(ordered_at) AS max_ordered_at FROM orders"
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} ({_COLUMNS})",
        f"CREATE TABLE IF NOT EXISTS {SOURCE} (orders_rows BIGINT, max_ordered_at TIMESTAMP)",
        f"DELETE FROM {TABLE}",
        f"INSERT INTO {TABLE} {aggregate}",
        f"DELETE FROM {SOURCE}",
        f"INSERT INTO {SOURCE} {source}",
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
            con.execute(f"INSERT INTO {TABLE} {_aggregate()}")
        else:
            con.execute(f"DELETE FROM {TABLE} WHERE customer_id IN (SELECT customer_id FROM _stats_touched)")
            con.execute(f"INSERT INTO {TABLE} {_aggregate(' AND customer_id IN (SELECT customer_id FROM _stats_touched)')}")
    mark_current(con)
    con.execute("DROP TABLE _stats_touched")


def mark_current(con) -> None:
    """Record ``orders`` as it is now, for a writer that removed a customer's orders together
    with the customer's row of totals (erasure): the other customers' totals still hold."""
    for statement in _record_source():
        con.execute(statement)


def rebuild(con) -> None:
    """Recompute every customer's totals: for code that wrote ``orders`` with plain SQL
    (benchmark generators, migrations of other tools)."""
    for statement in create_statements()[2:]:
        con.execute(statement)


def covers(con, as_of: dt.date) -> bool:
    """True when the stored totals are exactly those of the orders before *as_of*: no order
    was written since the last refresh, and no order, refund or cancellation is dated on or
    after *as_of*."""
    recorded = con.execute(f"SELECT orders_rows, max_ordered_at FROM {SOURCE}").fetchall()
    now = con.execute(_SOURCE).fetchall()
    if recorded != now:
        return False
    latest = now[0][1]
    return latest is None or latest < dt.datetime(as_of.year, as_of.month, as_of.day)


def mismatches(con) -> int:
    """Number of customers whose stored totals differ from a recomputation (0 when consistent)."""
    return con.execute(
        f"SELECT count(*) FROM ((({_aggregate()}) EXCEPT ALL (SELECT * FROM {TABLE})) "
        f"UNION ALL ((SELECT * FROM {TABLE}) EXCEPT ALL ({_aggregate()})))"
    ).fetchall()[0][0]
