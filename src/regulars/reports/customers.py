"""Customers: search and list them, and one customer's whole story (the 360 profile).

Both functions read the canonical tables (and derived ones when present:
segment memberships, predictions). With ``include_pii=False`` (viewers) the
profile is **allow-listed**: each section keeps only the fields in
:data:`VIEWER_FIELDS` (dates, amounts, types, product ids, …) and every other
field — names, e-mails, phones, postal codes, birth dates, identity values,
free text (search queries, page URLs, event properties, ticket, review and
survey text, discount codes, tags) — comes back as ``"***"``; the timeline is
rebuilt from the masked sections. A field added to a table later is masked
until someone decides it is safe to show, so no rendering can leak it.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.con.execute("INSERT INTO customers (customer_id, email, first_name) VALUES ('c1', 'ann@example.com', 'Ann')")
>>> _ = ws.con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES ('o1', 'c1', '2024-01-01', 10)")
>>> page = list_customers(ws, include_pii=False)
>>> page.total, page.items[0]["customer_id"], page.items[0]["email"], page.items[0]["orders"]
(1, 'c1', '***', 1)
>>> p = customer_profile(ws, "c1")
>>> p.customer["first_name"], p.summary["orders"], [o["order_id"] for o in p.sections["orders"]["items"]]
('Ann', 1, ['o1'])
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from dataclasses import dataclass, field

from regulars.data.identity import lookup_value, normalize_email
from regulars.data.schema import PII_COLUMNS

MASK = "***"
#: What a viewer sees of each profile section (every other field is masked).
VIEWER_FIELDS: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    "customer": ("customer_id", "created_at", "city", "region", "country", "acquisition_channel",
                 "accepts_email", "accepts_sms", "accepts_personalization", "consent_at"),
    "identities": ("kind", "source", "linked_at"),
    "consents": ("purpose", "is_granted", "recorded_at", "from_load"),
    "orders": ("order_id", "customer_id", "ordered_at", "status", "currency", "subtotal", "discount", "shipping",
               "tax", "total", "refunded", "channel", "location", "lines"),
    "lines": ("line_number", "product_id", "sku", "product_name", "category", "quantity", "unit_price", "discount"),
    "events": ("occurred_at", "event_type", "product_id", "customer_id"),
    "engagement": ("message_id", "campaign_id", "channel", "event_type", "occurred_at", "campaign", "customer_id"),
    "tickets": ("ticket_id", "customer_id", "opened_at", "closed_at", "channel", "csat"),
    "reviews": ("review_id", "customer_id", "product_id", "rating", "created_at"),
    "surveys": ("response_id", "customer_id", "survey", "score", "answered_at"),
}.items()}
#: Field names that hold personal data wherever they appear in a report.
PII_FIELDS = frozenset({c for cols in PII_COLUMNS.values() for c in cols} | {"name_display", "raw"})
#: Identity kinds whose stored value is a hash of personal data.
HASHED_KINDS = ("email", "phone")
SORTS = {
    "last_order": "last_order_at DESC NULLS LAST, customer_id",
    "revenue": "revenue DESC NULLS LAST, customer_id",
    "orders": "orders DESC, customer_id",
    "created": "created_at DESC NULLS LAST, customer_id",
    "id": "customer_id",
}


class CustomerNotFound(LookupError):
    """No customer with that id."""


def jsonable(value):
    """A value ready for JSON: dates as ISO text, decimals and numpy numbers as floats, NaN as None."""
    if value is None:
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return jsonable(value.item())
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def mask(record: dict, include_pii: bool) -> dict:
    """*record* with personal fields replaced by ``"***"`` unless *include_pii* (missing stays None)."""
    if include_pii:
        return record
    return {k: (MASK if k in PII_FIELDS and v is not None else v) for k, v in record.items()}


def _iso(v):
    return v.isoformat()


def _float(v):
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def _converter(type_name: str):
    """How to make a column of this DuckDB type JSON-ready (None: as is)."""
    t = type_name.upper()
    if t.startswith(("TIMESTAMP", "DATE", "TIME")):
        return _iso
    if t.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL")):
        return _float
    if t in ("VARCHAR", "BOOLEAN", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "JSON"):
        return None
    return jsonable


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    """Rows as JSON-ready dicts (only columns whose type needs it are converted)."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    convert = [(i, n, c) for i, (n, c) in enumerate((d[0], _converter(str(d[1]))) for d in cur.description) if c]
    out = []
    for row in cur.fetchall():
        d = dict(zip(names, row))
        for i, n, c in convert:
            v = row[i]
            if v is not None:
                d[n] = c(v)
        out.append(d)
    return out


