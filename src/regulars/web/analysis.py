"""Analysis pages: Segments (with personas), Cohorts, Funnel, Predictions; plus the doctor summary.

Each page renders the dict its JSON route returns (:mod:`regulars.server.views`).

Why this module is long: each of the four analysis pages is a route plus the few HTML pieces only
it draws (persona cards, the cohort heat map, funnel bars, the prediction histograms); what pages
share already lives in :mod:`regulars.web.html` and :mod:`regulars.web.layout`, so splitting
further would only scatter one page's markup over several files.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from regulars.reports.words import step_words
from regulars.server import views
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, require_page
from regulars.web.html import HTML, bar, chart, el, join, money, num, pct, table, tile, void, when
from regulars.web.layout import page

router = APIRouter(include_in_schema=False)

PALETTE = ["#1f5fbf", "#f2b600", "#17784a", "#b3261e", "#7b3fb5", "#0f8a9d", "#d4691e", "#5b6575", "#c2408f", "#4c9a2a"]


def _unavailable(request: Request, principal: Principal, title: str, exc: ApiError) -> HTMLResponse:
    body = join([el("h1", title), el("div", exc.message, class_="note")])
    return page(request, title, body, principal=principal, status=200 if exc.status in (409, 503) else exc.status)


def _select(name: str, label: str, options: list[tuple[str, str]], value: str | None) -> HTML:
    return el("div", el("label", label, for_=name),
              el("select", *[el("option", lab, value=val, selected=(val == (value or ""))) for val, lab in options],
                 id=name, name=name, data_autosubmit=True))


def _controls(action: str, *selects: HTML) -> HTML:
    return el("form", *selects, el("div", el("button", "Show", type="submit", class_="secondary")),
              method="get", action=action, class_="inline")


# -- cohorts ---------------------------------------------------------------------------------
@router.get("/cohorts", response_class=HTMLResponse)
def cohorts_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                 by: Literal["month", "week"] = Query("month"),
                 kind: Literal["acquisition", "promotion", "category"] = Query("acquisition")):
    try:
        customers = views.cohorts(request, ws, by=by, kind=kind, metric="customers")
        revenue = views.cohorts(request, ws, by=by, kind=kind, metric="revenue")
    except ApiError as exc:
        return _unavailable(request, principal, "Cohorts", exc)
    unit = "month" if by == "month" else "week"
    parts = [el("h1", "Cohorts"),
             el("p", f"Customers grouped by the {unit} of their first order; each cell is the share of the cohort "
                     f"that ordered again {unit}s later (revenue: net revenue relative to the first {unit}).",
                class_="lead"),
             _controls("/cohorts", _select("by", "Cohorts by", [("month", "month"), ("week", "week")], by),
                       _select("kind", "Group by", [("acquisition", "first order"), ("promotion", "first order used a discount"),
                                                   ("category", "first category bought")], kind))]
    if not customers.get("cohorts"):
        parts.append(el("p", "No orders yet.", class_="note"))
        return page(request, "Cohorts", join(parts), principal=principal)
    parts.append(el("section", el("h2", "Customer retention"), _heatmap(customers, unit, "customers ordering"), class_="card"))
    parts.append(el("section", el("h2", "Revenue retention"), _heatmap(revenue, unit, "revenue vs first period"),
                    class_="card"))
    return page(request, "Cohorts", join(parts), principal=principal, charts=True)


def _heatmap(m: dict, unit: str, what: str, max_rows: int = 24, max_periods: int = 18) -> HTML:
    cohorts, periods, values, sizes = m["cohorts"], m["periods"], m["values"], m["sizes"]
    rows = list(range(max(0, len(cohorts) - max_rows), len(cohorts)))
    cols = periods[:max_periods]
    z = [[values[i][j] for j in range(len(cols))] for i in rows]
    y = [f"{cohorts[i]} ({sizes[i]:,})" for i in rows]
    text = [["" if v is None else f"{v * 100:.0f}%" for v in r] for r in z]
    spec = {"data": [{"type": "heatmap", "z": z, "x": [f"{unit[0].upper()}{p}" for p in cols], "y": y, "text": text,
                      "texttemplate": "%{text}", "hovertemplate": "%{y}, " + unit + " %{x}: %{text}<extra></extra>",
                      "colorscale": [[0, "#f4f8fd"], [0.35, "#c6dcf5"], [1, "#4f8fdc"]], "zmin": 0, "zmax": 1,
                      "showscale": False, "xgap": 1, "ygap": 1, "textfont": {"color": "#1d2430", "size": 11}}],
            "layout": {"yaxis": {"autorange": "reversed", "automargin": True}, "xaxis": {"side": "top"},
                       "margin": {"l": 110, "t": 40}}}
    head = [("cohort", "Cohort"), ("size", "Customers", None, "num")] + [
        (f"p{p}", f"{unit[0].upper()}{p}", None, "num") for p in cols]
    trows = [{"cohort": cohorts[i], "size": f"{sizes[i]:,}",
              **{f"p{p}": ("–" if values[i][j] is None else f"{values[i][j] * 100:.0f}%") for j, p in enumerate(cols)}}
             for i in rows]
    return chart(spec, f"Heatmap of {what} by cohort and {unit}s since first order",
                 height=max(260, 22 * len(rows) + 80), data_table=table(trows, head, label=f"{what} table"))


# -- funnel ----------------------------------------------------------------------------------
@router.get("/funnel", response_class=HTMLResponse)
def funnel_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                by: Literal["", "source", "segment"] = Query(""), unit: Literal["session", "visitor"] = Query("session")):
    try:
        f = views.funnel(request, ws, by=by or None, unit=unit)
    except ApiError as exc:
        return _unavailable(request, principal, "Funnel", exc)
    parts = [el("h1", "Funnel"),
             el("p", f"How many {unit}s reach each step, in order: " + " → ".join(map(step_words, f["steps"])) + ".",
                class_="lead"),
             _controls("/funnel", _select("by", "Split by", [("", "no split"), ("source", "traffic source"),
                                                             ("segment", "segment")], by),
                       _select("unit", "Count", [("session", "sessions"), ("visitor", "visitors")], unit))]
    rows = f["funnel"]
    if not rows:
        parts.append(el("p", "No web or app events yet: load them with `regulars ingest events FILE`.", class_="note"))
        return page(request, "Funnel", join(parts), principal=principal)
    rows = [{**r, "step": step_words(r["step"])} for r in rows]
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    ordered = sorted(groups.items(), key=lambda kv: -(kv[1][0].get("group_units") or 0))[:8]
    if len(ordered) == 1:
        g = ordered[0][1]
        spec = {"data": [{"type": "funnel", "y": [r["step"] for r in g], "x": [r["units"] for r in g],
                          "textinfo": "value+percent initial", "marker": {"color": PALETTE[0]}}],
                "layout": {"margin": {"l": 130}}}
    else:
        spec = {"data": [{"type": "bar", "name": name, "x": [r["step"] for r in g],
                          "y": [r.get("conversion_from_start") for r in g], "marker": {"color": PALETTE[i % len(PALETTE)]}}
                         for i, (name, g) in enumerate(ordered)],
                "layout": {"barmode": "group", "yaxis": {"tickformat": ".0%", "title": {"text": "reached, from step 1"}}}}
    step_table = table(rows, [("group", "Group"), ("step", "Step"), ("units", unit.capitalize() + "s", lambda r: num(r["units"]), "num"),
                              ("conversion_from_previous", "From previous", lambda r: pct(r.get("conversion_from_previous")), "num"),
                              ("conversion_from_start", "From start", lambda r: pct(r.get("conversion_from_start")), "num"),
                              ("drop_off", "Lost", lambda r: num(r.get("drop_off")), "num")])
    parts.append(el("section", el("h2", "Step conversion"), chart(spec, "Funnel step conversion", data_table=step_table),
                    class_="card"))
    side = []
    if f.get("abandonment"):
        ab = [{**a, "furthest_step": step_words(a["furthest_step"])} for a in f["abandonment"]]
        side.append(el("section", el("h2", "Where cart abandoners stop"), chart(
            {"data": [{"type": "bar", "x": [a["furthest_step"] for a in ab], "y": [a["units"] for a in ab],
                       "marker": {"color": PALETTE[3]}}], "layout": {"yaxis": {"title": {"text": unit + "s"}}}},
            "Cart abandoners by the furthest checkout step reached", height=280,
            data_table=table(ab, [("furthest_step", "Furthest step"), ("units", "Count", lambda r: num(r["units"]), "num"),
                                  ("share", "Share", lambda r: pct(r.get("share")), "num")])), class_="card"))
    if f.get("paths"):
        side.append(el("section", el("h2", "Most common paths"), table(f["paths"], [
            ("path", "Path", lambda r: step_words(r["path"])), ("sessions", "Sessions", lambda r: num(r["sessions"]), "num"),
            ("share", "Share", lambda r: pct(r.get("share")), "num"),
            ("conversion_rate", "Bought", lambda r: pct(r.get("conversion_rate")), "num")]), class_="card"))
    if side:
        parts.append(el("div", *side, class_="grid2"))
    return page(request, "Funnel", join(parts), principal=principal, charts=True)


# -- segments --------------------------------------------------------------------------------
def segment_options(request: Request, ws) -> list[tuple[str, str]]:
    """(value, label) of the segments that have members, for filters; [] when none."""
    try:
        data = views.segments(request, ws)
    except ApiError:
        return []
    return [(str(s["segment_id"]), f"{s.get('name') or s['segment_id']} ({s.get('members', 0):,})")
            for s in data.get("items", []) if s.get("members")]


def revenue_by_segment(request: Request, ws) -> HTML | None:
    """A bar chart of each segment's share of revenue, or None without segments."""
    try:
        data = views.segments(request, ws)
    except ApiError:
        return None
    items = [s for s in data.get("items", []) if s.get("revenue") is not None and s.get("family") in (None, "rfm")]
    if not items:
        return None
    items.sort(key=lambda s: s.get("revenue") or 0)
    spec = {"data": [{"type": "bar", "orientation": "h", "y": [s.get("name") or s["segment_id"] for s in items],
                      "x": [s.get("revenue") for s in items], "marker": {"color": PALETTE[0]},
                      "text": [pct(s.get("revenue_share"), 0) for s in items], "textposition": "auto"}],
            "layout": {"margin": {"l": 150}, "xaxis": {"title": {"text": "net revenue"}}}}
    return chart(spec, "Net revenue by segment", height=max(240, 28 * len(items) + 80),
                 data_table=table(items[::-1], [("name", "Segment"), ("members", "Customers", lambda s: num(s.get("members")), "num"),
                                                ("revenue", "Revenue", lambda s: money(s.get("revenue")), "num"),
                                                ("revenue_share", "Share", lambda s: pct(s.get("revenue_share")), "num")]))


