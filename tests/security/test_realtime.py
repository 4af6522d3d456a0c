"""Real-time integrity: segment exits are not lost (#8); events stay fast while an upload runs, and
interrupted uploads leave no temporary files behind (#11)."""

from __future__ import annotations

import random
import tempfile
import threading
import time
from pathlib import Path

import pytest

from regulars import Workspace
from tests.api.server import start
from tests.api.shop import build_shop


def wait_for(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    built = build_shop(tmp_path_factory.mktemp("realtime-shop") / "shop.duckdb", n_customers=30)
    from regulars.segments.membership import create_segment, refresh

    with Workspace(built.path) as ws:
        # C0002 bought and viewed products but never searched: a search moves it out of this segment only
        ws.con.execute("DELETE FROM events WHERE customer_id = 'C0002' AND event_type = 'search'")
        create_segment(ws, "Never searched", "searches < 1")
        refresh(ws)
        members = {r[0] for r in ws.con.execute(
            "SELECT customer_id FROM segment_memberships WHERE segment_id = 'never_searched'").fetchall()}
    built.never_searched = sorted(members)
    return built


def test_an_exit_without_any_entry_is_recorded(shop):
    """Rule `searches < 1`, a member posts a search: they leave the segment (it used to roll back)."""
    cid = "C0002"
    assert cid in shop.never_searched
    server = start(shop.path, warm_profiles=False, warm_reports=False)
    try:
        with server.client("analyst") as c:
            def current() -> set[str]:
                p = c.get(f"/api/customers/{cid}").json()
                return {m["segment_id"] for m in p.get("segments", {}).get("current", [])}

            before = current()
            assert "never_searched" in before and "engagement:product_viewer" in before
            r = c.post("/api/events", json={"customer_id": cid, "event_type": "search", "search_query": "beans",
                                            "session_id": "s-exit"})
            assert r.status_code == 200
            assert wait_for(lambda: "never_searched" not in current(), 5), "the exit was lost"
            assert current() == before - {"never_searched"}  # an exit and no entry in that round
            history = c.get(f"/api/customers/{cid}").json()["segments"]["history"]
        assert any(h["segment_id"] == "never_searched" and h["change"] == "exited" and h["engine"] == "realtime"
                   for h in history)
    finally:
        server.stop()


def _big_orders(path: Path, rows: int, customers: list[str]) -> Path:
    rng = random.Random(3)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("order_id,customer_id,email,ordered_at,total,channel\n")
        for i in range(rows):
            cid = customers[i % len(customers)] if i % 3 else ""
            email = "" if cid else f"guest{i % 5000}@example.net"
            fh.write(f"U{i},{cid},{email},2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00,{rng.randint(5, 300)}.00,web\n")
    return path


def test_events_stay_fast_and_visible_while_a_large_upload_runs(shop, tmp_path):
    big = _big_orders(tmp_path / "big_orders.csv", 600_000, shop.customers)
    server = start(shop.path, warm_profiles=False, warm_reports=False)
    results: dict = {}
    try:
        def upload():
            with server.client("analyst") as c:
                started = time.monotonic()
                r = c.post("/api/ingest/orders", files=[("files", (big.name, big.read_bytes()))])
                results["upload"] = (r.status_code, time.monotonic() - started, r.json())

        t = threading.Thread(target=upload)
        t.start()
        time.sleep(1.5)  # the upload is sent and loading (the test checks below that events overlapped it)
        latencies, during = [], 0
        target = shop.customers[4]
        with server.client("analyst") as c:
            for i in range(8):
                posted = time.monotonic()
                r = c.post("/api/events", json={"customer_id": target, "event_type": "page_view",
                                                "event_id": f"fair-{i}", "page_url": f"/fair/{i}"})
                assert r.status_code == 200, r.text
                seen = wait_for(lambda: any(e["event_id"] == f"fair-{i}" for e in c.get(
                    f"/api/customers/{target}", params={"events": 500}).json()["events"]["items"]), 5)
                latencies.append(time.monotonic() - posted)
                assert seen
                during += t.is_alive()
                time.sleep(0.2)
            new = c.post("/api/events", json={"email": "new.during.upload@example.net", "event_type": "page_view",
                                              "anonymous_id": "anon-fair"})
            assert new.status_code == 200
            assert t.is_alive() or during >= 3
        t.join(300)
        status, took, summary = results["upload"]
        assert status == 200 and summary["rows_read"] == 600_000
        assert during >= 3, f"only {during} events were posted while the upload ran ({took:.1f}s)"
        assert max(latencies) <= 2.0, f"events waited {max(latencies):.2f}s behind the upload ({took:.1f}s)"
        # after the upload, the deferred events went through the full path: the new e-mail is a customer
        assert server.shared.wait_idle(60)
        with server.shared.read() as ws:
            owner = ws.con.execute("SELECT customer_id FROM events WHERE anonymous_id = 'anon-fair'").fetchall()[0][0]
            assert owner and owner.startswith("e-")
            assert ws.con.execute("SELECT count(*) FROM events_deferred").fetchall()[0][0] == 0
            assert ws.con.execute("SELECT count(*) FROM events WHERE event_id LIKE 'fair-%'").fetchall()[0][0] == 8
    finally:
        server.stop()


def test_upload_folders_left_by_an_interrupted_server_are_removed_at_start(shop, tmp_path):
    from regulars.api.routes.data_in import upload_prefix

    ours = Path(tempfile.mkdtemp(prefix=upload_prefix(shop.path)))
    (ours / "00").mkdir()
    (ours / "00" / "orders.csv").write_text("order_id\n1\n")
    theirs = Path(tempfile.mkdtemp(prefix=upload_prefix(tmp_path / "another.duckdb")))
    server = start(shop.path, warm_profiles=False, warm_reports=False)
    try:
        assert not ours.exists()
        assert theirs.exists()  # another workspace's server may be using it
    finally:
        server.stop()
        theirs.rmdir()
