"""Issue 16.5: times in terminal output are in the shop's time zone, named; csv/json carry the offset."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from regulars import Workspace
from regulars.data import auth
from regulars.data.ingest.pipeline import ingest
from regulars.jobs.segments import refresh

ZONE = "America/New_York"
#: 18 orders of three customers over the first half of 2024, and one row the load rejects.
ORDERS = ("order_id,customer_id,ordered_at,total\n"
          + "".join(f"o{i},c{i % 3},2024-0{1 + i % 6}-1{i % 9} 10:00,{10 + i}.00\n" for i in range(18))
          + "bad,c1,not a date,5.00\n")


def regulars(shop, *args, width=120):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": str(width),
           "REGULARS_WORKSPACE": str(shop)}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "regulars.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shop-time")
    orders = folder / "orders.csv"
    orders.write_text(ORDERS)
    path = folder / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, "orders", [str(orders)])
        refresh(ws)
        auth.set_settings(ws._con, {"timezone": ZONE}, "test")
        started = ws._con.execute("SELECT started_at FROM ingest_runs").fetchall()[0][0]
        refreshed = ws._con.execute("SELECT max(refreshed_at) FROM segment_refreshes").fetchall()[0][0]
    return path, started, refreshed


def local(stamp: dt.datetime) -> dt.datetime:
    return stamp.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(ZONE))


def test_runs_list_in_the_shops_time_zone(shop):
    path, started, _ = shop
    out = regulars(path, "runs").stdout
    assert local(started).strftime("%Y-%m-%d %H:%M") in out and f"are in {ZONE}" in out
    row = next(csv.DictReader(io.StringIO(regulars(path, "runs", "--format", "csv").stdout)))
    assert dt.datetime.fromisoformat(row["started_at"]) == local(started)
    assert row["started_at"].endswith(local(started).strftime("%z")[:3] + ":00")


def test_quarantine_says_when_the_rows_were_loaded_in_local_time(shop):
    path, started, _ = shop
    rows = json.loads(regulars(path, "quarantine", "--format", "json").stdout)
    assert dt.datetime.fromisoformat(rows[0]["loaded_at"]) == local(started)
    assert local(started).strftime("%Y-%m-%d %H:%M") in regulars(path, "quarantine", width=200).stdout


def test_segments_history_and_customer_profile(shop):
    path, _, refreshed = shop
    rows = list(csv.DictReader(io.StringIO(regulars(path, "segments", "history", "rfm:champions", "--limit", "0",
                                                    "--format", "csv").stdout)))
    if not rows:  # nobody is a champion in this tiny shop: take the lifecycle segment everyone is in
        rows = list(csv.DictReader(io.StringIO(regulars(path, "segments", "history", "lifecycle:active",
                                                        "--limit", "0", "--format", "csv").stdout)))
    assert rows and dt.datetime.fromisoformat(rows[0]["refreshed_at"]) == local(refreshed)
    assert len(rows[0]["as_of"]) == 10  # a day stays a day
    with Workspace(path, read_only=True) as ws:
        first = ws._con.execute("SELECT min(ordered_at) FROM orders WHERE customer_id = 'c1'").fetchall()[0][0]
    out = regulars(path, "customer", "c1").stdout + regulars(path, "customer", "c1").stderr
    assert f"first {local(first):%Y-%m-%d %H:%M}" in out and f"({ZONE})" in out
    profile = json.loads(regulars(path, "customer", "c1", "--json").stdout)
    assert dt.datetime.fromisoformat(profile["facts"]["first_order_at"]) == local(first)


def test_sql_prints_moments_in_the_shops_time_zone(shop):
    path, _, _ = shop
    with Workspace(path, read_only=True) as ws:
        first = ws._con.execute("SELECT min(ordered_at) FROM orders").fetchall()[0][0]
    query = "SELECT min(ordered_at) AS first_order, min(ordered_at)::DATE AS first_day FROM orders"
    out = regulars(path, "sql", query).stdout
    assert local(first).strftime("%Y-%m-%d %H:%M") in out and f"are in {ZONE}" in out
    assert f"{first:%Y-%m-%d} " in out + " " and "00:00:00" not in out  # a day is shown as a day
    row = next(csv.DictReader(io.StringIO(regulars(path, "sql", query, "--format", "csv").stdout)))
    assert dt.datetime.fromisoformat(row["first_order"]) == local(first)