@router.get("/segments", response_class=HTMLResponse)
def segments_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view)):
    try:
        data = views.segments(request, ws)
    except ApiError as exc:
        return _unavailable(request, principal, "Segments", exc)
    items = data.get("items", [])
    parts = [el("h1", "Segments")]
    if data.get("as_of"):
        parts.append(el("p", f"Memberships as of {str(data['as_of'])[:10]}; movement compares with the previous run.",
                        class_="lead"))
    for note in data.get("notes", []):
        parts.append(el("p", note, class_="note"))
    if items:
        families: dict[str, list] = {}
        for s in items:
            families.setdefault(s.get("family") or "segments", []).append(s)
        rfm = sorted(families.get("rfm", []), key=lambda s: -(s.get("revenue") or 0))
        if rfm:
            spec = {"data": [
                {"type": "bar", "name": "share of customers", "x": [s["name"] for s in rfm],
                 "y": [s.get("share") for s in rfm], "marker": {"color": PALETTE[1]}},
                {"type": "bar", "name": "share of revenue", "x": [s["name"] for s in rfm],
                 "y": [s.get("revenue_share") for s in rfm], "marker": {"color": PALETTE[0]}}],
                "layout": {"barmode": "group", "yaxis": {"tickformat": ".0%"}, "margin": {"b": 90}}}
            parts.append(el("section", el("h2", "Who brings the revenue"), chart(
                spec, "Share of customers and share of revenue for each RFM segment"), class_="card"))
        ordered = sorted(families.items(), key=lambda kv: FAMILY_ORDER.index(kv[0]) if kv[0] in FAMILY_ORDER else 99)
        for family, segs in ordered:
            segs = sorted(segs, key=lambda s: -(s.get("members") or 0))
            parts.append(el("section", el("h2", FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())), table(segs, [
                ("name", "Segment", lambda s: el("a", s.get("name") or s["segment_id"], href=f"/segments/{quote(str(s['segment_id']), safe='')}")),
                ("members", "Customers", lambda s: num(s.get("members")), "num"),
                ("share", "Of all", lambda s: join([bar(s.get("share"), f"{pct(s.get('share'))} of customers"), pct(s.get("share"))])),
                ("revenue_share", "Of revenue", lambda s: pct(s.get("revenue_share")), "num"),
                ("entered", "Joined", lambda s: _move(s.get("entered"), "+"), "num"),
                ("exited", "Left", lambda s: _move(s.get("exited"), "−"), "num"),
                ("description", "Who they are", lambda s: s.get("description") or "")],
                label=f"{family} segments"), class_="card"))
    personas = views.personas_or_none(request, ws)
    if personas:
        parts.append(el("section", el("h2", "Personas"), _persona_cards(personas), aria_label="Personas"))
    return page(request, "Segments", join(parts), principal=principal, charts=bool(items))


