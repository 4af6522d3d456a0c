"""The Lists page: every list a shop owner acts on, each with its rows and one "Download CSV" click
(the CSV comes from ``/api/lists/{name}?format=csv``, the same report as ``regulars lists``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from regulars.server.actions import lists_overview, one_list
from regulars.server.read import read_view
from regulars.server.security import Principal, require_page
from regulars.web.html import el, join, num, table
from regulars.web.layout import page

router = APIRouter(include_in_schema=False)
SHOWN = 100


def _csv_href(name: str) -> str:
    return f"/api/lists/{quote(name, safe=':')}?format=csv"


@router.get("/lists", response_class=HTMLResponse)
def lists_page(request: Request, principal: Principal = Depends(require_page("viewer")), ws=Depends(read_view)):
    items = lists_overview(ws)["items"]
    note = ("" if principal.sees_pii else
            el("p", "Names and e-mails are hidden for your role; an analyst or admin sees them.", class_="muted"))
    body = join([
        el("h1", "Lists to act on"), note,
        el("section", table(items, [
            ("title", "List", lambda r: el("a", r["title"], href=f"/lists/{quote(r['name'], safe=':')}")),
            ("size", "People", lambda r: num(r["size"]), "num"),
            ("purpose", "What for"),
            ("name", "Export", lambda r: el("a", "Download CSV", href=_csv_href(r["name"]),
                                            aria_label=f"Download {r['title']} as CSV")),
        ], caption="Every list is exported whole, with names and e-mails for roles that may see them"),
            class_="card"),
    ])
    return page(request, "Lists", body, principal=principal)


@router.get("/lists/{name}", response_class=HTMLResponse)
def list_page(request: Request, name: str, principal: Principal = Depends(require_page("viewer")),
              ws=Depends(read_view), show: int = Query(SHOWN, ge=1, le=100_000)):
    found = one_list(ws, name, principal)
    rows = found.display()
    headers = list(rows[0]) if rows else []
    when = f" Predictions of {found.as_of}." if found.as_of else ""
    body = join([
        el("p", el("a", "← All lists", href="/lists")),
        el("h1", found.title),
        el("p", f"{found.purpose}. {len(found.rows):,} people.{when}", class_="muted"),
        *[el("p", n, class_="muted") for n in found.notes],
        el("p", el("a", f"Download all {len(found.rows):,} as CSV", href=_csv_href(found.name), class_="button")),
        el("section", table(rows[:show], [(h, h) for h in headers],
                            caption=(f"First {min(show, len(rows)):,} of {len(rows):,}" if len(rows) > show else None),
                            empty="Nobody on this list right now.", label=found.title), class_="card"),
    ])
    return page(request, found.title, body, principal=principal)
