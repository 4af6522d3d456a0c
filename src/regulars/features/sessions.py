"""Sessions and paths from web/app events (Ibis expressions, built here and never executed).

A **visitor** is the customer when the event is attributed to one (anonymous events are
stitched to their customer at ingest), else the anonymous id, else the source session id,
else the event itself. A visitor's events are cut into **sessions** wherever more than
``gap_minutes`` (30 by default) pass without an event. The source's own ``session_id`` is
kept alongside (``source_session_id``); pass ``session="source"`` to the functions that
group by session to use it where present (scoped to the visitor, since sources such as GA4
number sessions per user; events without one fall back to the inactivity session).

Every event also gets a **page type** (home, category, product, search, cart, checkout,
purchase, content, account, other) from its ``event_type`` and, for page views, its URL;
a session's **path** is the sequence of page types with consecutive repeats collapsed.

Examples
--------
>>> import ibis
>>> page_type(ibis.literal("page_view"), ibis.literal("https://shop.example/products/mug?c=1")).execute()
'product'
>>> page_type(ibis.literal("begin_checkout"), ibis.literal(None, "string")).execute()
'checkout'
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from regulars.values import to_date

DEFAULT_GAP_MINUTES = 30
SESSION_CHOICES = ("inactivity", "source")
DIRECT = "(direct)"

#: Event types that name their page type directly.
EVENT_PAGE_TYPES = {
    "product_view": "product",
    "view_item": "product",
    "search": "search",
    "add_to_cart": "cart",
    "remove_from_cart": "cart",
    "view_cart": "cart",
    "begin_checkout": "checkout",
    "add_shipping_info": "checkout",
    "add_payment_info": "checkout",
    "purchase": "purchase",
    "wishlist_add": "product",
    "video_play": "content",
    "download": "content",
    "form_submit": "form",
    "login": "account",
    "sign_up": "account",
}

#: URL fragments (checked in order) for page views and other generic events.
URL_PAGE_TYPES = (
    ("/checkout", "checkout"),
    ("/cart", "cart"),
    ("/search", "search"),
    ("/products/", "product"),
    ("/product/", "product"),
    ("/p/", "product"),
    ("/collections", "category"),
    ("/category", "category"),
    ("/c/", "category"),
    ("/shop", "category"),
    ("/blog", "content"),
    ("/pages/", "content"),
    ("/account", "account"),
    ("/login", "account"),
)


def trim(value: ir.StringValue) -> ir.StringValue:
    """Strip surrounding whitespace the same way on every engine.

    ``StringValue.strip()`` compiles for Spark to ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``, and Spark
    SQL reads ``\\v`` and ``\\f`` as the letters v and f, so "facebook" would become
    "acebook"; a regular expression means the same thing on DuckDB and Spark.

    >>> import ibis
    >>> trim(ibis.literal("  facebook\\t")).execute()
    'facebook'
    """
    return value.re_replace(r"^\s+|\s+$", "")


def page_type(event_type: ir.StringValue, page_url: ir.StringValue) -> ir.StringValue:
    """Page type of an event (see :data:`EVENT_PAGE_TYPES`, :data:`URL_PAGE_TYPES`)."""
    et = event_type.lower()
    # the path part of the URL, without scheme, host and query string
    url = page_url.lower().re_replace(r"^[a-z]+://[^/]*", "").re_replace(r"[?#].*$", "")
    cases = [(et == k, v) for k, v in EVENT_PAGE_TYPES.items()]
    cases.append(((url == "") | (url == "/") | (url == "/index.html"), "home"))
    cases += [(url.contains(fragment), kind) for fragment, kind in URL_PAGE_TYPES]
    cases.append((url.isnull() & (et == "page_view"), "other"))
    return ibis.cases(*cases, else_="other")


def sessionize(tables, gap_minutes: float = DEFAULT_GAP_MINUTES, as_of=None) -> ir.Table:
    """Every event with its visitor and inactivity-based session.

    Returns the events columns plus ``visitor_id``, ``session_key`` (``visitor_id`` and a
    1-based session number), ``source_session_id``, ``event_number`` (0-based position in
    the session, ties by ``event_id``) and ``page_type``.
    """
    if gap_minutes <= 0:
        raise ValueError(f"gap_minutes must be positive, got {gap_minutes}")
    e = tables.table("events")
    if as_of is not None:
        e = e.filter(e.occurred_at.cast("date") < ibis.date(to_date(as_of)))
    visitor = ibis.coalesce(
        "c:" + e.customer_id, "a:" + e.anonymous_id, "s:" + e.session_id, "e:" + e.event_id
    )
    e = e.mutate(visitor_id=visitor, source_session_id=e.session_id)
    w = ibis.window(group_by=e.visitor_id, order_by=[e.occurred_at, e.event_id])
    previous = e.occurred_at.lag().over(w)
    gap = e.occurred_at.epoch_seconds() - previous.epoch_seconds()
    e = e.mutate(_new=(previous.isnull() | (gap > gap_minutes * 60)).cast("int64"))
    cumulative = ibis.window(group_by=e.visitor_id, order_by=[e.occurred_at, e.event_id], rows=(None, 0))
    e = e.mutate(_n=e._new.sum().over(cumulative))
    e = e.mutate(session_key=e.visitor_id + "#" + e._n.cast("string"), page_type=page_type(e.event_type, e.page_url))
    e = e.drop("_new", "_n")
    ws = ibis.window(group_by=e.session_key, order_by=[e.occurred_at, e.event_id])
    return e.mutate(event_number=ibis.row_number().over(ws))


def _session_column(e: ir.Table, session: str) -> ir.StringValue:
    if session not in SESSION_CHOICES:
        raise ValueError(f"session must be one of {', '.join(SESSION_CHOICES)}; got {session!r}")
    if session == "source":
        return ibis.coalesce(e.visitor_id + "#src:" + e.source_session_id, e.session_key)
    return e.session_key


def session_events(tables, gap_minutes: float = DEFAULT_GAP_MINUTES, session: str = "inactivity", as_of=None) -> ir.Table:
    """:func:`sessionize` with ``session`` set to the chosen session definition."""
    e = sessionize(tables, gap_minutes, as_of)
    return e.mutate(session=_session_column(e, session))


def sessions(tables, gap_minutes: float = DEFAULT_GAP_MINUTES, session: str = "inactivity", as_of=None) -> ir.Table:
    """One row per session.

    Columns: ``session, visitor_id, customer_id, started_at, ended_at, duration_seconds,
    events, product_views, traffic_source`` (of the session's first event that has one;
    :data:`DIRECT` when none), ``landing_page_type`` and ``has_purchase``.
    """
    e = session_events(tables, gap_minutes, session, as_of)
    if session == "inactivity":  # the session is the session key: its events are already numbered
        e = e.mutate(_pos=e.event_number)
    else:
        w = ibis.window(group_by=e.session, order_by=[e.occurred_at, e.event_id])
        e = e.mutate(_pos=ibis.row_number().over(w))
    src = e.filter(e.traffic_source.notnull() & (trim(e.traffic_source) != ""))
    ws = ibis.window(group_by=src.session, order_by=[src.occurred_at, src.event_id])
    src = src.mutate(_rn=ibis.row_number().over(ws))
    src = src.filter(src._rn == 0).select(_s=src.session, _source=trim(src.traffic_source).lower())
    agg = e.group_by("session").aggregate(
        visitor_id=e.visitor_id.min(),
        customer_id=e.customer_id.max(),
        started_at=e.occurred_at.min(),
        ended_at=e.occurred_at.max(),
        events=e.count(),
        product_views=(e.page_type == "product").cast("int64").sum(),
        landing_page_type=e.page_type.max(where=e._pos == 0),
        has_purchase=(e.event_type.lower() == "purchase").any(),
    )
    agg = agg.left_join(src, agg.session == src._s)
    return agg.select(
        "session",
        "visitor_id",
        "customer_id",
        "started_at",
        "ended_at",
        duration_seconds=agg.ended_at.epoch_seconds() - agg.started_at.epoch_seconds(),
        events=agg.events,
        product_views=agg.product_views,
        traffic_source=agg._source.coalesce(DIRECT),
        landing_page_type=agg.landing_page_type,
        has_purchase=agg.has_purchase,
    )


def paths(
    tables,
    max_steps: int = 5,
    gap_minutes: float = DEFAULT_GAP_MINUTES,
    session: str = "inactivity",
    as_of=None,
) -> ir.Table:
    """One row per session with its ``path``: up to *max_steps* page types joined by ' > '.

    Consecutive events of the same page type count once; a path longer than *max_steps*
    ends with ``' > …'``. Also returns ``steps`` (the full collapsed length) and
    ``has_purchase``.
    """
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    e = session_events(tables, gap_minutes, session, as_of)
    w = ibis.window(group_by=e.session, order_by=[e.occurred_at, e.event_id])
    e = e.mutate(_prev=e.page_type.lag().over(w))
    e = e.filter(e._prev.isnull() | (e._prev != e.page_type))
    w2 = ibis.window(group_by=e.session, order_by=[e.occurred_at, e.event_id])
    e = e.mutate(_step=ibis.row_number().over(w2))
    agg = e.group_by("session").aggregate(
        steps=e.count(),
        has_purchase=(e.event_type.lower() == "purchase").any(),
        **{f"_s{i}": e.page_type.max(where=e._step == i) for i in range(max_steps)},
    )
    path = agg._s0
    for i in range(1, max_steps):
        step = getattr(agg, f"_s{i}")
        path = step.isnull().ifelse(path, path + " > " + step)
    path = (agg.steps > max_steps).ifelse(path + " > …", path)
    return agg.select("session", path=path, steps=agg.steps, has_purchase=agg.has_purchase)


def top_paths(tables, n: int = 10, max_steps: int = 5, gap_minutes: float = DEFAULT_GAP_MINUTES,
              session: str = "inactivity", as_of=None) -> ir.Table:
    """The *n* most frequent session paths: ``path, sessions, share, conversion_rate``."""
    p = paths(tables, max_steps, gap_minutes, session, as_of)
    agg = p.group_by("path").aggregate(sessions=p.count(), purchases=p.has_purchase.cast("int64").sum())
    total = agg.sessions.sum().over(ibis.window())
    agg = agg.mutate(
        share=agg.sessions / total.nullif(0),
        conversion_rate=agg.purchases / agg.sessions.nullif(0),
    )
    return agg.order_by([ibis.desc("sessions"), "path"]).limit(n)