FAMILY_ORDER = ["rfm", "lifecycle", "rule", "frequency", "spend", "aov", "affinity", "behaviour", "engagement", "region"]
FAMILY_TITLES = {"rfm": "RFM segments", "lifecycle": "Lifecycle stages", "rule": "Your segments",
                 "frequency": "How often they buy", "spend": "Total spend tiers", "aov": "Average order value tiers",
                 "affinity": "Favourite category", "behaviour": "Buying behaviour", "engagement": "Engagement",
                 "region": "Region"}


def _move(v, sign: str) -> str:
    return "–" if v is None else (f"{sign}{int(v):,}" if v else "0")


def _persona_cards(personas: dict) -> HTML:
    cards = []
    for p in personas.get("personas", []):
        stats = [("Customers", f"{num(p.get('size'))} ({pct(p.get('share'), 0)})"),
                 ("Share of revenue", pct(p.get("value_share"), 0)),
                 ("Revenue per customer", money(p.get("revenue_per_customer"))),
                 ("Prefers", p.get("preferred_channel") or "–")]
        cards.append(el("article",
                        el("h3", p.get("name") or f"Persona {p.get('cluster', '')}"),
                        el("p", p.get("top_trait") or "", class_="muted"),
                        el("dl", *[join([el("dt", k), el("dd", v)]) for k, v in stats], class_="facts"),
                        el("ul", *[el("li", t) for t in (p.get("traits") or [])[:5]]) if p.get("traits") else "",
                        el("p", el("strong", "What to do: "), p.get("action") or "") if p.get("action") else "",
                        class_="persona", aria_label=f"persona {p.get('name')}"))
    note = el("p", f"{personas.get('n_clusters')} groups of buyers found by {personas.get('method')} clustering "
                   f"({personas.get('selection') or ''}).", class_="muted")
    return join([note, el("div", *cards, class_="persona-cards")])


