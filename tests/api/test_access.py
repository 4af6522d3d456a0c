"""Access control on every route of the OpenAPI spec: 401 without a key, 403 below the role, no PII for viewers.

The routes are read from the live ``/openapi.json``; every operation must be
listed in :data:`ROLES` with the role it needs, so a new route cannot be added
without deciding (and testing) who may call it.
"""

from __future__ import annotations

import json

import pytest

from regulars.data.auth import ROLES as ROLE_ORDER

#: (method, path) -> the least role that may call it.
ROLES = {
    ("get", "/api/customers"): "viewer",
    ("get", "/api/customers/{customer_id}"): "viewer",
    ("delete", "/api/customers/{customer_id}"): "admin",
    ("get", "/api/customers/{customer_id}/export"): "admin",
    ("get", "/api/kpis"): "viewer",
    ("get", "/api/doctor"): "viewer",
    ("get", "/api/cohorts"): "viewer",
    ("get", "/api/funnel"): "viewer",
    ("get", "/api/segments"): "viewer",
    ("post", "/api/segments/refresh"): "analyst",
    ("get", "/api/segments/{segment_id}"): "viewer",
    ("get", "/api/segments/{segment_id}/members"): "viewer",
    ("get", "/api/personas"): "viewer",
    ("get", "/api/predictions"): "viewer",
    ("get", "/api/predictions/{customer_id}"): "viewer",
    ("get", "/api/backtests"): "viewer",
    ("get", "/api/lists"): "viewer",
    ("get", "/api/lists/{name}"): "viewer",
    ("post", "/api/events"): "analyst",
    ("post", "/api/ingest/{kind}"): "analyst",
    ("get", "/api/me"): "viewer",
    ("get", "/api/status"): "viewer",
    ("get", "/api/keys"): "admin",
    ("post", "/api/keys"): "admin",
    ("delete", "/api/keys/{key_id}"): "admin",
    ("get", "/api/settings"): "viewer",
    ("put", "/api/settings"): "admin",
    ("get", "/api/audit"): "admin",
    ("get", "/api/workspace"): "viewer",
    ("get", "/api/ingest/runs"): "viewer",
    ("get", "/api/ingest/quarantine"): "viewer",
    ("get", "/api/ingest/warnings"): "viewer",
    ("get", "/api/experiments"): "viewer",
    ("get", "/api/experiments/plan"): "viewer",
    ("get", "/api/experiments/{experiment_id}/analysis"): "viewer",
    ("get", "/api/experiments/{experiment_id}/bandit"): "viewer",
    ("post", "/api/experiments"): "analyst",
    ("post", "/api/experiments/{experiment_id}/assignments"): "analyst",
    ("get", "/api/suppressions"): "admin",
    ("delete", "/api/suppressions/{erasure_id}"): "admin",
    ("get", "/api/customers/{customer_id}/recommendations"): "viewer",
    ("get", "/api/products"): "viewer",
    ("get", "/api/products/{product_id}/bought-together"): "viewer",
    ("get", "/api/next-actions"): "viewer",
    ("get", "/api/recommendations/evaluation"): "viewer",
    ("get", "/api/kpis/segments"): "viewer",
    # activation (docs/activation.md)
    ("get", "/api/journeys"): "viewer",
    ("get", "/api/journeys/{journey_id}"): "viewer",
    ("put", "/api/journeys/{journey_id}"): "admin",
    ("post", "/api/journeys/{journey_id}/approve"): "admin",
    ("post", "/api/journeys/{journey_id}/pause"): "admin",
    ("get", "/api/journeys/{journey_id}/log"): "viewer",
    ("post", "/api/activation/run"): "admin",
    ("get", "/api/audiences"): "viewer",
    ("get", "/api/audiences/export"): "analyst",
    ("get", "/api/webhooks"): "admin",
    ("post", "/api/webhooks"): "admin",
    ("delete", "/api/webhooks/{subscription_id}"): "admin",
    ("get", "/api/webhooks/deliveries"): "admin",
    ("post", "/api/webhooks/deliveries/{delivery_id}/retry"): "admin",
    ("get", "/api/reports/monday"): "viewer",
    ("get", "/api/alerts"): "viewer",
    ("get", "/api/activation/settings"): "admin",
    ("put", "/api/activation/settings"): "admin",
    ("get", "/api/activation/schedules"): "admin",
    ("get", "/api/text/topics"): "viewer",
    ("get", "/api/text/sentiment"): "viewer",
    ("post", "/api/text/analyse"): "analyst",
    ("get", "/api/anomalies"): "viewer",
    ("post", "/api/anomalies/refresh"): "analyst",
    ("get", "/api/fairness"): "viewer",
    ("post", "/api/fairness/run"): "analyst",
    ("get", "/api/model-cards"): "viewer",
    ("get", "/api/model-cards/{model}"): "viewer",
}


