"""The purchase histories the models read, as Ibis expressions over the shop's tables (built
here, executed by the caller; the estimators of :mod:`regulars.models` take the resulting frames).

* :func:`purchases`: the orders that count as purchases, by the one rule of
  :mod:`regulars.data.purchases` (dated refunds and cancellations).
* :func:`purchase_summary`, :func:`purchase_outcomes`: the BTYD summary of each customer as of a
  date, and what she bought in a window after it (what a value prediction is judged on).
* :func:`gap_statistics`, :func:`replenishment_pairs`: gaps between a customer's purchase days,
  and between her purchases of one product (the next-order and replenishment estimators).
* :func:`daily_sales`, :func:`order_values`: the shop's daily orders and revenue and its recent
  order values (the demand forecast).

Each takes a table provider (``tables.table(name)``: a workspace, ``jobs.tables.as_known_on``, a
sample or Spark tables) and an as-of date; nothing on or after it is read.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from regulars.data import purchases as rules
from regulars.models.summary import summary_expression
from regulars.values import to_date

__all__ = ["daily_sales", "gap_statistics", "order_values", "purchase_outcomes", "purchase_summary", "purchases",
           "replenishment_pairs", "stored_totals"]


def purchases(orders: ibis.Table, as_of=None, customers_only: bool = True) -> ibis.Table:
    """The orders that count as purchases, as in the customer features mart.

    The definition is :mod:`regulars.data.purchases`: ``total > 0``, not cancelled, not fully
    refunded (as of *as_of* when given: refunds and cancellations dated later are not known
    yet, and orders placed on or after it are left out). Returns ``customer_id, order_id,
    ordered_at, day (date), net`` where ``net = total - refunded`` (as of *as_of*). Guest orders
    (no customer) are left out unless *customers_only* is False (shop-level figures such as the
    demand forecast count them).
    """
    net = rules.net(orders, as_of).cast("float64")
    keep = rules.is_purchase(orders, as_of)
    if customers_only:
        keep = keep & orders.customer_id.notnull()
    return orders.filter(keep).select(
        customer_id=orders.customer_id,
        order_id=orders.order_id,
        ordered_at=orders.ordered_at,
        day=orders.ordered_at.cast("date"),
        net=net,
    )


def stored_totals(tables, as_of):
    """The per-customer order totals *tables* offers for *as_of* (a workspace's
    ``order_stats``), else ``None``: other providers, such as Spark or a sample, have none."""
    provider = getattr(tables, "order_stats", None)
    return provider(as_of) if provider is not None else None


def purchase_summary(tables, as_of) -> ibis.Table:
    """The shop's BTYD summary in days as of *as_of* (an Ibis expression, not executed).

    The same as ``summary_expression(purchases, "customer_id", "ordered_at", "net", freq="D",
    observation_end=as_of - 1 day)`` over the purchases before *as_of* (as of *as_of*, see
    :func:`purchases` and :mod:`regulars.data.purchases`). On a workspace whose stored per-customer
    totals (:mod:`regulars.data.order_stats`) hold for *as_of* it reads those, one row per
    customer, instead of grouping every order by customer and day.

    Returns
    -------
    ibis.Table
        ``customer_id, frequency, recency, T, monetary_value`` (days, floats).
    """
    as_of = to_date(as_of)
    end = as_of - dt.timedelta(days=1)
    stats = stored_totals(tables, as_of)
    if stats is None:
        p = purchases(tables.table("orders"), as_of=as_of)
        return summary_expression(p, "customer_id", "ordered_at", "net", freq="D", observation_end=end)
    s = stats.filter(stats.orders > 0)
    frequency = (s.purchase_days - 1).cast("int64")
    repeat_value = (s.purchases_net - s.first_day_net).cast("float64")
    return s.select(
        "customer_id",
        frequency=frequency,
        recency=s.last_order_date.delta(s.first_order_date, unit="day").cast("float64"),
        T=ibis.literal(end).delta(s.first_order_date, unit="day").cast("float64"),
        monetary_value=(repeat_value / frequency.nullif(0).cast("float64")).fill_null(0.0),
    )


def purchase_outcomes(tables, start, days: int, discount_rate_monthly: float = 0.01) -> ibis.Table:
    """What each customer bought in the ``days`` days from ``start`` (an Ibis expression).

    The outcome a value prediction made as of ``start`` over ``days`` is judged on, counted
    the way the models count: purchase days (orders of one day are one purchase), their net
    value, that value discounted like the CLV (a purchase on day ``k`` after ``start`` falls in
    month ``floor(k / 30.4375) + 1`` and is divided by ``(1 + d)**month``), and the first
    purchase day. Only customers with a purchase in the window have a row.

    Returns
    -------
    ibis.Table
        ``customer_id, orders, spend, discounted, first_day``.
    """
    start = to_date(start)
    end = start + dt.timedelta(days=int(days))
    p = purchases(tables.table("orders"))
    p = p.filter((p.day >= ibis.literal(start)) & (p.day < ibis.literal(end)))
    d = p.group_by(["customer_id", "day"]).aggregate(net=p.net.sum())
    month = (d.day.delta(ibis.literal(start), unit="day").cast("float64") / (365.25 / 12)).floor() + 1
    factor = (ibis.literal(1.0 + discount_rate_monthly).ln() * -month).exp()
    d = d.mutate(_disc=d.net * factor)
    return d.group_by("customer_id").aggregate(
        orders=d.count(), spend=d.net.sum(), discounted=d._disc.sum(), first_day=d.day.min()
    )


def gap_statistics(tables, as_of) -> ibis.Table:
    """Per customer: ``n_gaps``, mean and variance of log gaps (days) between purchase days before ``as_of``.

    Customers without a gap (one purchase day) have no row. Read from the workspace's stored
    per-customer totals when they hold for ``as_of`` (:mod:`regulars.data.order_stats`).
    """
    day = pd.Timestamp(as_of).date()
    stats = stored_totals(tables, day)
    if stats is not None:
        s = stats.filter(stats.n_gaps > 0)
        return s.select("customer_id", "n_gaps", "log_gap_mean", "log_gap_var")
    A = ibis.literal(day)
    p = purchases(tables.table("orders"))
    days = p.filter(p.day < A).select("customer_id", "day").distinct()
    w = ibis.window(group_by=days.customer_id, order_by=days.day)
    gaps = days.mutate(gap=days.day.delta(days.day.lag().over(w), unit="day").cast("float64"))
    gaps = gaps.filter(gaps.gap.notnull() & (gaps.gap > 0))
    lg = gaps.gap.log()
    return gaps.group_by("customer_id").aggregate(
        n_gaps=gaps.count(), log_gap_mean=lg.mean(), log_gap_var=lg.var(how="sample")
    )


def replenishment_pairs(tables, as_of) -> ibis.Table:
    """Customer x product pairs bought on >= 3 separate days before ``as_of``, with their intervals.

    Columns: ``customer_id, product_id, product_name, times_bought, last_bought_date (date),
    typical_interval_days (median), log_interval_mean, log_interval_var``.
    """
    A = ibis.literal(pd.Timestamp(as_of).date())
    p = purchases(tables.table("orders"))
    p = p.filter(p.day < A)
    lines = tables.table("order_lines")
    lines = lines.filter(lines.product_id.notnull() & (lines.quantity > 0))
    j = lines.join(p, lines.order_id == p.order_id)
    # one pass over the lines: purchase days per pair, then the pair's day count and each gap
    # over the same partition (one sort), rather than joining the lines twice
    days = j.group_by([j.customer_id, j.product_id, j.day]).aggregate(product_name=j.product_name.max())
    pair = ibis.window(group_by=[days.customer_id, days.product_id])
    w = ibis.window(group_by=[days.customer_id, days.product_id], order_by=days.day)
    days = days.mutate(day_count=days.count().over(pair),
                       gap=days.day.delta(days.day.lag().over(w), unit="day").cast("float64"))
    days = days.filter(days.day_count >= 3)
    agg = days.group_by(["customer_id", "product_id"]).aggregate(
        product_name=days.product_name.max(),
        times_bought=days.count(),
        last_bought_date=days.day.max(),
        typical_interval_days=days.gap.median(),
        log_interval_mean=days.gap.log().mean(where=days.gap > 0),
        log_interval_var=days.gap.log().var(how="sample", where=days.gap > 0),
    )
    return agg.filter(agg.typical_interval_days > 0)


def daily_sales(tables, as_of) -> ibis.Table:
    """``day, orders, revenue`` for every day with a purchase before ``as_of`` (days without
    purchases are absent: :meth:`DemandForecaster.fit` fills them with zeros). Guest orders
    count: the forecast is of the shop's orders, not its known customers'."""
    A = ibis.literal(pd.Timestamp(as_of).date())
    p = purchases(tables.table("orders"), as_of=pd.Timestamp(as_of).date(), customers_only=False)
    p = p.filter(p.day < A)
    return p.group_by("day").aggregate(orders=p.count(), revenue=p.net.sum())


def order_values(tables, as_of, days: int = 90) -> ibis.Table:
    """Net values of the purchases in the ``days`` before ``as_of`` (for revenue simulation)."""
    A = pd.Timestamp(as_of).date()
    p = purchases(tables.table("orders"), as_of=A, customers_only=False)
    p = p.filter((p.day < ibis.literal(A)) & (p.day >= ibis.literal(A - dt.timedelta(days=days))))
    return p.select("net")
