"""The decision frame of the next-best-action chooser: one row per customer as of a date.

Built from cheap parts (one pass over the orders, the stored predictions and
recommendations, the replenishment due dates, the messages of the last 30 days), so that
every customer of a large shop is decided in seconds. Columns (each usable in an action's
eligibility rule, in the rule-segment language):

- ``as_of, orders, revenue, aov, first_order_date, last_order_date, days_since_last_order,
  tenure_days, region, acquisition_channel`` (purchases before ``as_of``);
- ``accepts_email, accepts_sms, accepts_personalization`` (consent as of ``as_of``),
  ``email_sent_7d, email_sent_30d, sms_sent_7d, sms_sent_30d, days_since_last_contact``;
- the prediction columns of :mod:`regulars.features.predicted` (``churn_risk``, ``clv``,
  ``clv_tier``, ``propensity_30d``, ``next_order_date``, ``recommended_category`` ...);
- ``recommended_product_name, recommended_product_price``;
- ``replenishment_due`` (a product is due within ``due_days``), ``due_product_id``,
  ``due_product_name, due_product_price``.

A rule may also name any column of the customer features mart (``docs/features.md``); the
mart is then joined (slower on a large shop).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from regulars.features.mart import customer_features, order_summary
from regulars.values import to_date
from regulars.features.predicted import PREDICTION_COLUMNS, prediction_columns
from regulars.features.recommend import contact_history

__all__ = ["DECISION_COLUMNS", "decision_frame"]

#: Column -> type of :func:`decision_frame` (without mart columns).
DECISION_COLUMNS = {
    "customer_id": "string", "as_of": "date", "orders": "int64", "revenue": "float64", "aov": "float64",
    "first_order_date": "date", "last_order_date": "date", "days_since_last_order": "int64",
    "tenure_days": "int64", "region": "string", "acquisition_channel": "string",
    "accepts_email": "boolean", "accepts_sms": "boolean", "accepts_personalization": "boolean",
    "email_sent_7d": "int64", "email_sent_30d": "int64", "sms_sent_7d": "int64", "sms_sent_30d": "int64",
    "days_since_last_contact": "int64", **PREDICTION_COLUMNS, "recommended_product_price": "float64",
    "recommended_product_name": "string", "replenishment_due": "boolean", "due_product_id": "string",
    "due_product_name": "string", "due_product_price": "float64",
}


def _due(tables, as_of: dt.date, due_days: int) -> ir.Table:
    r = tables.table("replenishments")
    kept = r.filter(r.as_of <= ibis.date(as_of))
    r = kept.filter(kept.as_of == kept.as_of.max())
    soon = ibis.date(as_of + dt.timedelta(days=due_days))
    r = r.filter((r.due_lower.coalesce(r.due_date) <= soon) & (r.due_upper.coalesce(r.due_date) >= ibis.date(as_of)))
    w = ibis.window(group_by=r.customer_id, order_by=[r.due_date, r.product_id])
    r = r.mutate(_n=ibis.row_number().over(w))
    return r.filter(r._n == 0).select("customer_id", due_product_id="product_id")


def decision_frame(tables, as_of, due_days: int = 14, mart_columns=()) -> ir.Table:
    """One row per customer of ``customers`` (see the module docstring)."""
    as_of = to_date(as_of)
    day = ibis.date(as_of)
    customers = tables.table("customers").select("customer_id", "created_at", "region", "acquisition_channel",
                                                 "accepts_personalization")
    orders = order_summary(tables, as_of)
    contacts = contact_history(tables, as_of)
    preds = prediction_columns(tables, as_of)
    due = _due(tables, as_of, due_days)
    p = tables.table("products")
    prices = p.select("product_id", "name", price=p.price.cast("float64"))
    consents = customers.left_join(contacts, "customer_id").drop("customer_id_right")
    from regulars.features.recommend import customer_context

    personal = customer_context(tables, as_of).select("customer_id", _personal="accepts_personalization")
    t = consents.left_join(orders, "customer_id").drop("customer_id_right")
    t = t.left_join(preds, "customer_id").drop("customer_id_right")
    t = t.left_join(due, "customer_id").drop("customer_id_right")
    t = t.left_join(personal, "customer_id").drop("customer_id_right")
    rec_price = prices.select(_rp_id="product_id", recommended_product_price="price", _rp_name="name")
    due_price = prices.select(_dp_id="product_id", due_product_price="price", _dp_name="name")
    t = t.left_join(rec_price, t.recommended_product_id == rec_price._rp_id)
    t = t.left_join(due_price, t.due_product_id == due_price._dp_id)
    zero = ibis.literal(0, "int64")
    n = t.orders.coalesce(zero).cast("int64")
    revenue = t.revenue.cast("float64").coalesce(0.0)
    created = t.created_at.cast("date")
    since = ibis.cases((created.isnull(), t.first_order_date), (t.first_order_date.isnull(), created),
                       (created < t.first_order_date, created), else_=t.first_order_date)
    frame = t.select(
        customer_id=t.customer_id, as_of=day, orders=n, revenue=revenue,
        aov=revenue / n.cast("float64").nullif(0.0), first_order_date=t.first_order_date,
        last_order_date=t.last_order_date, days_since_last_order=day.delta(t.last_order_date, unit="day"),
        tenure_days=day.delta(since, unit="day"), region=t.region, acquisition_channel=t.acquisition_channel,
        accepts_email=t.accepts_email.coalesce(False), accepts_sms=t.accepts_sms.coalesce(False),
        accepts_personalization=t._personal.coalesce(True),
        email_sent_7d=t.email_sent_7d.coalesce(zero), email_sent_30d=t.email_sent_30d.coalesce(zero),
        sms_sent_7d=t.sms_sent_7d.coalesce(zero), sms_sent_30d=t.sms_sent_30d.coalesce(zero),
        days_since_last_contact=day.delta(t.last_contact_at.cast("date"), unit="day"),
        **{c: t[c] for c in PREDICTION_COLUMNS},
        recommended_product_price=t.recommended_product_price,
        recommended_product_name=t._rp_name.coalesce(t.recommended_product_id),
        replenishment_due=t.due_product_id.notnull(), due_product_id=t.due_product_id,
        due_product_name=t._dp_name.coalesce(t.due_product_id), due_product_price=t.due_product_price,
    )
    extra = [c for c in mart_columns if c not in DECISION_COLUMNS]
    if extra:
        mart = customer_features(tables, as_of).select("customer_id", *extra)
        frame = frame.left_join(mart, "customer_id").drop("customer_id_right")
    return frame
