"""`regulars ingest … --engine spark` into a lake: the same rows and reasons as the DuckDB ingest,
idempotent re-loads that rewrite only the months they touch, and failures that leave the lake as it was.

One shop (orders over six months) is loaded on DuckDB and promoted to a lake once for the module; each
test works on its own copy of the lake and of the workspace.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.optional import engine

engine("pyspark")

from regulars import Workspace  # noqa: E402
from regulars.data.ingest.accounting import LoadInvariantError  # noqa: E402
from regulars.data.lake import MANIFEST  # noqa: E402
from regulars.data.lake_ingest import check_lake_counts  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HEADER = "order_id,customer_id,ordered_at,status,total"


def _base_rows() -> list[str]:
    rows = []
    for i in range(240):
        month = 1 + i % 6
        rows.append(f"B{i:04d},c{i % 60:03d},2024-{month:02d}-{1 + i % 27:02d} 10:{i % 60:02d}:00,"
                    f"{'refunded' if i % 17 == 0 else 'paid'},{10 + i % 50}.{i % 100:02d}")
    return rows


#: A second export: a new month (2024-07), a changed order (B0001: new total), an order moved from
#: February to March (B0007), a row with an unreadable amount, a repeated key, a new customer.
CHANGES = [
    "N0001,c001,2024-07-02 09:00:00,paid,30.00",
    "N0002,c999,2024-07-03 09:00:00,paid,12.00",
    "B0001,c001,2024-02-02 10:01:00,paid,99.99",
    "B0007,c007,2024-03-09 10:07:00,paid,17.07",
    "N0003,c002,2024-07-04 09:00:00,paid,abc",
    "N0004,c003,2024-07-05 09:00:00,paid,5.00",
    "",
    "N0004,c003,2024-07-06 09:00:00,paid,6.00",
]


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from regulars.cli.main import app

    folder = tmp_path_factory.mktemp("lake-ingest")
    ws, lake = folder / "shop.duckdb", folder / "warehouse"
    result = CliRunner().invoke(app, ["ingest", "orders", str(_write(folder / "base.csv", _base_rows())),
                                      "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["lake", "promote", str(lake), "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    return folder, ws, lake


@pytest.fixture()
def shop(base, tmp_path, monkeypatch):
    folder, ws, lake = base
    shutil.copy(ws, tmp_path / "shop.duckdb")
    shutil.copytree(lake, tmp_path / "warehouse")
    monkeypatch.setenv("REGULARS_LAKE", str(tmp_path / "warehouse"))
    monkeypatch.delenv("REGULARS_ENGINE", raising=False)
    monkeypatch.chdir(tmp_path)  # files are named as given: the same relative name on both engines
    return tmp_path / "shop.duckdb", tmp_path / "warehouse"


def _ingest(ws: Path, *args: str) -> dict:
    from regulars.cli.main import app

    result = CliRunner().invoke(app, ["ingest", "orders", *args, "--json", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _lake(lake: Path, query: str) -> list[tuple]:
    import duckdb

    from regulars.data.lake_read import attach_lake

    con = duckdb.connect()
    try:
        attach_lake(con, lake)
        return con.execute(query).fetchall()
    finally:
        con.close()


def _fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under *folder* (hidden staging folders left out): modification time and content hash."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.md5(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.relative_to(folder).parts[0].startswith(".")}


ORDERS = "SELECT * EXCLUDE (_run_id) FROM orders ORDER BY order_id"
WARNED = "SELECT file, row_number, column_name, value, reason, customer_id FROM ingest_warnings WHERE run_id = ?"
QUARANTINED = "SELECT file, row_number, column_name, reason, raw_hash FROM quarantine WHERE run_id = ? ORDER BY 2"


def test_the_invariants_fail_loudly_when_violated():
    check_lake_counts(read=8, loaded=6, quarantined=2, before=100, replaced=3, after=103)
    with pytest.raises(LoadInvariantError, match=r"read 8 rows but loaded 5 \+ quarantined 2 = 7 \(\+1 unaccounted"):
        check_lake_counts(read=8, loaded=5, quarantined=2, before=100, replaced=3, after=102)
    with pytest.raises(LoadInvariantError, match="held 100 rows, 3 were replaced and 6 loaded, but 104 were written"):
        check_lake_counts(read=8, loaded=6, quarantined=2, before=100, replaced=3, after=104)


@pytest.mark.slow
def test_spark_ingest_matches_duckdb_and_reloads_idempotently(shop):
    ws, lake = shop
    changes = _write(Path("changes.csv"), CHANGES)
    untouched = {m: _fingerprint(lake / "orders" / f"month={m}") for m in ("2024-01", "2024-04", "2024-05", "2024-06")}
    spark = _ingest(ws, "changes.csv", "--engine", "spark")
    with Workspace(ws) as w:  # the same file on DuckDB, into the workspace the lake came from
        from regulars.data.ingest.pipeline import ingest

        duck = ingest(w, "orders", [str(changes)])
        duck_orders = w._con.execute(ORDERS).fetchall()
        duck_q = w._con.execute(QUARANTINED, [duck.run_id]).fetchall()
        duck_customers = sorted(r[0] for r in w._con.execute("SELECT customer_id FROM customers").fetchall())
    assert spark["rows_read"] == duck.rows_read == 7
    assert (spark["rows_loaded"], spark["rows_quarantined"]) == (duck.rows_loaded, duck.rows_quarantined) == (5, 2)
    assert spark["tables"]["orders"] == {"new": 3, "updated": 2, "unchanged": 0} == duck.tables["orders"]
    assert spark["months_rewritten"] == ["2024-02", "2024-03", "2024-07"]
    lake_orders = _lake(lake, ORDERS)
    assert len(lake_orders) == len(duck_orders) == 243
    assert lake_orders == duck_orders
    lake_q = _lake(lake, QUARANTINED.replace("?", str(spark["run_id"])))
    assert lake_q == duck_q
    assert {r[3].split(":")[0] for r in lake_q} == {'column "total"', "duplicate key order_id=N0004"}
    assert sorted(r[0] for r in _lake(lake, "SELECT customer_id FROM customers")) == duck_customers
    for month, files in untouched.items():  # months the load did not touch: not rewritten, byte for byte
        assert _fingerprint(lake / "orders" / f"month={month}") == files
    manifest = json.loads((lake / MANIFEST).read_text())
    assert manifest["tables"]["orders"]["rows"] == 243 and "2024-07" in manifest["tables"]["orders"]["months"]
    assert _lake(lake, "SELECT count(*) FROM ingest_runs WHERE run_id = ?".replace("?", str(spark["run_id"])))[0][0] == 1

    before = _lake(lake, "SELECT * FROM orders ORDER BY order_id")
    again = _ingest(ws, "changes.csv", "--engine", "spark")  # the same file again: the same lake
    assert again["tables"]["orders"] == {"new": 0, "updated": 0, "unchanged": 5}
    assert _lake(lake, "SELECT * FROM orders ORDER BY order_id") == before
    assert _lake(lake, f"SELECT count(*) FROM quarantine WHERE run_id = {again['run_id']}")[0][0] == 0
    assert [(r[0], r[1]) for r in _lake(lake, "SELECT run_id, rows_read FROM ingest_runs ORDER BY 1")][-2:] == [
        (spark["run_id"], 7), (again["run_id"], 7)]
    from regulars.cli.main import app

    refused = CliRunner().invoke(app, ["lake", "promote", str(lake), "--workspace", str(ws)])  # would drop the runs
    assert refused.exit_code != 0 and "promoting would lose them" in " ".join(refused.output.split())
    assert _lake(lake, "SELECT * FROM orders ORDER BY order_id") == before


@pytest.mark.slow
def test_kinds_and_files_the_spark_ingest_does_not_read_say_what_to_do(shop):
    from regulars.cli.main import app

    ws, lake = shop
    Path("c.csv").write_text("customer_id,email\nc1,a@example.com\n")
    result = CliRunner().invoke(app, ["ingest", "customers", "c.csv", "--engine", "spark", "--workspace", str(ws)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "then `regulars lake promote`" in " ".join(result.output.split())
    Path("o.csv").write_text("order_id,email,ordered_at,total\nX1,a@example.com,2024-01-01,5\n")
    result = CliRunner().invoke(app, ["ingest", "orders", "o.csv", "--engine", "spark", "--workspace", str(ws)])
    assert result.exit_code != 0 and "customer id only" in " ".join(result.output.split())


@pytest.mark.slow
def test_a_failure_before_or_during_the_swap_leaves_the_previous_lake(shop, monkeypatch):
    from regulars.data import lake_commit

    ws, lake = shop
    _write(Path("changes.csv"), CHANGES)
    before = _fingerprint(lake)
    calls = []
    real = os.rename

    def rename(source, target):
        calls.append(target)
        if len(calls) == 4:  # three folders moved, then the disk fails
            raise OSError("disk full")
        real(source, target)

    monkeypatch.setattr(lake_commit.os, "rename", rename)
    from regulars.cli.main import app

    result = CliRunner().invoke(app, ["ingest", "orders", "changes.csv", "--engine", "spark", "--workspace", str(ws)])
    assert isinstance(result.exception, OSError) and len(calls) == 4 + 3  # and the three moves undone
    monkeypatch.setattr(lake_commit.os, "rename", real)
    assert _fingerprint(lake) == before
    assert not [p for p in lake.iterdir() if p.name.startswith(".ingest-")]  # the staging folder is removed


@pytest.mark.slow
def test_a_job_killed_mid_write_leaves_the_previous_lake(shop, tmp_path):
    ws, lake = shop
    rows = [f"K{i:06d},c{i % 500:03d},2024-{1 + i % 6:02d}-{1 + i % 27:02d} 08:00:00,paid,{i % 90}.50"
            for i in range(150_000)]
    _write(tmp_path / "big.csv", rows)
    before = _fingerprint(lake)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "REGULARS_LAKE": str(lake)}
    proc = subprocess.Popen([sys.executable, "-m", "regulars.cli.main", "ingest", "orders", str(tmp_path / "big.csv"),
                             "--engine", "spark", "--workspace", str(ws)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            # Spark is writing: task files under a _temporary folder of the staging area
            if list(lake.glob(".ingest-*/*/_temporary")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the ingest ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Spark JVM, mid-write
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert _fingerprint(lake) == before
    assert _lake(lake, "SELECT count(*) FROM orders")[0][0] == 240


EVENTS = """event_id,customer_id,session_id,event_type,occurred_at,page_url,properties
e1,c001,s1,page_view,2024-01-05 10:00:00,/a,"{""x"": 1}"
e2,,s2,add_to_cart,2024-02-05 10:00:00,/b,
e3,c002,s3,,2024-02-05 10:00:00,/c,
e4,c002,s3,page_view,2099-02-05 10:00:00,/c,
e5,c003,s4,page_view,2024-03-05 10:00:00,/d,{not json
"""
MESSAGES = """message_id,customer_id,campaign_id,channel,event_type,occurred_at
m1,c001,camp1,email,sent,2024-01-05 10:00:00
m2,,camp1,email,opened,2024-01-06 10:00:00
m3,c900,camp2,sms,sent,2024-03-05 10:00:00
m4,c002,camp2,sms,sent,2024-03-05
"""


@pytest.mark.slow
def test_events_messages_and_field_warnings_on_spark_match_duckdb(shop):
    from regulars.data.ingest.pipeline import ingest
    from regulars.data.lake_ingest import ingest_into_lake

    ws, lake = shop
    Path("events.csv").write_text(EVENTS)
    Path("messages.csv").write_text(MESSAGES)
    Path("orders.csv").write_text("order_id,customer_id,ordered_at,currency,total\n"  # a currency that is not one
                                  "W1,c001,2024-03-05 10:00:00,EURO,5\nW2,c001,2024-03-06 10:00:00,EUR,6\n")
    with Workspace(ws) as w:
        for kind, table in (("events", "events"), ("messages", "messages"), ("orders", "orders")):
            duck = ingest(w, kind, [f"{kind}.csv"])
            spark = ingest_into_lake(lake, kind, [f"{kind}.csv"])
            assert (spark.rows_read, spark.rows_loaded, spark.rows_quarantined) == (
                duck.rows_read, duck.rows_loaded, duck.rows_quarantined), kind
            for query in (f"SELECT * EXCLUDE (_run_id) FROM {table} ORDER BY 1",
                          "SELECT * EXCLUDE (_run_id) FROM customers ORDER BY 1",
                          "SELECT * EXCLUDE (_run_id) FROM campaigns ORDER BY 1"):
                assert _lake(lake, query) == w._con.execute(query).fetchall(), query
            assert _lake(lake, QUARANTINED.replace("?", str(spark.run_id))) == w._con.execute(
                QUARANTINED, [duck.run_id]).fetchall()
            assert spark.field_warnings == duck.field_warnings == (1 if kind == "orders" else 0)
            assert _lake(lake, WARNED.replace("?", str(spark.run_id))) == w._con.execute(
                WARNED, [duck.run_id]).fetchall()
    reasons = [r[0] for r in _lake(lake, "SELECT reason FROM quarantine ORDER BY kind, row_number")]
    assert any("no customer identifier" in r for r in reasons) and any("in the future" in r for r in reasons)


@pytest.mark.slow
def test_rows_are_numbered_as_in_the_whole_file_across_many_slices(shop):
    """Spark cuts the file into ~25 slices (4 kB each); row numbers still count from the file's header."""
    from regulars.data.engines import spark_session
    from regulars.data.lake_ingest import ingest_into_lake

    ws, lake = shop
    rows = [f"S{i:05d},c001,2024-0{1 + i % 6}-03 10:00:00,paid,{'bad' if i in (7, 1499, 2999) else '5'}"
            for i in range(1, 3001)]
    _write(Path("slices.csv"), rows[:1000] + [""] + rows[1000:])  # a blank line is not a row
    session = spark_session()
    session.conf.set("spark.sql.files.maxPartitionBytes", "4000")
    try:
        result = ingest_into_lake(lake, "orders", ["slices.csv"], session=session)
    finally:
        session.conf.unset("spark.sql.files.maxPartitionBytes")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3000, 2997, 3)
    assert _lake(lake, "SELECT row_number, raw->>'order_id' FROM quarantine WHERE run_id = "
                       f"{result.run_id} ORDER BY 1") == [(7, "S00007"), (1499, "S01499"), (2999, "S02999")]
