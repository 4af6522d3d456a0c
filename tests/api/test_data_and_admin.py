"""Uploads through the ingest path, runs and quarantine, KPIs and reports, keys, settings, audit and logs."""

from __future__ import annotations

import logging
import time

from regulars.reports.cohorts import cohort_matrix
from regulars.reports.kpis import kpis

ORDERS_CSV = (
    "order_id,customer_id,ordered_at,total\n"
    "UP-1,C0100,2024-12-01 10:00:00,25.00\n"
    "UP-2,C0101,2024-12-02 11:00:00,not money\n"
    "UP-3,,2024-12-03 12:00:00,10.00\n"
).encode()


def test_upload_goes_through_ingest_and_answers_with_the_load_summary(analyst, viewer, server):
    r = analyst.post("/api/ingest/orders", files={"files": ("my orders.csv", ORDERS_CSV, "text/csv")})
    assert r.status_code == 200, r.text
    s = r.json()
    # UP-3 has no customer: a guest order, loaded (it counts in the shop's totals)
    assert (s["kind"], s["rows_read"], s["rows_loaded"], s["rows_quarantined"]) == ("orders", 3, 2, 1)
    assert s["files"] == ["my orders.csv"] and s["tables"]["orders"]["new"] == 2 and s["guest_orders"] == 1
    again = analyst.post("/api/ingest/orders", files={"files": ("my orders.csv", ORDERS_CSV, "text/csv")}).json()
    assert again["rows_new"] == 0 and again["rows_unchanged"] == 2  # loading twice changes nothing
    runs = analyst.get("/api/ingest/runs", params={"kind": "orders", "limit": 2}).json()
    assert runs["items"][0]["run_id"] == again["run_id"] and runs["items"][0]["files"] == ["my orders.csv"]
    q = analyst.get("/api/ingest/quarantine", params={"run_id": s["run_id"]}).json()
    assert q["total"] == 1
    bad = next(i for i in q["items"] if i["row_number"] == 2)
    assert "not money" in bad["reason"] and bad["raw"]["total"] == "not money"
    masked = viewer.get("/api/ingest/quarantine", params={"run_id": s["run_id"]}).json()
    assert all(i["raw"] == "***" for i in masked["items"])
    profile = analyst.get("/api/customers/C0100").json()
    assert any(o["order_id"] == "UP-1" for o in profile["orders"]["items"])


def test_upload_errors_are_clear(analyst):
    r = analyst.post("/api/ingest/orders", files={"files": ("x.csv", b"foo,bar\n1,2\n", "text/csv")})
    assert r.status_code == 422 and "need" in r.json()["message"]
    r = analyst.post("/api/ingest/orders", files={"files": ("x.csv", b"order_id\n1\n", "text/csv")},
                     data={"format": "nonsense"})
    assert r.status_code == 422
    r = analyst.post("/api/ingest/pets", files={"files": ("x.csv", b"a\n1\n", "text/csv")})
    assert r.status_code == 422
    r = analyst.post("/api/ingest/orders")
    assert r.status_code == 422


def test_kpis_route_is_the_report(viewer, server):
    got = viewer.get("/api/kpis").json()
    with server.shared.read() as ws:
        expected = kpis(ws).to_dict()
    assert got["rows"][0]["customers"] == expected["rows"][0]["customers"]
    assert got["rows"][0]["revenue"] == expected["rows"][0]["revenue"]
    monthly = viewer.get("/api/kpis", params={"by": "month"}).json()
    assert monthly["columns"][0] == "month" and len(monthly["rows"]) > 12
    assert "computed_at" in monthly


def test_cohorts_funnel_segments_doctor_and_backtests_answer(viewer, server):
    c = viewer.get("/api/cohorts", params={"metric": "revenue"}).json()
    with server.shared.read() as ws:
        expected = cohort_matrix(ws, metric="revenue").to_dict()
    assert c["cohorts"] == expected["cohorts"] and c["sizes"] == expected["sizes"]
    f = viewer.get("/api/funnel").json()
    assert [r["step"] for r in f["funnel"]] == f["steps"]
    assert viewer.get("/api/funnel", params={"by": "source"}).status_code == 200
    assert viewer.get("/api/funnel", params={"by": "segment"}).status_code == 200
    segs = viewer.get("/api/segments").json()
    assert segs["items"] and all(0 <= (s["share"] or 0) <= 1 for s in segs["items"])
    one = viewer.get(f"/api/segments/{segs['items'][0]['segment_id']}").json()
    assert one["segment_id"] == segs["items"][0]["segment_id"] and "recent_changes" in one
    assert viewer.get("/api/segments/nope:nothing").status_code == 404
    assert "summary" in viewer.get("/api/doctor").json()
    bt = viewer.get("/api/backtests").json()
    assert bt["models"] and all(m["sentences"] for m in bt["models"].values())
    preds = viewer.get("/api/predictions", params={"sort": "at_risk_value"}).json()
    assert all(i["churn_band"] == "high" for i in preds["items"])
    assert preds["distributions"] and set(preds["distributions"]) <= {"churn_risk", "clv", "propensity_30d"}
    for hist in preds["distributions"].values():
        assert len(hist["edges"]) == len(hist["counts"]) + 1


