"""The customer page: one customer's whole story (the same 360 profile as ``GET /api/customers/{id}``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from regulars.reports import customers as report
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, check_csrf, require_page
from regulars.web.html import HTML, el, join, money, num, pct, table, tile, void, when
from regulars.web.layout import csrf_field, page

router = APIRouter(include_in_schema=False)


def _yes(v) -> str:
    return "–" if v is None else ("yes" if v else "no")


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, customer_id: str, principal: Principal = Depends(require_page("viewer")),
                  ws=Depends(read_view)):
    try:
        p = request.app.state.profiles.get(ws, customer_id, principal.sees_pii)
    except report.CustomerNotFound:
        raise ApiError(404, f"no customer {customer_id!r}") from None
    accuracy: dict[str, list[str]] = {}
    if p.get("predictions"):
        try:
            from regulars.server import views

            models = views.backtests(request, ws).get("models") or {}
            accuracy = {m: info.get("sentences") or [] for m, info in models.items()}
        except ApiError:
            pass
    from regulars.reports.recommend import customer_recommendations

    offers = customer_recommendations(ws, customer_id, k=5).to_dict()
    return page(request, f"Customer {customer_id}", render(p, principal, accuracy, offers), principal=principal)


def render(p: dict, principal: Principal, accuracy: dict[str, list[str]] | None = None,
           offers: dict | None = None) -> HTML:
    c, s = p["customer"], p["summary"]
    name = " ".join(x for x in (c.get("first_name"), c.get("last_name")) if x) or p["customer_id"]
    parts: list = [el("p", el("a", "← Customers", href="/customers")),
                   el("h1", name, " ", el("span", p["customer_id"], class_="badge"))]
    facts = [("E-mail", c.get("email")), ("Phone", c.get("phone")), ("Place", ", ".join(
        x for x in (c.get("city"), c.get("region"), c.get("country")) if x) or None),
        ("Customer since", when(c.get("created_at"))), ("Acquired via", c.get("acquisition_channel")),
        ("Tags", c.get("tags"))]
    parts.append(el("dl", *[join([el("dt", k), el("dd", v if v not in (None, "") else "–")]) for k, v in facts],
                    class_="facts card"))
    pred = p.get("predictions") or {}
    tiles = [tile("Orders", num(s.get("orders"))), tile("Net revenue", money(s.get("revenue"))),
             tile("Average order", money(s.get("aov"))), tile("Last order", when(s.get("last_order_at"))[:10])]
    if pred:
        tiles += [tile("Churn risk", pct(pred.get("churn_risk"), 0), pred.get("churn_band") or ""),
                  tile("Predicted CLV", money(pred.get("clv"))),
                  tile("Orders again within a year" if pred.get("horizon_days") == 365 else
                       f"Orders again within {pred.get('horizon_days') or '–'} days", pct(pred.get("p_alive"), 0))]
    parts.append(el("div", *tiles, class_="tiles"))

    side: list = []
    if p.get("segments"):
        side.append(_segments(p["segments"]))
    if pred:
        side.append(_predictions(pred, accuracy or {}))
    if offers is not None:
        from regulars.web.recommend import offer_section

        side.append(offer_section(offers))
    if p.get("consents"):
        cur = p["consents"]["current"]
        side.append(el("section", el("h2", "Consent"),
                       el("dl", *[join([el("dt", k), el("dd", _yes(cur.get(k)))]) for k in ("email", "sms", "personalization")],
                          class_="facts"),
                       table(p["consents"]["history"], [("recorded_at", "When", _consent_when),
                                                         ("purpose", "Purpose"), ("is_granted", "Granted", lambda r: _yes(r["is_granted"])),
                                                         ("source", "Source")], caption="History"), class_="card"))
    if p.get("engagement"):
        e = p["engagement"]
        side.append(el("section", el("h2", "E-mail and SMS"),
                       el("p", f"Open rate {pct(e.get('open_rate'), 0)}, click rate {pct(e.get('click_rate'), 0)}; "
                               f"last opened {when(e.get('last_opened_at'))}."),
                       el("p", ", ".join(f"{n} {k}" for k, n in e["by_type"].items()), class_="muted"), class_="card"))
    timeline = el("section", el("h2", "Timeline"), _timeline(p["timeline"]), class_="card", id="timeline")
    parts.append(el("div", timeline, el("div", *side), class_="grid2") if side else timeline)

    if p.get("orders"):
        o = p["orders"]
        rows = []
        for order in o["items"]:
            lines = ", ".join(f"{ln.get('quantity')}× {ln.get('product_name') or ln.get('product_id') or ln.get('sku') or '?'}"
                              for ln in order.get("lines", []))
            rows.append({**order, "items": lines or "–"})
        parts.append(el("section", el("h2", f"Orders ({o['total']:,})"), table(rows, [
            ("order_id", "Order"), ("ordered_at", "When", lambda r: when(r["ordered_at"])), ("status", "Status"),
            ("total", "Total", lambda r: money(r.get("total")), "num"), ("refunded", "Refunded", lambda r: money(r.get("refunded")), "num"),
            ("channel", "Channel"), ("items", "Items")], caption=f"showing {o['shown']:,}"), class_="card"))
    if p.get("events"):
        ev = p["events"]
        parts.append(el("section", el("h2", f"Web and app events ({ev['total']:,})"),
                        el("p", ", ".join(f"{n:,} {k}" for k, n in ev["by_type"].items()), class_="muted"),
                        el("details", el("summary", f"Latest {ev['shown']} events"), table(ev["items"], [
                            ("occurred_at", "When", lambda r: when(r["occurred_at"])), ("event_type", "Event"),
                            ("product_id", "Product"), ("page_url", "Page"), ("traffic_source", "Source")])),
                        class_="card", id="events"))
    for key, title, cols in (
        ("tickets", "Support tickets", [("opened_at", "Opened", lambda r: when(r["opened_at"])), ("topic", "Topic"),
                                        ("channel", "Channel"), ("csat", "CSAT"), ("body", "Text")]),
        ("reviews", "Reviews", [("created_at", "When", lambda r: when(r["created_at"])), ("product_id", "Product"),
                                ("rating", "Rating"), ("body", "Text")]),
        ("surveys", "Surveys", [("answered_at", "When", lambda r: when(r["answered_at"])), ("survey", "Survey"),
                                ("score", "Score"), ("comment", "Comment")]),
    ):
        if p.get(key):
            parts.append(el("section", el("h2", title), table(p[key], cols), class_="card"))
    if p.get("identities"):
        parts.append(el("section", el("h2", "Identity links"), table(p["identities"], [
            ("kind", "Identifier", lambda r: IDENTIFIERS.get(r["kind"], r["kind"])),
            ("value", "Value", _identity_value), ("reason", "Why linked"),
            ("linked_at", "When", lambda r: when(r["linked_at"]))]), class_="card", id="identities"))
    if p["pii_masked"]:
        parts.append(el("p", "Personal data is hidden for the viewer role.", class_="muted"))
    if principal.can("admin"):
        parts.append(_admin(p["customer_id"], principal))
    return join(parts)


def _timeline(items: list[dict]) -> HTML:
    if not items:
        return el("p", "No activity yet.", class_="muted")
    return el("ul", *[el("li", el("time", when(i["at"]), datetime=i["at"] or ""), el("span", i["kind"], class_="kind"),
                         el("span", i["text"])) for i in items], class_="timeline", aria_label="activity, newest first")


IDENTIFIERS = {"shop_id": "Shop's customer id", "email": "E-mail address", "phone": "Phone number",
               "anonymous_id": "Website or app visitor"}


def _identity_value(r: dict) -> str:
    """What a shop owner can read of an identifier: e-mails and phones are kept only as a keyed fingerprint."""
    if r.get("kind") in ("email", "phone") and r.get("value") != "***":
        return "kept as a fingerprint only (matches the same address when it comes again)"
    if r.get("kind") == "anonymous_id" and r.get("value") not in (None, "***"):
        return f"visitor {str(r['value'])[:8]}…"
    return r.get("value") or "–"


def _segments(seg: dict) -> HTML:
    current = seg.get("current") or seg.get("memberships") or []
    history = seg.get("history") or []
    cur_rows = [{"segment": m.get("segment_name") or m.get("name") or m.get("segment") or m.get("segment_id"),
                 "family": m.get("family") or m.get("kind") or m.get("segmentation") or "",
                 # the data's date of the refresh it entered at, not the clock time the refresh ran
                 "since": m.get("entered_at") or m.get("since_as_of") or m.get("since")} for m in current]
    hist_rows = [{"segment": h.get("segment_name") or h.get("name") or h.get("segment") or h.get("segment_id"),
                  "change": h.get("change") or h.get("action") or ("entered" if h.get("entered_at") and not h.get("exited_at") else "left"),
                  "at": h.get("as_of") or h.get("refreshed_at") or h.get("changed_at") or h.get("exited_at") or h.get("entered_at")}
                 for h in history]
    return el("section", el("h2", "Segments"),
              table(cur_rows, [("segment", "Segment"), ("family", "Kind"), ("since", "Since", lambda r: str(r["since"] or "–")[:10])],
                    caption="Now", empty="In no segment."),
              el("details", el("summary", f"History ({len(hist_rows)})"),
                 table(hist_rows, [("at", "When", lambda r: str(r["at"] or "–")[:10]), ("segment", "Segment"),
                                   ("change", "Change")]))
              if hist_rows else "", class_="card", id="segments")


def _predictions(pred: dict, accuracy: dict[str, list[str]]) -> HTML:
    reasons = pred.get("churn_reasons") or []
    if isinstance(reasons, str):
        reasons = [reasons]
    prop = pred.get("propensity_reasons") or []
    if isinstance(prop, str):
        prop = [prop]
    rows = [("Churn risk", f"{pct(pred.get('churn_risk'), 0)} ({pred.get('churn_band') or '–'})"),
            ("Expected orders", f"{num(pred.get('expected_orders'), 1)} in {pred.get('horizon_days') or '–'} days "
                                f"({num(pred.get('expected_orders_lower'), 1)}–{num(pred.get('expected_orders_upper'), 1)})"),
            ("Expected spend", money(pred.get("expected_spend"))),
            ("Next order around", f"{str(pred.get('next_order_date') or '–')[:10]}"),
            ("Buys within 30 days", pct(pred.get("propensity_30d"), 0)),
            ("As of", str(pred.get("as_of") or "–")[:10])]
    return el("section", el("h2", "Predictions"),
              el("dl", *[join([el("dt", k), el("dd", v)]) for k, v in rows], class_="facts"),
              el("h3", "Why this churn risk") if reasons else "", el("ul", *[el("li", r) for r in reasons]) if reasons else "",
              el("h3", "Why this purchase chance") if prop else "", el("ul", *[el("li", r) for r in prop]) if prop else "",
              el("details", el("summary", "How accurate have these been?"),
                 el("ul", *[el("li", s) for s in (accuracy.get("churn") or [])[:2] + (accuracy.get("clv") or [])[:1]]))
              if accuracy.get("churn") or accuracy.get("clv") else
              el("p", "Not backtested yet: see the Predictions page.", class_="muted"),
              class_="card", id="predictions")


def _admin(customer_id: str, principal: Principal) -> HTML:
    return el("section", el("h2", "Privacy requests"),
              el("p", el("a", "Export everything held about this customer (JSON)",
                         href=f"/api/customers/{quote(customer_id, safe='')}/export")),
              el("form", csrf_field(principal),
                 el("label", void("input", type="checkbox", name="confirm", value="yes", required=True),
                    " I understand this deletes the customer from every table and cannot be undone"),
                 el("button", "Erase this customer", type="submit", class_="danger"),
                 method="post", action=f"/customers/{quote(customer_id, safe='')}/erase",
                 data_confirm=f"Erase customer {customer_id} and everything about them?"),
              class_="card")


@router.post("/customers/{customer_id}/erase", response_class=HTMLResponse)
def erase_page(request: Request, customer_id: str, principal: Principal = Depends(require_page("admin")),
               csrf_token: str = Form("", max_length=200), confirm: str = Form("", max_length=10)):
    from regulars.server.actions import erase

    check_csrf(principal, csrf_token)
    if confirm != "yes":
        raise ApiError(422, "tick the confirmation box to erase a customer")
    record = erase(request, principal, customer_id)
    total = sum(record["rows_deleted"].values())
    body = join([el("h1", "Customer erased"),
                 el("div", f"Deleted {total:,} rows about customer {customer_id} from "
                           f"{len(record['rows_deleted'])} tables. Audit record {record['erasure_id']} "
                           "(it holds no personal data).", class_="ok", role="status"),
                 el("p", el("a", "Back to customers", href="/customers"))])
    return page(request, "Customer erased", body, principal=principal)


def _consent_when(row: dict) -> str:
    """When the customer decided, or, when the file gave no date, that it is unknown and when it was loaded."""
    if row.get("from_load"):
        return f"unknown (recorded on load {when(row['recorded_at'])})"
    return when(row["recorded_at"])
