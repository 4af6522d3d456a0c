"""KPIs and predicted value per segment of one kind (``regulars kpis --by segment KIND``).

A segment *kind* is the family of its id: ``rfm``, ``lifecycle``, ``frequency``, ``spend``,
``aov``, ``clv`` (predicted-CLV tiers), ``affinity``, ``region``, ``engagement``,
``behaviour``, or ``rule`` (saved rule segments; a customer may be in several, so their rows
do not add up to the shop). Per segment, over its current members:

- ``customers`` (members), ``buyers`` (members with a purchase up to ``end``),
  ``orders`` and ``revenue`` (net) in ``start .. end``, ``average_order_value``,
  ``purchase_frequency`` (orders per buyer in the window), ``repeat_purchase_rate`` (buyers
  with two purchases or more, to date), ``clv_historical`` (net revenue to date per buyer);
- from the latest stored predictions: ``predicted_clv`` (mean), ``predicted_value`` (sum of
  predicted CLV), ``churn_risk`` (mean), ``expected_buyers_30d`` (sum of the 30-day purchase
  propensities), ``p_alive`` (mean).

Order definitions are those of :func:`regulars.features.kpis.order_facts`.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from regulars.features.kpis import order_facts

__all__ = ["KINDS", "segment_kpis"]

KINDS = ("rfm", "lifecycle", "frequency", "spend", "aov", "clv", "affinity", "region", "engagement", "behaviour", "rule")


def segment_kpis(tables, kind: str, start: dt.date, end: dt.date) -> ir.Table:
    """One row per segment of ``kind`` with members (see the module docstring); built, not executed."""
    if kind not in KINDS:
        raise ValueError(f"unknown segment kind {kind!r}; use one of {', '.join(KINDS)}")
    m = tables.table("segment_memberships")
    d = tables.table("segment_definitions")
    m = m.filter(~m.segment_id.contains(":")) if kind == "rule" else m.filter(m.segment_id.startswith(kind + ":"))
    members = m.join(d, m.segment_id == d.segment_id).select(
        customer_id=m.customer_id, segment_id=m.segment_id, segment=d.name.coalesce(m.segment_id))
    o = order_facts(tables, end)
    in_window = o.day >= ibis.date(start)
    per = o.group_by("customer_id").aggregate(
        purchases=o.count(where=o.is_purchase), net_to_date=o.net.sum(),
        orders=o.count(where=o.is_purchase & in_window), revenue=o.net.sum(where=in_window))
    p = tables.table("customer_predictions")
    p = p.filter(p.as_of == p.as_of.max())
    p = p.select("customer_id", "clv", "churn_risk", "propensity_30d", "p_alive")
    j = members.left_join(per, "customer_id").drop("customer_id_right")
    j = j.left_join(p, "customer_id").drop("customer_id_right")
    buyer = j.purchases.coalesce(0) > 0
    g = j.group_by(["segment_id", "segment"]).aggregate(
        customers=j.count(), buyers=buyer.sum().cast("int64"),
        orders=j.orders.coalesce(0).sum().cast("int64"), revenue=j.revenue.coalesce(0.0).sum(),
        repeat=(j.purchases.coalesce(0) >= 2).sum().cast("int64"), net_to_date=j.net_to_date.coalesce(0.0).sum(),
        window_buyers=(j.orders.coalesce(0) > 0).sum().cast("int64"),
        predicted_clv=j.clv.mean(), predicted_value=j.clv.sum(), churn_risk=j.churn_risk.mean(),
        expected_buyers_30d=j.propensity_30d.sum(), p_alive=j.p_alive.mean())
    return g.select(
        "segment_id", "segment", "customers", "buyers", "orders", "revenue",
        average_order_value=g.revenue / g.orders.cast("float64").nullif(0.0),
        purchase_frequency=g.orders.cast("float64") / g.window_buyers.cast("float64").nullif(0.0),
        repeat_purchase_rate=g.repeat.cast("float64") / g.buyers.cast("float64").nullif(0.0),
        clv_historical=g.net_to_date / g.buyers.cast("float64").nullif(0.0),
        predicted_clv=g.predicted_clv, predicted_value=g.predicted_value, churn_risk=g.churn_risk,
        expected_buyers_30d=g.expected_buyers_30d, p_alive=g.p_alive,
    ).order_by([ibis.desc("customers"), "segment_id"])