def export_buttons(principal: Principal, source: str) -> HTML:
    from regulars.web.activation import export_buttons as buttons

    return buttons(principal, source)


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def segment_page(request: Request, segment_id: str, principal: Principal = Depends(require_page("viewer")),
                 ws=Depends(read_view), offset: int = Query(0, ge=0, le=100_000_000)):
    limit = 100
    try:
        members = views.segment_members(request, ws, segment_id, limit=limit, offset=offset,
                                        include_pii=principal.sees_pii)
    except ApiError as exc:
        return _unavailable(request, principal, "Segment", exc)
    seg = members.get("segment") or {"segment_id": segment_id}
    from regulars.web.html import pager

    cols = [("customer_id", "Customer", lambda r: el("a", r["customer_id"], href=f"/customers/{quote(r['customer_id'], safe='')}")),
            ("name", "Name", lambda r: " ".join(x for x in (r.get("first_name"), r.get("last_name")) if x) or "–"),
            ("email", "E-mail"), ("city", "City"),
            ("accepts_email", "E-mail OK", lambda r: {True: "yes", False: "no"}.get(r.get("accepts_email"), "–")),
            ("orders", "Orders", lambda r: num(r.get("orders")), "num"),
            ("revenue", "Revenue", lambda r: money(r.get("revenue")), "num"),
            ("last_order_at", "Last order", lambda r: when(r.get("last_order_at")))]
    body = join([
        el("p", el("a", "← Segments", href="/segments")),
        el("h1", seg.get("name") or segment_id),
        el("p", seg.get("description") or "", class_="lead"),
        el("p", el("a", "Download members (CSV)", href=f"/api/segments/{quote(segment_id, safe='')}/members?format=csv",
                   class_="button secondary", download=True)),
        export_buttons(principal, seg.get("segment_id") or segment_id),
        table(members["items"], cols, caption=f"{members['total']:,} members"),
        pager(f"/segments/{quote(segment_id, safe='')}", members["total"], limit, offset),
    ])
    return page(request, seg.get("name") or "Segment", body, principal=principal)


