"""Every route of the OpenAPI spec and every dashboard page, for the three roles, against the planted customer.

- a viewer never receives any of her identifying strings (events and their properties included),
  in JSON, CSV or HTML;
- every answer except static assets says ``Cache-Control: no-store``;
- no answer names a folder of the server (the workspace's, the temporary directory's);
- nothing answers 500.
"""

from __future__ import annotations

import re
import tempfile

import pytest
from fastapi.routing import APIRoute

from regulars.data.auth import ROLES
from tests.security import planted

SEGMENT = "loyal_three"
VALUES = {"customer_id": planted.CID, "segment_id": SEGMENT, "key_id": "no-such-key", "kind": "spend",
          "erasure_id": "no-such-erasure", "name": "app.css"}


def api_operations(server) -> list[tuple[str, str]]:
    with server.client() as c:
        spec = c.get("/openapi.json").json()
    return [(m, p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put", "delete", "patch")]


def _routes(routes):
    for r in routes:
        if hasattr(r, "original_router"):  # FastAPI keeps included routers nested
            yield from _routes(r.original_router.routes)
        elif isinstance(r, APIRoute):
            yield r


def page_paths(server) -> list[str]:
    """Every dashboard page (the routes not in the OpenAPI spec; their routers add no prefix)."""
    return sorted({r.path for r in _routes(server.app.routes) if "GET" in r.methods and not r.include_in_schema
                   and not r.path.startswith("/api/") and r.path != "/login"})


def calls(method: str, path: str) -> list[dict]:
    """The requests made for one operation: its plain form and the variants that show the most data."""
    names = re.findall(r"{(\w+)}", path)  # a parameter not in VALUES gets a value that matches nothing
    url = path.format(**{n: VALUES.get(n, f"no-such-{n}") for n in names})
    if method == "delete" and path == "/api/customers/{customer_id}":
        url = "/api/customers/nobody-at-all"  # never erase her here (tests/security/test_erasure.py does)
    base: dict = {"method": method.upper(), "url": url}
    if (method, path) == ("post", "/api/events"):
        base["json"] = {"customer_id": planted.CID, "event_type": "page_view", "page_url": "/ok"}
    elif (method, path) == ("post", "/api/keys"):
        base["json"] = {"role": "viewer", "name": "route walk"}
    elif (method, path) == ("put", "/api/settings"):
        base["json"] = {}
    elif (method, path) == ("post", "/api/ingest/{kind}"):
        base["files"] = {"files": ("spend.csv", b"spent_on,channel,amount\n2024-02-01,organic,1.00\n", "text/csv")}
    out = [base]
    if method == "get":
        if path == "/api/customers":
            out += [{**base, "params": {"limit": 1000}}, {**base, "params": {"q": "zelda"}},
                    {**base, "params": {"q": planted.CID}}]
        if path == "/customers":  # (the page shows the words searched for: only her id here)
            out.append({**base, "params": {"q": planted.CID}})
        if path in ("/api/ingest/quarantine",):
            out.append({**base, "params": {"limit": 500}})
        if path.endswith("/members"):
            out += [{**base, "params": {"format": "csv"}}, {**base, "params": {"limit": 1000}}]
        if path == "/api/customers/{customer_id}":
            out.append({**base, "params": {"events": 5000, "orders": 5000}})
        if path == "/customers":
            out.append({**base, "params": {"segment": SEGMENT}})
        if path == "/data":
            out.append({**base, "params": {"run": 1}})
    return out


def _check(server, role: str, call: dict, *, static: bool = False) -> str:
    with server.client(role) as c:
        r = c.request(**call)
    where = f"{role} {call['method']} {call['url']} {call.get('params')}"
    assert r.status_code < 500, f"{where}: {r.status_code} {r.text[:300]}"
    if not static:
        assert "no-store" in r.headers.get("cache-control", ""), f"{where}: cacheable ({r.headers.get('cache-control')})"
    folders = {str(server.extra["shop"].path.parent), tempfile.gettempdir() + "/regulars-upload"}
    shown = [f for f in folders if f in r.text]
    assert not shown, f"{where}: shows a server folder {shown}"
    if role == "viewer":
        assert not planted.leaks(r.text), f"{where}: shows the planted customer to a viewer: {planted.leaks(r.text)}"
    return r.text


def test_the_planted_data_is_really_there_for_analysts(planted_server):
    """Without this the viewer checks below could pass on an empty shop."""
    with planted_server.client("analyst") as c:
        profile = c.get(f"/api/customers/{planted.CID}", params={"events": 5000}).text
        quarantine = c.get("/api/ingest/quarantine", params={"limit": 500}).text
        page = c.get(f"/customers/{planted.CID}").text
    for secret in ("zelda", "quixotic", "zq-99817", "zeldaquix"):
        assert secret in profile.lower(), secret
    assert "zelda.quux" in quarantine.lower() and "555-0916" in quarantine
    assert "quixotic" in page.lower()
    # the events posted with her phone and e-mail written differently went to her, not to a new customer
    with planted_server.client("analyst") as c:
        events = c.get(f"/api/customers/{planted.CID}", params={"events": 5000}).json()["events"]["items"]
    assert {"ev-zq-api-2"} <= {e["event_id"] for e in events}
    assert sum(e["search_query"] == "zelda quixotic birthday" for e in events) == 1


@pytest.mark.parametrize("role", ROLES)
def test_every_api_route(planted_server, role):
    checked = 0
    for method, path in api_operations(planted_server):
        for call in calls(method, path):
            _check(planted_server, role, call)
            checked += 1
    assert checked >= 38  # 31 operations and their variants


@pytest.mark.parametrize("role", ROLES)
def test_every_dashboard_page(planted_server, role):
    paths = page_paths(planted_server)
    assert {"/", "/customers", "/customers/{customer_id}", "/data"} <= set(paths)
    for path in paths:
        for call in calls("get", path):
            _check(planted_server, role, call, static=path.startswith("/static/"))


def test_viewer_profile_keeps_the_shape_but_masks_every_free_field(planted_server):
    with planted_server.client("viewer") as c:
        p = c.get(f"/api/customers/{planted.CID}", params={"events": 5000}).json()
    assert p["pii_masked"] is True
    events = p["events"]["items"]
    assert events and all(e["event_type"] for e in events)
    searches = [e for e in events if e["event_type"] == "search"]
    assert searches and all(e["search_query"] == "***" and e["page_url"] == "***" for e in searches)
    assert all(e["properties"] in ("***", None) for e in events)
    assert p["orders"]["items"][0]["total"] is not None and p["summary"]["orders"] >= 3
    assert {i["kind"] for i in p["identities"]} >= {"shop_id", "email", "phone"}
    assert all(i["value"] == "***" for i in p["identities"] if i["kind"] != "shop_id")
    assert p["tickets"][0]["body"] == "***" and p["tickets"][0]["topic"] == "***"
    assert not planted.leaks(str(p["timeline"]))


def test_static_assets_stay_cacheable(planted_server):
    with planted_server.client() as c:
        r = c.get("/static/app.css")
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
