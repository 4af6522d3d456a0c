"""The `regulars` command as a user runs it: a real process, real files, a real workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SAMPLES


def run(*args, workspace, check=True, timeout=300, stdin=subprocess.DEVNULL):
    """Run ``regulars ARGS`` in a child process; return the CompletedProcess."""
    env = {**os.environ, "REGULARS_WORKSPACE": str(workspace), "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "regulars.cli.main", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=timeout, stdin=stdin,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"regulars {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc


@pytest.fixture
def ws_path(tmp_path):
    return tmp_path / "shop.duckdb"


def test_ingest_json_summary_and_idempotent_reload(ws_path):
    first = json.loads(run("ingest", "orders", SAMPLES / "shopify_orders.csv", "--json", workspace=ws_path).stdout)
    assert first["format"] == "shopify" and first["rows_read"] > 0
    assert first["rows_loaded"] + first["rows_quarantined"] == first["rows_read"]
    assert first["rows_new"] > 0 and isinstance(first["run_id"], int)

    again = json.loads(run("ingest", "orders", SAMPLES / "shopify_orders.csv", "--json", workspace=ws_path).stdout)
    assert again["run_id"] != first["run_id"]
    assert again["rows_new"] == 0 and again["rows_updated"] == 0 and again["rows_unchanged"] == first["rows_new"]

    runs = json.loads(run("runs", "--format", "json", workspace=ws_path).stdout)
    assert [r["run_id"] for r in runs] == [again["run_id"], first["run_id"]]


def test_rejected_rows_are_listed_with_file_row_column_and_reason(ws_path, tmp_path):
    data = tmp_path / "pos.csv"
    data.write_text(
        "customer,when,amount\n"
        "c1,2025-03-01,12.50\n"
        "c2,not a date,8.00\n"
        "c3,2025-03-02,12,3,4\n"
        ",2025-03-02,5.00\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "pos.toml"
    mapping.write_text('[columns]\ncustomer_id = "customer"\nordered_at = "when"\ntotal = "amount"\n', encoding="utf-8")
    summary = json.loads(run("ingest", "orders", data, "--mapping", mapping, "--json", workspace=ws_path).stdout)
    # row 4 has no customer: a guest order, loaded
    assert summary["rows_read"] == 4 and summary["rows_loaded"] == 2 and summary["rows_quarantined"] == 2
    assert summary["guest_orders"] == 1

    rows = json.loads(run("quarantine", "--run", summary["run_id"], "--format", "json", workspace=ws_path).stdout)
    by_row = {r["row_number"]: r for r in rows}
    assert set(by_row) == {2, 3}
    assert all(r["file"].endswith("pos.csv") for r in rows)
    assert "ordered_at" in by_row[2]["column_name"] and "not a date" in by_row[2]["raw"]
    assert "expected 3 fields" in by_row[3]["reason"]
    table = run("quarantine", workspace=ws_path).stdout
    assert "pos.csv" in table and "ordered_at" in table


def test_errors_say_what_to_fix(ws_path, tmp_path):
    bad_kind = run("ingest", "invoices", SAMPLES / "shopify_orders.csv", workspace=ws_path, check=False)
    assert bad_kind.returncode != 0 and "orders" in bad_kind.stderr and "invoices" in bad_kind.stderr
    missing = run("ingest", "orders", tmp_path / "nope.csv", workspace=ws_path, check=False)
    assert missing.returncode != 0 and "nope.csv" in missing.stderr
    assert "Traceback" not in bad_kind.stderr + missing.stderr
    run("ingest", "orders", SAMPLES / "shopify_orders.csv", workspace=ws_path)
    write = run("sql", "DELETE FROM orders", workspace=ws_path, check=False)
    assert write.returncode != 0 and "read-only" in write.stderr
    assert json.loads(run("sql", "SELECT count(*) AS n FROM orders", "-f", "json", workspace=ws_path).stdout)[0]["n"] > 0


def test_forget_needs_confirmation_and_export_shows_everything(ws_path):
    run("ingest", "customers", SAMPLES / "shopify_customers.csv", workspace=ws_path)
    run("ingest", "orders", SAMPLES / "shopify_orders.csv", workspace=ws_path)
    held = json.loads(run("export-customer", "Alice@Example.com ", workspace=ws_path).stdout)
    assert held["tables"]["orders"] and held["tables"]["order_lines"]

    refused = run("forget", "alice@example.com", workspace=ws_path, check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert json.loads(run("export-customer", "alice@example.com", workspace=ws_path).stdout)["customer_id"]

    done = run("forget", "alice@example.com", "--yes", workspace=ws_path)
    assert "erased customer" in done.stdout and "alice" not in done.stdout.lower()
    gone = run("export-customer", "alice@example.com", workspace=ws_path, check=False)
    assert gone.returncode != 0
    left = run("sql", "SELECT count(*) AS n FROM customers WHERE email ILIKE '%alice%'", "-f", "json", workspace=ws_path)
    assert json.loads(left.stdout)[0]["n"] == 0


@pytest.mark.slow
def test_demo_runs_unattended_then_kpis_doctor_and_segments_read_it(ws_path):
    # Without --no-serve: stdin is not a terminal, so it must not wait for an answer.
    out = run("demo", "--customers", 400, "--seed", 3, workspace=ws_path, timeout=600).stdout
    assert "demo shop ready" in out and "400 customers" in out and "0 rows quarantined" in out

    kpis = json.loads(run("kpis", "--json", workspace=ws_path).stdout)
    assert kpis["rows"][0]["customers"] > 0 and kpis["rows"][0]["revenue"] > 0
    by_month = json.loads(run("kpis", "--by", "month", "--json", workspace=ws_path).stdout)
    assert len(by_month["rows"]) >= 12

    doctor = json.loads(run("doctor", "--json", workspace=ws_path).stdout)
    assert {r["analysis"] for r in doctor["readiness"]} >= {"rfm"}
    assert "customers" in run("doctor", workspace=ws_path).stdout

    members = run("segments", "list", "--format", "json", workspace=ws_path).stdout
    assert "rfm:champions" in members
    predictions = run("sql", "SELECT count(*) AS n FROM customer_predictions", "-f", "json", workspace=ws_path)
    assert json.loads(predictions.stdout)[0]["n"] > 0
