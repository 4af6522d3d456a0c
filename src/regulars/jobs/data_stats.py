"""The counts readiness is decided on (:func:`regulars.models.readiness.assess`), as of a date:
customers who ordered, repeat customers, days of history and with orders, and leads."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from regulars.features.purchase_history import purchases, stored_totals
from regulars.jobs.tables import as_known_on
from regulars.models.readiness import DataStats
from regulars.values import to_date

__all__ = ["data_stats"]


def data_stats(ws, as_of) -> DataStats:
    """The counts that readiness is decided on, from purchases before ``as_of``."""
    p = purchases(ws.table("orders"))
    p = p.filter(p.day < ibis.literal(to_date(as_of)))
    stored = stored_totals(ws, to_date(as_of))  # one row per customer instead of every order
    if stored is not None:
        per = stored.filter(stored.orders > 0).select("customer_id", days="purchase_days")
    else:
        per = p.group_by("customer_id").aggregate(days=p.day.nunique())
    row = ws.execute(per.aggregate(customers=per.count(), repeat=(per.days > 1).sum())).iloc[0]
    day = to_date(as_of)
    recent = {n: p.day.nunique(where=p.day >= ibis.literal(day - dt.timedelta(days=n))) for n in (180, 730)}
    span = ws.execute(p.aggregate(first=p.day.min(), days=p.day.nunique(), d180=recent[180], d730=recent[730])).iloc[0]
    history = 0 if pd.isna(span["first"]) else (pd.Timestamp(day) - pd.Timestamp(span["first"])).days
    leads = _lead_count(ws, as_of)
    window = "d730" if history >= 730 else "d180"  # the window the forecast is fitted on
    return DataStats(customers_with_orders=int(row["customers"] or 0), repeat_customers=int(row["repeat"] or 0),
                     history_days=int(history), days_with_orders=int(span["days"] or 0), leads=leads,
                     recent_days_with_orders=int(span[window] or 0))


def _lead_count(ws, as_of) -> int:
    """People known on ``as_of`` with a site visit or an e-mail open/click before it and no purchase."""
    At = ibis.literal(pd.Timestamp(to_date(as_of)).to_pydatetime())
    known = as_known_on(ws, to_date(as_of))
    e, m = known.table("events"), known.table("messages")
    active = e.filter(e.customer_id.notnull() & (e.occurred_at < At)).select("customer_id").union(
        m.filter(m.event_type.lower().isin(["opened", "clicked"]) & (m.occurred_at < At)).select("customer_id"),
        distinct=True)  # people, not their events
    p = purchases(ws.table("orders"))
    buyers = p.filter(p.day < ibis.literal(to_date(as_of))).select("customer_id").distinct()
    return int(ws.execute(active.anti_join(buyers, "customer_id").count()))


# -- fitting -----------------------------------------------------------------------------------