def spec_operations(server) -> list[tuple[str, str]]:
    with server.client() as c:
        spec = c.get("/openapi.json").json()
    return [(m, p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put", "delete", "patch")]


def request_for(server, method: str, path: str, *, harmless: bool) -> dict:
    """URL and body for a call; *harmless* picks targets that do not exist (erasure, revocation)."""
    shop = server.extra["shop"]
    values = {
        "customer_id": "nobody-at-all" if harmless and method == "delete" else shop.best_customer,
        "segment_id": "engagement:product_viewer",
        "key_id": "no-such-key",
        "erasure_id": "no-such-erasure",
        "kind": "spend",
        "experiment_id": "no-such-experiment",
        "product_id": "P01",
        "journey_id": "no-such-journey",
        "subscription_id": "no-such-subscription",
        "delivery_id": "no-such-delivery",
        "model": "churn",
        "name": "at-risk",
    }
    url = path.format(**values)
    kw: dict = {}
    if (method, path) == ("post", "/api/events"):
        kw["json"] = {"customer_id": "access-test", "event_type": "page_view", "page_url": "/access"}
    elif (method, path) == ("post", "/api/keys"):
        kw["json"] = {"role": "viewer", "name": "access test"}
    elif (method, path) in (("put", "/api/settings"), ("put", "/api/activation/settings")):
        kw["json"] = {}
    elif (method, path) == ("get", "/api/audiences/export"):
        kw["params"] = {"source": "all", "format": "klaviyo"}
    elif (method, path) == ("post", "/api/ingest/{kind}"):
        kw["files"] = {"files": ("spend.csv", b"spent_on,channel,amount\n2024-01-01,organic,1.00\n", "text/csv")}
    return {"url": url, **kw}


def test_every_route_is_assigned_a_role(server):
    ops = set(spec_operations(server))
    missing = ops - set(ROLES)
    assert not missing, f"routes without a role in ROLES (decide who may call them): {sorted(missing)}"
    assert not set(ROLES) - ops, f"ROLES lists routes the spec does not have: {sorted(set(ROLES) - ops)}"


def test_nothing_answers_without_a_valid_key(server):
    for method, path in spec_operations(server):
        req = request_for(server, method, path, harmless=True)
        for headers in ({}, {"Authorization": "Bearer rk_0000000000_wrong"}, {"Authorization": "Basic abc"}):
            with server.client() as c:
                r = c.request(method.upper(), headers=headers, **req)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
            assert r.json()["error"] in ("unauthenticated", "invalid_key")
            assert r.headers["www-authenticate"] == "Bearer"


def test_unknown_api_paths_do_not_leak_without_a_key(anonymous):
    r = anonymous.get("/api/nothing-here")
    assert r.status_code == 401


def test_roles_below_the_required_one_get_403_and_the_rest_get_through(server):
    for method, path in spec_operations(server):
        need = ROLES[(method, path)]
        for role in ROLE_ORDER:
            req = request_for(server, method, path, harmless=True)
            with server.client(role) as c:
                r = c.request(method.upper(), **req)
            if ROLE_ORDER.index(role) < ROLE_ORDER.index(need):
                assert r.status_code == 403, (method, path, role, r.status_code, r.text)
                assert f"needs the {need} role" in r.json()["message"]
            else:
                assert r.status_code not in (401, 403), (method, path, role, r.status_code, r.text)
                assert r.status_code < 500, (method, path, role, r.status_code, r.text)


def test_viewers_never_see_personal_data_on_any_route(server):
    shop = server.extra["shop"]
    assert len(shop.pii) > 100
    checked = 0
    for method, path in spec_operations(server):
        if method != "get" or ROLE_ORDER.index(ROLES[(method, path)]) > 0:
            continue
        req = request_for(server, method, path, harmless=True)
        variants = [req]
        if path == "/api/customers":
            variants += [{"url": path, "params": {"limit": 1000}}, {"url": path, "params": {"q": "example.com"}}]
        if path in ("/api/ingest/quarantine", "/api/ingest/warnings"):
            variants.append({"url": path, "params": {"limit": 500}})
        if path.endswith("/members"):
            variants.append({**req, "params": {"format": "csv"}})
        with server.client("viewer") as c:
            for v in variants:
                r = c.get(**v)
                assert r.status_code < 500, (path, r.text)
                leaked = [p for p in shop.pii if p in r.text]
                assert not leaked, f"{path} {v.get('params')} shows personal data to a viewer: {leaked[:3]}"
                checked += 1
    assert checked >= 20


def test_analysts_do_see_personal_data(analyst, server):
    shop = server.extra["shop"]
    body = analyst.get(f"/api/customers/{shop.best_customer}").json()
    assert body["customer"]["email"] == shop.emails[shop.best_customer]
    assert body["pii_masked"] is False


def test_viewer_profile_is_masked_but_complete(viewer, analyst, server):
    shop = server.extra["shop"]
    full = analyst.get(f"/api/customers/{shop.best_customer}").json()
    masked = viewer.get(f"/api/customers/{shop.best_customer}").json()
    assert masked["pii_masked"] is True
    assert masked["customer"]["email"] == "***" and masked["customer"]["last_name"] == "***"
    assert masked["summary"] == full["summary"]
    assert masked["orders"] == full["orders"]
    assert masked["customer"]["city"] == full["customer"]["city"]


def test_session_cookie_writes_need_the_csrf_token(server):
    """A browser session may call the API, but a state change without the CSRF header is refused."""
    with server.client() as c:
        page = c.get("/login")
        token = c.cookies.get("regulars_login_csrf")
        assert page.status_code == 200 and token
        r = c.post("/login", data={"key": server.keys["analyst"], "csrf_token": token, "next": "/"})
        assert r.status_code == 303
        assert c.get("/api/me").json()["via"] == "session"
        body = {"customer_id": "csrf-test", "event_type": "page_view"}
        assert c.post("/api/events", json=body).status_code == 403
        me = c.get("/api/me").json()
        assert me["role"] == "analyst"


def test_error_bodies_are_json_with_a_message(admin):
    r = admin.get("/api/customers/definitely-not-a-customer")
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "message": "no customer 'definitely-not-a-customer'", "status": 404}
    r = admin.get("/api/customers", params={"limit": 0})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid" and body["problems"][0]["where"] == "query.limit"
    r = admin.get("/api/kpis", params={"by": "weekday"})
    assert r.status_code == 422 and "by" in r.json()["message"]
    assert json.loads(admin.delete("/api/keys/nope").text)["status"] == 404
