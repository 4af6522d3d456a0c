"""Shop KPIs as Ibis expressions: built here, executed by :mod:`regulars.reports.kpis`.

Why this module is long: every KPI of docs/kpis.md is built from the same order facts, month
arithmetic and guarded ratios (private helpers here), in two shapes (summary and monthly) that must
stay in step; splitting would make those helpers public and the two shapes drift.

Every function takes a *table provider* (anything with ``.table(name) ->
ibis.Table``: a :class:`~regulars.Workspace` or a Spark provider) and returns
an unexecuted expression that compiles on DuckDB and on PySpark: timestamps
are cast to dates before differencing, months are ``year * 12 + month - 1``,
every division is guarded with ``nullif(0)``, every window has a tie-breaker,
and the dates that bound a window are literals (the caller resolves them
first, see :class:`KpiPlan`).

Definitions shared by every KPI (``docs/kpis.md`` has each metric in words
and as a formula):

- A **purchase** is that of :mod:`regulars.data.purchases` as of the end of
  the window: an order with ``total > 0``, not cancelled, not fully refunded.
  Cancelled, failed and draft orders count nowhere.
- **Revenue** moves on the day money moves: an order adds its ``total`` on the
  day it is placed, a refund takes its amount back on the day it happens
  (``refunded_at``; the order's day when the refund has no date). A **return**
  (a transaction with ``total < 0``, such as a credit note) takes money back on
  its own day. So net revenue over all time is ``total - refunded``.
- **Refunds** counts both: returns, and refunds of orders.
- **Guest orders** (no customer) count in ``orders``, ``revenue`` and
  ``average_order_value``, and on their own in ``guest_orders`` and
  ``guest_revenue``; customer-level figures (customers, frequency, retention,
  CLV, CAC payback) leave them out.
- Days, weeks and months are the shop's (its time zone, ``plan.timezone``).
- A customer's **cohort** is the calendar month of their first purchase;
  their **channel** is ``customers.acquisition_channel`` (lower-cased;
  ``unknown`` when empty).
- ``start`` and ``end`` are inclusive days; "to date" means up to ``end``.

Examples
--------
>>> import tempfile, os, datetime as dt
>>> import pandas as pd
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("customers", [{"customer_id": "c1"}, {"customer_id": "c2"}])
>>> _ = ws.insert_rows("orders", pd.DataFrame({
...     "order_id": ["o1", "o2", "o3", "o4"], "customer_id": ["c1", "c1", "c2", "c2"],
...     "ordered_at": ["2024-01-01 10:00", "2024-01-21 09:00", "2024-01-15 12:00", "2024-01-20 12:00"],
...     "total": [10, 30, 20, -5]}))
>>> plan = KpiPlan(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31),
...                history_start=dt.date(2024, 1, 1), active_days=30)
>>> row = ws.execute(summary_kpis(ws, plan)).iloc[0]
>>> int(row.customers), int(row.orders), float(row.revenue), float(row.average_order_value)
(2, 3, 55.0, 18.333333333333332)
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from regulars.data.schema import CANCELLED_STATUSES, NEVER_SOLD_STATUSES
from regulars.features.mart import EXCLUDED_STATUSES
from regulars.features.sessions import DEFAULT_GAP_MINUTES, sessions, trim
from regulars.features.timezones import local_time

__all__ = [
    "ACTIVE_DAYS_BOUNDS",
    "ACTIVE_DAYS_FALLBACK",
    "ACTIVE_WINDOW_MULTIPLE",
    "BY",
    "GUEST_CHANNEL",
    "METRICS",
    "MIN_GAPS_FOR_WINDOW",
    "UNKNOWN_CHANNEL",
    "KpiPlan",
    "active_window",
    "dated_orders",
    "definitions",
    "month_index",
    "month_label",
    "monthly_kpis",
    "order_facts",
    "purchase_gaps",
    "shop_rhythm",
    "summary_kpis",
]

#: The views :func:`regulars.reports.kpis.kpis` offers (``None`` = the whole shop).
BY = (None, "month", "channel", "cohort")

#: The default activity window is this multiple of the median time between purchase days:
#: a customer who has not bought in twice their shop's usual gap has most likely lapsed.
ACTIVE_WINDOW_MULTIPLE = 2
#: Fewer gaps than this and the median is too noisy to set the window; use the fallback.
MIN_GAPS_FOR_WINDOW = 5
#: Window used when the shop has too few repeat purchases: a quarter, the usual default.
ACTIVE_DAYS_FALLBACK = 90
#: The derived window is clamped to two weeks .. one year, so neither a daily-coffee shop
#: nor a once-a-year shop gets a window that says nothing.
ACTIVE_DAYS_BOUNDS = (14, 365)

#: Channel label for customers with no acquisition channel.
UNKNOWN_CHANNEL = "unknown"
#: Channel label of guest orders (no customer, so no acquisition channel).
GUEST_CHANNEL = "(guest orders)"

#: The KPI columns, in the order reports show them.
METRICS = (
    "customers",
    "active_customers",
    "orders",
    "revenue",
    "guest_orders",
    "guest_revenue",
    "average_order_value",
    "purchase_frequency",
    "repeat_purchase_rate",
    "retention_rate",
    "churn_rate",
    "clv_historical",
    "new_customers",
    "returning_customers",
    "refunds",
    "refund_amount",
    "retention_base",
    "sessions",
    "conversion_rate",
    "spend",
    "cac",
    "cac_payback_months",
    "csat",
    "csat_responses",
    "nps",
    "nps_responses",
)

_COUNTS = (
    "customers", "active_customers", "orders", "guest_orders", "new_customers", "returning_customers",
    "refunds", "retention_base", "sessions", "csat_responses", "nps_responses",
)


@dataclass(frozen=True)
class KpiPlan:
    """The resolved window and the sources to use: everything a KPI expression needs.

    Parameters
    ----------
    start, end : date
        First and last day of the window (inclusive).
    history_start : date
        First day of the shop's data; cumulative ("to date") figures start here.
    active_days : int
        A customer is active when they purchased in the ``active_days`` days
        ending on ``end`` (for ``by="month"``: ending on each month's last day).
        Overall, by channel and by cohort, retention compares the two periods
        of this length that end on ``end``.
    gross_margin : float
        Share of revenue kept as margin, for CAC payback (1.0 = use revenue).
    sessions : bool
        Include sessions and conversion (web/app events exist).
    purchase_events : bool
        Conversion counts sessions with a ``purchase`` event; when False it is
        orders divided by sessions.
    spend, ratings : bool
        Include marketing spend (CAC) and CSAT/NPS.
    timezone : str
        The shop's time zone: days and months are its own (default UTC).

    Examples
    --------
    >>> p = KpiPlan(dt.date(2024, 3, 1), dt.date(2024, 4, 30), dt.date(2024, 1, 5), active_days=84)
    >>> p.months, p.current_from, p.previous_from, p.previous_to
    (2, datetime.date(2024, 2, 7), datetime.date(2023, 11, 15), datetime.date(2024, 2, 6))
    """

    start: dt.date
    end: dt.date
    history_start: dt.date
    active_days: int
    gross_margin: float = 1.0
    sessions: bool = False
    purchase_events: bool = True
    spend: bool = False
    ratings: bool = False
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.active_days < 1:
            raise ValueError(f"active_days must be at least 1; got {self.active_days}")
        if not 0 < self.gross_margin <= 1:
            raise ValueError(f"gross_margin must be a share in (0, 1]; got {self.gross_margin}")

    @property
    def months(self) -> int:
        """Calendar months the window touches (at least 1)."""
        return _month(self.end) - _month(self.start) + 1

    @property
    def current_from(self) -> dt.date:
        """First day of the current activity period (``end`` is its last)."""
        return self.end - dt.timedelta(days=self.active_days - 1)

    @property
    def previous_to(self) -> dt.date:
        return self.current_from - dt.timedelta(days=1)

    @property
    def previous_from(self) -> dt.date:
        return self.current_from - dt.timedelta(days=self.active_days)


# -- small helpers -------------------------------------------------------------

def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def month_index(date: ir.DateValue) -> ir.IntegerValue:
    """Whole-month number of a date, ``year * 12 + month - 1`` (differences are month counts).

    >>> d = ibis.table({"d": "date"}, name="t").d
    >>> month_index(d).type()
    Int64(nullable=True)
    """
    return (date.year() * 12 + date.month() - 1).cast("int64")


def month_label(index: int) -> str:
    """``YYYY-MM`` for a month index.

    >>> month_label(2024 * 12 + 2)
    '2024-03'
    """
    index = int(index)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _ts(day: dt.date) -> ir.TimestampScalar:
    return ibis.timestamp(dt.datetime(day.year, day.month, day.day))


def _date(day: dt.date) -> ir.DateScalar:
    return ibis.date(day)


def _f(value: ir.NumericValue) -> ir.FloatingValue:
    return value.cast("float64")


def _ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    return _f(num) / _f(den).nullif(0)


def _left(a: ir.Table, b: ir.Table, key: str) -> ir.Table:
    j = a.left_join(b, key)
    return j.drop(f"{key}_right") if f"{key}_right" in j.columns else j


def _channel(value: ir.StringValue) -> ir.StringValue:
    return trim(value).lower().nullif("").coalesce(UNKNOWN_CHANNEL)


# -- building blocks -------------------------------------------------------------

def order_facts(tables, end: dt.date | None = None, timezone: str | None = None,
                since: dt.date | None = None) -> ir.Table:
    """The money that moved, up to *end* (inclusive, in the shop's days): one row per counted
    order on the day it was placed, and one per refund on the day it happened.

    Columns: ``order_id, customer_id, day`` (local date), ``month`` (index), ``net`` (float:
    the order's total, or minus the refunded amount), ``is_purchase`` (an order with
    ``total > 0`` not fully refunded by *end*), ``is_refund`` (a return, ``total < 0``, or a
    refund row), ``is_guest`` (no customer). Cancelled, failed and draft orders are left out.
    *since* only bounds the time-zone table (the first day of data).

    >>> orders = ibis.table({"order_id": "string", "customer_id": "string", "ordered_at": "timestamp",
    ...                      "status": "string", "total": "decimal(18, 2)", "refunded": "decimal(18, 2)",
    ...                      "refunded_at": "timestamp", "cancelled_at": "timestamp"},
    ...                     name="orders")
    >>> class Tables:  # any object with .table(name) is a table provider
    ...     def table(self, name):
    ...         return orders
    >>> order_facts(Tables()).columns
    ('order_id', 'customer_id', 'day', 'month', 'net', 'is_purchase', 'is_refund', 'is_guest')
    """
    o = dated_orders(tables, end, timezone, since)
    sales = o.select(
        "order_id", "customer_id", day=o.day, net=_f(o.total), is_purchase=o.is_purchase, is_refund=o.total < 0,
    )
    refunds = o.filter(o.refunded.coalesce(0) != 0).select(
        "order_id", "customer_id", day=o.refund_day, net=-_f(o.refunded),
        is_purchase=ibis.literal(False), is_refund=ibis.literal(True),
    )
    facts = sales.union(refunds)
    if end is not None:
        facts = facts.filter(facts.day <= _date(end))
    return facts.select(
        "order_id", "customer_id", "day",
        month=month_index(facts.day),
        net=facts.net,
        is_purchase=facts.is_purchase,
        is_refund=facts.is_refund,
        is_guest=facts.customer_id.isnull(),
    )


def dated_orders(tables, end: dt.date | None = None, timezone: str | None = None,
                 since: dt.date | None = None) -> ir.Table:
    """The orders that count up to *end* (the shop's days, inclusive), in the shop's time zone.

    The rules of :mod:`regulars.data.purchases` with the window's end as the as-of moment, in
    local days: cancelled, failed and draft orders are left out (a cancellation after *end* is
    not known yet). Adds ``day`` (local date placed), ``refund_day`` (local date of the refund,
    the order's day when the refund has no date), ``refunded_by_end`` (the amount refunded by
    *end*) and ``is_purchase`` (``total > 0`` and not fully refunded by *end*). Orders placed after
    *end* are not filtered out here (callers filter on ``day``).
    """
    o = tables.table("orders")
    first = since or dt.date(1970, 1, 1)
    last = end or dt.date.today()

    def local_day(ts):
        return local_time(ts, timezone, first, last).cast("date")

    status = o.status.lower()
    sold = status.isnull() | ~status.isin(NEVER_SOLD_STATUSES)
    by_status = (o.cancelled_at.isnull() & status.notnull() & status.isin(CANCELLED_STATUSES)).fill_null(False)
    dated = o.cancelled_at.notnull()
    if end is not None:
        dated = dated & (local_day(o.cancelled_at) <= _date(end))
    o = o.filter(o.ordered_at.notnull(), sold, ~(dated.fill_null(False) | by_status))
    refund_day = local_day(o.refunded_at.coalesce(o.ordered_at))
    refunded = o.refunded.coalesce(0)
    if end is not None:
        refunded = ibis.ifelse(refund_day <= _date(end), refunded, 0)
    return o.mutate(
        day=local_day(o.ordered_at), refund_day=refund_day, refunded_by_end=refunded,
        is_purchase=(o.total > 0) & ((o.total - refunded) > 0),
    )


def purchase_gaps(tables, end: dt.date | None = None, timezone: str | None = None) -> ir.Table:
    """Days between a customer's consecutive purchase **days** (same-day orders are one visit).

    Columns: ``customer_id, day, gap_days``; the first purchase day of each
    customer has no gap and is left out (so are guest orders).
    """
    p = order_facts(tables, end, timezone)
    p = p.filter(p.is_purchase, ~p.is_guest).select("customer_id", "day").distinct()
    w = ibis.window(group_by=p.customer_id, order_by=[p.day])  # (customer, day) is unique
    gaps = p.mutate(gap_days=p.day.delta(p.day.lag().over(w), unit="day"))
    return gaps.filter(gaps.gap_days.notnull())


def shop_rhythm(tables, end: dt.date | None = None, timezone: str | None = None) -> ir.Table:
    """One row of facts that resolve a :class:`KpiPlan`.

    Columns: ``first_day, last_day`` (first and last day money moved: orders and refunds),
    ``purchases, refunds, excluded`` (orders left out: cancelled, failed, draft ...),
    ``guest_purchases, guest_revenue, revenue`` (to say how much customer analyses skip),
    ``gaps`` (repeat purchase days) and ``median_gap_days``.
    """
    o = tables.table("orders")
    if end is not None:
        o = o.filter(o.ordered_at < _ts(end + dt.timedelta(days=2)))  # a day of margin for the time zone
    status = trim(o.status).lower()
    excluded = (status.notnull() & status.isin(EXCLUDED_STATUSES)) | o.cancelled_at.notnull()
    f = order_facts(tables, end, timezone)
    counts = f.aggregate(
        first_day=f.day.min(),
        last_day=f.day.max(),
        purchases=f.is_purchase.cast("int64").sum().coalesce(0),
        refunds=f.is_refund.cast("int64").sum().coalesce(0),
        guest_purchases=(f.is_purchase & f.is_guest).cast("int64").sum().coalesce(0),
        guest_revenue=f.net.sum(where=f.is_guest).coalesce(0.0),
        revenue=f.net.sum().coalesce(0.0),
    )
    left_out = o.aggregate(excluded=o.count(where=excluded.fill_null(False)))
    g = purchase_gaps(tables, end, timezone)
    gaps = g.aggregate(gaps=g.count(), median_gap_days=_f(g.gap_days).median())
    return counts.cross_join(left_out).cross_join(gaps)


def active_window(median_gap_days: float | None, gaps: int) -> tuple[int, str]:
    """The default activity window in days, and why.

    >>> active_window(42.0, 120)
    (84, 'twice the median time between purchases (42 days, from 120 repeat purchases)')
    >>> active_window(None, 2)[0]
    90
    """
    lo, hi = ACTIVE_DAYS_BOUNDS
    if median_gap_days is None or gaps < MIN_GAPS_FOR_WINDOW or math.isnan(median_gap_days):
        return ACTIVE_DAYS_FALLBACK, (
            f"the default of {ACTIVE_DAYS_FALLBACK} days: the shop has {gaps} repeat purchase(s), "
            f"fewer than the {MIN_GAPS_FOR_WINDOW} needed to measure its rhythm"
        )
    days = min(max(round(ACTIVE_WINDOW_MULTIPLE * median_gap_days), lo), hi)
    multiple = {2: "twice", 3: "three times"}.get(ACTIVE_WINDOW_MULTIPLE, f"{ACTIVE_WINDOW_MULTIPLE}x")
    why = (f"{multiple} the median time between purchases ({median_gap_days:g} days, "
           f"from {gaps} repeat purchases)")
    if days in (lo, hi) and days != round(ACTIVE_WINDOW_MULTIPLE * median_gap_days):
        why += f", clamped to {lo}..{hi} days"
    return days, why


# -- pieces keyed by a group ------------------------------------------------------

def _facts(tables, plan: KpiPlan) -> ir.Table:
    return order_facts(tables, plan.end, plan.timezone, plan.history_start)


def _customer_facts(tables, plan: KpiPlan) -> ir.Table:
    """One row per customer with a purchase up to ``end`` (guest orders have no customer)."""
    o = _facts(tables, plan)
    o = o.filter(~o.is_guest)
    p = o.filter(o.is_purchase)
    in_prev = (p.day >= _date(plan.previous_from)) & (p.day <= _date(plan.previous_to))
    in_cur = p.day >= _date(plan.current_from)
    per = p.group_by("customer_id").aggregate(
        first_day=p.day.min(),
        last_day=p.day.max(),
        purchases=p.count(),
        in_previous=ibis.ifelse(in_prev, 1, 0).max(),
        in_current=ibis.ifelse(in_cur, 1, 0).max(),
    )
    net = o.group_by("customer_id").aggregate(net_to_date=o.net.sum())
    return per.join(net, "customer_id")


def _customer_keys(tables, plan: KpiPlan, by: str) -> ir.Table:
    """``customer_id, key``: each customer's channel (``by="channel"``) or cohort month index."""
    if by == "channel":
        c = tables.table("customers")
        return c.select("customer_id", key=_channel(c.acquisition_channel))
    cf = _customer_facts(tables, plan)
    return cf.select("customer_id", key=month_index(cf.first_day))


def _with_key(t: ir.Table, tables, plan: KpiPlan, by: str | None) -> ir.Table:
    if by is None:
        return t.mutate(key=ibis.literal("all"))
    keys = _customer_keys(tables, plan, by)
    if by == "channel":
        j = _left(t, keys, "customer_id")
        return j.mutate(key=ibis.ifelse(j.customer_id.isnull(), GUEST_CHANNEL, j.key.coalesce(UNKNOWN_CHANNEL)))
    return t.join(keys, "customer_id")


def _core(tables, plan: KpiPlan, by: str | None) -> ir.Table:
    cf = _customer_facts(tables, plan)
    if by == "channel":
        cf = _left(cf, _customer_keys(tables, plan, by), "customer_id")
        cf = cf.mutate(key=cf.key.coalesce(UNKNOWN_CHANNEL))
    elif by == "cohort":
        cf = cf.mutate(key=month_index(cf.first_day))
    else:
        cf = cf.mutate(key=ibis.literal("all"))
    in_window = cf.last_day >= _date(plan.start)
    g = cf.group_by("key").aggregate(
        customers=cf.count(where=in_window),
        new_customers=cf.count(where=cf.first_day >= _date(plan.start)),
        active_customers=cf.count(where=cf.last_day >= _date(plan.current_from)),
        repeat_customers=cf.count(where=in_window & (cf.purchases >= 2)),
        clv_revenue=cf.net_to_date.sum(where=in_window),
        retention_base=cf.count(where=cf.in_previous == 1),
        retained=cf.count(where=(cf.in_previous == 1) & (cf.in_current == 1)),
    )
    return g.filter((g.customers > 0) | (g.active_customers > 0) | (g.retention_base > 0))


def _window_orders(tables, plan: KpiPlan, by: str | None) -> ir.Table:
    o = _facts(tables, plan)
    o = o.filter(o.day >= _date(plan.start))
    o = _with_key(o, tables, plan, by)
    return o.group_by("key").aggregate(**_money_counts(o))


def _money_counts(o: ir.Table) -> dict:
    """Orders, refunds and revenue of facts *o* (guests included), with the guests' and the
    customers' share apart."""
    return dict(
        orders=o.count(where=o.is_purchase),
        customer_orders=o.count(where=o.is_purchase & ~o.is_guest),
        guest_orders=o.count(where=o.is_purchase & o.is_guest),
        refunds=o.count(where=o.is_refund),
        refund_amount=-o.net.sum(where=o.is_refund),
        revenue=o.net.sum(),
        guest_revenue=o.net.sum(where=o.is_guest),
        customer_revenue=o.net.sum(where=~o.is_guest),
    )


def _sessions(tables, plan: KpiPlan, start: dt.date) -> ir.Table:
    """Sessions (as in :func:`regulars.features.sessions.sessions`) that began in [start, end]."""
    s = sessions(tables, as_of=plan.end + dt.timedelta(days=1))
    s = s.mutate(day=s.started_at.cast("date"), purchased=ibis.ifelse(s.has_purchase, 1, 0))
    return s.filter(s.day >= _date(start))


def _spend(tables, plan: KpiPlan, start: dt.date) -> ir.Table:
    m = tables.table("marketing_spend")
    return m.filter(m.spent_on >= _date(start), m.spent_on <= _date(plan.end))


def _ratings(tables, plan: KpiPlan, start: dt.date) -> ir.Table:
    """CSAT (1..5) from tickets and csat surveys, NPS (0..10) from nps surveys, in the window."""
    t = tables.table("tickets")
    t = t.filter(t.csat.notnull()).select(
        "customer_id", day=t.opened_at.cast("date"), kind=ibis.literal("csat"), score=t.csat.cast("int64")
    )
    s = tables.table("surveys")
    survey = trim(s.survey).lower()
    s = s.filter(survey.isin(["csat", "nps"]), s.score.notnull()).select(
        "customer_id", day=s.answered_at.cast("date"), kind=survey, score=s.score.cast("int64")
    )
    r = t.union(s)
    return r.filter(r.day >= _date(start), r.day <= _date(plan.end))


def _rating_counts(r: ir.Table, group: str) -> ir.Table:
    csat = (r.kind == "csat") & r.score.between(1, 5)
    nps = (r.kind == "nps") & r.score.between(0, 10)
    return r.group_by(group).aggregate(
        csat_responses=r.count(where=csat),
        csat_satisfied=r.count(where=csat & (r.score >= 4)),
        nps_responses=r.count(where=nps),
        promoters=r.count(where=nps & (r.score >= 9)),
        detractors=r.count(where=nps & (r.score <= 6)),
    )


def _finish(t: ir.Table, plan: KpiPlan, months_per_row: int, window: bool = False) -> dict[str, ir.Value]:
    """The KPI columns from the joined counts (every division guarded).

    Over a *window* (not a month), returning customers are those who came back: customers of the
    window with at least two purchases to date, the numerator of the repeat-purchase rate (with a
    window that is all history, "purchased before the window" would always be 0 next to a 60%
    repeat rate). Per month they are the month's customers who had purchased before it.
    """
    def count(col: str) -> ir.IntegerValue:
        return t[col].coalesce(0).cast("int64") if col in t.columns else ibis.literal(0, "int64")

    customers, orders = count("customers"), count("orders")
    revenue = _f(t.revenue).coalesce(0.0)
    customer_revenue = _f(t.customer_revenue).coalesce(0.0) if "customer_revenue" in t.columns else revenue
    retention = _ratio(count("retained"), count("retention_base"))
    null = ibis.null("float64")
    cols: dict[str, ir.Value] = {
        "customers": customers,
        "active_customers": count("active_customers"),
        "orders": orders,
        "revenue": revenue,
        "guest_orders": count("guest_orders"),
        "guest_revenue": _f(t.guest_revenue).coalesce(0.0) if "guest_revenue" in t.columns else ibis.literal(0.0),
        "average_order_value": _ratio(revenue, orders),
        "purchase_frequency": _ratio(count("customer_orders"), customers),
        "repeat_purchase_rate": _ratio(count("repeat_customers"), customers),
        "retention_rate": retention,
        "churn_rate": 1.0 - retention,
        "clv_historical": _ratio(t.clv_revenue.coalesce(0.0), t.clv_customers.coalesce(0)),
        "new_customers": count("new_customers"),
        "returning_customers": count("repeat_customers") if window else customers - count("new_customers"),
        "refunds": count("refunds"),
        "refund_amount": _f(t.refund_amount).coalesce(0.0) if "refund_amount" in t.columns else ibis.literal(0.0),
        "retention_base": count("retention_base"),
    }
    if plan.sessions and "sessions" in t.columns:
        sessions = count("sessions")
        converted = count("converted") if plan.purchase_events else orders
        cols["sessions"] = sessions
        cols["conversion_rate"] = _ratio(converted, sessions)
    else:
        cols["sessions"] = ibis.null("int64")
        cols["conversion_rate"] = null
    if plan.spend:
        spend = _f(t.spend)
        cac = _ratio(spend, cols["new_customers"])
        monthly = _ratio(customer_revenue, customers) / months_per_row * plan.gross_margin
        cols["spend"] = spend
        cols["cac"] = cac
        cols["cac_payback_months"] = ibis.ifelse(monthly > 0, cac / monthly, null)
    else:
        cols["spend"] = cols["cac"] = cols["cac_payback_months"] = null
    if plan.ratings:
        cols["csat"] = _ratio(count("csat_satisfied"), count("csat_responses"))
        cols["csat_responses"] = count("csat_responses")
        cols["nps"] = 100.0 * _ratio(count("promoters") - count("detractors"), count("nps_responses"))
        cols["nps_responses"] = count("nps_responses")
    else:
        cols["csat"] = cols["nps"] = null
        cols["csat_responses"] = cols["nps_responses"] = ibis.null("int64")
    return {name: cols[name] for name in METRICS}


# -- the views ------------------------------------------------------------------

def summary_kpis(tables, plan: KpiPlan, by: str | None = None) -> ir.Table:
    """KPIs over the window: one row for the shop, or one per channel or cohort.

    Parameters
    ----------
    tables : table provider
    plan : KpiPlan
    by : {None, "channel", "cohort"}
        ``None``: one row (``key = "all"``). ``"channel"``: one row per
        acquisition channel, plus spend-only channels. ``"cohort"``: one row per
        first-purchase month (``key`` is the month index, see :func:`month_label`).

    Returns
    -------
    ibis.Table
        ``key`` then :data:`METRICS`; built, not executed.
    """
    if by not in (None, "channel", "cohort"):
        raise ValueError(f"by must be None, 'channel' or 'cohort' here; got {by!r} (use monthly_kpis)")
    pieces: list[ir.Table] = [_core(tables, plan, by), _window_orders(tables, plan, by)]
    if plan.sessions and by is None:
        s = _sessions(tables, plan, plan.start)
        pieces.append(s.aggregate(sessions=s.count(), converted=s.purchased.sum().coalesce(0)).mutate(
            key=ibis.literal("all")))
    if plan.spend:
        m = _spend(tables, plan, plan.start)
        key = {None: ibis.literal("all"), "channel": _channel(m.channel), "cohort": month_index(m.spent_on)}[by]
        m = m.mutate(key=key)
        pieces.append(m.group_by("key").aggregate(spend=_f(m.amount.sum())))
    if plan.ratings:
        r = _with_key(_ratings(tables, plan, plan.start), tables, plan, by)
        pieces.append(_rating_counts(r, "key"))
    if by is None:
        universe = ibis.memtable({"key": ["all"]})
    else:
        universe = ibis.union(*[p.select("key") for p in pieces], distinct=True)
    t = universe
    for piece in pieces:
        t = _left(t, piece, "key")
    t = t.mutate(clv_customers=t.customers)
    return t.select(key=t.key, **_finish(t, plan, plan.months, window=True)).order_by("key")


def _month_spine(plan: KpiPlan) -> ir.Table:
    """One row per calendar month from the shop's first month to ``end``'s month."""
    months, ends, froms = [], [], []
    for m in range(_month(plan.history_start), _month(plan.end) + 1):
        y, mo = divmod(m + 1, 12)
        last = min(dt.date(y, mo + 1, 1) - dt.timedelta(days=1), plan.end)
        months.append(m)
        ends.append(last)
        froms.append(last - dt.timedelta(days=plan.active_days - 1))
    return ibis.memtable(
        {"month": months, "month_end": ends, "active_from": froms},
        schema={"month": "int64", "month_end": "date", "active_from": "date"},
    )


def monthly_kpis(tables, plan: KpiPlan) -> ir.Table:
    """KPIs per calendar month, from ``start``'s month to ``end``'s month.

    Cumulative figures (historical CLV) count from the shop's first month;
    months without orders appear with zeros. Per month, *active customers*
    purchased in the ``active_days`` days ending on the month's last day and
    *retention* is the share of the previous month's customers who bought
    again this month.

    Returns
    -------
    ibis.Table
        ``key`` (month index) then :data:`METRICS`; built, not executed.
    """
    spine = _month_spine(plan)
    o = _facts(tables, plan)
    orders = o.group_by(key=o.month).aggregate(**_money_counts(o))
    p = o.filter(o.is_purchase, ~o.is_guest)
    cm = p.group_by(["customer_id", "month"]).aggregate(n=p.count())
    w = ibis.window(group_by=cm.customer_id, order_by=[cm.month], rows=(None, 0))  # (customer, month) unique
    cm = cm.mutate(cum_n=cm.n.sum().over(w))
    people = cm.group_by(key=cm.month).aggregate(
        customers=cm.count(),
        new_customers=cm.count(where=cm.cum_n == cm.n),
        repeat_customers=cm.count(where=cm.cum_n >= 2),
    )
    prev = cm.select("customer_id", month=cm.month + 1)
    base = prev.group_by(key=prev.month).aggregate(retention_base=prev.count())
    back = cm.join(prev, ["customer_id", "month"])
    retained = back.group_by(key=back.month).aggregate(retained=back.count())
    days = p.select("customer_id", "day").distinct()
    a = days.join(spine, [days.day >= spine.active_from, days.day <= spine.month_end])
    active = a.group_by(key=a.month).aggregate(active_customers=a.customer_id.nunique())

    pieces = [orders, people, base, retained, active]
    first_month = _month(plan.history_start)
    if plan.sessions:
        s = _sessions(tables, plan, dt.date(first_month // 12, first_month % 12 + 1, 1))
        s = s.mutate(key=month_index(s.day))
        pieces.append(s.group_by("key").aggregate(sessions=s.count(), converted=s.purchased.sum()))
    if plan.spend:
        m = _spend(tables, plan, plan.history_start.replace(day=1))
        m = m.mutate(key=month_index(m.spent_on))
        pieces.append(m.group_by("key").aggregate(spend=_f(m.amount.sum())))
    if plan.ratings:
        r = _ratings(tables, plan, plan.history_start.replace(day=1))
        pieces.append(_rating_counts(r.mutate(key=month_index(r.day)), "key"))

    t = spine.select(key="month")
    for piece in pieces:
        t = _left(t, piece, "key")
    cumulative = ibis.cumulative_window(order_by="key")  # one row per month: deterministic
    t = t.mutate(
        clv_revenue=_f(t.customer_revenue).coalesce(0.0).sum().over(cumulative),
        clv_customers=t.new_customers.coalesce(0).sum().over(cumulative),
    )
    t = t.select(key=t.key, **_finish(t, plan, 1))
    return t.filter(t.key >= _month(plan.start)).order_by("key")


# -- words --------------------------------------------------------------------------

def definitions(by: str | None, active_days: int, months: int | None = None, gross_margin: float = 1.0) -> dict[str, str]:
    """Each KPI column in plain words, for the view *by* and the window used.

    >>> d = definitions("month", 84)
    >>> d["retention_rate"]
    "share of the previous month's customers who purchased again this month"
    """
    period = "month" if by == "month" else "window"
    margin = "revenue" if gross_margin == 1 else f"{gross_margin:.0%} of revenue (gross margin)"
    if by == "month":
        active = f"customers whose last purchase by the month's end was in the {active_days} days ending on it"
        retention = "share of the previous month's customers who purchased again this month"
        base = "customers who purchased in the previous month"
        clv = "net revenue to date divided by customers to date (at the month's end)"
        per_month = "revenue per customer in the month"
    else:
        active = f"customers whose last purchase was in the {active_days} days ending on the end date"
        retention = (f"share of the customers who purchased in the {active_days} days before the last "
                     f"{active_days} days who purchased again in the last {active_days} days")
        base = f"customers who purchased in the {active_days} days before the last {active_days} days"
        clv = "net revenue to date of the window's customers divided by those customers"
        per_month = f"revenue per customer per month over the window ({months or '?'} month(s))"
    return {
        "customers": f"distinct customers with at least one purchase in the {period}",
        "active_customers": active,
        "orders": f"purchases in the {period}, guest orders included (orders with total > 0, not cancelled, not "
                  "fully refunded); refunds are not orders",
        "revenue": f"net revenue in the {period}, guest orders included: totals of the orders placed in it, minus "
                   "refunds and returns made in it",
        "guest_orders": f"purchases in the {period} with no customer (walk-ins, guest checkouts)",
        "guest_revenue": f"net revenue in the {period} from guest orders",
        "average_order_value": "revenue / orders (guest orders included)",
        "purchase_frequency": "customers' orders / customers (guest orders left out)",
        "repeat_purchase_rate": "share of the customers with at least two purchases to date",
        "retention_rate": retention,
        "churn_rate": f"1 - retention rate: share of the {base} who did not purchase again",
        "clv_historical": clv,
        "new_customers": f"customers whose first purchase ever was in the {period}",
        "returning_customers": (f"customers who purchased in the {period} and had purchased before it"
                                if by == "month" else "customers of the window who came back: at least two "
                                "purchases to date (the repeat-purchase rate's numerator)"),
        "refunds": f"refunds in the {period}: returns (transactions with total < 0) and refunds of orders, "
                   "each on the day it happened",
        "refund_amount": f"money given back in the {period} (returns and refunds, a positive number)",
        "retention_base": base,
        "sessions": f"web/app sessions that began in the {period}: a visitor's events with no gap of more "
                    f"than {DEFAULT_GAP_MINUTES} minutes (as in the funnel)",
        "conversion_rate": f"share of the {period}'s sessions with a purchase event "
                           "(orders / sessions when the events have no purchase events)",
        "spend": f"marketing spend in the {period}",
        "cac": "customer acquisition cost: spend / new customers",
        "cac_payback_months": f"months to earn back the CAC: cac / ({per_month}, using {margin}; "
                              "customers' revenue only)",
        "csat": "share of CSAT ratings (tickets and csat surveys, 1..5) that are 4 or 5",
        "csat_responses": "CSAT ratings counted",
        "nps": "net promoter score: % promoters (9-10) - % detractors (0-6) of NPS answers, -100..100",
        "nps_responses": "NPS answers counted",
    }
