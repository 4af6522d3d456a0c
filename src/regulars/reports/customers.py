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
>>> _ = ws.insert_rows("customers", [{"customer_id": "c1", "email": "ann@example.com", "first_name": "Ann"}])
>>> _ = ws.insert_rows("orders", [{"order_id": "o1", "customer_id": "c1", "ordered_at": "2024-01-01", "total": 10}])
>>> page = list_customers(ws, include_pii=False)
>>> page.total, page.items[0]["customer_id"], page.items[0]["email"], page.items[0]["orders"]
(1, 'c1', '***', 1)
>>> p = customer_profile(ws, "c1")
>>> p.customer["first_name"], p.summary["orders"], [o["order_id"] for o in p.sections["orders"]["items"]]
('Ann', 1, ['o1'])
>>> ws.close()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from regulars.data import customer_queries, segment_store
from regulars.data.rows import jsonable
from regulars.data.schema import PII_COLUMNS
from regulars.values import round_money

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
SORTS = customer_queries.SORTS


class CustomerNotFound(LookupError):
    """No customer with that id."""


def mask(record: dict, include_pii: bool) -> dict:
    """*record* with personal fields replaced by ``"***"`` unless *include_pii* (missing stays None)."""
    if include_pii:
        return record
    return {k: (MASK if k in PII_FIELDS and v is not None else v) for k, v in record.items()}


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
    return segment_store.resolve_segment(ws, segment)


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
    notes: list[str] = []
    text = q.strip() if q and q.strip() else None
    if text and not include_pii and "@" in text:
        notes.append("searching by e-mail needs the analyst role; searched customer ids only")
    member_of = None
    if segment:
        member_of = resolve_segment(ws, segment)
        if member_of is None:
            notes.append(f"no segment {segment!r} (segments appear after `regulars segments refresh`)")
            return Page(0, limit, offset, [], notes)
    total, items = customer_queries.search(ws, text=text, personal=include_pii, member_of=member_of, sort=sort,
                                           limit=limit, offset=offset)
    for it in items:
        it["orders"] = int(it["orders"] or 0)
        it["revenue"] = round_money(it["revenue"] or 0.0)
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
    rows = customer_queries.profile_rows(ws, ids, orders_limit=orders_limit, events_limit=events_limit,
                                         messages_limit=messages_limit)
    if rows is None:
        return {}
    customers, idents, consents, summaries = rows["customers"], rows["identities"], rows["consents"], rows["summaries"]
    orders, lines, events, event_counts = rows["orders"], rows["lines"], rows["events"], rows["event_counts"]
    messages, message_stats, predictions = rows["messages"], rows["message_stats"], rows["predictions"]
    texts = {name: rows[name] for name in ("tickets", "reviews", "surveys")}
    seg_current, seg_history = rows["segments_current"], rows["segments_history"]

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
        summary["revenue"] = round_money(summary["revenue"] or 0.0)
        summary["aov"] = round_money(summary["aov"])
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
