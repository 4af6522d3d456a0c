"""What the recommenders and the next-best-action chooser read: Ibis expressions, built here,
executed by the caller (``jobs/recommend.py``, ``jobs/next_actions.py``).

Every expression sees only data strictly before ``as_of`` (a date): a backtest at a cutoff
gets exactly what was knowable that day.

- :func:`interactions`: one row per customer x product with purchases (orders holding the
  product), quantity, product views, cart adds and wishlist adds, and the last purchase day;
- :func:`basket_lines`: one row per purchase x product, the order as a 64-bit hash (for
  "frequently bought together": only co-occurrence matters, not the id);
- :func:`product_catalogue`: one row per product with its name, category, brand, price and
  ``is_active`` (products known only from order lines get their name and category from there);
- :func:`customer_context`: region and the consent to personalisation as of the date (from
  the consent history when there is one, else the customer's current flag; none stated = yes);
- :func:`purchased_between`: what each customer bought in a window (the backtest's truth);
- :func:`contact_history`: consent per channel as of the date and how many e-mails / SMS
  each customer was sent in the 7 and 30 days before it (contact fatigue).

Examples
--------
>>> import tempfile, os, datetime as dt
>>> import pandas as pd
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("orders", pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": "c1",
...     "ordered_at": ["2024-01-01", "2024-02-01", "2024-03-05"], "total": [20, 10, 10]}))
>>> _ = ws.insert_rows("order_lines", pd.DataFrame({"order_id": ["o1", "o1", "o2", "o3"], "line_number": [1, 2, 1, 1],
...     "product_id": ["beans", "mug", "beans", "beans"], "quantity": [2, 1, 1, 1], "unit_price": [5, 10, 10, 10]}))
>>> df = ws.execute(interactions(ws, dt.date(2024, 3, 1))).sort_values("product_id")
>>> df[["product_id", "purchases", "quantity"]].values.tolist()
[['beans', 2, 3], ['mug', 1, 1]]
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from regulars.features.mart import _consent_features
from regulars.values import to_date
from regulars.features.purchase_history import purchases

__all__ = [
    "EVENT_KINDS",
    "basket_lines",
    "code_index",
    "coded_baskets",
    "coded_interactions",
    "contact_history",
    "customer_context",
    "interactions",
    "product_catalogue",
    "purchased_between",
]

#: Event types that show interest in a product, and the interaction column each one counts.
EVENT_KINDS = {"product_view": "views", "add_to_cart": "cart_adds", "wishlist_add": "wishlist_adds"}


def _day(value) -> ir.DateScalar:
    return ibis.date(to_date(value))


def _ts(value) -> ir.TimestampScalar:
    d = to_date(value)
    return ibis.timestamp(dt.datetime(d.year, d.month, d.day))


def purchase_lines(tables, as_of, since=None, customers_only: bool = True) -> ir.Table:
    """Lines of purchases (``features.purchase_history.purchases``) before ``as_of`` (and on or after
    ``since``) with a product and a positive quantity: ``customer_id, order_id, day, product_id,
    quantity, product_name, category``. Guest orders (no customer) only when *customers_only*
    is False: a basket is a basket, whoever bought it."""
    p = purchases(tables.table("orders"), customers_only=customers_only)
    p = p.filter(p.day < _day(as_of))
    if since is not None:
        p = p.filter(p.day >= _day(since))
    lines = tables.table("order_lines")
    lines = lines.filter(lines.product_id.notnull() & (lines.quantity > 0))
    j = lines.join(p, lines.order_id == p.order_id)
    return j.select(j.customer_id, order_id=p.order_id, day=j.day, product_id=j.product_id,
                    quantity=j.quantity, product_name=j.product_name, category=j.category)


def interactions(tables, as_of, since=None, events_since=None) -> ir.Table:
    """One row per customer x product with any purchase or product event before ``as_of``.

    Columns: ``customer_id, product_id, purchases`` (orders holding the product),
    ``quantity, views, cart_adds, wishlist_adds, first_purchase_day, last_purchase_day,
    last_event_day, customer_orders`` (her purchases). Purchases count from ``since`` (default: all history), events from
    ``events_since`` (default: all history).
    """
    lines = purchase_lines(tables, as_of, since)
    # per order first (a product on two lines of one order is one purchase), then per customer x product:
    # two plain aggregations are cheaper than a distinct count over every line
    per_order = lines.group_by(["customer_id", "product_id", "order_id"]).aggregate(
        quantity=lines.quantity.sum(), day=lines.day.min())
    bought = per_order.group_by(["customer_id", "product_id"]).aggregate(
        purchases=per_order.count(),
        quantity=per_order.quantity.sum().cast("int64"),
        first_purchase_day=per_order.day.min(),
        last_purchase_day=per_order.day.max(),
    )
    e = tables.table("events")
    e = e.filter(e.customer_id.notnull() & e.product_id.notnull() & e.event_type.isin(list(EVENT_KINDS))
                 & (e.occurred_at < _ts(as_of)))
    if events_since is not None:
        e = e.filter(e.occurred_at >= _ts(events_since))
    seen = e.group_by(["customer_id", "product_id"]).aggregate(
        **{col: (e.event_type == kind).sum().cast("int64") for kind, col in EVENT_KINDS.items()},
        last_event_day=e.occurred_at.max().cast("date"),
    )
    j = bought.outer_join(seen, [bought.customer_id == seen.customer_id, bought.product_id == seen.product_id])
    zero = ibis.literal(0, "int64")
    orders = purchases(tables.table("orders"))
    orders = orders.filter(orders.day < _day(as_of))
    if since is not None:
        orders = orders.filter(orders.day >= _day(since))
    per_customer = orders.group_by("customer_id").aggregate(customer_orders=orders.count().cast("int64"))
    j = j.mutate(_customer=j.customer_id.coalesce(j.customer_id_right))
    j = j.left_join(per_customer, j._customer == per_customer.customer_id)
    return j.select(
        customer_id=j._customer,
        product_id=j.product_id.coalesce(j.product_id_right),
        purchases=j.purchases.cast("int64").coalesce(zero),
        quantity=j.quantity.coalesce(zero),
        **{col: j[col].coalesce(zero) for col in EVENT_KINDS.values()},
        first_purchase_day=j.first_purchase_day,
        last_purchase_day=j.last_purchase_day,
        last_event_day=j.last_event_day,
        customer_orders=j.customer_orders.coalesce(zero),
    )


def basket_lines(tables, as_of, since=None) -> ir.Table:
    """One row per purchase x product before ``as_of``: ``basket`` (a 64-bit hash of the order
    id) and ``product_id``; guest orders count (they are baskets too)."""
    lines = purchase_lines(tables, as_of, since, customers_only=False)
    return lines.select(basket=lines.order_id.hash(), product_id=lines.product_id).distinct()


def product_catalogue(tables) -> ir.Table:
    """One row per product of ``products`` or of the order lines: ``product_id, name, category,
    brand, price, is_active`` (null ``is_active`` = the data does not say)."""
    products = tables.table("products")
    lines = tables.table("order_lines")
    lines = lines.filter(lines.product_id.notnull())
    from_lines = lines.group_by("product_id").aggregate(
        line_name=lines.product_name.max(), line_category=lines.category.max(),
        line_price=lines.unit_price.cast("float64").median())
    j = from_lines.outer_join(products, from_lines.product_id == products.product_id)
    return j.select(
        product_id=j.product_id_right.coalesce(j.product_id),
        name=j.name.coalesce(j.line_name),
        category=j.category.coalesce(j.line_category),
        brand=j.brand,
        price=j.price.cast("float64").coalesce(j.line_price),
        is_active=j.is_active,
    )


def customer_context(tables, as_of) -> ir.Table:
    """One row per customer: ``customer_id, region, accepts_personalization`` as of ``as_of``
    (the latest consent decision before it, else the customer's flag, else yes)."""
    customers = tables.table("customers").select("customer_id", "region", "accepts_personalization")
    consents = _consent_features(tables, to_date(as_of))
    j = customers.left_join(consents, "customer_id")
    return j.select(
        customer_id=j.customer_id,
        region=j.region,
        accepts_personalization=(j._consent_personalization == 1).coalesce(j.accepts_personalization).coalesce(True),
    )


def purchased_between(tables, start, end) -> ir.Table:
    """Distinct ``customer_id, product_id`` purchased on days ``start <= day < end``."""
    lines = purchase_lines(tables, end, since=start)
    return lines.select("customer_id", "product_id").distinct()


def contact_history(tables, as_of) -> ir.Table:
    """One row per customer: consent to e-mail and SMS as of ``as_of`` (latest decision, else
    the customer's flag, else no) and the e-mails / SMS sent in the 7 and 30 days before it."""
    as_of = to_date(as_of)
    customers = tables.table("customers").select("customer_id", "accepts_email", "accepts_sms")
    consents = _consent_features(tables, as_of)
    m = tables.table("messages")
    m = m.filter((m.event_type.lower() == "sent") & (m.occurred_at < _ts(as_of))
                 & (m.occurred_at >= _ts(as_of - dt.timedelta(days=30))))
    channel = m.channel.lower().coalesce("email")
    week = m.occurred_at >= _ts(as_of - dt.timedelta(days=7))
    sent = m.group_by("customer_id").aggregate(
        email_sent_7d=((channel == "email") & week).sum().cast("int64"),
        email_sent_30d=(channel == "email").sum().cast("int64"),
        sms_sent_7d=((channel == "sms") & week).sum().cast("int64"),
        sms_sent_30d=(channel == "sms").sum().cast("int64"),
        last_contact_at=m.occurred_at.max(),
    )
    j = customers.left_join(consents, "customer_id").drop("customer_id_right")
    j = j.left_join(sent, "customer_id")
    zero = ibis.literal(0, "int64")
    return j.select(
        customer_id=j.customer_id,
        accepts_email=(j._consent_email == 1).coalesce(j.accepts_email).coalesce(False),
        accepts_sms=(j._consent_sms == 1).coalesce(j.accepts_sms).coalesce(False),
        email_sent_7d=j.email_sent_7d.coalesce(zero),
        email_sent_30d=j.email_sent_30d.coalesce(zero),
        sms_sent_7d=j.sms_sent_7d.coalesce(zero),
        sms_sent_30d=j.sms_sent_30d.coalesce(zero),
        last_contact_at=j.last_contact_at,
    )


def code_index(table: ir.Table, column: str, **aggregates) -> ir.Table:
    """Distinct values of ``column`` numbered 0, 1, ... in sorted order (``code``, int32), with
    optional per-value ``aggregates`` (name -> function of the table)."""
    if aggregates:
        t = table.group_by(column).aggregate(**{k: f(table) for k, f in aggregates.items()})
    else:
        t = table.select(column).distinct()
    return t.mutate(code=ibis.row_number().over(ibis.window(order_by=t[column])).cast("int32"))


def coded_interactions(pairs: ir.Table, customers: ir.Table, products: ir.Table, as_of) -> ir.Table:
    """:func:`interactions` with customers and products as codes of :func:`code_index` tables, and
    only what the recommenders use, as small integers: ``row, col, purchases, cart_adds, looks``
    (views + wishlist adds), ``age`` (days since the last purchase + 1; 0 = never bought) and
    ``span`` (days between the first and last purchase, for products bought twice or more)."""
    day = _day(as_of)
    j = pairs.join(customers, pairs.customer_id == customers.customer_id).join(
        products, pairs.product_id == products.product_id)
    bought = j.purchases > 0
    return j.select(
        row=customers.code, col=products.code,
        purchases=j.purchases.cast("int32"), cart_adds=j.cart_adds.cast("int32"),
        looks=(j.views + j.wishlist_adds).cast("int32"),
        age=ibis.ifelse(bought, day.delta(j.last_purchase_day, unit="day") + 1, 0).cast("int32"),
        span=ibis.ifelse(j.purchases >= 2, j.last_purchase_day.delta(j.first_purchase_day, unit="day"), 0)
        .cast("int32"),
    )


def coded_baskets(baskets: ir.Table, products: ir.Table) -> ir.Table:
    """:func:`basket_lines` with the product as its code: ``basket, product_code``."""
    j = baskets.join(products, baskets.product_id == products.product_id)
    return j.select(j.basket, product_code=products.code)
