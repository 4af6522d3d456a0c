"""Predictions and recommendations as customer columns, for rule segments and next best actions.

:func:`prediction_columns` turns the stored predictions (``customer_predictions``, the latest
``as_of`` on or before the date asked) and recommendations (``recommendations``, likewise)
into one row per customer:

==========================  =====================================================================
column                      meaning
==========================  =====================================================================
``churn_risk``              probability of no order in the next 90 days (0..1)
``clv``                     predicted customer lifetime value over the prediction horizon
``clv_tier``                ``high`` (top 20 % by predicted CLV), ``medium`` (next 30 %), ``low``
``p_alive``                 probability the customer orders again within the prediction horizon
``propensity_30d``          probability of an order in the next 30 days (0..1)
``expected_orders``         predicted orders over the horizon; ``expected_spend`` alike
``next_order_date``           predicted date of the next order (a date: ``next_order_date < today + 7``)
``recommended_category``    category of the customer's top recommendation
``recommended_product_id``  the customer's top recommendation
``predictions_as_of``       the date the predictions were made
==========================  =====================================================================

:func:`with_predictions` left-joins them onto any table with ``customer_id`` (the customer
features mart, for rule segments). Customers without predictions get nulls: a comparison with
null is false in the rule language.

Examples
--------
>>> sorted(PREDICTION_COLUMNS)[:3]
['churn_risk', 'clv', 'clv_tier']
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from regulars.values import to_date

__all__ = ["PREDICTION_COLUMNS", "prediction_columns", "with_predictions"]

#: Column -> type, what rules may use once predictions exist.
PREDICTION_COLUMNS = {
    "churn_risk": "float64", "clv": "float64", "clv_tier": "string", "p_alive": "float64",
    "propensity_30d": "float64", "expected_orders": "float64", "expected_spend": "float64",
    "next_order_date": "date", "recommended_category": "string", "recommended_product_id": "string",
    "predictions_as_of": "date",
}
CLV_TIERS = (("high", 0.2), ("medium", 0.5))  # cumulative top shares


def _latest(t: ir.Table, as_of) -> ir.Table:
    if as_of is None:
        return t.filter(t.as_of == t.as_of.max())
    day = ibis.date(to_date(as_of))
    kept = t.filter(t.as_of <= day)
    return kept.filter(kept.as_of == kept.as_of.max())


def prediction_columns(tables, as_of=None) -> ir.Table:
    """One row per customer with predictions or recommendations made on or before ``as_of``."""
    p = _latest(tables.table("customer_predictions"), as_of)
    rank = ibis.row_number().over(ibis.window(order_by=[ibis.desc(p.clv.coalesce(-1e300)), p.customer_id]))
    n = p.count().over(ibis.window())
    share = (rank + 1).cast("float64") / n.cast("float64")
    tier = ibis.cases(
        (p.clv.isnull(), ibis.null("string")),
        (share <= CLV_TIERS[0][1], "high"),
        (share <= CLV_TIERS[1][1], "medium"),
        else_="low",
    )
    preds = p.select(
        "customer_id", "churn_risk", "clv", "p_alive", "propensity_30d", "expected_orders", "expected_spend",
        "next_order_date", clv_tier=tier, predictions_as_of=p.as_of,
    )
    r = _latest(tables.table("recommendations"), as_of)
    r = r.filter(r.rank == 1)
    products = tables.table("products").select(product_id="product_id", category="category")
    top = r.left_join(products, r.product_id == products.product_id)
    top = top.select(customer_id=top.customer_id, recommended_product_id=top.product_id,
                     recommended_category=top.category)
    j = preds.outer_join(top, preds.customer_id == top.customer_id)
    return j.select(customer_id=j.customer_id.coalesce(j.customer_id_right),
                    **{c: j[c] for c in PREDICTION_COLUMNS})


def with_predictions(table: ir.Table, tables, as_of=None) -> ir.Table:
    """``table`` (one row per ``customer_id``) with the :data:`PREDICTION_COLUMNS` added."""
    cols = prediction_columns(tables, as_of)
    drop = [c for c in PREDICTION_COLUMNS if c in table.columns]
    base = table.drop(*drop) if drop else table
    j = base.left_join(cols, base.customer_id == cols.customer_id)
    return j.select(*[base[c] for c in base.columns], *[j[c] for c in PREDICTION_COLUMNS])
