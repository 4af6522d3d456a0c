"""Dashboard pages for recommendations: Products (bought together, with lift) and Actions (next best
actions per action, with export), plus the "What to offer" section of the customer page.

Each renders what its JSON route returns (:mod:`regulars.reports.recommend`).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.reports import recommend as report
from regulars.server.read import read_view
from regulars.server.security import Principal, require_page
from regulars.web.html import HTML, chart, el, join, money, num, pager, pct, table, void
from regulars.web.layout import page

router = APIRouter(include_in_schema=False)

SOURCES = {"replenishment": "due again", "usual_order": "usual order", "item_knn": "others also bought",
           "together": "bought together", "content": "similar", "popularity": "best-seller"}


def offer_section(recs: dict | None) -> HTML:
    """The customer page's "What to offer": each product with its reason."""
    if recs is None:
        return HTML("")
    rows = [{**i, "why": i.get("reason"), "kind": SOURCES.get(i.get("source"), i.get("source") or "")}
            for i in recs.get("items", [])]
    body = table(rows, [("rank", "#", None, "num"), ("product_name", "Product", lambda r: r.get("product_name") or r["product_id"]),
                        ("why", "Why"), ("kind", "From")],
                 caption=f"as of {recs.get('as_of') or '–'}", empty="Nothing to recommend yet.", label="what to offer")
    notes = [el("p", n, class_="note") for n in recs.get("notes", [])]
    return el("section", el("h2", "What to offer"), *notes, body, class_="card", id="offers")


def _product_link(pid: str, name: str | None) -> HTML:
    return el("a", name or pid, href="/products?" + urlencode({"product": pid}))


@router.get("/products", response_class=HTMLResponse)
def products_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                  product: str | None = Query(None, max_length=200)):
    overview = report.products_overview(ws, limit=30)
    parts = [el("h1", "Products"),
             el("p", "Which products sell together (association rules from the orders) and what regulars recommends "
                     "most. Lift above 1 means two products are bought together more often than by chance.",
                class_="lead"),
             *[el("p", n, class_="note") for n in overview["notes"]],
             el("form", el("div", el("label", "Product id", for_="product"),
                           void("input", type="search", id="product", name="product", value=product or "",
                                placeholder="e.g. P1060")),
                el("div", el("button", "Show bought together", type="submit")), method="get", action="/products",
                class_="inline", role="search")]
    if product:
        try:
            one = report.bought_together(ws, product, k=15).to_dict()
            parts.append(el("section", el("h2", f"Bought together with {one['product'].get('name') or product}"),
                            *[el("p", n, class_="note") for n in one["notes"]],
                            table(one["items"], [
                                ("product_name", "Product", lambda r: _product_link(r["product_id"], r["product_name"])),
                                ("baskets", "Orders with both", lambda r: num(r["baskets"]), "num"),
                                ("confidence", "Confidence", lambda r: pct(r["confidence"]), "num"),
                                ("lift", "Lift", lambda r: num(r["lift"], 2), "num"),
                                ("sentence", "In words")], label="bought together"),
                            class_="card", id="together"))
        except report.ProductNotFound as exc:
            parts.append(el("p", str(exc), class_="error", role="alert"))
    pairs = overview["pairs"]
    spec = {"data": [{"type": "bar", "orientation": "h",
                      "y": [f"{p['product_name'] or p['product_id']} + {p['other_product_name'] or p['other_product_id']}"
                            for p in pairs[:15]][::-1],
                      "x": [p["lift"] for p in pairs[:15]][::-1], "marker": {"color": "#1f5fbf"}}],
            "layout": {"xaxis": {"title": {"text": "lift"}}, "margin": {"l": 320}}}
    pair_table = table(pairs, [
        ("product_name", "Product", lambda r: _product_link(r["product_id"], r["product_name"])),
        ("other_product_name", "Bought with", lambda r: _product_link(r["other_product_id"], r["other_product_name"])),
        ("baskets", "Orders with both", lambda r: num(r["baskets"]), "num"),
        ("support", "Support", lambda r: pct(r["support"], 2), "num"),
        ("confidence", "Confidence", lambda r: pct(r["confidence"]), "num"),
        ("lift", "Lift", lambda r: num(r["lift"], 2), "num")],
        caption=f"pairs seen in {overview['min_baskets']}+ orders, highest lift first", empty="No pairs yet.",
        label="bought-together pairs")
    parts.append(el("section", el("h2", "Frequently bought together"),
                    chart(spec, "Bar chart of the pairs of products with the highest lift", height=420) if pairs else "",
                    pair_table, class_="card"))
    parts.append(el("div",
                    el("section", el("h2", "Best-sellers (last 90 days)"), table(overview["best_sellers"], [
                        ("rank", "#", None, "num"), ("product_name", "Product", lambda r: _product_link(r["product_id"],
                                                                                                     r["product_name"])),
                        ("reason", "Why")], empty="No best-sellers yet."), class_="card"),
                    el("section", el("h2", "Most recommended"), table(overview["recommended"], [
                        ("product_name", "Product", lambda r: _product_link(r["product_id"], r["product_name"])),
                        ("customers", "In the top 3 of", lambda r: f"{num(r['customers'])} customers", "num")],
                        empty="No recommendations yet."), class_="card"), class_="grid2"))
    return page(request, "Products", join(parts), principal=principal, charts=bool(pairs))