def _has_table(ws, name: str) -> bool:
    return bool(ws.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
    ).fetchall()[0][0])


@dataclass
class Page:
    """One page of a longer list."""

    total: int
    limit: int
    offset: int
    items: list[dict]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"total": self.total, "limit": self.limit, "offset": self.offset, "items": self.items,
                "notes": self.notes}


# -- the list -----------------------------------------------------------------
def resolve_segment(ws, segment: str) -> str | None:
    """The segment id for *segment* (an id or a name), or None when unknown or no segments exist."""
    if not _has_table(ws, "segment_definitions"):
        return None
    rows = ws.con.execute(
        "SELECT segment_id FROM segment_definitions WHERE segment_id = ? OR lower(name) = lower(?) "
        "ORDER BY segment_id = ? DESC LIMIT 1", [segment, segment, segment]).fetchall()
    return rows[0][0] if rows else None


def segment_customer_sql(ws, segment: str) -> tuple[str, list] | None:
    """SQL selecting the customer ids currently in *segment*, or None when there is no such segment."""
    sid = resolve_segment(ws, segment)
    if sid is None:
        return None
    return "SELECT customer_id FROM segment_memberships WHERE segment_id = ?", [sid]


def list_customers(
    ws,
    q: str | None = None,
    *,
    segment: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "last_order",
    include_pii: bool = True,
) -> Page:
    """Customers with their order totals, searched and paginated.

    Parameters
    ----------
    q : text to find: a customer id (exact or part of it); with ``include_pii``
        also an e-mail (exact, or part of it) or a name.
    segment : only customers currently in this segment (id or name).
    sort : ``last_order`` (default), ``revenue``, ``orders``, ``created`` or ``id``.
    include_pii : False masks personal fields and searches customer ids only.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}; got {sort!r}")
    limit = max(1, min(int(limit), 100_000))
    offset = max(0, int(offset))
    where, params, notes = [], [], []
    if q and q.strip():
        text = q.strip()
        like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds = ["c.customer_id = ?", "lower(c.customer_id) LIKE ? ESCAPE '\\'"]
        params += [text, like]
        if include_pii:
            conds += [
                "c.email = ?", "c.email LIKE ? ESCAPE '\\'",
                "lower(concat_ws(' ', c.first_name, c.last_name)) LIKE ? ESCAPE '\\'",
                "c.customer_id IN (SELECT customer_id FROM identities WHERE kind = 'email' AND value = ?)",
            ]
            params += [normalize_email(text) or text.lower(), like, like, lookup_value(ws.con, "email", text)]
        elif "@" in text:
            notes.append("searching by e-mail needs the analyst role; searched customer ids only")
        where.append("(" + " OR ".join(conds) + ")")
    if segment:
        sub = segment_customer_sql(ws, segment)
        if sub is None:
            notes.append(f"no segment {segment!r} (segments appear after `regulars segments refresh`)")
            where.append("false")
        else:
            where.append(f"c.customer_id IN ({sub[0]})")
            params += sub[1]
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    total = ws.con.execute(f"SELECT count(*) FROM customers c {clause}", params).fetchall()[0][0]
    items = _rows(
        ws.con,
        f"""
        WITH page AS MATERIALIZED (
            SELECT c.customer_id, c.email, c.phone, c.first_name, c.last_name, c.city, c.country,
                   c.acquisition_channel, c.created_at, c.accepts_email, c.accepts_sms, c.accepts_personalization,
                   o.orders, o.revenue, o.first_order_at, o.last_order_at
            FROM customers c
            LEFT JOIN (SELECT customer_id, count(*) FILTER (WHERE total > 0) AS orders,
                              sum(total - coalesce(refunded, 0)) AS revenue,
                              min(ordered_at) AS first_order_at, max(ordered_at) AS last_order_at
                       FROM orders GROUP BY customer_id) o USING (customer_id)
            {clause}
        )
        SELECT * FROM page ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?
        """,
        params + [limit, offset],
    )
    for it in items:
        it["orders"] = int(it["orders"] or 0)
        it["revenue"] = round(it["revenue"] or 0.0, 2)
    return Page(total, limit, offset, [mask(it, include_pii) for it in items], notes)


# -- the 360 profile ----------------------------------------------------------
@dataclass
class CustomerProfile:
    """Everything known about one customer; a section is present only when it has data."""

    customer_id: str
    customer: dict
    summary: dict
    sections: dict[str, object]
    timeline: list[dict]
    pii_masked: bool

    def to_dict(self) -> dict:
        return {"customer_id": self.customer_id, "customer": self.customer, "summary": self.summary,
                **self.sections, "timeline": self.timeline, "pii_masked": self.pii_masked}


def customer_profile(
    ws, customer_id: str, *, include_pii: bool = True, orders_limit: int = 100, events_limit: int = 50,
    messages_limit: int = 20, timeline_limit: int = 60,
) -> CustomerProfile:
    """The 360 view of one customer (see :func:`customer_profiles` for the sections).

    Raises :class:`CustomerNotFound` for an unknown id.
    """
    found = customer_profiles(ws, [customer_id], include_pii=include_pii, orders_limit=orders_limit,
                              events_limit=events_limit, messages_limit=messages_limit, timeline_limit=timeline_limit)
    if customer_id not in found:
        raise CustomerNotFound(f"no customer {customer_id!r}")
    return found[customer_id]


def customer_profiles(
    ws, customer_ids: list[str], *, include_pii: bool = True, orders_limit: int = 100, events_limit: int = 50,
    messages_limit: int = 20, timeline_limit: int = 60,
) -> dict[str, CustomerProfile]:
    """360 profiles of several customers at once (one query per section, whatever their number).

    Sections: ``identities`` (links and why), ``consents`` (current and history),
    ``orders`` (latest, with their lines), ``events`` (latest web/app events and counts
    by type), ``engagement`` (e-mail/SMS counts, rates, latest messages), ``tickets``,
    ``reviews``, ``surveys``, ``segments`` (current memberships and entry/exit history)
    and ``predictions`` (latest scores with reasons). ``timeline`` merges orders,
    events, messages, tickets, reviews, surveys and consent changes, newest first.
    Unknown ids are left out of the result.
    """
    ids = sorted({str(c) for c in customer_ids})
    if not ids:
        return {}
    con = ws.con
    p = [ids]
    IN = "customer_id IN (SELECT unnest(?::VARCHAR[]))"

    def grouped(sql: str, params: list | None = None) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for r in _rows(con, sql, params if params is not None else p):
            out.setdefault(r.pop("customer_id"), []).append(r)
        return out

    customers = {r["customer_id"]: r for r in _rows(con, f"SELECT * EXCLUDE (_run_id) FROM customers WHERE {IN}", p)}
    if not customers:
        return {}
    idents = grouped(f"SELECT customer_id, kind, value, source, reason, linked_at FROM identities WHERE {IN} "
                     "ORDER BY customer_id, linked_at, kind")
    consents = grouped(f"SELECT customer_id, purpose, is_granted, recorded_at, source, coalesce(from_load, false) "
                       f"AS from_load FROM consents WHERE {IN} "
                       "ORDER BY customer_id, recorded_at DESC")
    summaries = {r.pop("customer_id"): r for r in _rows(con, f"""
        SELECT customer_id, count(*) FILTER (WHERE total > 0) AS orders, count(*) FILTER (WHERE total < 0) AS returns,
               coalesce(sum(total - coalesce(refunded, 0)), 0) AS revenue, avg(total) FILTER (WHERE total > 0) AS aov,
               min(ordered_at) AS first_order_at, max(ordered_at) AS last_order_at
        FROM orders WHERE {IN} GROUP BY customer_id""", p)}
    orders = grouped(f"""
        SELECT * EXCLUDE (_run_id) FROM orders WHERE {IN}
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at DESC, order_id) <= ?
        ORDER BY customer_id, ordered_at DESC, order_id""", [ids, orders_limit])
    lines: dict[str, list[dict]] = {}
    if orders:
        for r in _rows(con, f"""
                SELECT l.* EXCLUDE (_run_id) FROM order_lines l
                WHERE l.order_id IN (SELECT order_id FROM orders WHERE {IN}) ORDER BY l.order_id, l.line_number""", p):
            lines.setdefault(r.pop("order_id"), []).append(r)
    events = grouped(f"""
        SELECT * EXCLUDE (_run_id, properties), properties::VARCHAR AS properties FROM events WHERE {IN}
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY occurred_at DESC, event_id) <= ?
        ORDER BY customer_id, occurred_at DESC, event_id""", [ids, events_limit])
    event_counts: dict[str, dict] = {}
    for cid, et, n in con.execute(f"SELECT customer_id, event_type, count(*) FROM events WHERE {IN} GROUP BY ALL "
                                  "ORDER BY customer_id, 3 DESC, 2", p).fetchall():
        event_counts.setdefault(cid, {})[et] = n
    messages = grouped(f"""
        SELECT m.* EXCLUDE (_run_id), c.name AS campaign FROM messages m LEFT JOIN campaigns c USING (campaign_id)
        WHERE m.{IN}
        QUALIFY row_number() OVER (PARTITION BY m.customer_id ORDER BY m.occurred_at DESC, m.message_id) <= ?
        ORDER BY m.customer_id, m.occurred_at DESC, m.message_id""", [ids, messages_limit])
    message_stats: dict[str, dict] = {}
    for cid, et, n, last in con.execute(f"SELECT customer_id, event_type, count(*), max(occurred_at) FROM messages "
                                         f"WHERE {IN} GROUP BY ALL ORDER BY customer_id, 3 DESC, 2", p).fetchall():
        st = message_stats.setdefault(cid, {"by_type": {}, "last": {}})
        st["by_type"][et] = n
        st["last"][et] = jsonable(last)
    texts = {
        name: grouped(f"SELECT * EXCLUDE (_run_id) FROM {name} WHERE {IN} ORDER BY customer_id, {order} DESC")
        for name, order in (("tickets", "opened_at"), ("reviews", "created_at"), ("surveys", "answered_at"))
    }
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
    ).fetchall()}
    seg_current, seg_history = _segment_rows(con, present, ids)
    predictions = _prediction_rows(con, present, ids)

    out: dict[str, CustomerProfile] = {}
    for cid, row in customers.items():
        sections: dict[str, object] = {}
        if idents.get(cid):
            sections["identities"] = idents[cid]
        current = {k: row.get(f"accepts_{k}") for k in ("email", "sms", "personalization")}
        if consents.get(cid) or any(v is not None for v in current.values()):
            sections["consents"] = {"current": current, "history": consents.get(cid, [])}
        summary = summaries.get(cid) or {"orders": 0, "returns": 0, "revenue": 0.0, "aov": None,
                                         "first_order_at": None, "last_order_at": None}
        summary["revenue"] = round(summary["revenue"] or 0.0, 2)
        summary["aov"] = round(summary["aov"], 2) if summary["aov"] is not None else None
        if orders.get(cid):
            for o in orders[cid]:
                o["lines"] = lines.get(o["order_id"], [])
            sections["orders"] = {"total": summary["orders"] + summary["returns"], "shown": len(orders[cid]),
                                  "items": orders[cid]}
        if events.get(cid):
            for e in events[cid]:
                e["properties"] = json.loads(e["properties"]) if e["properties"] else None
            counts = event_counts.get(cid, {})
            sections["events"] = {"total": sum(counts.values()), "by_type": counts, "shown": len(events[cid]),
                                  "items": events[cid]}
        if cid in message_stats:
            st = message_stats[cid]
            counts = st["by_type"]
            sent = counts.get("sent", 0) or counts.get("delivered", 0)
            sections["engagement"] = {
                "by_type": counts,
                "open_rate": round(counts.get("opened", 0) / sent, 3) if sent else None,
                "click_rate": round(counts.get("clicked", 0) / sent, 3) if sent else None,
                "last_opened_at": st["last"].get("opened"),
                "items": messages.get(cid, []),
            }
        for name, rows in texts.items():
            if rows.get(cid):
                sections[name] = rows[cid]
        if seg_current.get(cid) or seg_history.get(cid):
            sections["segments"] = {"current": seg_current.get(cid, []), "history": seg_history.get(cid, [])}
        if cid in predictions:
            sections["predictions"] = predictions[cid]
        timeline = _timeline(sections, timeline_limit)
        profile = CustomerProfile(cid, row, summary, sections, timeline, False)
        out[cid] = mask_profile(profile) if not include_pii else profile
    return out


def allow(record: dict, fields: frozenset[str]) -> dict:
    """*record* with every field outside *fields* masked (missing values stay None)."""
    return {k: (v if k in fields or v is None else MASK) for k, v in record.items()}


def mask_profile(profile: CustomerProfile) -> CustomerProfile:
    """The same profile as a viewer may see it: each section allow-listed, the timeline rebuilt from them."""
    s = dict(profile.sections)
    if "identities" in s:
        s["identities"] = [{**allow(i, VIEWER_FIELDS["identities"]),
                            "value": i["value"] if i.get("kind") == "shop_id" else MASK} for i in s["identities"]]
    if "consents" in s:
        s["consents"] = {**s["consents"], "history": [allow(c, VIEWER_FIELDS["consents"])
                                                      for c in s["consents"].get("history", [])]}
    if "orders" in s:
        items = [{**allow(o, VIEWER_FIELDS["orders"]),
                  "lines": [allow(ln, VIEWER_FIELDS["lines"]) for ln in o.get("lines", [])]}
                 for o in s["orders"]["items"]]
        s["orders"] = {**s["orders"], "items": items}
    if "events" in s:
        s["events"] = {**s["events"], "items": [allow(e, VIEWER_FIELDS["events"]) for e in s["events"]["items"]]}
    if "engagement" in s:
        s["engagement"] = {**s["engagement"], "items": [allow(m, VIEWER_FIELDS["engagement"])
                                                        for m in s["engagement"].get("items", [])]}
    for name in ("tickets", "reviews", "surveys"):
        if name in s:
            s[name] = [allow(r, VIEWER_FIELDS[name]) for r in s[name]]
    timeline = _timeline(s, len(profile.timeline)) if profile.timeline else []
    return CustomerProfile(profile.customer_id, allow(profile.customer, VIEWER_FIELDS["customer"]), profile.summary,
                           s, timeline, True)


def mask_profile_dict(doc: dict) -> dict:
    """:func:`mask_profile` on a profile's ``to_dict()`` form."""
    sections = {k: v for k, v in doc.items() if k not in ("customer_id", "customer", "summary", "timeline", "pii_masked")}
    masked = mask_profile(CustomerProfile(doc["customer_id"], doc["customer"], doc["summary"], sections,
                                          doc["timeline"], bool(doc.get("pii_masked"))))
    return masked.to_dict()


