"""The customer features mart: one row per customer as of a date.

Why this module is long: the customer features mart is one Ibis expression whose column groups
(orders, money, categories, web, e-mail, service) are joined on one customer key with the same as-of
rules; each group is a short function, kept beside the join that documents the whole mart.

:func:`customer_features` builds an Ibis expression from a *table provider*
(any object with ``.table(name) -> ibis.Table``, e.g. a
:class:`~regulars.data.workspace.Workspace` or the Spark provider from
:func:`regulars.data.engines.spark_tables`). The expression is the same on
DuckDB and Spark; every column is documented in ``docs/features.md``.

Rules that hold for every column
--------------------------------
- **Only data strictly before ``as_of``** counts (``as_of`` is a date; a
  timestamp on that date is already "after"). Without ``as_of`` the mart is
  computed as of the day after the latest order, event or message
  (:func:`resolve_as_of`), so every row of data counts.
- A **purchase**, a **return** and **net revenue** are those of
  :mod:`regulars.data.purchases` as of ``as_of``: an order with ``total > 0``,
  not cancelled by then and not fully refunded by then; a return has
  ``total < 0``; net revenue is ``total`` minus what was refunded before
  ``as_of``. Guest orders (no customer) are not in the mart.
- Day differences are taken between **dates** (timestamps cast to date first).
- Category shares need the shop's categories *before* the expression is built
  (so its columns are static): pass ``categories=`` (see
  :func:`shop_categories`), or let :func:`customer_features` run that one small
  query for you.

Examples
--------
>>> import tempfile, os, datetime as dt
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("customers", [{"customer_id": "c1"}])
>>> _ = ws.insert_rows("orders", [
...     {"order_id": "o1", "customer_id": "c1", "ordered_at": "2024-01-01 10:00", "total": 10},
...     {"order_id": "o2", "customer_id": "c1", "ordered_at": "2024-01-11 09:00", "total": 30}])
>>> row = ws.execute(customer_features(ws, as_of=dt.date(2024, 2, 1), categories=[])).iloc[0]
>>> int(row.orders), float(row.revenue), float(row.aov), int(row.days_since_last_order)
(2, 40.0, 20.0, 21)
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.types as ir

from regulars.data import purchases as rules
from regulars.data.schema import EXCLUDED_STATUSES
from regulars.data.as_of import resolve_as_of  # noqa: F401 - features resolve the as-of date here
from regulars.values import to_date

__all__ = [
    "CHECKOUT_STEPS",
    "EXCLUDED_STATUSES",
    "MONEY",
    "category_groups",
    "category_slug",
    "customer_features",
    "mart_columns",
    "order_summary",
    "purchases",
    "round_half_up",
    "resolve_as_of",
    "shop_categories",
    "to_date",
]

MONEY = "decimal(18, 2)"

#: Order statuses that are not purchases (the order did not go through).

#: Checkout funnel steps, in order; the code of a step is its position (0 = none reached).
CHECKOUT_STEPS = ("add_to_cart", "begin_checkout", "add_shipping_info", "add_payment_info", "purchase")

#: Window of the ``*_90d`` e-mail columns, in days before ``as_of``.
RECENT_DAYS = 90


def category_slug(name: str) -> str:
    """The column-name slug of a category: ``category_share_<slug>``.

    >>> category_slug("Coffee & Tea"), category_slug("Café-Bar"), category_slug("  ")
    ('coffee_tea', 'cafe_bar', 'unnamed')
    """
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not slug:
        return "unnamed"
    return slug if slug[0].isalpha() else f"c_{slug}"


def _line_categories(tables) -> ir.Table:
    """Order lines with ``category`` filled from ``products`` when the line has none."""
    lines = tables.table("order_lines")
    products = tables.table("products").select(
        product_id="product_id", product_category="category"
    )
    joined = lines.left_join(products, lines.product_id == products.product_id)
    return joined.select(
        "order_id", "quantity", "unit_price",
        line_discount=joined.discount,
        category=joined.category.coalesce(joined.product_category),
    )


def shop_categories(tables, as_of=None) -> list[str]:
    """The shop's product categories (distinct, sorted), for :func:`customer_features`.

    Runs one small query. Categories come from ``order_lines.category``, else
    the product's ``category``; empty names are ignored. With ``as_of``, only the
    categories of orders placed before it (a category first sold later was not
    known then, and would add a column to models fitted in the past).
    """
    lines = _line_categories(tables)
    if as_of is not None:
        orders = tables.table("orders")
        before = orders.filter(orders.ordered_at < _ts(to_date(as_of))).select("order_id")
        lines = lines.semi_join(before, "order_id")
    cats = lines.filter(lines.category.notnull()).select("category").distinct()
    values = cats.execute()["category"].tolist()
    return sorted({str(v) for v in values if str(v).strip()})


def category_groups(categories: Iterable[str]) -> dict[str, list[str]]:
    """Slug -> the category names that share its ``category_share_<slug>`` column.

    >>> category_groups(["Tea", "coffee", "Coffee"])
    {'coffee': ['coffee', 'Coffee'], 'tea': ['Tea']}
    """
    groups: dict[str, list[str]] = {}
    for name in categories:
        groups.setdefault(category_slug(name), []).append(name)
    return dict(sorted(groups.items()))


def purchases(tables, as_of: dt.date) -> ir.Table:
    """A customer's transactions before *as_of* that count (:mod:`regulars.data.purchases`), with
    ``net`` (as of *as_of*), ``order_date``, ``is_purchase`` and ``is_return``; no guest orders."""
    o = tables.table("orders")
    o = o.filter(rules.counted(o, as_of), o.customer_id.notnull())
    return o.mutate(
        net=rules.net(o, as_of),
        order_date=o.ordered_at.cast("date"),
        is_purchase=rules.is_purchase(o, as_of),
        is_return=o.total < 0,
    )


def _left(a: ir.Table, b: ir.Table) -> ir.Table:
    """Left join on ``customer_id``, keeping one ``customer_id`` column."""
    return a.left_join(b, "customer_id").drop("customer_id_right")


def _ts(day: dt.date) -> ir.TimestampScalar:
    return ibis.timestamp(dt.datetime(day.year, day.month, day.day))


def _days(later: ir.DateValue, earlier: ir.DateValue) -> ir.IntegerValue:
    return later.delta(earlier, unit="day")


def round_half_up(x: ir.FloatingValue, digits: int) -> ir.FloatingValue:
    """``floor(x * 10^d + 0.5) / 10^d``: the same double on every engine.

    ``round()`` on doubles differs between DuckDB and Spark at exact halves
    (162.325 -> 162.33 or 162.32); plain IEEE arithmetic does not.
    """
    scale = 10**digits
    return (x * scale + 0.5).floor().cast("float64") / scale


def _ratio(num: ir.NumericValue, den: ir.NumericValue, digits: int = 4) -> ir.FloatingValue:
    return round_half_up(num.cast("float64") / den.cast("float64").nullif(0), digits)


def order_summary(tables, as_of: dt.date) -> ir.Table:
    """Per customer with any transaction before *as_of*: purchase dates and counts, net revenue.

    Columns: ``first_order_date, last_order_date, orders, returns, revenue,
    purchase_total, discount_total, discounted_orders, _any_order, _prev_order_date``
    (the purchase day before the last one).
    """
    t = purchases(tables, as_of)
    purchase_date = ibis.cases((t.is_purchase, t.order_date), else_=ibis.null("date"))
    # The latest purchase day per customer, beside every row, gives the previous purchase day in the same pass.
    t = t.mutate(_last=purchase_date.max().over(ibis.window(group_by=t.customer_id)))
    is_purchase = t.is_purchase
    has_discount = (t.discount.coalesce(0) > 0) | (t.discount_code.notnull() & (t.discount_code.strip() != ""))
    g = t.group_by("customer_id").aggregate(
        first_order_date=t.ordered_at.min(where=is_purchase).cast("date"),
        last_order_date=t.ordered_at.max(where=is_purchase).cast("date"),
        orders=t.count(where=is_purchase),
        returns=t.count(where=t.is_return),
        revenue=t.net.sum(),
        purchase_total=t.total.sum(where=is_purchase),
        discount_total=t.discount.coalesce(0).sum(where=is_purchase),
        discounted_orders=(is_purchase & has_discount).sum(),
        _any_order=t.count(),
        _prev_order_date=t.order_date.max(where=is_purchase & (t.order_date < t._last)),
    )
    return g


def _line_features(tables, as_of: dt.date, categories: Sequence[str]) -> ir.Table | None:
    groups = category_groups(categories)
    if not groups:
        return None
    lines = _line_categories(tables)
    orders = purchases(tables, as_of)
    orders = orders.filter(orders.is_purchase).select("order_id", "customer_id")
    lines = lines.filter(lines.quantity > 0)
    j = lines.join(orders, "order_id")
    value = j.quantity * j.unit_price - j.line_discount.coalesce(0)
    aggs = {"_line_value": value.sum()}
    for slug, names in groups.items():
        aggs[f"_cat_{slug}"] = value.sum(where=j.category.isin(names))
    return j.group_by("customer_id").aggregate(**aggs)


def _event_features(tables, as_of: dt.date) -> ir.Table:
    e = tables.table("events")
    e = e.filter(e.customer_id.notnull(), e.occurred_at < _ts(as_of))
    step = ibis.cases(*[(e.event_type == name, i + 1) for i, name in enumerate(CHECKOUT_STEPS)], else_=0)
    counts = e.group_by("customer_id").aggregate(
        sessions=e.session_id.nunique(),
        product_views=(e.event_type == "product_view").sum(),
        cart_adds=(e.event_type == "add_to_cart").sum(),
        searches=(e.event_type == "search").sum(),
        checkout_step_max=step.max(),
    )
    # Abandonment needs sessions, but only those with a checkout step (a cart add at least):
    # grouping just those events by session is a fraction of grouping every event.
    # Events without a session id are grouped per day for abandonment (not counted as sessions).
    c = e.filter(e.event_type.isin(CHECKOUT_STEPS))
    c = c.mutate(
        _step=ibis.cases(*[(c.event_type == name, i + 1) for i, name in enumerate(CHECKOUT_STEPS)], else_=0),
        _session=c.session_id.coalesce("day-" + c.occurred_at.cast("date").cast("string")),
    )
    per_session = c.group_by(["customer_id", "_session"]).aggregate(
        _max_step=c._step.max(),
        _carted=(c.event_type == "add_to_cart").any(),
        _bought=(c.event_type == "purchase").any(),
    )
    s = per_session
    abandoned = s._carted & ~s._bought
    carts = s.group_by("customer_id").aggregate(
        cart_abandonments=abandoned.sum(),
        abandoned_checkout_step=s._max_step.max(where=abandoned),
    )
    j = counts.left_join(carts, "customer_id")
    return j.select(
        counts.customer_id,
        counts.sessions,
        counts.product_views,
        counts.cart_adds,
        counts.searches,
        counts.checkout_step_max,
        cart_abandonments=carts.cart_abandonments.fill_null(0),
        abandoned_checkout_step=carts.abandoned_checkout_step,
    )


def _message_features(tables, as_of: dt.date) -> ir.Table:
    m = tables.table("messages")
    m = m.filter(m.occurred_at < _ts(as_of), m.channel.isnull() | (m.channel.lower() == "email"))
    recent = m.occurred_at >= _ts(as_of - dt.timedelta(days=RECENT_DAYS))
    kinds = {"sends": "sent", "opens": "opened", "clicks": "clicked", "unsubscribes": "unsubscribed"}
    aggs = {}
    for col, kind in kinds.items():
        is_kind = m.event_type.lower() == kind
        aggs[f"email_{col}"] = is_kind.sum()
        aggs[f"email_{col}_90d"] = (is_kind & recent).sum()
    return m.group_by("customer_id").aggregate(**aggs)


def _support_features(tables, as_of: dt.date) -> tuple[ir.Table, ir.Table]:
    t = tables.table("tickets")
    t = t.filter(t.opened_at < _ts(as_of))
    tickets = t.group_by("customer_id").aggregate(tickets=t.count(), _csat_sum=t.csat.sum(), _csat_n=t.csat.count())
    tickets = tickets.mutate(mean_csat=_ratio(tickets._csat_sum, tickets._csat_n, 3)).drop("_csat_sum", "_csat_n")
    r = tables.table("reviews")
    r = r.filter(r.created_at < _ts(as_of))
    reviews = r.group_by("customer_id").aggregate(reviews=r.count(), _sum=r.rating.sum(), _n=r.rating.count())
    reviews = reviews.mutate(mean_rating=_ratio(reviews._sum, reviews._n, 3)).drop("_sum", "_n")
    return tickets, reviews


def _consent_features(tables, as_of: dt.date) -> ir.Table:
    c = tables.table("consents")
    c = c.filter(c.recorded_at < _ts(as_of))
    w = ibis.window(group_by=[c.customer_id, c.purpose], order_by=[ibis.desc(c.recorded_at), ibis.desc(c.is_granted)])
    c = c.mutate(_rank=ibis.row_number().over(w))
    c = c.filter(c._rank == 0)
    granted = c.is_granted.cast("int8")
    return c.group_by("customer_id").aggregate(
        **{f"_consent_{p}": granted.max(where=c.purpose == p) for p in ("email", "sms", "personalization")}
    )


def customer_features(tables, as_of=None, categories: Sequence[str] | None = None) -> ir.Table:
    """One row per customer as of a date: orders, revenue, behaviour, engagement, consent.

    Parameters
    ----------
    tables : table provider
        Anything with ``.table(name) -> ibis.Table`` (a Workspace, or
        :func:`regulars.data.engines.spark_tables`).
    as_of : date, datetime or ISO string, optional
        Only data strictly before this date counts. Default: the day after the
        latest order, event or message (:func:`resolve_as_of`, one small query).
    categories : list of str, optional
        The shop's categories, one ``category_share_<slug>`` column each (names
        that give the same slug share a column). Default: :func:`shop_categories`
        (one small query). Pass ``[]`` for no category columns.

    Returns
    -------
    ibis.Table
        Built, not executed. A customer is included when they were created
        before ``as_of`` or have any order, event, message, ticket or review
        before it. Columns: see ``docs/features.md`` and :func:`mart_columns`.
    """
    as_of = resolve_as_of(tables, as_of)
    if categories is None:
        categories = shop_categories(tables)
    groups = category_groups(categories)

    cust = tables.table("customers")
    base = cust.select(
        "customer_id", "created_at", "acquisition_channel", "region", "country", "city",
        "accepts_email", "accepts_sms", "accepts_personalization",
    )

    orders = order_summary(tables, as_of)
    events = _event_features(tables, as_of)
    messages = _message_features(tables, as_of)
    tickets, reviews = _support_features(tables, as_of)
    consents = _consent_features(tables, as_of)
    lines = _line_features(tables, as_of, categories)

    t = base
    for part in (orders, events, messages, tickets, reviews, consents, lines):
        if part is None:
            continue
        t = _left(t, part)

    as_of_date = ibis.date(as_of)
    zero = ibis.literal(0, "int64")

    def count(col: str) -> ir.IntegerValue:
        return t[col].coalesce(zero).cast("int64")

    active = t._any_order.notnull() | t.sessions.notnull() | t.email_sends.notnull() \
        | t.tickets.notnull() | t.reviews.notnull()
    t = t.filter((t.created_at < _ts(as_of)) | active)

    created_date = t.created_at.cast("date")
    since = ibis.cases(
        (created_date.isnull(), t.first_order_date),
        (t.first_order_date.isnull(), created_date),
        (created_date < t.first_order_date, created_date),
        else_=t.first_order_date,
    )
    revenue = t.revenue.coalesce(0).cast(MONEY)
    orders_n = count("orders")

    cols: dict[str, ir.Value] = {
        "customer_id": t.customer_id,
        "as_of": as_of_date,
        "acquisition_channel": t.acquisition_channel,
        "region": t.region,
        "country": t.country,
        "city": t.city,
        "created_date": created_date,
        "first_order_date": t.first_order_date,
        "last_order_date": t.last_order_date,
        "orders": orders_n,
        "returns": count("returns"),
        "revenue": revenue,
        "aov": _ratio(revenue, orders_n, 2),
        "mean_days_between_orders": _ratio(_days(t.last_order_date, t.first_order_date), orders_n - 1, 2),
        "last_gap_days": _days(t.last_order_date, t._prev_order_date),
        "tenure_days": _days(as_of_date, since),
        "days_since_last_order": _days(as_of_date, t.last_order_date),
        "discount_share": _ratio(t.discount_total, t.purchase_total + t.discount_total),
        "discounted_order_share": _ratio(t.discounted_orders, orders_n),
    }
    for slug in groups:
        cols[f"category_share_{slug}"] = _ratio(t[f"_cat_{slug}"].coalesce(0), t._line_value)
    cols.update(
        sessions=count("sessions"),
        product_views=count("product_views"),
        cart_adds=count("cart_adds"),
        cart_abandonments=count("cart_abandonments"),
        checkout_step_max=count("checkout_step_max"),
        abandoned_checkout_step=count("abandoned_checkout_step"),
        searches=count("searches"),
    )
    for kind in ("sends", "opens", "clicks", "unsubscribes"):
        cols[f"email_{kind}"] = count(f"email_{kind}")
        cols[f"email_{kind}_90d"] = count(f"email_{kind}_90d")
    cols.update(
        tickets=count("tickets"),
        mean_csat=t.mean_csat.cast("float64"),
        reviews=count("reviews"),
        mean_rating=t.mean_rating.cast("float64"),
        accepts_email=(t._consent_email == 1).coalesce(t.accepts_email).coalesce(False),
        accepts_sms=(t._consent_sms == 1).coalesce(t.accepts_sms).coalesce(False),
        accepts_personalization=(t._consent_personalization == 1)
        .coalesce(t.accepts_personalization).coalesce(True),
    )
    return t.select(**cols)


def mart_columns(categories: Sequence[str] = ()) -> list[str]:
    """The mart's column names for a shop with *categories* (no query is run).

    >>> [c for c in mart_columns(["Coffee"]) if c.startswith("category_share")]
    ['category_share_coffee']
    """
    schema_tables = {
        "customers": {"customer_id": "string", "created_at": "timestamp", "acquisition_channel": "string",
                      "region": "string", "country": "string", "city": "string", "accepts_email": "boolean",
                      "accepts_sms": "boolean", "accepts_personalization": "boolean"},
    }

    class _Unbound:
        def table(self, name):
            from regulars.data.schema import TABLES

            cols = {c.name: _ibis_type(c.type) for c in TABLES[name].columns}
            cols.update(schema_tables.get(name, {}))
            return ibis.table(cols, name=name)

    return list(customer_features(_Unbound(), as_of=dt.date(2000, 1, 1), categories=list(categories)).columns)


def _ibis_type(sql_type: str) -> str:
    s = sql_type.upper()
    if s.startswith("DECIMAL"):
        return "decimal(18, 2)"
    return {"VARCHAR": "string", "TIMESTAMP": "timestamp", "DATE": "date", "BOOLEAN": "boolean",
            "INTEGER": "int32", "BIGINT": "int64", "DOUBLE": "float64", "JSON": "json"}.get(s, "string")