def test_keys_are_created_once_used_and_revoked(admin, server):
    r = admin.post("/api/keys", json={"role": "viewer", "name": "wall screen"})
    assert r.status_code == 201
    key = r.json()
    assert key["secret"].startswith(f"rk_{key['key_id']}_")
    listed = admin.get("/api/keys").json()["items"]
    assert "secret" not in str(listed) and key["secret"] not in str(listed)
    with server.client() as c:
        headers = {"Authorization": f"Bearer {key['secret']}"}
        assert c.get("/api/me", headers=headers).json()["role"] == "viewer"
        assert admin.delete(f"/api/keys/{key['key_id']}").json()["active"] is False
        assert c.get("/api/me", headers=headers).status_code == 401
    with server.shared.read() as ws:  # stored hashed
        stored = ws.sql("SELECT secret_hash FROM api_keys WHERE key_id = ?", [key["key_id"]])["secret_hash"][0]
    assert key["secret"].split("_", 2)[2] not in stored and len(stored) == 64


def test_the_last_admin_key_cannot_be_revoked(admin, server):
    admins = [k for k in admin.get("/api/keys").json()["items"] if k["role"] == "admin" and k["active"]]
    extra = [k for k in admins if k["name"] != "test admin"]
    for k in extra:
        admin.delete(f"/api/keys/{k['key_id']}")
    mine = admin.get("/api/me").json()["key_id"]
    r = admin.delete(f"/api/keys/{mine}")
    assert r.status_code == 409 and "last admin" in r.json()["message"]


def test_settings_are_validated_and_audited(admin, viewer):
    assert admin.put("/api/settings", json={"shop_name": "Rosie's Beans"}).json()["shop_name"] == "Rosie's Beans"
    assert viewer.get("/api/settings").json()["shop_name"] == "Rosie's Beans"
    assert admin.put("/api/settings", json={"session_hours": 0}).status_code == 422
    assert admin.put("/api/settings", json={"colour": "red"}).status_code == 422
    actions = [a["action"] for a in admin.get("/api/audit").json()["items"]]
    assert "settings.change" in actions and "key.create" in actions


def test_status_reports_the_profile_cache(viewer):
    s = viewer.get("/api/status").json()
    assert s["profiles"]["cached_profiles"] > 0 and "writes" in s


def test_no_personal_data_in_the_logs(analyst, server):
    """What `regulars serve` writes to its log (the same handlers and filter) holds no e-mail, phone or name."""
    import io

    from regulars.server.middleware import configure_logging

    shop = server.extra["shop"]
    cid = shop.customers[33]
    email = shop.emails[cid]
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate)
             for n in ("regulars", "uvicorn")}
    buf = io.StringIO()
    configure_logging("debug", stream=buf)
    try:
        analyst.get("/api/customers", params={"q": email})
        analyst.post("/api/events", json={"email": email, "event_type": "page_view", "phone": "+33 6 12 34 56 78"})
        analyst.post("/api/events", json={"email": email, "event_type": "bad type"})
        analyst.get(f"/api/customers/{email}")
        analyst.get(f"/api/customers/{cid}")
        logging.getLogger("regulars.server").error("failed for %s with %s", email, "+44 20 7946 0958")
        time.sleep(0.5)  # the access line is written just after the response is sent
    finally:
        for n, (handlers, level, propagate) in saved.items():
            lg = logging.getLogger(n)
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
    text = buf.getvalue()
    assert "GET /api/customers 200" in text  # the access log ran, without the query string
    assert f"/api/customers/{cid}" in text  # customer ids may be logged
    for secret in (email, "33 6 12 34 56 78", "+33612345678", "7946 0958", shop.names[cid]):
        assert secret not in text, f"{secret!r} reached the logs"
