"""Erasure of the planted customer is complete, leaves no byte in the file, and sticks.

Through the running server (``DELETE /api/customers/{id}``: the file is rewritten while the server
keeps serving) and through the CLI (``regulars forget "+1 201 555 0916" --yes``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from regulars import Workspace
from tests.api.server import start
from tests.api.shop import build_shop
from tests.security import planted

REPO = Path(__file__).resolve().parents[2]
LEGACY = "p-0123456789abcdef"  # a provisional customer an older version made from her phone, never linked to her


def file_leaks(path: Path) -> list[str]:
    """Her identifying strings found in the bytes of the workspace file (and its WAL, if any)."""
    found = []
    for p in (path, Path(str(path) + ".wal")):
        if p.exists():
            data = p.read_bytes().lower()
            found += [s for s in planted.SECRETS if s.encode() in data]
    return found


@pytest.fixture(scope="module")
def shop_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("erasure-shop")
    shop = build_shop(folder / "shop.duckdb", n_customers=30)
    planted.plant(shop.path, folder / "planted")
    with Workspace(shop.path) as ws:
        con = ws._con
        con.execute("INSERT INTO customers (customer_id, phone) VALUES (?, '12015550916')", [LEGACY])
        con.execute("INSERT INTO identities VALUES ('phone', ?, ?, 'events posted to the API', 'old link', "
                    "now()::TIMESTAMP, 0)", [hashlib.sha256(b"12015550916").hexdigest(), LEGACY])
        con.execute("INSERT INTO events (event_id, customer_id, event_type, occurred_at, search_query) "
                    "VALUES ('ev-legacy', ?, 'search', '2024-02-02', 'Zelda again')", [LEGACY])
        # someone else typed her e-mail in a search, another customer's ticket quotes her phone
        con.execute("INSERT INTO events (event_id, customer_id, event_type, occurred_at, search_query) "
                    "VALUES ('ev-other', 'C0003', 'search', '2024-02-03', 'who is ZELDA.QUUX@example.org?')")
        con.execute("INSERT INTO tickets (ticket_id, customer_id, opened_at, body) VALUES "
                    "('T-other', 'C0004', '2024-02-04', 'my neighbour (tel. 001 201-555-0916) took my parcel')")
        from regulars.jobs.segments import refresh

        refresh(ws)
    before = file_leaks(shop.path)
    # the check below can only fail if her data is visible in the file to begin with
    assert {"quixotic", "zelda"} <= set(before), before
    return shop.path


@pytest.fixture(scope="module")
def server(shop_path):
    running = start(shop_path, warm_profiles=False)
    yield running
    running.stop()


def test_erasure_through_the_server_is_complete_leaves_no_bytes_and_sticks(server, shop_path):
    folder = shop_path.parent / "planted"
    with server.client("analyst") as analyst, server.client("admin") as admin, server.client("viewer") as viewer:
        assert analyst.post("/api/events", json={"events": planted.POSTED}).status_code == 200
        assert server.shared.wait_idle(30)
        assert planted.leaks(analyst.get(f"/api/customers/{planted.CID}", params={"events": 5000}).text)

        r = admin.delete(f"/api/customers/{planted.CID}")
        assert r.status_code == 200, r.text
        assert file_leaks(shop_path) == []
        assert not planted.leaks(analyst.get("/api/ingest/quarantine", params={"limit": 500}).text)
        assert analyst.get(f"/api/customers/{LEGACY}").status_code == 404
        record = r.json()
        assert record["customers_erased"] == 2  # her, and the provisional customer made from her phone
        assert record["rows_deleted"]["quarantine"] >= 4  # ragged line, bad JSON, padded e-mail, formatted phone
        assert record["identifiers_suppressed"] >= 4
        assert not planted.leaks(r.text) and planted.CID not in r.text
        assert record["text_redacted"] == {"events": 1, "tickets": 1}
        with server.shared.read() as ws:
            assert ws._con.execute("SELECT search_query FROM events WHERE event_id = 'ev-other'").fetchall() == [
                ("who is [erased]?",)]
            assert ws._con.execute("SELECT body FROM tickets WHERE ticket_id = 'T-other'").fetchall() == [
                ("my neighbour (tel. [erased]) took my parcel",)]

        assert file_leaks(shop_path) == []

        # the server kept working through the rewrite
        assert analyst.get(f"/api/customers/{planted.CID}").status_code == 404
        assert analyst.get(f"/api/customers/{LEGACY}").status_code == 404
        assert analyst.get("/api/kpis").status_code == 200
        assert viewer.get("/api/customers", params={"limit": 1000}).status_code == 200
        other = analyst.post("/api/events", json={"customer_id": "C0002", "event_type": "page_view"})
        assert other.status_code == 200 and other.json()["new"] == 1
        quarantine = analyst.get("/api/ingest/quarantine", params={"limit": 500}).text
        assert not planted.leaks(quarantine)
        audit = admin.get("/api/audit").text
        assert record["erasure_id"] in audit and not planted.leaks(audit) and planted.CID not in audit

        # re-importing her exports and posting her events again brings nothing back
        for kind in ("customers", "orders", "events", "tickets", "reviews", "surveys", "consents"):
            paths = planted.files(folder)[kind]
            up = analyst.post(f"/api/ingest/{kind}", files=[("files", (p.name, p.read_bytes())) for p in paths])
            assert up.status_code == 200, (kind, up.text)
            assert up.json()["rows_quarantined"] >= 1, (kind, up.json())
        again = analyst.post("/api/events", json={"email": planted.EMAIL, "event_type": "page_view"})
        assert again.status_code == 200 and again.json()["suppressed"] == 1 and again.json()["new"] == 0
        assert analyst.get(f"/api/customers/{planted.CID}").status_code == 404
        q = analyst.get("/api/ingest/quarantine", params={"limit": 500}).json()
        erased_rows = [i for i in q["items"] if i["reason"] == "erased customer"]
        # her customer row and ragged line, 3 orders and 2 bad ones, 4 events and the bad JSON line, ticket,
        # review, survey, consent: all set aside without content
        assert len(erased_rows) >= 16, len(erased_rows)
        assert all(i["raw"] == {"erased customer": "content not kept"} for i in erased_rows)
        assert not planted.leaks(str(q))
        assert file_leaks(shop_path) == []

        # an admin lifts the suppression: her rows load again
        listed = admin.get("/api/suppressions").json()["items"]
        assert [i["erasure_id"] for i in listed] == [record["erasure_id"]]
        assert viewer.get("/api/suppressions").status_code == 403
        lifted = admin.delete(f"/api/suppressions/{record['erasure_id']}")
        assert lifted.status_code == 200 and lifted.json()["lifted"] == record["identifiers_suppressed"]
        paths = planted.files(folder)["customers"]
        up = analyst.post("/api/ingest/customers", files=[("files", (p.name, p.read_bytes())) for p in paths])
        assert up.json()["rows_quarantined"] == 1  # only her ragged line, for its own reason
        assert analyst.get(f"/api/customers/{planted.CID}").status_code == 200
        assert "suppression.lift" in admin.get("/api/audit").text


def test_reloading_her_exports_after_erasure_brings_nothing_back(tmp_path):
    """Issue 13 #2 on its own, through the Python API: forget, then load the same files again."""
    from regulars.data.erasure import forget
    from regulars.data.ingest.pipeline import ingest

    shop = build_shop(tmp_path / "shop.duckdb", n_customers=8)
    found = planted.plant(shop.path, tmp_path / "planted")
    with Workspace(shop.path) as ws:
        forget(ws, planted.EMAIL)
        for kind, paths in found.items():
            ingest(ws, kind, paths)
        assert ws._con.execute("SELECT count(*) FROM customers WHERE customer_id = ?", [planted.CID]).fetchall() == [(0,)]
        assert ws._con.execute("SELECT count(*) FROM orders WHERE order_id LIKE 'OZ-%'").fetchall() == [(0,)]
        raw = ws._con.execute("SELECT raw::VARCHAR, reason FROM quarantine").fetchall()
    assert not planted.leaks(str(raw))
    assert sum(reason == "erased customer" for _raw, reason in raw) >= 16