@router.get("/actions", response_class=HTMLResponse)
def actions_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                 segment: str | None = Query(None, max_length=200), offset: int = Query(0, ge=0, le=100_000_000)):
    from regulars.web.analysis import segment_options

    error = None
    try:
        r = report.next_actions_report(ws, segment=segment or None, limit=50, offset=offset).to_dict()
    except ValueError as exc:
        error, r = str(exc), report.next_actions_report(ws, limit=50, offset=offset).to_dict()
    options = segment_options(request, ws)
    parts = [el("h1", "Actions"),
             el("p", "The next best action for each customer: the one with the highest expected incremental value "
                     "(extra response x value of a response - cost), within consent, contact caps and quiet "
                     "periods; or nothing when nothing pays.", class_="lead"),
             el("p", error, class_="error", role="alert") if error else "",
             el("form", el("div", el("label", "Segment", for_="segment"),
                           el("select", el("option", "All customers", value=""),
                              *[el("option", label, value=value, selected=(value == segment)) for value, label in options],
                              id="segment", name="segment")),
                el("div", el("button", "Show", type="submit", class_="secondary")), method="get", action="/actions",
                class_="inline") if options else "",
             *[el("p", n, class_="note") for n in r["notes"]]]
    seg_q = {"segment": r["segment"]} if r["segment"] else {}

    def export(a):
        return el("a", "CSV", href="/api/next-actions?" + urlencode({"format": "csv", "action": a["action"], **seg_q}),
                  download=True, aria_label=f"Download the customers of {a['label']} as CSV")

    acts = r["actions"]
    spec = {"data": [{"type": "bar", "x": [a["label"] for a in acts if a["action"] != "do_nothing"],
                      "y": [a["expected_value"] for a in acts if a["action"] != "do_nothing"],
                      "marker": {"color": "#17784a"}}],
            "layout": {"yaxis": {"title": {"text": "expected incremental value"}}}}
    parts.append(el("section", el("h2", "Customers per action"),
                    chart(spec, "Bar chart of the expected incremental value of each action") if len(acts) > 1 else "",
                    table(acts, [("label", "Action"), ("customers", "Customers", lambda a: num(a["customers"]), "num"),
                                 ("expected_value", "Expected value", lambda a: money(a["expected_value"]), "num"),
                                 ("channels", "Channels", lambda a: ", ".join(f"{c} {n:,}" for c, n in a["channels"].items())),
                                 ("action", "Export", export)],
                          caption=f"as of {r['as_of'] or '–'}" + (" (names and e-mails in the CSV)" if principal.sees_pii
                                                                  else " (the CSV holds customer ids only)"),
                          empty="No next actions yet: run `regulars predict`.", label="actions"), class_="card"))
    parts.append(el("section", el("h2", "Customers, highest expected value first"), table(r["items"], [
        ("customer_id", "Customer", lambda i: el("a", i["customer_id"], href=f"/customers/{quote(i['customer_id'], safe='')}")),
        ("action", "Action"), ("channel", "Channel"),
        ("expected_value", "Expected value", lambda i: money(i["expected_value"]), "num"),
        ("reason", "Why"), ("assumption", "Note")], empty="No customers."),
        pager("/actions", r["total"], 50, offset, seg_q), class_="card"))
    return page(request, "Actions", join(parts), principal=principal, charts=len(acts) > 1)


KPI_COLUMNS = [("segment", "Segment"), ("customers", "Members", "num0"), ("orders", "Orders", "num0"),
               ("revenue", "Revenue", "money"), ("average_order_value", "AOV", "money"),
               ("repeat_purchase_rate", "Repeat rate", "pct"), ("clv_historical", "Historical CLV", "money"),
               ("predicted_clv", "Predicted CLV (mean)", "money"), ("predicted_value", "Predicted value (total)", "money"),
               ("churn_risk", "Churn risk", "pct"), ("expected_buyers_30d", "Buyers expected in 30 days", "num0")]


@router.get("/kpis/segments", response_class=HTMLResponse)
def segment_kpis_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                      kind: str = Query("rfm", pattern="^[a-z_]+$")):
    from regulars.features.segment_kpis import KINDS
    from regulars.reports.segment_kpis import segment_kpis

    kind = kind if kind in KINDS else "rfm"
    r = segment_kpis(ws, kind).to_dict()
    fmt = {"num0": lambda v: num(v), "money": money, "pct": lambda v: pct(v, 0)}
    cols = [(c, label, (lambda r_, c=c, f=f: fmt[f](r_.get(c))), "num") if f else (c, label)
            for c, label, *rest in KPI_COLUMNS for f in [rest[0] if rest else None]]
    rows = r["rows"]
    spec = {"data": [{"type": "bar", "x": [x["segment"] for x in rows], "y": [x.get("predicted_value") for x in rows],
                      "name": "predicted value", "marker": {"color": "#1f5fbf"}},
                     {"type": "bar", "x": [x["segment"] for x in rows], "y": [x.get("revenue") for x in rows],
                      "name": "revenue in the window", "marker": {"color": "#f2b600"}}],
            "layout": {"barmode": "group", "yaxis": {"title": {"text": "money"}}}}
    body = join([
        el("h1", "KPIs by segment"),
        el("p", f"Each {kind} segment's customers, orders and revenue from {r['start'] or '–'} to {r['end'] or '–'}, "
                "and the value the predictions expect from them.", class_="lead"),
        el("form", el("div", el("label", "Segment kind", for_="kind"),
                      el("select", *[el("option", k, value=k, selected=(k == kind)) for k in KINDS], id="kind",
                         name="kind", data_autosubmit=True)),
           el("div", el("button", "Show", type="submit", class_="secondary")), method="get", action="/kpis/segments",
           class_="inline"),
        *[el("p", n, class_="note") for n in r["notes"]],
        el("section", el("h2", "Revenue and predicted value"),
           chart(spec, f"Bar chart of revenue and predicted value per {kind} segment") if rows else "",
           table(rows, cols, empty="No segments of this kind.", label="KPIs by segment"), class_="card"),
    ])
    return page(request, "KPIs by segment", body, principal=principal, charts=bool(rows))
