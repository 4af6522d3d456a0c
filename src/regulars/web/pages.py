"""Dashboard pages: sign-in, Overview, Customers (search and the 360 profile), Data, Settings.

Analysis pages (Segments, Cohorts, Funnel, Predictions) are in :mod:`regulars.web.analysis`.
Each page calls the same function as its JSON route (:mod:`regulars.server.views`,
:mod:`regulars.reports`), then renders HTML on the server.

Why this module is long: it holds the routes of five small pages (sign-in, Overview, Customers,
Data, Settings) with the markup only they draw; each page is short, and the shared pieces are
already in :mod:`regulars.web.html` and :mod:`regulars.web.layout`.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from regulars.server import views
from regulars.server.errors import ApiError
from regulars.server.security import (
    LOGIN_CSRF_COOKIE, SESSION_COOKIE, AuthProblem, Principal, check_csrf, cookie_secure, identify, new_login_csrf,
    require_page,
)
from regulars.data import auth
from regulars.data.schema import KINDS
from regulars.data.shop import rates_text
from regulars.reports import customers as customers_report
from regulars.reports import data_admin
from regulars.server.read import read_view
from regulars.web import activation, analysis, money_overview, profile, text, trust
from regulars.web import recommend as recommend_pages
from regulars.web.html import HTML, chart, delta, el, esc, join, money, num, pager, pct, sparkline, table, tile, void, when
from regulars.web.layout import csrf_field, login_page, page
from regulars.web.upload_mapping import chosen_mapping, mapping_fields, saved_names

router = APIRouter(include_in_schema=False)
router.include_router(analysis.router)
router.include_router(profile.router)
router.include_router(recommend_pages.router)
router.include_router(activation.router)
router.include_router(text.router)
router.include_router(trust.router)


def safe_next(next_url: str | None) -> str:
    """Only a local path may follow sign-in (no open redirect)."""
    if (not next_url or not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url
            or any(ord(ch) < 32 for ch in next_url)):
        return "/"
    return next_url


# -- sign-in ------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = Query("/", max_length=2000)):
    try:
        if identify(request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
    except AuthProblem:
        pass
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_csrf()
    response = login_page(request, token, safe_next(next))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=cookie_secure(request),
                        path="/login", max_age=3600)
    return response


@router.post("/login")
def login(request: Request, key: str = Form("", max_length=500), csrf_token: str = Form("", max_length=200),
          next: str = Form("/", max_length=2000)):
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    target = safe_next(next)
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return login_page(request, expected or new_login_csrf(), target,
                          "Your sign-in form expired. Please try again.", status=403)
    api_key = request.app.state.keyring.verify(key)
    if api_key is None:
        return login_page(request, expected, target, "That key is not valid (wrong, or revoked).", status=401)
    hours = float(request.app.state.app_settings.get("session_hours") or 12)
    token, _session = request.app.state.sessions.start(api_key, hours)
    request.app.state.shared.submit(
        lambda ws: auth.record(ws, f"key:{api_key.key_id}", api_key.role, "session.start", None))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=cookie_secure(request),
                        max_age=int(hours * 3600), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("", max_length=200),
           principal: Principal = Depends(require_page("viewer"))):
    check_csrf(principal, csrf_token)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.sessions.end(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- overview -------------------------------------------------------------------------
TILES = [  # (column, label, format, good when up, is a rate)
    ("customers", "Customers", num, True, False),
    ("active_customers", "Active customers", num, True, False),
    ("revenue", "Revenue", money, True, False),
    ("orders", "Orders", num, True, False),
    ("average_order_value", "Average order value", money, True, False),
    ("repeat_purchase_rate", "Repeat-purchase rate", pct, True, True),
    ("churn_rate", "Churn rate", pct, False, True),
    ("clv_historical", "Historical CLV", money, True, False),
    ("conversion_rate", "Conversion (sessions → orders)", pct, True, True),
    ("csat", "CSAT (rated 4 or 5)", pct, True, True),
    ("nps", "NPS", lambda v: num(v, 0), True, False),
]


def _complete_months(monthly: dict) -> list[dict]:
    rows = monthly.get("rows") or []
    end = monthly.get("end")
    if rows and end:
        import datetime as dt

        from regulars.values import iso_date

        end_day = iso_date(end)
        if (end_day + dt.timedelta(days=1)).month == end_day.month:  # the last month is not over
            rows = rows[:-1]
    return rows


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view)):
    summary = views.kpis(request, ws)
    monthly = views.kpis(request, ws, by="month")
    row = (summary.get("rows") or [{}])[0]
    months = _complete_months(monthly)
    parts = [el("h1", "Overview")]
    if not summary.get("rows"):
        parts.append(el("div", *[el("p", n) for n in summary.get("notes", [])] or "No orders yet.", class_="note"))
        return page(request, "Overview", join(parts), principal=principal)
    window = f"{summary.get('start')} to {summary.get('end')}"
    compare = f"trends compare {months[-1]['month']} with {months[-2]['month']}" if len(months) >= 2 else \
        "trends appear after two complete months"
    parts.append(el("p", f"All figures over {window}; {compare}.", class_="lead"))
    if summary.get("currency_warning"):
        parts.append(el("div", el("p", summary["currency_warning"]), class_="note", role="note"))
    elif summary.get("currency_note"):
        parts.append(el("p", summary["currency_note"], class_="muted currency-note"))
    tiles = []
    defs = summary.get("definitions") or {}
    for col, label, fmt, good_up, is_rate in TILES:
        value = row.get(col)
        if value is None:
            continue
        d = spark = None
        series = [m.get(col) for m in months[-12:]]
        if len(months) >= 2 and col not in ("customers",):
            d = delta(months[-1].get(col), months[-2].get(col), months[-2]["month"], good_up, is_rate,
                      points=col == "nps")
        if col == "customers":
            series = [m.get("new_customers") for m in months[-12:]]
        spark = sparkline(series, f"{label}, last {len(series)} months")
        tiles.append(tile(label, fmt(value), d, spark, title=defs.get(col)))
    parts.append(el("section", el("h2", "Headline numbers", class_="visually-hidden"), el("div", *tiles, class_="tiles"),
                    aria_label="Headline numbers"))
    if summary.get("by_currency"):
        parts.append(el("section", el("h2", "Money per currency"), money_overview.per_currency_table(summary),
                        class_="card"))

    mrows = [dict(m) for m in monthly.get("rows") or []]
    if len(months) < len(mrows):  # the last month is not over: say so where it shows
        mrows[-1]["month"] = f"{mrows[-1]['month']} (partial, to {str(monthly.get('end'))[:10]})"
    x = [m["month"] for m in mrows]
    rev = money_overview.revenue_by_month(monthly, x) if monthly.get("by_currency") else chart({"data": [{"type": "bar", "x": x, "y": [m.get("revenue") for m in mrows], "name": "revenue",
                           "marker": {"color": "#1f5fbf"}}],
                 "layout": {"yaxis": {"title": {"text": "net revenue"}}}},
                "Net revenue per month",
                data_table=table(mrows, [("month", "Month"), ("revenue", "Revenue", lambda r: money(r.get("revenue")), "num"),
                                         ("orders", "Orders", lambda r: num(r.get("orders")), "num")]))
    nvr = chart({"data": [
        {"type": "bar", "x": x, "y": [m.get("new_customers") for m in mrows], "name": "new", "marker": {"color": "#f2b600"}},
        {"type": "bar", "x": x, "y": [m.get("returning_customers") for m in mrows], "name": "returning",
         "marker": {"color": "#1f5fbf"}}], "layout": {"barmode": "stack", "yaxis": {"title": {"text": "customers ordering"}}}},
        "New and returning customers ordering each month",
        data_table=table(mrows, [("month", "Month"), ("new_customers", "New", lambda r: num(r.get("new_customers")), "num"),
                                 ("returning_customers", "Returning", lambda r: num(r.get("returning_customers")), "num")]))
    parts.append(el("div", el("section", el("h2", "Revenue by month"), rev, class_="card"),
                    el("section", el("h2", "New vs returning customers"), nvr, class_="card"), class_="grid2"))
    seg = None if summary.get("by_currency") else analysis.revenue_by_segment(request, ws)  # adds all currencies
    if seg is not None:
        parts.append(el("section", el("h2", "Revenue by segment"), seg, class_="card"))
    notes = summary.get("notes") or []
    if notes:
        parts.append(el("details", el("summary", "How these numbers are computed"),
                        el("ul", *[el("li", n) for n in notes])))
    return page(request, "Overview", join(parts), principal=principal, charts=True)


# -- customers ------------------------------------------------------------------------
@router.get("/customers", response_class=HTMLResponse)
def customers(
    request: Request,
    principal: Principal = Depends(require_page("viewer")),
    ws=Depends(read_view),
    q: str | None = Query(None, max_length=200),
    segment: str | None = Query(None, max_length=200),
    sort: str = Query("last_order", pattern="^(last_order|revenue|orders|created|id)$"),
    offset: int = Query(0, ge=0, le=100_000_000),
):
    limit = 50
    result = customers_report.list_customers(ws, q, segment=segment or None, sort=sort, limit=limit, offset=offset,
                                             include_pii=principal.sees_pii)
    data = result.to_dict()
    seg_options = analysis.segment_options(request, ws)
    search_label = "Customer id, e-mail or name" if principal.sees_pii else "Customer id"
    form = el(
        "form",
        el("div", el("label", search_label, for_="q"),
           void("input", type="search", id="q", name="q", value=q or "", placeholder="e.g. C000123")),
        el("div", el("label", "Segment", for_="segment"),
           el("select", el("option", "All customers", value=""),
              *[el("option", label, value=value, selected=(value == segment)) for value, label in seg_options],
              id="segment", name="segment")) if seg_options else "",
        el("div", el("label", "Sort by", for_="sort"),
           el("select", *[el("option", label, value=value, selected=(value == sort)) for value, label in (
               ("last_order", "latest order"), ("revenue", "revenue"), ("orders", "orders"), ("created", "newest"),
               ("id", "customer id"))], id="sort", name="sort")),
        el("div", el("button", "Search", type="submit")),
        method="get", action="/customers", class_="inline", role="search",
    )

    def name(r):
        n = " ".join(x for x in (r.get("first_name"), r.get("last_name")) if x)
        return n or "–"

    cols = [("customer_id", "Customer", lambda r: el("a", r["customer_id"], href=f"/customers/{_path(r['customer_id'])}"))]
    cols += [("name", "Name", name), ("email", "E-mail")]
    cols += [("city", "City"), ("orders", "Orders", lambda r: num(r.get("orders")), "num"),
             ("revenue", "Revenue", lambda r: money(r.get("revenue")), "num"),
             ("last_order_at", "Last order", lambda r: when(r.get("last_order_at")))]
    body = join([
        el("h1", "Customers"),
        form,
        *[el("p", n, class_="note") for n in data["notes"]],
        table(data["items"], cols, caption=f"{data['total']:,} customers", empty="No customer matches."),
        pager("/customers", data["total"], limit, offset, {"q": q, "segment": segment, "sort": sort}),
    ])
    return page(request, "Customers", body, principal=principal)


def _path(customer_id: str) -> str:
    from urllib.parse import quote

    return quote(customer_id, safe="")


# -- data -------------------------------------------------------------------------------
@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view),
              run: int | None = Query(None, ge=0, le=2**62)):
    return render_data(request, principal, ws, run)


def render_data(request: Request, principal: Principal, ws, run: int | None = None, message: HTML | None = None):
    overview_ = data_admin.workspace_overview(ws)
    runs = data_admin.ingest_runs(ws, limit=20).to_dict()
    quarantine = data_admin.quarantine(ws, run_id=run, limit=30, include_pii=principal.sees_pii).to_dict()
    parts = [el("h1", "Data"), message or ""]
    counts = [{"table": t, "rows": n} for t, n in overview_["tables"].items()]
    parts.append(el("div",
                    el("section", el("h2", "What the workspace holds"),
                       table(counts, [("table", "Table"), ("rows", "Rows", lambda r: num(r["rows"]), "num")],
                             label="table sizes"),
                       el("p", f"Schema version {overview_['schema_version']}; last load {when(overview_['last_ingest_at'])}.",
                          class_="muted"), class_="card"),
                    el("section", el("h2", "Data doctor"), _doctor(request, ws), class_="card"),
                    class_="grid2"))
    if principal.can("analyst"):
        parts.append(_upload_form(principal, saved_names(ws)))
    parts.append(el("section", el("h2", "Ingest runs"), table(runs["items"], [
        ("run_id", "Run", lambda r: el("a", str(r["run_id"]), href=f"/data?run={r['run_id']}#quarantine")),
        ("kind", "Kind"), ("format", "Format"),
        ("files", "Files", lambda r: ", ".join(r["files"] or []) if isinstance(r["files"], list) else r["files"]),
        ("started_at", "Started", lambda r: when(r["started_at"])),
        ("rows_read", "Read", lambda r: num(r["rows_read"]), "num"),
        ("rows_new", "New", lambda r: num(r["rows_new"]), "num"),
        ("rows_updated", "Updated", lambda r: num(r["rows_updated"]), "num"),
        ("rows_quarantined", "Quarantined", lambda r: num(r["rows_quarantined"]), "num"),
    ], caption=f"{runs['total']:,} runs, newest first", empty="Nothing loaded yet."), class_="card"))
    title = f"Quarantine (run {run})" if run is not None else "Quarantine"
    q_cols = [("run_id", "Run"), ("kind", "Kind"), ("file", "File"), ("row_number", "Row", None, "num"),
              ("column_name", "Column"), ("reason", "Reason")]
    if principal.sees_pii:
        q_cols.append(("raw", "Raw row", lambda r: el("code", _short(r.get("raw")))))
    parts.append(el("section", el("h2", title, id="quarantine"),
                    el("ul", *[el("li", n) for n in quarantine["notes"]]) if quarantine["notes"] else "",
                    table(quarantine["items"], q_cols, caption=f"{quarantine['total']:,} rejected rows",
                          empty="No rejected rows."), class_="card"))
    return page(request, "Data", join(parts), principal=principal)


def _short(raw) -> str:
    import json

    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    return text if len(text) < 160 else text[:157] + "…"


def _doctor(request: Request, ws) -> HTML:
    try:
        report = views.doctor(request, ws)
    except ApiError as exc:
        return el("p", exc.message, class_="muted")
    return analysis.render_doctor(report)


def _upload_form(principal: Principal, saved: list[str]) -> HTML:
    return el("section", el("h2", "Upload a file"),
              el("form", csrf_field(principal),
                 el("div", el("label", "What the file holds", for_="kind"),
                    el("select", *[el("option", k, value=k) for k in KINDS], id="kind", name="kind")),
                 el("div", el("label", "Format (optional)", for_="format"),
                    void("input", type="text", id="format", name="format", placeholder="detected")),
                 el("div", el("label", "Files", for_="files"),
                    void("input", type="file", id="files", name="files", multiple=True, required=True)),
                 mapping_fields(saved),
                 el("div", el("button", "Load", type="submit")),
                 method="post", action="/data/upload", enctype="multipart/form-data", class_="inline"),
              el("p", "Loads go through the same validated, idempotent, all-or-nothing path as "
                      "`regulars ingest`; rejected rows land in the quarantine below.", class_="muted"),
              class_="card")


@router.post("/data/upload", response_class=HTMLResponse)
def data_upload(request: Request, principal: Principal = Depends(require_page("analyst")),
                csrf_token: str = Form("", max_length=200), kind: str = Form(..., max_length=40),
                format: str | None = Form(None, max_length=40), files: list[UploadFile] = File(...),
                saved_mapping: str = Form("", max_length=100), mapping_toml: str = Form("", max_length=65536),
                save_mapping_as: str = Form("", max_length=100)):
    from regulars.server.uploads import run_upload

    check_csrf(principal, csrf_token)
    try:
        toml = chosen_mapping(request, principal, saved_mapping, mapping_toml, save_mapping_as)
        result = run_upload(request, principal, kind, files, format or None, None, toml)
    except ApiError as exc:
        message = el("div", exc.message, class_="error", role="alert")
    else:
        message = el("div", f"Run {result['run_id']} ({result['format']}): read {result['rows_read']:,} rows, "
                            f"loaded {result['rows_loaded']:,}, quarantined {result['rows_quarantined']:,}.",
                     *[el("p", w) for w in result["warnings"]], class_="ok", role="status")
    with request.app.state.shared.read() as ws:
        return render_data(request, principal, ws, None, message)


# -- settings (admin) ----------------------------------------------------------------------
@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, principal: Principal = Depends(require_page("admin")), ws=Depends(read_view)):
    return render_settings(request, principal, ws)


def render_settings(request: Request, principal: Principal, ws, message: HTML | None = None):
    values = request.app.state.app_settings
    keys = [k.as_dict() for k in auth.list_keys(ws)]
    _total, audit = auth.audit_entries(ws, 30, 0)
    form = el("form", csrf_field(principal),
              el("div", el("label", "Shop name", for_="shop_name"),
                 void("input", type="text", id="shop_name", name="shop_name", value=values.get("shop_name"),
                      maxlength="80", required=True)),
              el("div", el("label", "Currency (ISO code)", for_="currency"),
                 void("input", type="text", id="currency", name="currency", value=values.get("currency") or "",
                      maxlength="3", size="4", placeholder="EUR", pattern="[A-Za-z]{3}")),
              el("div", el("label", "Exchange rates to the shop's currency", for_="exchange_rates"),
                 void("input", type="text", id="exchange_rates", name="exchange_rates", maxlength="400", size="30",
                      value=rates_text(values.get("exchange_rates") or {}), placeholder="USD=0.92, GBP=1.17",
                      aria_describedby="rates-help"),
                 el("small", rates_help(values), id="rates-help", class_="muted")),
              el("div", el("label", "Time zone", for_="timezone"),
                 void("input", type="text", id="timezone", name="timezone", value=values.get("timezone") or "UTC",
                      maxlength="64", placeholder="Europe/Paris")),
              el("div", el("label", "Sign-in lasts (hours)", for_="session_hours"),
                 void("input", type="number", id="session_hours", name="session_hours", step="0.25", min="0.25",
                      max="720", value=values.get("session_hours"))),
              el("div", el("button", "Save", type="submit")),
              method="post", action="/settings", class_="inline")

    def revoke(k):
        if not k["active"]:
            return el("span", f"revoked {when(k['revoked_at'])}", class_="muted")
        return el("form", csrf_field(principal), el("button", "Revoke", type="submit", class_="secondary",
                                                     aria_label=f"Revoke key {k['key_id']}"),
                  method="post", action=f"/settings/keys/{k['key_id']}/revoke",
                  data_confirm=f"Revoke key {k['key_id']} ({k['name']})? Tools using it stop working.")

    new_key = el("form", csrf_field(principal),
                 el("div", el("label", "Role", for_="role"),
                    el("select", *[el("option", r, value=r) for r in auth.ROLES], id="role", name="role")),
                 el("div", el("label", "What it is for", for_="name"),
                    void("input", type="text", id="name", name="name", maxlength="100", placeholder="e.g. CRM sync")),
                 el("div", el("button", "Create key", type="submit")),
                 method="post", action="/settings/keys", class_="inline")
    body = join([
        el("h1", "Settings"), message or "",
        el("section", el("h2", "Shop"), form, class_="card"),
        el("section", el("h2", "API keys"), new_key, table(keys, [
            ("key_id", "Key id"), ("name", "For"), ("role", "Role"), ("created_at", "Created", lambda k: when(k["created_at"])),
            ("last_used_at", "Last used", lambda k: when(k["last_used_at"])), ("active", "", revoke)],
            caption="Keys are stored hashed; a key's secret is shown once, when it is created."), class_="card"),
        el("section", el("h2", "Audit log"), table(audit, [
            ("logged_at", "When", lambda a: when(a["logged_at"])), ("actor", "Who"), ("action", "What"),
            ("target", "Target"), ("detail", "Detail", lambda a: _short(a["detail"]))],
            caption="Latest 30 entries"), class_="card"),
    ])
    response = page(request, "Settings", body, principal=principal)
    response.headers["cache-control"] = "no-store"
    return response


def rates_help(values: dict) -> str:
    """What the exchange-rate field means, with the day each rate was set."""
    rates = values.get("exchange_rates") or {}
    shop = values.get("currency") or "the shop's currency"
    dated = "; ".join(f"{c} set {r['set_on']}" for c, r in rates.items())
    return (f"One unit of each currency in {shop}, e.g. USD=0.92: orders in these currencies are converted before "
            "they are added up" + (f" ({dated})" if dated else "; without a rate, money is shown per currency"))


@router.post("/settings", response_class=HTMLResponse)
def settings_save(request: Request, principal: Principal = Depends(require_page("admin")),
                  csrf_token: str = Form("", max_length=200), shop_name: str = Form("", max_length=200),
                  session_hours: str = Form("", max_length=20), currency: str = Form("", max_length=20),
                  timezone: str = Form("", max_length=64), exchange_rates: str | None = Form(None, max_length=400)):
    from regulars.server.actions import change_settings

    check_csrf(principal, csrf_token)
    extra = {k: v.strip() for k, v in (("currency", currency), ("timezone", timezone)) if v.strip()}
    if exchange_rates is not None:
        extra["exchange_rates"] = exchange_rates
    try:
        change_settings(request, principal, {"shop_name": shop_name, "session_hours": session_hours, **extra})
        message = el("div", "Saved.", class_="ok", role="status")
    except ApiError as exc:
        message = el("div", exc.message, class_="error", role="alert")
    with request.app.state.shared.read() as ws:
        return render_settings(request, principal, ws, message)


@router.post("/settings/keys", response_class=HTMLResponse)
def settings_new_key(request: Request, principal: Principal = Depends(require_page("admin")),
                     csrf_token: str = Form("", max_length=200), role: str = Form(..., max_length=20),
                     name: str = Form("", max_length=100)):
    from regulars.server.actions import make_key

    check_csrf(principal, csrf_token)
    if role not in auth.ROLES:
        raise ApiError(422, f"unknown role {role!r}")
    key = make_key(request, principal, role, name)
    message = el("div", el("p", f"New {role} key {key['key_id']} — copy it now, it will not be shown again:"),
                 el("p", el("code", key["secret"], id="new-key")), class_="ok", role="status")
    with request.app.state.shared.read() as ws:
        return render_settings(request, principal, ws, message)


@router.post("/settings/keys/{key_id}/revoke", response_class=HTMLResponse)
def settings_revoke(request: Request, key_id: str, principal: Principal = Depends(require_page("admin")),
                    csrf_token: str = Form("", max_length=200)):
    from regulars.server.actions import drop_key

    check_csrf(principal, csrf_token)
    try:
        drop_key(request, principal, key_id)
        message = el("div", f"Key {key_id} revoked.", class_="ok", role="status")
    except ApiError as exc:
        message = el("div", exc.message, class_="error", role="alert")
    if key_id == principal.key_id:
        return RedirectResponse("/login", status_code=303)
    with request.app.state.shared.read() as ws:
        return render_settings(request, principal, ws, message)


__all__ = ["router", "esc"]