def _segment_rows(con, present: set[str], ids: list[str]) -> tuple[dict, dict]:
    current: dict[str, list] = {}
    history: dict[str, list] = {}
    if not {"segment_memberships", "segment_definitions", "segment_refreshes", "segment_history"} <= present:
        return current, history
    for r in _rows(con, """
            SELECT m.customer_id, m.segment_id, coalesce(d.name, m.segment_id) AS name, d.kind, d.description,
                   m.version, m.since_as_of, m.since_as_of AS since, r.refreshed_at AS since_refreshed_at
            FROM segment_memberships m LEFT JOIN segment_definitions d USING (segment_id)
            LEFT JOIN segment_refreshes r ON r.refresh_id = m.since_refresh
            WHERE m.customer_id IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY m.customer_id, d.kind = 'rule' DESC, m.segment_id""", [ids]):
        cid = r.pop("customer_id")
        r["family"] = r["segment_id"].split(":", 1)[0] if ":" in r["segment_id"] else "rule"
        current.setdefault(cid, []).append(r)
    for r in _rows(con, """
            SELECT h.customer_id, h.segment_id, coalesce(d.name, h.segment_id) AS name, h.change, h.as_of,
                   r.refreshed_at, h.refresh_id, r.engine
            FROM segment_history h LEFT JOIN segment_definitions d USING (segment_id)
            LEFT JOIN segment_refreshes r USING (refresh_id)
            WHERE h.customer_id IN (SELECT unnest(?::VARCHAR[]))
            QUALIFY row_number() OVER (PARTITION BY h.customer_id ORDER BY h.refresh_id DESC, h.change, h.segment_id) <= 200
            ORDER BY h.customer_id, h.refresh_id DESC, h.change, h.segment_id""", [ids]):
        history.setdefault(r.pop("customer_id"), []).append(r)
    return current, history


