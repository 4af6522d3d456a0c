"""What loading orders adds to the common path: guests, refunds and cancellations with their dates.

Run on the validated rows (temp table ``_g``) just before they are written:

- **refunds**: an order (``total > 0``) whose status is ``refunded`` and whose file has no
  refunded amount is refunded in full (``refunded = total``). ``refunded_at`` is the source's refund date; without
  one, it is the date already stored for the same refunded amount, else the time of the export
  (the file's modification time, never before the order), so an analysis as of an earlier date
  does not see the refund;
- **cancellations**: ``cancelled_at`` is the source's cancellation date (Shopify's ``Cancelled
  at``). An order with a cancelled or voided status but no date counts as cancelled from the
  start (it never counts), as cancellations nearly always come before the order ships; an order
  that is no longer cancelled loses its date;
- a file without these columns never erases what another file stored in them.

Guest orders (no customer identifier at all) keep a NULL ``customer_id``.
"""

from __future__ import annotations

from regulars.data.ingest.readers import lit
from regulars.data.schema import CANCELLED_STATUSES

_CANCELLED = "(" + ", ".join(lit(s) for s in CANCELLED_STATUSES) + ")"


def exported_at_table(con, paths: list[str]) -> None:
    """Temp table ``_exported (_file, exported_at)``: each file's modification time (UTC)."""
    import datetime as dt
    import os

    con.execute("CREATE OR REPLACE TEMP TABLE _exported (_file VARCHAR, exported_at TIMESTAMP)")
    rows = [(p, dt.datetime.fromtimestamp(os.path.getmtime(p), dt.UTC).replace(tzinfo=None)) for p in paths]
    con.executemany("INSERT INTO _exported VALUES (?, ?)", rows)


def prepare(con, cols: list[str], table: str = "_g") -> list[str]:
    """Fill refunds and refund/cancellation dates on temp table *table*; return the columns to write."""
    cols = list(cols)
    stored = "(SELECT {c} FROM orders o WHERE o.order_id = " + table + ".order_id)"
    exported = f"(SELECT greatest(e.exported_at, {table}.ordered_at) FROM _exported e WHERE e._file = {table}._file)"
    if "status" in cols:
        if "refunded" not in cols:
            con.execute(f"ALTER TABLE {table} ADD COLUMN refunded DECIMAL(18,2)")
            con.execute(
                f"UPDATE {table} SET refunded = CASE WHEN status = 'refunded' AND total > 0 THEN total "
                f"ELSE {stored.format(c='refunded')} END"
            )
            cols.append("refunded")
        else:
            con.execute(f"UPDATE {table} SET refunded = total WHERE status = 'refunded' AND refunded IS NULL AND total > 0")
    if "refunded" in cols:
        if "refunded_at" not in cols:
            con.execute(f"ALTER TABLE {table} ADD COLUMN refunded_at TIMESTAMP")
            cols.append("refunded_at")
        con.execute(
            f"""
            UPDATE {table} SET refunded_at = CASE
                WHEN coalesce(refunded, 0) = 0 THEN NULL
                WHEN refunded_at IS NOT NULL THEN greatest(refunded_at, ordered_at)
                WHEN {stored.format(c='refunded')} IS NOT DISTINCT FROM refunded
                     AND {stored.format(c='refunded_at')} IS NOT NULL THEN {stored.format(c='refunded_at')}
                ELSE {exported} END
            """
        )
    if "status" in cols or "cancelled_at" in cols:
        if "cancelled_at" not in cols:
            con.execute(f"ALTER TABLE {table} ADD COLUMN cancelled_at TIMESTAMP")
            cols.append("cancelled_at")
        cancelled = f"coalesce(status IN {_CANCELLED}, false)" if "status" in cols else "false"
        con.execute(
            f"""
            UPDATE {table} SET cancelled_at = CASE
                WHEN cancelled_at IS NOT NULL THEN greatest(cancelled_at, ordered_at)
                WHEN {cancelled} THEN {stored.format(c='cancelled_at')}
                END
            """
        )
    return cols


def guest_count(con, table: str = "_g") -> int:
    return con.execute(f"SELECT count(*) FROM {table} WHERE customer_id IS NULL").fetchall()[0][0]
