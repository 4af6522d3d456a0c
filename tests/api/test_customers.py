"""/api/customers: search, filters, pagination, the 360 profile, right of access and erasure."""

from __future__ import annotations

import hashlib
import json

from regulars.reports.customers import customer_profile, jsonable
from regulars.reports.shop_time import with_offsets


def test_list_is_paginated_and_counts_match_the_workspace(admin, server):
    first = admin.get("/api/customers", params={"limit": 20}).json()
    with server.shared.read() as ws:
        assert first["total"] == ws.count("customers") >= 150  # other tests may have added some
    assert len(first["items"]) == 20 and first["offset"] == 0
    second = admin.get("/api/customers", params={"limit": 20, "offset": 20}).json()
    assert not {c["customer_id"] for c in first["items"]} & {c["customer_id"] for c in second["items"]}
    everyone = admin.get("/api/customers", params={"limit": 1000, "sort": "id"}).json()["items"]
    ids = [c["customer_id"] for c in everyone]
    assert ids == sorted(ids) and set(server.extra["shop"].customers) - {"C0009"} <= set(ids)


def test_revenue_and_orders_are_the_workspace_numbers(admin, server):
    shop = server.extra["shop"]
    with server.shared.read() as ws:
        expected = ws.sql("SELECT customer_id, count(*) FILTER (WHERE total > 0) AS n, "
                          "sum(total - coalesce(refunded, 0))::DOUBLE AS revenue FROM orders GROUP BY 1 "
                          "ORDER BY revenue DESC, customer_id LIMIT 5")
    top = admin.get("/api/customers", params={"sort": "revenue", "limit": 5}).json()["items"]
    assert [c["customer_id"] for c in top] == list(expected["customer_id"])
    assert [c["orders"] for c in top] == [int(n) for n in expected["n"]]
    assert [c["revenue"] for c in top] == [round(float(r), 2) for r in expected["revenue"]]
    assert top[0]["customer_id"] == shop.best_customer


def test_search_by_id_email_and_name(analyst, viewer, server):
    shop = server.extra["shop"]
    cid = shop.customers[11]
    assert [c["customer_id"] for c in analyst.get("/api/customers", params={"q": cid}).json()["items"]] == [cid]
    by_email = analyst.get("/api/customers", params={"q": shop.emails[cid].upper()}).json()
    assert [c["customer_id"] for c in by_email["items"]] == [cid]
    by_name = analyst.get("/api/customers", params={"q": shop.names[cid].split()[0].lower()}).json()
    assert cid in {c["customer_id"] for c in by_name["items"]}
    # Viewers cannot look people up by e-mail: the search is on ids only, and says so.
    masked = viewer.get("/api/customers", params={"q": shop.emails[cid]}).json()
    assert masked["items"] == [] and "analyst" in masked["notes"][0]


def test_filter_by_segment(admin):
    segments = admin.get("/api/segments").json()["items"]
    seg = max((s for s in segments if s["family"] == "rfm"), key=lambda s: s["members"])
    page = admin.get("/api/customers", params={"segment": seg["segment_id"], "limit": 1000}).json()
    assert page["total"] == seg["members"] > 0
    by_name = admin.get("/api/customers", params={"segment": seg["name"], "limit": 1}).json()
    assert by_name["total"] == seg["members"]
    unknown = admin.get("/api/customers", params={"segment": "no such segment"}).json()
    assert unknown["total"] == 0 and "no segment" in unknown["notes"][0]


def test_profile_has_every_section_with_the_workspace_data(analyst, server):
    shop = server.extra["shop"]
    cid = shop.customers[0]  # has tickets, reviews, surveys, consents, orders and events
    p = analyst.get(f"/api/customers/{cid}").json()
    assert p["customer_id"] == cid and p["customer"]["email"] == shop.emails[cid]
    for section in ("identities", "consents", "orders", "events", "tickets", "reviews", "surveys", "segments",
                    "timeline"):
        assert p.get(section), f"section {section} missing"
    with server.shared.read() as ws:
        n_orders = ws.sql("SELECT count(*) AS n FROM orders WHERE customer_id = ?", [cid])["n"][0]
        n_events = ws.sql("SELECT count(*) AS n FROM events WHERE customer_id = ?", [cid])["n"][0]
        n_lines = ws.sql("SELECT count(*) AS n FROM order_lines JOIN orders USING (order_id) WHERE customer_id = ?",
                         [cid])["n"][0]
    assert p["orders"]["total"] == n_orders
    assert sum(len(o["lines"]) for o in p["orders"]["items"]) == n_lines
    assert p["events"]["total"] == n_events
    assert {i["kind"] for i in p["identities"]} >= {"shop_id", "email", "phone", "anonymous_id"}
    history = p["consents"]["history"]
    assert any(h["purpose"] == "sms" and h["is_granted"] and h["source"] == "checkout" for h in history)
    latest_sms = max((h for h in history if h["purpose"] == "sms"), key=lambda h: h["recorded_at"])
    assert p["consents"]["current"]["sms"] is latest_sms["is_granted"]
    assert p["timeline"] == sorted(p["timeline"], key=lambda i: i["at"], reverse=True)
    assert any(s["segment_id"].startswith("rfm:") for s in p["segments"]["current"])