def test_the_audit_record_holds_no_reversible_hash(server):
    with server.shared.read() as ws:
        rows = ws._con.execute("SELECT subject_hash, rows_deleted::VARCHAR FROM erasures").fetchall()
        audit = ws._con.execute("SELECT target, detail::VARCHAR FROM audit_log").fetchall()
    assert rows and all(r[0] is None for r in rows)
    for value in (planted.CID, planted.EMAIL, "12015550916"):
        digest = hashlib.sha256(value.encode()).hexdigest()
        assert digest not in str(rows) + str(audit)


def test_cli_forget_by_a_formatted_phone(tmp_path, shop_path):
    """`regulars forget` on a copy made before the server erased her: same result through the CLI."""
    folder = tmp_path / "cli"
    shop = build_shop(folder / "shop.duckdb", n_customers=10)
    planted.plant(shop.path, folder / "planted")
    assert file_leaks(shop.path)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    run = subprocess.run([sys.executable, "-m", "regulars.cli.main", "forget", "+1 201 555 0916", "--yes",
                          "--workspace", str(shop.path)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"erased customer {planted.CID}" in run.stdout
    assert file_leaks(shop.path) == []
    listed = subprocess.run([sys.executable, "-m", "regulars.cli.main", "suppressions", "list", "--format", "json",
                             "--workspace", str(shop.path)], capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0 and '"email": 1' in listed.stdout, listed.stdout + listed.stderr
    assert not planted.leaks(listed.stdout)
    leftovers = [p for p in shop.path.parent.iterdir() if p.name.endswith((".rewrite", ".rewrite.wal"))]
    assert leftovers == []
    shutil.rmtree(folder)
