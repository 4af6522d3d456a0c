"""What counts as a purchase, a return and net revenue: the one definition every analysis uses.

An order row is **counted** when it has an ``ordered_at``, its status is not one of
:data:`~regulars.data.schema.NEVER_SOLD_STATUSES` (failed, declined, abandoned, draft) and it was
not cancelled: ``cancelled_at`` is not before the as-of moment (an order with a cancelled or
voided status but no ``cancelled_at`` counts as cancelled from the start). Then:

- its **refunded amount** is ``coalesce(refunded, 0)`` once ``refunded_at`` has passed (a refund
  without a date is known from the start), else 0;
- its **net** revenue is ``total - refunded amount``;
- it is a **purchase** when ``total > 0`` and its net is above 0: a fully refunded order is not a
  purchase (it does not count as an order, for frequency or for recency);
- it is a **return** when ``total < 0`` (a credit note or refund-only transaction); an order with
  ``total = 0`` is neither;
- it is a **guest** order when ``customer_id`` is NULL: shop-level figures count it,
  customer-level analyses skip it.

"As of" a date means knowing only what happened strictly before that day (naive UTC
midnight): an order placed on or after it does not exist yet, a refund or cancellation dated on
or after it has not happened yet. ``as_of=None`` means everything known now.

The same rules exist as Ibis expressions (for features, models and reports, on DuckDB or Spark)
and as SQL text (for the stored order totals in :mod:`regulars.data.order_stats`).

Examples
--------
>>> import ibis, datetime as dt
>>> o = ibis.table({"order_id": "string", "customer_id": "string", "ordered_at": "timestamp",
...                 "status": "string", "total": "decimal(18, 2)", "refunded": "decimal(18, 2)",
...                 "refunded_at": "timestamp", "cancelled_at": "timestamp"}, name="orders")
>>> is_purchase(o, dt.date(2024, 1, 1)).type().is_boolean()
True
>>> print(purchase_sql())
((ordered_at IS NOT NULL AND (status IS NULL OR lower(status) NOT IN ('failed', 'declined', 'abandoned', 'draft')) AND NOT (cancelled_at IS NOT NULL OR coalesce(lower(status) IN ('cancelled', 'canceled', 'voided', 'void'), false))) AND total > 0 AND total - coalesce(refunded, 0) > 0)
"""

from __future__ import annotations

import datetime as dt

from regulars.data.schema import CANCELLED_STATUSES, NEVER_SOLD_STATUSES

__all__ = [
    "counted",
    "counted_sql",
    "is_purchase",
    "is_return",
    "net",
    "net_sql",
    "purchase_sql",
    "refunded_amount",
]


def _moment(as_of) -> dt.datetime | None:
    if as_of is None:
        return None
    if isinstance(as_of, dt.datetime):
        return as_of
    return dt.datetime(as_of.year, as_of.month, as_of.day)


def _cancelled(o: ir.Table, as_of) -> ir.BooleanValue:
    import ibis

    status = o.status.lower()
    by_status = o.cancelled_at.isnull() & status.notnull() & status.isin(CANCELLED_STATUSES)
    moment = _moment(as_of)
    dated = o.cancelled_at.notnull() if moment is None else o.cancelled_at < ibis.timestamp(moment)
    return dated.fill_null(False) | by_status.fill_null(False)


def counted(o: ir.Table, as_of=None) -> ir.BooleanValue:
    """True for the order rows that count as of *as_of* (see the module docstring)."""
    import ibis

    status = o.status.lower()
    sold = status.isnull() | ~status.isin(NEVER_SOLD_STATUSES)
    keep = o.ordered_at.notnull() & sold & ~_cancelled(o, as_of)
    moment = _moment(as_of)
    if moment is not None:
        keep = keep & (o.ordered_at < ibis.timestamp(moment))
    return keep


def refunded_amount(o: ir.Table, as_of=None) -> ir.NumericValue:
    """The amount refunded by *as_of* (a positive number, 0 when nothing yet)."""
    import ibis

    amount = o.refunded.coalesce(0)
    moment = _moment(as_of)
    if moment is None:
        return amount
    known = o.refunded_at.isnull() | (o.refunded_at < ibis.timestamp(moment))
    return ibis.ifelse(known, amount, 0)


def net(o: ir.Table, as_of=None) -> ir.NumericValue:
    """``total - refunded_amount(o, as_of)``: the order's net revenue as of *as_of*."""
    return o.total - refunded_amount(o, as_of)


def is_purchase(o: ir.Table, as_of=None) -> ir.BooleanValue:
    """A counted order with ``total > 0`` that is not fully refunded by *as_of*."""
    return counted(o, as_of) & (o.total > 0) & (net(o, as_of) > 0)


def is_return(o: ir.Table, as_of=None) -> ir.BooleanValue:
    """A counted transaction with ``total < 0`` (credit note, refund-only transaction)."""
    return counted(o, as_of) & (o.total < 0)


# -- the same rules as SQL text, over the ``orders`` table, as of now -----------------------

def _sql_list(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def counted_sql(alias: str = "") -> str:
    """SQL condition: the order row counts now (columns of the table called *alias*, if given)."""
    o = f"{alias}." if alias else ""
    cancelled = f"{o}cancelled_at IS NOT NULL OR coalesce(lower({o}status) IN {_sql_list(CANCELLED_STATUSES)}, false)"
    return (f"({o}ordered_at IS NOT NULL AND ({o}status IS NULL OR lower({o}status) NOT IN "
            f"{_sql_list(NEVER_SOLD_STATUSES)}) AND NOT ({cancelled}))")


def net_sql(alias: str = "") -> str:
    """SQL expression: the order's net revenue now."""
    o = f"{alias}." if alias else ""
    return f"{o}total - coalesce({o}refunded, 0)"


def purchase_sql(alias: str = "") -> str:
    """SQL condition: the order row is a purchase now.

    >>> print(purchase_sql("o").split(" AND o.total")[1])
     > 0
    """
    o = f"{alias}." if alias else ""
    return f"({counted_sql(alias)} AND {o}total > 0 AND {net_sql(alias)} > 0)"
