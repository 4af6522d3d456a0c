"""What lead scoring learns from: the activity of people who have not bought yet, as an Ibis
expression over the shop's tables (built here, executed by the caller; the estimator is
:class:`regulars.models.leads.LeadScorer`)."""

from __future__ import annotations

import ibis
import pandas as pd

from regulars.features.purchase_history import purchases

__all__ = ["lead_features"]


def lead_features(tables, as_of) -> ibis.Table:
    """One row per known person (``customer_id``) with events or e-mail activity before
    ``as_of`` and no purchase before it; columns :data:`LEAD_FEATURES` and ``last_seen_at``."""
    A = ibis.literal(pd.Timestamp(as_of).date())
    At = ibis.literal(pd.Timestamp(as_of).to_pydatetime())
    buyers = purchases(tables.table("orders"))
    buyers = buyers.filter(buyers.day < A).select("customer_id").distinct()

    e = tables.table("events")
    # buyers are dropped before aggregating: most activity is theirs, and it is not needed
    e = e.filter(e.customer_id.notnull() & (e.occurred_at < At)).anti_join(buyers, "customer_id")
    eday = e.occurred_at.cast("date")
    age = A.delta(eday, unit="day")
    ev = e.group_by(e.customer_id).aggregate(
        last_visit=e.occurred_at.max(),
        visits_7d=e.session_id.nunique(where=age <= 7),
        events_30d=(age <= 30).sum(),
        product_views_30d=((age <= 30) & (e.event_type == "product_view")).sum(),
        cart_adds_7d=((age <= 7) & (e.event_type == "add_to_cart")).sum(),
        cart_adds_30d=((age <= 30) & (e.event_type == "add_to_cart")).sum(),
        checkout_30d=((age <= 30) & e.event_type.isin(["begin_checkout", "add_shipping_info", "add_payment_info"])).sum(),
    )
    m = tables.table("messages")
    m = m.filter(m.occurred_at < At).anti_join(buyers, "customer_id")
    mage = A.delta(m.occurred_at.cast("date"), unit="day")
    kind = m.event_type.lower()
    ms = m.group_by(m.customer_id).aggregate(
        last_message=m.occurred_at.max(where=kind.isin(["opened", "clicked"])),
        last_open=m.occurred_at.cast("date").max(where=kind.isin(["opened", "clicked"])),
        opens_30d=((mage <= 30) & (kind == "opened")).sum(),
        clicks_30d=((mage <= 30) & (kind == "clicked")).sum(),
    )
    # one row per person: an Ibis union keeps duplicates unless told otherwise
    people = ev.select("customer_id").union(ms.filter(ms.last_message.notnull()).select("customer_id"), distinct=True)
    c = tables.table("customers").select("customer_id", "created_at", "accepts_email")
    # consent as it stood before as_of: the latest recorded decision, else the customer's flag
    k = tables.table("consents")
    k = k.filter((k.purpose == "email") & (k.recorded_at < At))
    k = k.group_by("customer_id").aggregate(_consent=k.is_granted.argmax(k.recorded_at))
    j = people.left_join(ev, "customer_id").drop("customer_id_right")
    j = j.left_join(ms, "customer_id").drop("customer_id_right")
    j = j.left_join(c, "customer_id").drop("customer_id_right")
    j = j.left_join(k, "customer_id").drop("customer_id_right")
    zero = ibis.literal(0, "int64")
    counts = ["visits_7d", "events_30d", "product_views_30d", "cart_adds_7d", "cart_adds_30d", "checkout_30d",
              "opens_30d", "clicks_30d"]
    return j.select(
        customer_id=j.customer_id,
        last_seen_at=ibis.greatest(j.last_visit.fill_null(j.last_message), j.last_message.fill_null(j.last_visit)),
        days_since_last_visit=A.delta(j.last_visit.cast("date"), unit="day").cast("float64"),
        days_since_last_open=A.delta(j.last_open, unit="day").cast("float64"),
        days_since_signup=A.delta(j.created_at.cast("date"), unit="day").cast("float64"),
        accepts_email=j._consent.fill_null(j.accepts_email).fill_null(False).cast("int64"),
        **{k: j[k].fill_null(zero).cast("int64") for k in counts},
    )
