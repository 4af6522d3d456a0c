"""POST /api/events: validation, identity resolution, idempotency, real-time profile and segment updates."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest


def wait_for(predicate, timeout: float = 5.0, every: float = 0.05):
    """Poll until *predicate()* is truthy; return (value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = predicate()
        if value or time.monotonic() - start > timeout:
            return value, time.monotonic() - start
        time.sleep(every)


def test_single_event_is_written_and_in_the_profile_at_once(analyst, server):
    cid = server.extra["shop"].customers[20]
    before = analyst.get(f"/api/customers/{cid}").json()["events"]["total"]
    r = analyst.post("/api/events", json={"customer_id": cid, "event_type": "page_view", "page_url": "/rt-one",
                                          "occurred_at": "2024-12-19T10:00:00+01:00"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1 and body["new"] == 1 and body["customers"] == [cid]
    after = analyst.get(f"/api/customers/{cid}").json()
    assert after["events"]["total"] == before + 1
    item = next(e for e in after["events"]["items"] if e["page_url"] == "/rt-one")
    assert item["occurred_at"] == "2024-12-19T09:00:00+00:00"  # stored in UTC; written with the shop's offset (UTC)
    assert any(t["kind"] == "event" and "/rt-one" in t["text"] for t in after["timeline"])


def test_batch_resolves_identities_and_is_idempotent(analyst, server):
    shop = server.extra["shop"]
    known = shop.customers[21]
    batch = {"events": [
        {"event_id": "rt-batch-1", "email": shop.emails[known].upper(), "event_type": "product_view", "product_id": "P02"},
        {"event_id": "rt-batch-2", "anonymous_id": f"anon-{known}", "event_type": "search", "search_query": "mug"},
        {"event_id": "rt-batch-3", "customer_id": "BRAND-NEW-1", "event_type": "page_view"},
        {"event_id": "rt-batch-4", "email": "someone.new@example.org", "event_type": "page_view"},
    ]}
    first = analyst.post("/api/events", json=batch).json()
    assert first["accepted"] == 4 and first["new"] == 4
    assert known in first["customers"] and "BRAND-NEW-1" in first["customers"]
    assert first["customers_created"] == 2
    again = analyst.post("/api/events", json=batch).json()
    assert again["new"] == 0 and again["duplicates"] == 4
    new_customer = next(c for c in again["customers"] if c.startswith("e-"))
    assert analyst.get(f"/api/customers/{new_customer}").json()["customer"]["email"] == "someone.new@example.org"
    p = analyst.get(f"/api/customers/{known}").json()
    ids = {e["event_id"] for e in p["events"]["items"]}
    assert {"rt-batch-1", "rt-batch-2"} <= ids


def test_events_without_an_id_are_deduplicated_by_content(analyst, server):
    cid = server.extra["shop"].customers[22]
    ev = {"customer_id": cid, "event_type": "wishlist_add", "product_id": "P09", "occurred_at": "2024-12-01T08:00:00Z"}
    assert analyst.post("/api/events", json=ev).json()["new"] == 1
    assert analyst.post("/api/events", json=ev).json()["duplicates"] == 1


@pytest.mark.parametrize("body, where", [
    ({"events": [{"customer_id": "x", "event_type": "ok"}, {"event_type": "page_view"}]}, "body.events.1"),
    ({"customer_id": "x", "event_type": "page view"}, "event_type"),
    ({"customer_id": "x", "event_type": "page_view", "occurred_at": "2999-01-01T00:00:00"}, "occurred_at"),
    ({"customer_id": "x", "event_type": "page_view", "email": "not-an-email"}, "email"),
    ({"customer_id": "x", "event_type": "page_view", "colour": "red"}, "colour"),
    ({"events": []}, "events"),
    ({"customer_id": "x\x00y", "event_type": "page_view"}, "customer_id"),
])
def test_invalid_events_are_rejected_with_the_field_and_nothing_is_written(analyst, server, body, where):
    with server.shared.read() as ws:
        before = ws.count("events")
    r = analyst.post("/api/events", json=body)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert any(where in p["where"] or where in p["problem"] for p in problems), problems
    with server.shared.read() as ws:
        assert ws.count("events") == before


def test_event_moves_the_customer_into_event_driven_segments_within_two_seconds(analyst, server):
    cid = server.extra["shop"].quiet_customer
    current = lambda: {m["segment_id"] for m in analyst.get(f"/api/customers/{cid}").json().get("segments", {}).get("current", [])}  # noqa: E731
    assert "engagement:cart_abandoner" not in current()
    posted = time.monotonic()
    r = analyst.post("/api/events", json={"events": [
        {"customer_id": cid, "session_id": "rt-s1", "event_type": "product_view", "product_id": "P01"},
        {"customer_id": cid, "session_id": "rt-s1", "event_type": "add_to_cart", "product_id": "P01"}]})
    assert r.status_code == 200
    now, waited = wait_for(lambda: "engagement:cart_abandoner" in current(), timeout=5)
    assert now, "the customer did not enter engagement:cart_abandoner"
    assert time.monotonic() - posted < 2.0, f"took {time.monotonic() - posted:.2f}s"
    p = analyst.get(f"/api/customers/{cid}").json()
    entry = next(h for h in p["segments"]["history"] if h["segment_id"] == "engagement:cart_abandoner")
    assert entry["change"] == "entered" and entry["engine"] == "realtime"
    assert {"engagement:product_viewer", "engagement:browser_never_bought"} <= current()
    segs = {s["segment_id"]: s for s in analyst.get("/api/segments").json()["items"]}
    assert "engagement:cart_abandoner" in segs


def test_the_realtime_path_records_segments_like_a_full_refresh(analyst, server):
    """One segment store: a real-time entry is recorded as of the day its memberships are as of (tomorrow,
    since today's events count), as a full refresh records its as_of, and a segment it creates gets the
    same definition a full refresh would give it."""
    from regulars.segments.membership import segment_label

    cid = "RT-NEW-VIEWER"
    r = analyst.post("/api/events", json={"customer_id": cid, "session_id": "rt-v1", "event_type": "product_view",
                                          "product_id": "P03"})
    assert r.status_code == 200, r.text
    segments = lambda: analyst.get(f"/api/customers/{cid}").json().get("segments", {})  # noqa: E731
    found, _ = wait_for(lambda: any(m["segment_id"] == "engagement:product_viewer" for m in segments().get("current", [])))
    assert found, "the new customer did not enter engagement:product_viewer"
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    seg = segments()
    entry = next(h for h in seg["history"] if h["segment_id"] == "engagement:product_viewer")
    member = next(m for m in seg["current"] if m["segment_id"] == "engagement:product_viewer")
    assert entry["engine"] == "realtime"
    assert entry["as_of"] == tomorrow and member["since_as_of"] == tomorrow
    names = {s["segment_id"]: s["name"] for s in analyst.get("/api/segments").json()["items"]}
    for sid in ("engagement:product_viewer", "engagement:browser_never_bought"):
        assert names[sid] == segment_label(sid)[0]


def test_readers_keep_working_while_events_are_written(analyst, viewer, server):
    shop = server.extra["shop"]
    stop = threading.Event()
    errors: list = []
    reads = [0]

    def read_loop():
        with server.client("viewer") as c:
            while not stop.is_set():
                r = c.get(f"/api/customers/{shop.customers[30]}")
                if r.status_code != 200:
                    errors.append(r.status_code)
                reads[0] += 1

    threads = [threading.Thread(target=read_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for b in range(10):
            events = [{"event_id": f"rt-load-{b}-{i}", "customer_id": shop.customers[40 + i % 20],
                       "event_type": "page_view", "page_url": f"/load/{i}"} for i in range(500)]
            assert analyst.post("/api/events", json={"events": events}).status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors and reads[0] > 10
    with server.shared.read() as ws:
        n = ws.sql("SELECT count(*) AS n FROM events WHERE event_id LIKE 'rt-load-%'")["n"][0]
    assert n == 5000


def test_too_large_batch_is_refused(analyst):
    events = [{"customer_id": "x", "event_type": "page_view", "event_id": f"big-{i}"} for i in range(10_001)]
    r = analyst.post("/api/events", json={"events": events})
    assert r.status_code == 422 and "10000" in r.text.replace(",", "")
