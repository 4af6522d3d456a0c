"""What the churn and propensity models learn from: labels and recent-activity features, as Ibis
expressions over the shop's tables (built here, executed by the caller).

Definitions
-----------
* A **snapshot** at date ``A`` sees only what happened strictly before ``A`` (the customer
  features mart's convention: ``A`` is midnight at the start of that day).
* The **churn label** of a customer with at least one purchase before ``A`` is 1 when she
  makes no purchase in the ``window_days`` days from ``A`` (days ``A .. A+window_days-1``);
  the **propensity label** is 1 when she does.
* A purchase is :func:`regulars.features.purchase_history.purchases`.

The estimators that learn from these live in :mod:`regulars.models.churn` and
:mod:`regulars.models.propensity` (arrays/frames in, no database).
"""

from __future__ import annotations

import datetime as dt

import ibis

from regulars.features.purchase_history import purchases
from regulars.values import to_date

__all__ = ["ACTIVE_DAYS", "ACTIVITY_COLUMNS", "CHURN_WINDOW", "PROPENSITY_WINDOW", "activity_features",
           "churn_labels", "propensity_labels"]

#: Days after a snapshot in which a purchase means "came back" for the churn label.
CHURN_WINDOW = 90
#: Days after a snapshot in which a purchase makes the propensity label 1.
PROPENSITY_WINDOW = 30
#: The classifiers are judged on customers who ordered in this many days before the cutoff.
ACTIVE_DAYS = 365


def _came_back(orders: ibis.Table, cutoff, window_days: int) -> ibis.Table:
    """``customer_id, came_back`` (1 or 0) for every customer who purchased before ``cutoff``:
    1 when she purchases again on days ``cutoff .. cutoff + window_days - 1``."""
    cutoff = to_date(cutoff)
    end = cutoff + dt.timedelta(days=int(window_days))
    p = purchases(orders)
    before = p.filter(p.day < cutoff).select("customer_id").distinct()
    after = p.filter((p.day >= cutoff) & (p.day < end)).select("customer_id").distinct().mutate(came_back=1)
    joined = before.left_join(after, "customer_id")
    return joined.select(customer_id=before.customer_id, came_back=joined.came_back.fill_null(0))


def churn_labels(orders: ibis.Table, cutoff, window_days: int = 90) -> ibis.Table:
    """``customer_id, churned`` for every customer who purchased before ``cutoff``.

    ``churned`` is 1 when there is no purchase on days ``cutoff .. cutoff + window_days - 1``.
    """
    t = _came_back(orders, cutoff, window_days)
    return t.select("customer_id", churned=(1 - t.came_back).cast("int8"))


#: Recent-activity features computed by :func:`activity_features` (besides ``customer_id``);
#: they complement the customer features mart, which holds the lifetime totals.
ACTIVITY_COLUMNS = (
    "gap_ratio", "orders_90d", "orders_365d", "revenue_365d", "days_since_last_open", "opens_60d",
    "days_since_last_visit", "events_30d", "cart_adds_30d",
)


def activity_features(tables, as_of) -> ibis.Table:
    """One row per customer with a purchase before ``as_of``: how recent her activity is.

    Parameters
    ----------
    tables : object with ``.table(name)`` (e.g. a Workspace)
    as_of : date-like
        Snapshot date; only data strictly before it counts (the mart's convention).

    Returns
    -------
    ibis.Table
        ``customer_id`` and :data:`ACTIVITY_COLUMNS`. Day counts are whole days between
        dates; ``gap_ratio`` = days since the last purchase day / her mean gap between
        purchase days (null with a single purchase day); ``days_since_last_open`` (opens or
        clicks of e-mails) and ``days_since_last_visit`` are null when there is none on record.
    """
    as_of = to_date(as_of)
    A = ibis.literal(as_of)
    p = purchases(tables.table("orders"))
    days = p.filter(p.day < A).group_by(["customer_id", "day"]).aggregate(net=p.net.sum())
    since = A.delta(days.day, unit="day")
    base = days.group_by("customer_id").aggregate(
        n=days.count(),
        first_day=days.day.min(),
        last_day=days.day.max(),
        orders_90d=(since <= 90).sum(),
        orders_365d=(since <= 365).sum(),
        revenue_365d=days.net.sum(where=since <= 365),
    )
    dsl = A.delta(base.last_day, unit="day").cast("float64")
    mean_gap = (base.last_day.delta(base.first_day, unit="day").cast("float64")
                / (base.n - 1).cast("float64").nullif(0)).nullif(0)
    feats = base.select(
        customer_id=base.customer_id,
        gap_ratio=dsl / mean_gap,
        orders_90d=base.orders_90d.cast("int64"),
        orders_365d=base.orders_365d.cast("int64"),
        revenue_365d=base.revenue_365d.fill_null(0.0),
    )

    def attach(feats, extra, counts):
        cols = [c for c in extra.columns if c != "customer_id"]
        j = feats.left_join(extra, feats.customer_id == extra.customer_id)
        return j.select(*[feats[c] for c in feats.columns],
                        *[extra[c].fill_null(0).cast("int64").name(c) if c in counts else extra[c] for c in cols])

    messages = tables.table("messages")
    mday = messages.occurred_at.cast("date")
    m = messages.filter(mday < A).mutate(_day=mday)
    engaged = m.event_type.lower().isin(["opened", "clicked"])
    agg = m.group_by(m.customer_id).aggregate(
        last_open=m._day.max(where=engaged),
        opens_60d=(engaged & (A.delta(m._day, unit="day") <= 60)).sum(),
    )
    agg = agg.select(
        customer_id=agg.customer_id,
        days_since_last_open=A.delta(agg.last_open, unit="day").cast("float64"),
        opens_60d=agg.opens_60d,
    )
    feats = attach(feats, agg, {"opens_60d"})
    events = tables.table("events")
    eday = events.occurred_at.cast("date")
    e = events.filter(events.customer_id.notnull() & (eday < A)).mutate(_day=eday)
    recent = A.delta(e._day, unit="day") <= 30
    agg = e.group_by(e.customer_id).aggregate(
        last_visit=e._day.max(),
        events_30d=recent.sum(),
        cart_adds_30d=(recent & (e.event_type == "add_to_cart")).sum(),
    )
    agg = agg.select(
        customer_id=agg.customer_id,
        days_since_last_visit=A.delta(agg.last_visit, unit="day").cast("float64"),
        events_30d=agg.events_30d,
        cart_adds_30d=agg.cart_adds_30d,
    )
    feats = attach(feats, agg, {"events_30d", "cart_adds_30d"})
    missing = {c: ibis.null("float64") for c in ACTIVITY_COLUMNS if c not in feats.columns}
    return feats.mutate(**missing) if missing else feats


def propensity_labels(orders: ibis.Table, cutoff, window_days: int = 30) -> ibis.Table:
    """``customer_id, bought`` for every customer who purchased before ``cutoff``.

    ``bought`` is 1 when there is a purchase on days ``cutoff .. cutoff + window_days - 1``.
    """
    t = _came_back(orders, cutoff, window_days)
    return t.select("customer_id", bought=t.came_back.cast("int8"))
