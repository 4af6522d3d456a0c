"""Cohorts: acquisition, behavioural (first order on promotion) and product (first category).

Every function here builds an Ibis expression and never executes it, so the same code runs on
DuckDB and on Spark (dates are cast before differencing, months are ``year * 12 + month``,
divisions are guarded with ``nullif`` and every window has a tie-breaker).

Definitions
-----------
- As in the features mart, only orders **strictly before** ``as_of`` count (in the shop's
  days: its time zone), and a **purchase** is that of :mod:`regulars.data.purchases` as of
  then (``total > 0``, not cancelled, not fully refunded). Guest orders (no customer) are in
  no cohort. A customer's **first order** is their earliest purchase (ties broken by
  ``order_id``); the customer is acquired in that order's period.
- **Period k** of a customer is the calendar month (or ISO week, Monday first) that lies k
  periods after the period of their first order. Customer ``c`` is **active** in period k
  when they make a purchase in it (period 0 is always active).
- **Net revenue** moves on the day money moves: an order's total in its period, a refund's
  amount against the period in which it happened, as do returns (negative totals).
- Only **complete** periods are shown: the last one is the period before the one that
  contains ``as_of`` (by default ``as_of`` is the day after the latest order), so a
  half-finished month does not look like a drop in retention.
- A customer is **observable** in period k when their period 0 plus k is not after that
  last complete period. Retention in period k
  divides by the observable customers only, so the unfinished right edge of the matrix is
  empty rather than a false zero, and behavioural cohorts (whose members were acquired at
  different times) stay unbiased.

The matrices (long form, one row per cohort and period):

- ``customer_retention = active_customers / cohort_customers``
- ``revenue_retention = (net_revenue / cohort_customers) / (same in period 0)``; for an
  acquisition cohort every member is observable at every shown period, so this is exactly
  net revenue in period k divided by net revenue in period 0.

Examples
--------
>>> import ibis
>>> d = ibis.table({"d": "date"}, name="t").d
>>> period_index(d, "month").type()
Int64(nullable=True)
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from regulars.features.kpis import dated_orders, order_facts
from regulars.features.sessions import trim
from regulars.values import to_date


PERIODS = ("month", "week")
KINDS = ("acquisition", "promotion", "category")
METRICS = ("customers", "revenue")

#: Label of behavioural cohorts.
PROMOTION_LABELS = {True: "first order on promotion", False: "first order at full price"}
UNKNOWN_CATEGORY = "(unknown)"

_EPOCH_MONDAY = dt.date(1970, 1, 5)
#: Longest period spine: 100 years of months, 46 years of weeks.
_MAX_PERIODS = 2400


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def period_index(date: ir.DateValue, by: str = "month") -> ir.IntegerValue:
    """Whole-period number of a date: ``year * 12 + month - 1``, or weeks since 1970-01-05."""
    _check("by", by, PERIODS)
    if by == "month":
        return (date.year() * 12 + date.month() - 1).cast("int64")
    return (date.delta(ibis.date(_EPOCH_MONDAY), unit="day") / 7).floor().cast("int64")


def period_label(index: ir.IntegerValue, by: str = "month") -> ir.StringValue:
    """``YYYY-MM`` for a month index, the Monday ``YYYY-MM-DD`` for a week index."""
    _check("by", by, PERIODS)
    if by == "month":
        year = (index / 12).floor().cast("int32")
        month = (index - year.cast("int64") * 12 + 1).cast("int32")
        return ibis.date(year, month, ibis.literal(1, "int32")).strftime("%Y-%m")
    return (ibis.date(_EPOCH_MONDAY) + (index * 7).as_interval("D")).strftime("%Y-%m-%d")


def _end(as_of) -> dt.date | None:
    as_of = to_date(as_of)
    return None if as_of is None else as_of - dt.timedelta(days=1)


def transactions(tables, as_of=None, timezone: str | None = None, guests: bool = False) -> ir.Table:
    """Customers' orders that count (not cancelled), placed before *as_of* (the shop's days);
    with ``guests=True`` guest orders too (shop-level figures).

    The orders' columns plus ``order_date`` (the shop's date), ``net_revenue`` (float: total
    minus what was refunded before *as_of*) and ``is_purchase`` (:mod:`regulars.data.purchases`).
    """
    end = _end(as_of)
    o = dated_orders(tables, end, timezone)
    if not guests:
        o = o.filter(o.customer_id.notnull())
    if end is not None:
        o = o.filter(o.day <= ibis.date(end))
    return o.mutate(
        order_date=o.day,
        net_revenue=(o.total - o.refunded_by_end).cast("float64"),
    ).drop("day", "refund_day", "refunded_by_end")


def first_orders(tables, as_of=None, timezone: str | None = None) -> ir.Table:
    """One row per customer with a purchase: their first order and what it looked like.

    Columns: ``customer_id, first_order_id, first_ordered_at, first_order_date,
    first_on_promotion`` (order or any line discounted, or a discount code) and
    ``first_category`` (the category with the largest line value in that order; ties by
    name; :data:`UNKNOWN_CATEGORY` when the order has no categorised lines).
    """
    t = transactions(tables, as_of, timezone)
    p = t.filter(t.is_purchase)
    w = ibis.window(group_by=p.customer_id, order_by=[p.ordered_at, p.order_id])
    first = p.mutate(_rn=ibis.row_number().over(w)).filter(lambda x: x._rn == 0)
    code = trim(first.discount_code)
    first = first.select(
        "customer_id",
        first_order_id=first.order_id,
        first_ordered_at=first.ordered_at,
        first_order_date=first.order_date,
        _order_promo=(first.discount.coalesce(0) > 0) | (code.notnull() & (code.length() > 0)),
    )

    lines = tables.table("order_lines")
    products = tables.table("products").select(_pid=lambda x: x.product_id, _pcat=lambda x: x.category)
    lines = lines.left_join(products, lines.product_id == products._pid)
    lines = lines.select(
        "order_id",
        category=lines.category.coalesce(lines._pcat),
        value=(lines.quantity * lines.unit_price).cast("float64"),
        line_discount=lines.discount.coalesce(0).cast("float64"),
    )
    ol = lines.join(first.select("first_order_id"), lines.order_id == first.first_order_id)
    promo_lines = ol.group_by(ol.order_id).aggregate(_line_promo=(ol.line_discount > 0).any())
    by_cat = ol.filter(ol.category.notnull()).group_by([ol.order_id, ol.category]).aggregate(value=ol.value.sum())
    wc = ibis.window(group_by=by_cat.order_id, order_by=[ibis.desc(by_cat.value), by_cat.category])
    top = by_cat.mutate(_rn=ibis.row_number().over(wc)).filter(lambda x: x._rn == 0)
    top = top.select(_cat_order=top.order_id, _category=top.category)

    out = first.left_join(promo_lines, first.first_order_id == promo_lines.order_id)
    out = out.left_join(top, out.first_order_id == top._cat_order)
    return out.select(
        "customer_id",
        "first_order_id",
        "first_ordered_at",
        "first_order_date",
        first_on_promotion=out._order_promo | out._line_promo.coalesce(False),
        first_category=out._category.coalesce(UNKNOWN_CATEGORY),
    )


def cohort_members(tables, by: str = "month", kind: str = "acquisition", as_of=None,
                   timezone: str | None = None) -> ir.Table:
    """One row per acquired customer: ``customer_id, cohort, first_period``."""
    _check("kind", kind, KINDS)
    f = first_orders(tables, as_of, timezone)
    first_period = period_index(f.first_order_date, by)
    if kind == "acquisition":
        cohort = period_label(first_period, by)
    elif kind == "promotion":
        cohort = f.first_on_promotion.ifelse(PROMOTION_LABELS[True], PROMOTION_LABELS[False])
    else:
        cohort = f.first_category
    return f.select("customer_id", cohort=cohort, first_period=first_period)


def _last_period(tables, by: str, as_of, timezone: str | None) -> ir.IntegerValue:
    """The last complete period: the one before the period that contains *as_of* (by default
    the day after the latest order or refund)."""
    as_of = to_date(as_of)
    if as_of is not None:
        return period_index(ibis.date(as_of), by) - 1
    f = order_facts(tables, None, timezone)
    f = f.filter(~f.is_guest)
    return period_index(f.day.max() + ibis.interval(days=1), by) - 1


def retention(tables, by: str = "month", kind: str = "acquisition", as_of=None,
              timezone: str | None = None) -> ir.Table:
    """Customer- and revenue-retention matrices in long form.

    Parameters
    ----------
    tables : object with ``.table(name)``
        A :class:`~regulars.Workspace` or anything that serves the canonical tables.
    by : {"month", "week"}
        Period length.
    kind : {"acquisition", "promotion", "category"}
        Acquisition period; first order on promotion or not; category of the first order.
    as_of : date or str, optional
        Only orders strictly before this day count; the last period shown is the last one
        that ended before it (default: the day after the latest order).
    timezone : str, optional
        The shop's time zone: days, weeks and months are its own (default UTC).

    Returns
    -------
    ibis.Table
        ``cohort, period, cohort_customers, active_customers, customer_retention,
        net_revenue, revenue_retention`` ordered by cohort and period; ``period`` is the
        number of periods since the first order (0, 1, 2 ...) and only observable
        (cohort, period) pairs appear.
    """
    _check("by", by, PERIODS)
    members = cohort_members(tables, by, kind, as_of, timezone)
    last = _last_period(tables, by, as_of, timezone)

    # money moves on its own day (a refund in the period it happened); activity is purchases
    t = order_facts(tables, _end(as_of), timezone)
    t = t.filter(~t.is_guest).join(members, "customer_id")
    t = t.mutate(period=period_index(t.day, by) - t.first_period)
    t = t.filter(t.period >= 0)
    activity = t.group_by(["cohort", "period"]).aggregate(
        active_customers=t.customer_id.nunique(where=t.is_purchase),
        net_revenue=t.net.sum(),
    )

    sizes = members.group_by(["cohort", "first_period"]).aggregate(n=members.customer_id.count())
    spine = ibis.memtable({"k": list(range(_MAX_PERIODS))})
    eligible = sizes.cross_join(spine)
    eligible = eligible.filter(eligible.first_period + eligible.k <= last)
    eligible = eligible.group_by(["cohort", eligible.k.name("period")]).aggregate(cohort_customers=eligible.n.sum())

    m = eligible.left_join(activity, ["cohort", "period"])
    m = m.select(
        "cohort",
        "period",
        "cohort_customers",
        active_customers=m.active_customers.coalesce(0),
        net_revenue=m.net_revenue.coalesce(0.0),
    )
    per_customer = m.net_revenue / m.cohort_customers.nullif(0)
    m = m.mutate(_rev_per_customer=per_customer)
    p0 = m.filter(m.period == 0).select(_c0=m.cohort, _rev0=m._rev_per_customer)
    m = m.left_join(p0, m.cohort == p0._c0)
    return m.select(
        "cohort",
        "period",
        "cohort_customers",
        "active_customers",
        customer_retention=m.active_customers / m.cohort_customers.nullif(0),
        net_revenue=m.net_revenue,
        revenue_retention=m._rev_per_customer / m._rev0.nullif(0),
    ).order_by(["cohort", "period"])