def _prediction_rows(con, present: set[str], ids: list[str]) -> dict[str, dict]:
    if "customer_predictions" not in present:
        return {}
    out = {}
    for row in _rows(con, """
            SELECT * FROM customer_predictions WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))
            QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY as_of DESC, created_at DESC) = 1""", [ids]):
        for col in ("churn_reasons", "propensity_reasons", "model_versions"):
            if isinstance(row.get(col), str):
                try:
                    row[col] = json.loads(row[col])
                except ValueError:
                    pass
        out[row.pop("customer_id")] = row
    return out


def _timeline(sections: dict, limit: int) -> list[dict]:
    items: list[dict] = []
    for o in (sections.get("orders") or {}).get("items", []):
        what = "return" if (o.get("total") or 0) < 0 else "order"
        n = sum(int(line.get("quantity") or 0) for line in o.get("lines", []))
        items.append({"at": o["ordered_at"], "kind": what, "id": o["order_id"],
                      "text": f"{what} {o['order_id']}: {o.get('total')} {o.get('currency') or ''}".strip()
                      + (f", {n} item(s)" if n else "") + (f" via {o['channel']}" if o.get("channel") else "")})
    for e in (sections.get("events") or {}).get("items", []):
        detail = e.get("product_id") or e.get("search_query") or e.get("page_url") or ""
        items.append({"at": e["occurred_at"], "kind": "event", "id": e["event_id"],
                      "text": f"{e['event_type']}" + (f": {detail}" if detail else "")})
    for m in (sections.get("engagement") or {}).get("items", []):
        items.append({"at": m["occurred_at"], "kind": "message", "id": m["message_id"],
                      "text": f"{m.get('channel') or 'message'} {m['event_type']}"
                      + (f" ({m['campaign']})" if m.get("campaign") else "")})
    for t in sections.get("tickets", []):
        items.append({"at": t["opened_at"], "kind": "ticket", "id": t["ticket_id"],
                      "text": f"support ticket: {t.get('topic') or 'no topic'}"
                      + (f", CSAT {t['csat']}" if t.get("csat") is not None else "")})
    for r in sections.get("reviews", []):
        items.append({"at": r["created_at"], "kind": "review", "id": r["review_id"],
                      "text": f"review of {r.get('product_id') or 'a product'}: {r['rating']}/5"})
    for s in sections.get("surveys", []):
        items.append({"at": s["answered_at"], "kind": "survey", "id": s["response_id"],
                      "text": f"{s['survey']} survey: {s['score']}"})
    for c in (sections.get("consents") or {}).get("history", []):
        items.append({"at": c["recorded_at"], "kind": "consent", "id": None,
                      "text": f"{c['purpose']} consent {'granted' if c['is_granted'] else 'withdrawn'}"
                              + (" (when is unknown: recorded when the file was loaded)" if c.get("from_load") else "")})
    for h in (sections.get("segments") or {}).get("history", [])[:50]:
        items.append({"at": h.get("as_of") or h.get("refreshed_at"), "kind": "segment", "id": h["segment_id"],
                      "text": f"{h['change']} segment {h['name']}"})
    items.sort(key=lambda i: i["at"] or "", reverse=True)
    return items[:limit]
