"""Dashboard pages for activation: Journeys (list, one journey with its uplift and send log, approval),
Webhooks (subscriptions, delivery log, dead letters), the Monday report, and Activation settings
(SMTP, quiet hours, caps, schedules, alerts). Each page renders what its JSON route returns."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from regulars.reports import activation as report
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, check_csrf, require_page
from regulars.web.html import HTML, chart, el, join, money, num, pct, table, tile, void, when
from regulars.web.layout import csrf_field, page

router = APIRouter(include_in_schema=False)
FORMAT_LABELS = [("klaviyo", "Klaviyo list"), ("mailchimp", "Mailchimp audience"), ("google", "Google Ads (hashed)"),
                 ("meta", "Meta (hashed)")]


def export_buttons(principal: Principal, source: str) -> HTML:
    """Download buttons for a segment or list (analysts and admins); a note for viewers."""
    if not principal.sees_pii:
        return el("p", "Exports hold personal data: ask an analyst or admin to export this audience.", class_="muted")
    links = [el("a", label, href="/api/audiences/export?" + urlencode({"source": source, "format": fmt}),
                class_="button secondary", download=True) for fmt, label in FORMAT_LABELS]
    return el("div", el("strong", "Export for: "), *links,
              el("span", " Only customers who agreed to the channel are included; the file's summary says who "
                         "was left out.", class_="muted"), class_="exports")


def _status_form(principal: Principal, j: dict) -> HTML:
    if not principal.can("admin"):
        return el("span", "ON" if j["running"] else j["status"], class_="badge")
    if j["running"]:
        return el("form", csrf_field(principal), el("button", "Pause", type="submit", class_="secondary",
                                                     aria_label=f"Pause {j['name']}"),
                  method="post", action=f"/journeys/{quote(j['journey_id'])}/pause", class_="inline")
    return el("form", csrf_field(principal), el("button", "Approve and turn on", type="submit",
                                                 aria_label=f"Approve {j['name']}"),
              method="post", action=f"/journeys/{quote(j['journey_id'])}/approve", class_="inline",
              data_confirm=f"Turn on '{j['name']}' (version {j['version']})? It will start sending.")


@router.get("/journeys", response_class=HTMLResponse)
def journeys_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                  message: str | None = Query(None, max_length=300)):
    from regulars.server.actions import journeys

    data = journeys(request, principal, ws)
    rows = []
    for j in data["items"]:
        detail = report.journey_detail(ws, j["journey_id"]) or {}
        r = detail.get("results") or {}
        rows.append({**j, "uplift": r})
    cols = [("name", "Journey", lambda j: el("a", j["name"], href=f"/journeys/{quote(j['journey_id'])}")),
            ("status", "Status", lambda j: _status_form(principal, j)),
            ("trigger", "Starts on"), ("entrants", "Entered", lambda j: num(j["entrants"]), "num"),
            ("held_out", "Held out", lambda j: num(j["held_out"]), "num"),
            ("uplift", "Brought in (95%)", lambda j: _money_pm(j["uplift"]), "num")]
    body = join([
        el("h1", "Journeys"),
        el("div", message, class_="ok", role="status") if message else "",
        el("p", "Journeys send the right message at the right time. Each one is off until an admin approves it, "
                "and keeps a random 10% holdout who get nothing, so you see what it brings in beyond what would "
                "have happened anyway.", class_="lead"),
        table(rows, cols, caption=f"{len(rows)} journeys", label="journeys"),
        el("p", el("a", "Webhooks and delivery log", href="/webhooks"), " · ",
           el("a", "Monday report", href="/reports/monday"), " · ", el("a", "Activation settings", href="/activation")),
    ])
    return page(request, "Journeys", body, principal=principal)


def _money_pm(r: dict) -> str:
    if not r or r.get("incremental_revenue") is None:
        return "–"
    return f"{money(r['incremental_revenue'])} ± {money(r['incremental_revenue_margin'])}"


@router.get("/journeys/{journey_id}", response_class=HTMLResponse)
def journey_page(request: Request, journey_id: str, principal: Principal = Depends(require_page("viewer")),
                 ws=Depends(read_view), offset: int = Query(0, ge=0, le=10_000_000)):
    d = report.journey_detail(ws, journey_id)
    if d is None:
        raise ApiError(404, f"no journey {journey_id!r}")
    r = d.get("results") or {}
    parts = [el("p", el("a", "← Journeys", href="/journeys")), el("h1", d["name"]),
             el("p", d.get("description") or "", class_="lead"),
             el("p", f"Starts on {d['trigger']}. Version {d['version']}; ",
                "on since " + when(d["approved_at"]) + f" (approved by {d['approved_by']})" if d["running"]
                else f"off ({d['status']}).", " ", _status_form(principal, {**d, "journey_id": journey_id}))]
    if r:
        tiles = [tile("Brought in beyond the holdout", _money_pm(r), r.get("sentence")),
                 tile("Converted (treated)", pct(r.get("conversion_treated")), f"{num(r['treated'])} customers"),
                 tile("Converted (holdout)", pct(r.get("conversion_holdout")), f"{num(r['holdout'])} customers"),
                 tile("Revenue per customer", f"{money(r.get('revenue_per_treated'))} vs {money(r.get('revenue_per_holdout'))}",
                      "treated vs holdout")]
        parts.append(el("div", *tiles, class_="tiles"))
        parts.append(el("p", r.get("sentence") or "", class_="note"))
        if r.get("treated") and r.get("holdout"):
            spec = {"data": [{"type": "bar", "x": ["treated", "holdout"],
                              "y": [r.get("revenue_per_treated"), r.get("revenue_per_holdout")],
                              "marker": {"color": ["#1f5fbf", "#5b6575"]}}],
                    "layout": {"yaxis": {"title": {"text": f"revenue per customer within {r['window_days']:.0f} days"}}}}
            parts.append(el("section", el("h2", "Treated vs holdout"),
                            chart(spec, "Revenue per customer, treated group and holdout", height=260), class_="card"))
    parts.append(el("section", el("h2", "Steps"), table(d["steps"], [
        ("index", "#", lambda s: str(s["index"] + 1)), ("name", "Step"), ("after", "After entry"),
        ("channel", "Channel"), ("when", "Only when", lambda s: ", ".join(s["when"]) or "–"),
        ("outcomes", "So far", lambda s: ", ".join(f"{n:,} {k}" for k, n in s["outcomes"].items()) or "–")]),
        class_="card"))
    log = report.send_log(ws, journey_id, limit=50, offset=offset)
    parts.append(el("section", el("h2", "Send log: what was sent to whom, and why"), table(log["items"], [
        ("decided_at", "When", lambda x: when(x["decided_at"])),
        ("customer_id", "Customer", lambda x: el("a", x["customer_id"], href=f"/customers/{quote(x['customer_id'], safe='')}")),
        ("step_name", "Step"), ("channel", "Channel"), ("status", "Outcome"), ("reason", "Why")],
        caption=f"{log['total']:,} entries, newest first", empty="Nothing decided yet."), class_="card"))
    editor = ""
    if principal.can("admin"):
        editor = el("details", el("summary", "Edit (saving makes a new version that needs approval again)"),
                    el("form", csrf_field(principal),
                       el("label", "Journey definition (TOML)", for_="definition"),
                       el("textarea", d["definition"], id="definition", name="definition", rows="24",
                          style="width:100%;font-family:monospace"),
                       el("p", el("button", "Save as a new version", type="submit")),
                       method="post", action=f"/journeys/{quote(journey_id)}/save"))
    parts.append(el("section", el("h2", "Definition"), el("pre", d["definition"]), editor, class_="card"))
    return page(request, d["name"], join(parts), principal=principal, charts=bool(r.get("treated")))


def _redirect(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'message': message})}", status_code=303)


@router.post("/journeys/{journey_id}/{action}", response_class=HTMLResponse)
def journey_action(request: Request, journey_id: str, action: str, principal: Principal = Depends(require_page("admin")),
                   csrf_token: str = Form("", max_length=200), definition: str = Form("", max_length=100_000)):
    from regulars.server.actions import set_journey_status, write
    from regulars.jobs.activation_admin import save_journey

    check_csrf(principal, csrf_token)
    if action in ("approve", "pause"):
        out = set_journey_status(request, principal, journey_id, "approved" if action == "approve" else "paused")
        notes = "; ".join(out.get("notes") or [])
        return _redirect("/journeys", f"{out['name']} is now {'on' if action == 'approve' else 'paused'}."
                         + (f" Note: {notes}" if notes else ""))
    if action == "save":
        out = write(request, lambda ws: save_journey(ws, definition, principal.actor, principal.role))
        return _redirect(f"/journeys/{quote(out['journey_id'])}", f"Saved version {out['version']} as a draft.")
    raise ApiError(404, f"unknown action {action!r}")


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, principal: Principal = Depends(require_page("admin")), ws=Depends(read_view),
                  status: str | None = Query(None, pattern="^(pending|delivered|dead)$"),
                  offset: int = Query(0, ge=0, le=10_000_000)):
    subs = report.subscriptions(ws)["items"]
    log = report.deliveries(ws, status=status, limit=50, offset=offset)
    dead = report.deliveries(ws, status="dead", limit=50)

    def retry(d):
        return el("form", csrf_field(principal), el("button", "Retry", type="submit", class_="secondary"),
                  method="post", action=f"/webhooks/retry/{quote(d['delivery_id'], safe='')}")

    cols = [("created_at", "Created", lambda d: when(d["created_at"])), ("subscription", "Subscription"),
            ("topic", "Topic"), ("status", "Status"), ("attempts", "Attempts", None, "num"),
            ("last_status", "Last answer", lambda d: d.get("last_status") or d.get("last_error") or "–"),
            ("latency_ms", "Latency (ms)", lambda d: num(d.get("latency_ms"), 1), "num"),
            ("next_attempt_at", "Next try", lambda d: when(d.get("next_attempt_at")) if d["status"] == "pending" else "–")]
    body = join([
        el("p", el("a", "← Journeys", href="/journeys")), el("h1", "Webhooks"),
        el("p", "Each delivery is a signed JSON POST (header Regulars-Signature: t=…,v1=HMAC-SHA256 of \"t.body\" "
                "with the subscription's secret). Failures are retried with exponential back-off; after the last "
                "attempt a delivery goes to the dead-letter list.", class_="lead"),
        el("section", el("h2", "Subscriptions"), table(subs, [
            ("name", "Name"), ("url", "URL"), ("topics", "Topics", lambda s: ", ".join(s["topics"])),
            ("is_active", "Active", lambda s: "yes" if s["is_active"] else "no"),
            ("max_attempts", "Attempts", None, "num")],
            empty="No subscriptions: add one with `regulars webhooks add` or POST /api/webhooks."), class_="card"),
        el("section", el("h2", "Dead letters"), table(dead["items"], cols + [("delivery_id", "", retry)],
                                                      empty="No dead letters."), class_="card"),
        el("section", el("h2", "Delivery log"), table(log["items"], cols, caption=f"{log['total']:,} deliveries",
                                                      empty="No deliveries yet."), class_="card"),
    ])
    return page(request, "Webhooks", body, principal=principal)


@router.post("/webhooks/retry/{delivery_id}", response_class=HTMLResponse)
def webhook_retry(request: Request, delivery_id: str, principal: Principal = Depends(require_page("admin")),
                  csrf_token: str = Form("", max_length=200)):
    from regulars.server.actions import requeue_delivery

    check_csrf(principal, csrf_token)
    requeue_delivery(request, principal, delivery_id)
    return RedirectResponse("/webhooks", status_code=303)


@router.get("/reports/monday", response_class=HTMLResponse)
def monday_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
                as_of: dt.date | None = Query(None)):
    from regulars.server.actions import monday
    from regulars.jobs.monday_report import render_body

    data = monday(request, ws, as_of)
    body = join([el("h1", "Monday report"),
                 el("form", el("div", el("label", "Week before", for_="as_of"),
                               void("input", type="date", id="as_of", name="as_of", value=data["as_of"])),
                    el("div", el("button", "Show", type="submit", class_="secondary")),
                    method="get", action="/reports/monday", class_="inline"),
                 el("article", HTML(render_body(data)), class_="card monday-report")])
    return page(request, "Monday report", body, principal=principal)


@router.get("/activation", response_class=HTMLResponse)
def activation_page(request: Request, principal: Principal = Depends(require_page("admin")), ws=Depends(read_view),
                    message: str | None = Query(None, max_length=300)):
    from regulars.activation.settings import SETTINGS, SECRET
    from regulars.jobs.activation_admin import current_settings

    values = current_settings(ws)
    fields = []
    for name, (_default, kind, help_text) in SETTINGS.items():
        value = values.get(name)
        if name in SECRET:
            field = void("input", type="password", id=name, name=name, placeholder="set" if value else "not set")
        elif kind == "bool":
            field = el("select", el("option", "yes", value="true", selected=bool(value)),
                       el("option", "no", value="false", selected=not value), id=name, name=name)
        else:
            field = void("input", type="text", id=name, name=name, value="" if value is None else str(value))
        fields.append(el("div", el("label", name.replace("_", " "), for_=name), field,
                         el("small", help_text, class_="muted")))
    sched = report.schedules(ws)
    alerts = report.alerts(ws, 30)["items"]
    body = join([
        el("p", el("a", "← Journeys", href="/journeys")), el("h1", "Activation settings"),
        el("div", message, class_="ok", role="status") if message else "",
        el("section", el("h2", "Settings"), el("form", csrf_field(principal), *fields,
                                               el("div", el("button", "Save", type="submit")),
                                               method="post", action="/activation", class_="stack"), class_="card"),
        el("section", el("h2", "Schedules"), table(sched["items"], [
            ("schedule_id", "Job"), ("cron", "Cron (shop time)"), ("last_run_at", "Last run", lambda s: when(s["last_run_at"])),
            ("next_run_at", "Next run (UTC)", lambda s: when(s["next_run_at"]))], empty="No schedules yet."),
            table(sched["runs"], [("finished_at", "Finished", lambda r: when(r["finished_at"])), ("kind", "Job"),
                                  ("status", "Status"), ("error", "Error")], caption="Recent runs",
                  empty="No runs yet."), class_="card"),
        el("section", el("h2", "Alerts fired"), table(alerts, [
            ("fired_at", "When", lambda a: when(a["fired_at"])), ("alert_key", "Alert"), ("message", "What happened")],
            empty="No alert has fired."), class_="card"),
    ])
    response = page(request, "Activation settings", body, principal=principal)
    response.headers["cache-control"] = "no-store"
    return response


@router.post("/activation", response_class=HTMLResponse)
async def activation_save(request: Request, principal: Principal = Depends(require_page("admin"))):
    from regulars.activation.settings import SECRET, SETTINGS
    from regulars.server.actions import write
    from regulars.jobs.activation_admin import change_settings

    form = await request.form()
    check_csrf(principal, str(form.get("csrf_token") or ""))
    values = {k: str(form.get(k)) for k in SETTINGS if k in form and not (k in SECRET and not form.get(k))}
    import anyio

    try:
        await anyio.to_thread.run_sync(lambda: write(request, lambda ws: change_settings(ws, values, principal.actor,
                                                                                        principal.role)))
        message = "Saved."
    except ApiError as exc:
        message = exc.message
    return _redirect("/activation", message)