# -- predictions ---------------------------------------------------------------------------------
MODEL_TITLES = {"churn": "Churn risk", "propensity": "Buying within 30 days", "next_order": "Next order date",
                "clv": "Customer lifetime value", "leads": "Lead scores", "forecast": "Demand forecast"}


@router.get("/predictions", response_class=HTMLResponse)
def predictions_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view)):
    try:
        data = views.predictions(request, ws, limit=25, offset=0, sort="at_risk_value",
                                 include_pii=principal.sees_pii)
        backtests = views.backtests(request, ws)
    except ApiError as exc:
        return _unavailable(request, principal, "Predictions", exc)
    summary = data.get("summary") or {}
    parts = [el("h1", "Predictions")]
    if not data.get("as_of"):
        parts.append(el("div", *[el("p", n) for n in (data.get("notes") or ["No predictions yet: run `regulars predict`."])],
                        class_="note"))
        parts.append(el("section", el("h2", "How accurate have they been?"), _backtests(backtests), class_="card"))
        return page(request, "Predictions", join(parts), principal=principal)
    counts = summary.get("counts") or {}
    bands = counts.get("churn_bands") or {}
    parts.append(el("p", f"Scores as of {str(data['as_of'])[:10]} for {counts.get('customers', 0):,} customers.",
                    class_="lead"))
    tiles = [tile("High churn risk", num(bands.get("high")), "customers"),
             tile("Expected buyers, next 30 days", num(counts.get("expected_buyers_30d"))),
             tile("Predicted value (CLV), all customers", money(counts.get("total_clv"))),
             tile("Expected orders", num(counts.get("expected_orders")))]
    parts.append(el("div", *[t for t in tiles], class_="tiles"))
    for note in data.get("notes") or []:
        parts.append(el("p", note, class_="note"))
    dist = data.get("distributions") or {}
    charts = []
    for key, title, fmt in (("churn_risk", "Churn risk", ".0%"), ("clv", "Predicted CLV", None),
                            ("propensity_30d", "Chance of buying within 30 days", ".0%")):
        d = dist.get(key)
        if not d:
            continue
        spec = {"data": [{"type": "bar", "x": d["bins"], "y": d["counts"], "marker": {"color": PALETTE[len(charts)]}}],
                "layout": {"xaxis": {"title": {"text": title}, **({"tickformat": fmt} if fmt else {})},
                           "yaxis": {"title": {"text": "customers"}}, "bargap": 0.05}}
        charts.append(el("section", el("h2", title), chart(spec, f"Distribution of {title.lower()} across customers",
                                                           height=260), class_="card"))
    if charts:
        parts.append(el("div", *charts, class_="grid2"))
    at_risk = summary.get("at_risk") or data.get("items") or []
    cols = [("customer_id", "Customer", lambda r: el("a", r["customer_id"], href=f"/customers/{quote(r['customer_id'], safe='')}")),
            ("name", "Name", lambda r: r.get("name") or "–"),
            ("churn_risk", "Churn risk", lambda r: pct(r.get("churn_risk"), 0), "num"),
            ("clv", "Predicted CLV", lambda r: money(r.get("clv")), "num"),
            ("reasons", "Why", lambda r: "; ".join(_reasons(r.get("reasons") or r.get("churn_reasons")))[:300])]
    parts.append(el("section", el("h2", "Valuable customers at risk"),
                    el("p", "High churn risk, highest predicted value first: the ones worth a win-back. ",
                       el("a", "See and download the whole list", href="/lists/at-risk"), class_="muted"),
                    table(at_risk, cols, empty="No customer is at high risk."), class_="card", id="at-risk"))
    buyers = summary.get("likely_buyers") or []
    if buyers:
        parts.append(el("section", el("h2", "Most likely to buy in the next 30 days"), table(buyers, [
            cols[0], cols[1], ("propensity_30d", "Chance", lambda r: pct(r.get("propensity_30d"), 0), "num"),
            ("reasons", "Why", lambda r: "; ".join(_reasons(r.get("reasons")))[:300])]), class_="card"))
    forecast = summary.get("forecast") or []
    if forecast:
        x = [str(f["day"])[:10] for f in forecast]
        spec = {"data": [
            {"type": "scatter", "mode": "lines", "x": x, "y": [f.get("orders_upper") for f in forecast], "line": {"width": 0},
             "showlegend": False, "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines", "x": x, "y": [f.get("orders_lower") for f in forecast], "fill": "tonexty",
             "fillcolor": "rgba(31,95,191,0.15)", "line": {"width": 0}, "name": "likely range"},
            {"type": "scatter", "mode": "lines", "x": x, "y": [f.get("orders") for f in forecast], "name": "expected orders",
             "line": {"color": PALETTE[0]}}], "layout": {"yaxis": {"title": {"text": "orders per day"}}}}
        parts.append(el("section", el("h2", "Orders expected per day"), chart(spec, "Daily orders forecast with its likely range"),
                        class_="card"))
    parts.append(el("section", el("h2", "How accurate have they been?"), _backtests(backtests), class_="card",
                    id="accuracy"))
    return page(request, "Predictions", join(parts), principal=principal, charts=bool(charts or forecast))


