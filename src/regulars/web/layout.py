"""The page frame (header, navigation, sign-out), the sign-in page and error pages."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from regulars.web import static
from regulars.web.html import HTML, el, esc, join, void

#: (path, label, minimum role)
NAV = [
    ("/", "Overview", "viewer"),
    ("/segments", "Segments", "viewer"),
    ("/customers", "Customers", "viewer"),
    ("/lists", "Lists", "viewer"),
    ("/cohorts", "Cohorts", "viewer"),
    ("/funnel", "Funnel", "viewer"),
    ("/predictions", "Predictions", "viewer"),
    ("/experiments", "Experiments", "viewer"),
    ("/products", "Products", "viewer"),
    ("/actions", "Actions", "viewer"),
    ("/journeys", "Journeys", "viewer"),
    ("/text", "Text", "viewer"),
    ("/anomalies", "Anomalies", "viewer"),
    ("/fairness", "Fairness", "viewer"),
    ("/model-cards", "Model cards", "viewer"),
    ("/data", "Data", "viewer"),
    ("/settings", "Settings", "admin"),
]


def shop_name(request: Request) -> str:
    settings = getattr(request.app.state, "app_settings", None) or {}
    return str(settings.get("shop_name") or "My shop")


def shop_currency(request: Request) -> str | None:
    """The shop's currency code (``regulars settings currency EUR``), None until one is set."""
    settings = getattr(request.app.state, "app_settings", None) or {}
    return settings.get("currency") or None


def csrf_field(principal) -> HTML:
    return void("input", type="hidden", name="csrf_token", value=principal.csrf_token or "")


def page(request: Request, title: str, body, *, principal=None, charts: bool = False, status: int = 200,
         headers: dict | None = None) -> HTMLResponse:
    """A whole page: header with navigation for *principal*'s role, then *body*."""
    principal = principal or getattr(request.state, "principal", None)
    path = request.url.path
    head = [
        HTML('<meta charset="utf-8">'),
        void("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("title", f"{title} · {shop_name(request)} · regulars"),
        void("link", rel="stylesheet", href=static.url("app.css")),
        void("link", rel="icon", href="data:,"),
    ]
    if charts:
        head.append(el("script", src=static.url("plotly.min.js"), defer=True))
    head.append(el("script", src=static.url("app.js"), defer=True))
    currency = shop_currency(request)
    top = [el("a", shop_name(request), el("span", f" · {currency}", class_="currency") if currency else "",
              href="/", class_="brand", title=f"amounts in {currency}" if currency else None)]
    if principal is not None:
        links = []
        for href, label, role in NAV:
            if not principal.can(role):
                continue
            current = "page" if (path == href or (href != "/" and path.startswith(href + "/"))) else None
            links.append(el("li", el("a", label, href=href, aria_current=current)))
        top.append(el("nav", el("ul", *links), aria_label="Main"))
        who = [el("span", principal.role, class_="badge", title=f"signed in with key {principal.key_id}")]
        if principal.via == "session":
            who.append(el("form", csrf_field(principal), el("button", "Sign out", type="submit"),
                          method="post", action="/logout"))
        top.append(el("div", *who, class_="who"))
    doc = HTML("<!doctype html>") + el(
        "html",
        el("head", *head),
        el("body", el("a", "Skip to content", href="#main", class_="skip"), el("header", *top, class_="top"),
           el("main", body, id="main")),
        lang="en",
    )
    return HTMLResponse(doc, status_code=status, headers=headers)


def login_page(request: Request, csrf: str, next_url: str, message: str | None = None, status: int = 200) -> HTMLResponse:
    body = el(
        "div",
        el("h1", "Sign in"),
        el("p", "Paste an API key. The first admin key was printed when the server first started; "
                "create more with ", el("code", "regulars keys create --role viewer"), " or on the Settings page.",
           class_="muted"),
        el("div", message, class_="error", role="alert") if message else "",
        el("form",
           void("input", type="hidden", name="csrf_token", value=csrf),
           void("input", type="hidden", name="next", value=next_url),
           el("label", "API key", for_="key"),
           void("input", type="password", id="key", name="key", autocomplete="current-password", required=True,
                placeholder="rk_…"),
           el("p", el("button", "Sign in", type="submit")),
           method="post", action="/login"),
        class_="card login",
    )
    return page(request, "Sign in", body, principal=None, status=status)


def error_page(request: Request, status: int, message: str, headers=None) -> HTMLResponse:
    titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "Not possible yet",
              413: "Too large", 422: "Check the request", 503: "Not available"}
    principal = getattr(request.state, "principal", None)
    body = join([el("h1", titles.get(status, "Something went wrong")), el("p", message),
                 el("p", el("a", "Back to the overview", href="/"))])
    return page(request, titles.get(status, "Error"), body, principal=principal, status=status, headers=headers)


def escape_next(next_url: str | None) -> str:
    """Only local paths are allowed as a post-sign-in target (no open redirect)."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return str(esc(next_url)).replace("&amp;", "&")
