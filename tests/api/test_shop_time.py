"""Issue 16.5: API JSON writes every stored moment as ISO 8601 with the shop's UTC offset; days stay days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from regulars import Workspace
from regulars.data import auth
from regulars.data.ingest.pipeline import ingest
from regulars.jobs.segments import refresh
from tests.api.server import start
from tests.cli.test_shop_time import ORDERS

ZONE = "Asia/Kolkata"  # +05:30: an offset no UTC default could produce by accident


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-time")
    orders = folder / "orders.csv"
    orders.write_text(ORDERS)
    customers = folder / "customers.csv"
    customers.write_text("customer_id,email,accepts_email,consent_date\nc1,ann@example.com,true,2023-05-04 08:30\n")
    path = folder / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, "orders", [str(orders)])
        ingest(ws, "customers", [str(customers)])
        refresh(ws)
        auth.set_settings(ws._con, {"timezone": ZONE}, "test")
        facts = {"started": ws._con.execute("SELECT min(started_at) FROM ingest_runs").fetchall()[0][0],
                 "refreshed": ws._con.execute("SELECT max(refreshed_at) FROM segment_refreshes").fetchall()[0][0]}
    server = start(path)
    server.extra["facts"] = facts
    yield server
    server.stop()


def local(stamp: dt.datetime) -> str:
    return stamp.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(ZONE)).isoformat()


def test_runs_and_quarantine_carry_the_shops_offset(running):
    started = running.extra["facts"]["started"]
    with running.client("admin") as api:
        runs = api.get("/api/ingest/runs").json()["items"]
        rejected = api.get("/api/ingest/quarantine").json()["items"]
    first = min(runs, key=lambda r: r["run_id"])
    assert first["started_at"] == local(started) and first["started_at"].endswith("+05:30")
    assert rejected[0]["loaded_at"] == local(started)


def test_customer_profile_orders_consents_and_segment_history(running):
    refreshed = running.extra["facts"]["refreshed"]
    with running.client("admin") as api:
        p = api.get("/api/customers/c1").json()
    orders = p["orders"]["items"]
    assert orders and all(o["ordered_at"].endswith("+05:30") for o in orders)
    assert any(o["ordered_at"].startswith("2024-") and "T15:30:00" in o["ordered_at"] for o in orders)  # 10:00 UTC
    consent = p["consents"]["history"][0]
    assert consent["recorded_at"] == "2023-05-04T14:00:00+05:30" and consent["from_load"] is False
    history = p["segments"]["history"]
    assert history and all(h["refreshed_at"] == local(refreshed) for h in history)
    assert all(len(h["as_of"]) == 10 for h in history)  # days stay days
    assert all(t["at"] is None or len(t["at"]) == 10 or t["at"].endswith("+05:30") for t in p["timeline"])