def _reasons(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    out = []
    for v in value:
        out.append(v if isinstance(v, str) else str(v.get("text") or v.get("reason") or v) if isinstance(v, dict) else str(v))
    return out


def _backtests(bt: dict) -> HTML:
    models = bt.get("models") or {}
    if not models:
        return el("p", "No backtest yet: run `regulars backtest` to measure the models on past data "
                       "against a simple baseline.", class_="muted")
    parts = [el("p", f"Backtest with cutoff {str(bt.get('cutoff'))[:10]}: each model was fitted on data before "
                     "the cutoff and judged on what customers did after it, next to a simple rule anyone could "
                     "use instead.", class_="muted")]
    rows = []
    for model, info in models.items():
        parts.append(el("h3", MODEL_TITLES.get(model, model), " ",
                        el("span", info.get("status", ""), class_="badge")))
        parts.append(el("ul", *[el("li", s) for s in info.get("sentences") or []]))
        for metric, m in (info.get("metrics") or {}).items():
            rows.append({"model": MODEL_TITLES.get(model, model), "metric": metric, **m})
    parts.append(el("details", el("summary", "All metrics"), table(rows, [
        ("model", "Model"), ("metric", "Metric"), ("value", "Model", lambda r: num(r.get("value"), 3), "num"),
        ("baseline", "Baseline"), ("baseline_value", "Baseline value", lambda r: num(r.get("baseline_value"), 3), "num"),
        ("n", "Customers", lambda r: num(r.get("n")), "num")])))
    return join(parts)


# -- doctor ----------------------------------------------------------------------------------------
def render_doctor(report: dict) -> HTML:
    """The doctor's verdict, the things to check, and what each analysis can do with this data."""
    parts = [el("p", report.get("summary") or "")]
    findings = report.get("findings") or []
    if findings:
        parts.append(table(findings, [("status", "Status"), ("area", "Area"), ("message", "What to check")],
                           label="things to check"))
    ready = report.get("readiness") or []
    if ready:
        parts.append(el("details", el("summary", "What the data supports"), table(ready, [
            ("title", "Analysis"), ("status", "Status"), ("have", "The shop has"),
            ("reason", "Why", lambda r: join([r.get("reason") or "", void("br"), el("code", r["load"])])
             if r.get("load") else (r.get("reason") or ""))], label="readiness")))
    return join(parts)


__all__ = ["router", "segment_options", "revenue_by_segment", "render_doctor", "tile", "when", "Response"]
