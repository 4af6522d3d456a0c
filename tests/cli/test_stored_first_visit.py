"""The Data page's doctor and the weekly report are read from the store on the first visit after
`regulars serve` starts (issue 16, item 4): what the server writes at its start (journey templates,
built-in schedules, the runner's cursors) does not make them out of date; real changes still do.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest

from regulars import Workspace
from regulars.reports import standard
from regulars.reports.doctor import doctor
from regulars.reports.monday import monday_report
from tests.api.server import free_port
from tests.cli.test_cli import run

pytestmark = pytest.mark.slow  # a real server and its first activation round (~20 s)


@pytest.fixture
def shop(demo_shop, tmp_path):
    path = tmp_path / "shop.duckdb"
    shutil.copy(demo_shop, path)
    return path


def _stored(shop) -> dict:
    with Workspace(shop, read_only=True) as ws:
        return {"doctor": standard.doctor(ws), "monday": standard.monday(ws, shop_name="My shop")}


def _serve_once(shop) -> dict:
    """Start `regulars serve` (no background warming), wait for its first activation round, ask for both
    reports through the API, stop it; return the two answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "REGULARS_WARM_REPORTS": "0",
           "REGULARS_WARM_PROFILES": "0"}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "regulars.cli.main", "serve", "--port", str(port),
                               "--workspace", str(shop)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)
    try:
        out, deadline = "", time.monotonic() + 120
        while "rk_" not in out and time.monotonic() < deadline:
            out += server.stdout.readline()
        key = re.search(r"rk_[0-9a-f]{10}_\S{32}", out).group(0)
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"},
                           timeout=120)
        while time.monotonic() < deadline:
            try:
                if api.get("/api/activation/schedules").json()["items"]:  # the runner's first round is done
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the activation runner did not run")
        return {"doctor": api.get("/api/doctor").json(), "monday": api.get("/api/reports/monday").json()}
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=120)


def test_the_first_visit_after_the_server_starts_reads_the_stored_doctor_and_weekly_report(shop):
    before = _stored(shop)
    assert before["doctor"].from_store and before["monday"].from_store  # `regulars demo` stored them
    with Workspace(shop, read_only=True) as ws:  # and its fairness audit left them valid
        assert standard.segment_kpis(ws, "rfm").from_store
    _serve_once(shop)
    with Workspace(shop, read_only=True) as ws:
        assert ws.count("journeys") > 0 and ws.count("activation_schedules") > 0  # the server wrote its defaults
    after = _stored(shop)
    for name in ("doctor", "monday"):
        assert after[name].from_store, name
        assert after[name].computed_at == before[name].computed_at, f"{name} was computed again"
    with Workspace(shop, read_only=True) as ws:  # and they are what a fresh computation gives
        assert after["doctor"].value.to_dict() == doctor(ws).to_dict()
        assert after["monday"].value == monday_report(ws, shop_name="My shop").to_dict()


def test_a_load_and_an_approved_journey_make_them_out_of_date(shop, tmp_path):
    run("journeys", "approve", "cart_abandonment", workspace=shop)
    after = _stored(shop)
    assert not after["monday"].from_store  # the weekly report lists running journeys
    assert after["doctor"].from_store  # the doctor reads the shop's own data only
    orders = tmp_path / "late.csv"
    orders.write_text("order_id,customer_id,ordered_at,total\nLATE-1,C0000001,2026-12-01 10:00:00,123.45\n")
    run("ingest", "orders", orders, workspace=shop)
    with Workspace(shop, read_only=True) as ws:
        stale = standard.doctor(ws)
        assert not stale.from_store
        assert stale.value.to_dict() == doctor(ws).to_dict()
