"""The Experiments page: every experiment, and one experiment's answer in money with a chart.

It renders the dicts the ``/api/experiments`` routes return (:mod:`regulars.server.experiment_views`);
only per-arm aggregates are shown, so viewers see the same page as analysts.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.server import experiment_views as views
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, require_page
from regulars.web.html import HTML, chart, el, join, num, pct, table, tile
from regulars.web.layout import page

router = APIRouter(include_in_schema=False)

PALETTE = ["#5b6575", "#1f5fbf", "#17784a", "#f2b600", "#b3261e", "#7b3fb5"]


def _money(v, currency: str) -> str:
    return "–" if v is None else f"{v:,.2f}" + (f" {currency}" if currency else "")


def _list(items: list[dict], current: str | None) -> HTML:
    return table(items, [
        ("name", "Experiment", lambda r: el("a", r["name"], href=f"/experiments?id={quote(str(r['experiment_id']))}",
                                             aria_current="true" if r["experiment_id"] == current else None)),
        ("kind", "Kind"), ("status", "Status"), ("arms", "Arms"),
        ("customers", "Customers", lambda r: num(r.get("customers")), "num"),
        ("starts_at", "Started"), ("planned_end", "Planned end", lambda r: r.get("planned_end") or "–"),
        ("action", "Action", lambda r: r.get("action") or "–")], caption="Experiments")


def _charts(result: dict) -> list[HTML]:
    cur = result["currency"]
    arms = result["arms"]
    conv = {"data": [{"type": "bar", "x": [a["arm"] for a in arms], "y": [a["conversion"] for a in arms],
                      "marker": {"color": [PALETTE[i % len(PALETTE)] for i in range(len(arms))]},
                      "error_y": {"type": "data", "symmetric": False,
                                  "array": [a["conversion_upper"] - a["conversion"] for a in arms],
                                  "arrayminus": [a["conversion"] - a["conversion_lower"] for a in arms]}}],
            "layout": {"yaxis": {"tickformat": ".1%", "title": {"text": "bought in the window"}}}}
    comps = result["comparisons"]
    diff = {"data": [
        {"type": "scatter", "mode": "markers", "name": "fixed-horizon 95%", "y": [c["arm"] for c in comps],
         "x": [c["estimate"] for c in comps], "marker": {"size": 12, "color": PALETTE[1]},
         "error_x": {"type": "data", "symmetric": False,
                     "array": [(c["revenue_cuped"] or c["revenue"])["upper"] - c["estimate"] for c in comps],
                     "arrayminus": [c["estimate"] - (c["revenue_cuped"] or c["revenue"])["lower"] for c in comps]}},
        {"type": "scatter", "mode": "markers", "name": "always valid (any look)", "y": [c["arm"] for c in comps],
         "x": [c["estimate"] for c in comps], "marker": {"size": 1, "color": PALETTE[3]},
         "error_x": {"type": "data", "symmetric": False, "thickness": 6, "color": "rgba(242,182,0,0.45)",
                     "array": [c["always_valid"][1] - c["estimate"] for c in comps],
                     "arrayminus": [c["estimate"] - c["always_valid"][0] for c in comps]}}],
        "layout": {"xaxis": {"title": {"text": f"revenue per customer vs {comps[0]['control'] if comps else 'control'}"
                                                + (f" ({cur})" if cur else ""), "zeroline": True}},
                   "yaxis": {"automargin": True}, "shapes": [{"type": "line", "x0": 0, "x1": 0, "yref": "paper", "y0": 0,
                                                              "y1": 1, "line": {"color": "#b3261e", "dash": "dot"}}]}}
    arm_rows = table(arms, [("arm", "Arm"), ("customers", "Customers", lambda a: num(a["customers"]), "num"),
                            ("conversion", "Bought", lambda a: pct(a["conversion"]), "num"),
                            ("revenue_per_customer", "Revenue / customer", lambda a: _money(a["revenue_per_customer"], cur), "num")])
    comp_rows = table(comps, [
        ("arm", "Arm"), ("estimate", "Difference", lambda c: _money(c["estimate"], cur), "num"),
        ("lower", "Fixed-horizon interval", lambda c: f"{_money((c['revenue_cuped'] or c['revenue'])['lower'], cur)} to "
                                                       f"{_money((c['revenue_cuped'] or c['revenue'])['upper'], cur)}"),
        ("always", "Always-valid interval", lambda c: f"{_money(c['always_valid'][0], cur)} to {_money(c['always_valid'][1], cur)}"),
        ("p_positive", "Chance positive", lambda c: pct(c["p_positive"], 0), "num")])
    return [el("section", el("h2", "Revenue per customer against the control"),
               chart(diff, "Difference in revenue per customer with fixed-horizon and always-valid intervals",
                     height=max(200, 70 * len(comps) + 120), data_table=comp_rows), class_="card"),
            el("section", el("h2", "Conversion by arm"),
               chart(conv, "Share of customers who bought, by arm, with 95% intervals", height=280, data_table=arm_rows),
               class_="card")]


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                     id: str | None = Query(None, max_length=200)):
    parts = [el("h1", "Experiments"),
             el("p", "Did it work? Each test compares customers who got an action with a control group that did not, "
                     "in money per customer, with honest uncertainty.", class_="lead")]
    items = views.experiment_list(request, ws)["items"]
    if not items:
        parts.append(el("p", "No experiments yet: `regulars experiments create NAME --segment S --arms control:0.5,offer:0.5`, "
                             "or upload a split with `regulars experiments assign-upload`.", class_="note"))
        return page(request, "Experiments", join(parts), principal=principal)
    current = id or items[0]["experiment_id"]
    parts.append(el("section", _list(items, current), class_="card"))
    try:
        a = views.analysis(request, ws, current)
    except ApiError as exc:
        parts.append(el("div", exc.message, class_="note"))
        return page(request, "Experiments", join(parts), principal=principal, status=200 if exc.status != 404 else 404)
    exp, result = a["experiment"], a["result"]
    parts.append(el("h2", f"{exp['name']}"))
    parts.append(el("div", tile("Customers analysed", num(a["analysed_customers"])),
                    tile("Still in their window", num(a["pending_customers"])),
                    tile("Window", f"{exp['window_days']} days"), tile("As of", a["as_of"]), class_="tiles"))
    for s in a["sentences"]:
        parts.append(el("section", el("p", el("strong", s)), class_="card"))
    for n in a["notes"]:
        parts.append(el("p", n, class_="note"))
    if result:
        for w in result["warnings"]:
            parts.append(el("p", "Warning: " + w, class_="note warning"))
        parts.extend(_charts(result))
    return page(request, "Experiments", join(parts), principal=principal, charts=bool(result))