def test_profile_shows_predictions_with_reasons(analyst, server):
    import json

    scored = analyst.get("/api/predictions", params={"sort": "churn_risk", "limit": 5}).json()
    assert scored["total"] > 0
    top = scored["items"][0]
    p = analyst.get(f"/api/customers/{top['customer_id']}").json()
    assert p["predictions"]["churn_risk"] == top["churn_risk"]
    with server.shared.read() as ws:
        row = ws.sql("SELECT churn_band, churn_reasons::VARCHAR AS r, as_of FROM customer_predictions "
                     "WHERE customer_id = ? ORDER BY as_of DESC LIMIT 1", [top["customer_id"]]).iloc[0]
    assert p["predictions"]["churn_band"] == row["churn_band"]
    assert p["predictions"]["churn_reasons"] == (json.loads(row["r"]) if row["r"] else None)
    detail = analyst.get(f"/api/predictions/{top['customer_id']}").json()
    assert detail["customer_id"] == top["customer_id"] and "churn" in detail["accuracy"]


def test_cached_profile_equals_the_report(analyst, server):
    """The server's profile cache serves exactly what the report builds."""
    shop = server.extra["shop"]
    cid = shop.customers[3]
    served = analyst.get(f"/api/customers/{cid}").json()
    with server.shared.read() as ws:
        built = customer_profile(ws, cid).to_dict()
    zone = server.app.state.app_settings.get("timezone")  # the API writes moments with the shop's offset
    assert served == with_offsets(json.loads(json.dumps(jsonable(built))), zone)
    more = analyst.get(f"/api/customers/{cid}", params={"events": 500}).json()
    assert more["events"]["shown"] == more["events"]["total"]


def test_sections_absent_when_no_data(analyst, server):
    p = analyst.get(f"/api/customers/{server.extra['shop'].quiet_customer}").json()
    assert "orders" not in p and "tickets" not in p
    assert p["summary"]["orders"] == 0


def test_export_is_everything_held(admin, server):
    shop = server.extra["shop"]
    cid = shop.customers[4]
    r = admin.get(f"/api/customers/{cid}/export")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    data = r.json()
    assert data["tables"]["customers"][0]["email"] == shop.emails[cid]
    assert "orders" in data["tables"] and "events" in data["tables"]


def test_erasure_removes_the_customer_everywhere_and_keeps_an_audit_without_pii(admin, analyst, server):
    shop = server.extra["shop"]
    cid = shop.customers[8]
    assert analyst.get(f"/api/customers/{cid}").status_code == 200
    r = admin.delete(f"/api/customers/{cid}")
    assert r.status_code == 200
    record = r.json()
    assert "subject_hash" not in record and cid not in str(record)  # no reversible hash of the customer
    assert hashlib.sha256(cid.encode()).hexdigest() not in r.text
    assert record["rows_deleted"]["customers"] == 1 and record["rows_deleted"]["orders"] >= 1
    assert analyst.get(f"/api/customers/{cid}").status_code == 404
    assert analyst.get("/api/customers", params={"q": cid}).json()["total"] == 0
    assert admin.delete(f"/api/customers/{cid}").status_code == 404
    audit = admin.get("/api/audit").json()["items"]
    entry = next(a for a in audit if a["action"] == "customer.erase")
    assert entry["target"] == record["erasure_id"]
    assert cid not in str(audit) and shop.emails[cid] not in str(audit)
    with server.shared.read() as ws:
        assert ws.sql("SELECT count(*) AS n FROM events WHERE customer_id = ?", [cid])["n"][0] == 0
        assert ws.sql("SELECT count(*) AS n FROM segment_memberships WHERE customer_id = ?", [cid])["n"][0] == 0


def test_segment_members_json_and_csv(admin, viewer, server):
    seg = max(admin.get("/api/segments").json()["items"], key=lambda s: s["members"])
    with server.shared.read() as ws:  # current members (sizes are as of the last refresh)
        members = ws.sql("SELECT count(*) AS n FROM segment_memberships WHERE segment_id = ?",
                         [seg["segment_id"]])["n"][0]
    page = admin.get(f"/api/segments/{seg['segment_id']}/members", params={"limit": 5}).json()
    assert page["total"] == members > 0 and len(page["items"]) == 5
    csv_text = admin.get(f"/api/segments/{seg['segment_id']}/members", params={"format": "csv"})
    assert csv_text.headers["content-type"].startswith("text/csv")
    lines = csv_text.text.strip().splitlines()
    assert lines[0].startswith("customer_id,email,phone") and len(lines) == members + 1
    masked = viewer.get(f"/api/segments/{seg['segment_id']}/members", params={"format": "csv"}).text
    assert "@" not in masked and "***" in masked
