"""Trust pages: Anomalies, Fairness (the audit of each model) and Model cards.

Each renders the dict of its JSON route (:mod:`regulars.server.trust_views`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.server import trust_views
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, require_page
from regulars.web.analysis import _controls, _select, _unavailable
from regulars.web.html import HTML, el, join, num, pager, pct, table, tile
from regulars.web.layout import page

router = APIRouter(include_in_schema=False)


@router.get("/anomalies", response_class=HTMLResponse)
def anomalies_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                   kind: str = Query("", max_length=40), offset: int = Query(0, ge=0, le=10_000_000)):
    from regulars.reports.anomalies import KINDS

    kind = kind if kind in KINDS else ""
    try:
        data = trust_views.anomalies(request, ws, kind=kind or None, limit=50, offset=offset)
    except ApiError as exc:
        return _unavailable(request, principal, "Anomalies", exc)
    parts = [el("h1", "Anomalies")]
    if data.get("run") is None:
        parts.append(el("p", "No anomaly check yet. Run ", el("code", "regulars anomalies --refresh"),
                        " (or POST /api/anomalies/refresh).", class_="note"))
        return page(request, "Anomalies", join(parts), principal=principal)
    parts.append(el("p", f"Orders, customers and web sessions that look unusual for this shop, checked on "
                         f"{data['run']['finished_at'][:10]}; each with the reason. A flag is a question to look "
                         "into, not a verdict.", class_="lead"))
    counts = data.get("counts") or {}
    parts.append(el("div", tile("Flags", num(sum(counts.values()))),
                    *[tile(KINDS.get(k, k).capitalize(), num(v)) for k, v in counts.items()], class_="tiles"))
    parts.append(_controls("/anomalies", _select("kind", "Kind", [("", "all kinds")] + [(k, v) for k, v in KINDS.items()],
                                                 kind)))
    parts.append(el("section", table(data["items"], [
        ("what", "What"), ("entity_id", "Which", lambda r: f"{r['entity']} {r['entity_id']}"),
        ("customer_id", "Customer", lambda r: el("a", r["customer_id"], href=f"/customers/{r['customer_id']}")
         if r.get("customer_id") else "–"),
        ("score", "Score", lambda r: f"{r['score']:.2f}", "num"), ("reason", "Why"),
        ("first_flagged_at", "Since", lambda r: r["first_flagged_at"][:10])], empty="No flags: nothing unusual found.",
        label="anomaly flags"), pager("/anomalies", data["total"], 50, offset, {"kind": kind}), class_="card"))
    for note in data.get("notes", []):
        parts.append(el("p", note, class_="muted"))
    return page(request, "Anomalies", join(parts), principal=principal)


@router.get("/fairness", response_class=HTMLResponse)
def fairness_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view)):
    try:
        data = trust_views.fairness(request, ws)
    except ApiError as exc:
        return _unavailable(request, principal, "Fairness", exc)
    parts = [el("h1", "Fairness of the models")]
    if not data["models"]:
        parts.append(el("p", "No fairness audit yet. Run ", el("code", "regulars audit"),
                        " (or POST /api/fairness/run).", class_="note"))
        return page(request, "Fairness", join(parts), principal=principal)
    parts.append(el("p", "Each model's decisions, made on a past date and judged on what happened next, compared "
                         "across groups of customers. " + data["notes"][0], class_="lead"))
    for m in data["models"]:
        section = [el("h2", f"{m['model']}: {m['n']:,} customers, decisions on {m['cutoff']}"),
                   el("p", f"Selected = {m['selection']}; outcome = {m['outcome']}.", class_="muted")]
        section += [el("p", n, class_="muted") for n in m["notes"]]
        if m["flags"]:
            section.append(el("ul", *[el("li", f["sentence"]) for f in m["flags"]], aria_label="gaps to look at"))
        else:
            section.append(el("p", "No gap beyond the thresholds."))
        rows = [g for g in m["groups"] if g["judged"]]
        section.append(el("details", el("summary", "Every group's numbers"), table(rows, [
            ("attribute", "Attribute", lambda g: g["attribute"].replace("_", " ")), ("group", "Group"),
            ("n", "Customers", lambda g: num(g["n"]), "num"),
            ("selection_rate", "Selected", lambda g: pct(g["selection_rate"]), "num"),
            ("true_positive_rate", "True positive rate", lambda g: pct(g["true_positive_rate"]), "num"),
            ("false_positive_rate", "False positive rate", lambda g: pct(g["false_positive_rate"]), "num"),
            ("mean_predicted", "Mean predicted", lambda g: pct(g["mean_predicted"]), "num"),
            ("observed_rate", "Happened", lambda g: pct(g["observed_rate"]), "num")], label=f"{m['model']} by group")))
        parts.append(el("section", *section, class_="card"))
    return page(request, "Fairness", join(parts), principal=principal)


@router.get("/model-cards", response_class=HTMLResponse)
def model_cards_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                     model: str = Query("", max_length=40)):
    try:
        listing = trust_views.model_cards(request, ws)
    except ApiError as exc:
        return _unavailable(request, principal, "Model cards", exc)
    parts = [el("h1", "Model cards")]
    if not listing["items"]:
        parts.append(el("p", "No model cards yet: they are written by ", el("code", "regulars predict"), ".",
                        class_="note"))
        return page(request, "Model cards", join(parts), principal=principal)
    names = [i["model"] for i in listing["items"]]
    chosen = model if model in names else names[0]
    parts.append(el("nav", el("ul", *[el("li", el("a", i["title"], href=f"/model-cards?model={i['model']}",
                                                   aria_current="page" if i["model"] == chosen else None))
                                      for i in listing["items"]]), aria_label="models", class_="subnav"))
    card = trust_views.model_card(request, ws, chosen)
    parts.append(el("section", _card_html(card["card"]), class_="card"))
    return page(request, "Model cards", join(parts), principal=principal)


def _card_html(c: dict) -> HTML:
    d = c["data"]
    facts = [("History used", d.get("window")), ("Customers scored", num(d.get("customers_scored"))),
             ("Training rows", num(d.get("training_rows")) if d.get("training_rows") else None),
             ("Mode", d.get("mode")), ("Left out", d.get("excluded"))]
    perf = c.get("performance") or []
    out = [el("h2", f"{c['title']} ({c['version']}), data up to {c['as_of']}"),
           el("h3", "Intended use"), el("p", c["intended_use"]),
           el("p", "Not for: " + "; ".join(c.get("not_for") or []) + ".", class_="muted") if c.get("not_for") else "",
           el("h3", "Data"), el("ul", *[el("li", f"{k}: {v}") for k, v in facts if v]),
           el("h3", "Inputs"), el("p", ", ".join(c["features"]) or "–"),
           el("p", "Sensitive attributes used as inputs: " + (", ".join(c["sensitive_inputs"]) or "none") + "."),
           el("h3", "How accurate it has been"),
           table(perf, [("metric", "Metric"), ("value", "Model", lambda p: _f(p["value"]), "num"),
                        ("baseline_value", "Baseline", lambda p: _f(p["baseline_value"]), "num"),
                        ("baseline", "Baseline rule")], empty=c.get("performance_note") or "Not backtested yet.",
                 label="backtest metrics"),
           el("ul", *[el("li", p["sentence"]) for p in perf + (c.get("coverage") or []) if p.get("sentence")]),
           el("h3", "Fairness"), el("p", c["fairness"]["status"]),
           el("ul", *[el("li", f) for f in c["fairness"].get("flags", [])]) if c["fairness"].get("flags") else "",
           el("h3", "Known limitations"), el("ul", *[el("li", x) for x in c.get("limitations", [])])]
    return join(out)


def _f(v) -> str:
    if v is None:
        return "–"
    return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
