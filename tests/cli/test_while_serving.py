"""Issue 16.1: every documented command works while `regulars serve` holds the workspace.

The server is the one process that may open the DuckDB file; commands are sent to it over
loopback with the token of its record (mode 0600) and run there. A shop owner sees the
command's own output, never a message about locks.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from regulars.cli.main import app
from regulars.data import handover
from tests.api.server import free_port
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow  # runs the whole README tour through a server: each command is a process (~2-4 min)

LOCK_WORDS = re.compile(r"lock|another regulars process|cannot open workspace", re.I)


@pytest.fixture(scope="module")
def served(demo_shop):
    """A 300-customer demo shop with `regulars serve` running on it (a real process, uvicorn on 127.0.0.1)."""
    shop = demo_shop
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "regulars.cli.main", "serve", "--port", str(port), "--workspace", str(shop)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**env, "REGULARS_WARM_PROFILES": "0", "REGULARS_WARM_REPORTS": "0", "REGULARS_RUN_ACTIVATION": "0"},
    )
    out, deadline = "", time.monotonic() + 120
    while "rk_" not in out and time.monotonic() < deadline:
        out += server.stdout.readline()
    admin = re.search(r"rk_[0-9a-f]{10}_\S{32}", out).group(0)
    while handover.read_record(shop) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/me", headers={"Authorization": f"Bearer {admin}"})
            break
        except httpx.ConnectError:
            time.sleep(0.1)
    yield {"shop": shop, "port": port, "admin": admin}
    server.send_signal(signal.SIGINT)
    rest, _ = server.communicate(timeout=120)
    assert server.returncode == 0, rest
    assert handover.read_record(shop) is None and not handover.record_path(shop).exists()


def cli(served, *args, ok=True):
    """Run `regulars ARGS` (the same entry point as the installed command) against the served shop."""
    result = CliRunner().invoke(app, [*map(str, args), "--workspace", str(served["shop"])])
    text = result.stdout + result.stderr
    assert not LOCK_WORDS.search(text), text
    assert "Traceback" not in text, text
    if ok:
        assert result.exit_code == 0, f"regulars {' '.join(map(str, args))} -> {result.exit_code}\n{text}"
    return result


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_record_is_private_and_the_channel_wants_its_token(served):
    path = handover.record_path(served["shop"])
    assert os.stat(path).st_mode & 0o777 == 0o600
    url = f"http://127.0.0.1:{served['port']}/_cli/run"
    body = {"argv": ["sql", "SELECT 1 AS x"], "cwd": "/", "env": {}}
    assert httpx.post(url, json=body).status_code == 403
    assert httpx.post(url, json=body, headers={"X-Regulars-Token": "x" * 43}).status_code == 403
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {served['admin']}"}).status_code == 403
    os.chmod(path, 0o644)  # a record others could read (or plant) is not trusted
    try:
        assert handover.read_record(served["shop"]) is None
    finally:
        os.chmod(path, 0o600)


def test_a_real_terminal_command_runs_through_the_server(served):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "REGULARS_WORKSPACE": str(served["shop"])}
    proc = subprocess.run([sys.executable, "-m", "regulars.cli.main", "sql", "SELECT count(*) AS n FROM orders",
                           "--format", "csv"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and not LOCK_WORDS.search(proc.stderr), proc.stderr
    assert int(csv_rows(proc.stdout)[0]["n"]) > 0
    failed = subprocess.run([sys.executable, "-m", "regulars.cli.main", "sql", "DROP TABLE orders"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert failed.returncode == 1 and "error" in failed.stderr  # exit code and stderr come back as they were
    again = subprocess.run([sys.executable, "-m", "regulars.cli.main", "serve", "--port", str(free_port())],
                           capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 1 and f"already runs on this workspace at http://127.0.0.1:{served['port']}" in again.stderr


def test_the_readme_tour_and_the_writes_work_while_serving(served, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files a command writes (the Monday report) land where the user stands
    api = httpx.Client(base_url=f"http://127.0.0.1:{served['port']}",
                       headers={"Authorization": f"Bearer {served['admin']}"}, timeout=120)
    first = csv_rows(cli(served, "sql", "SELECT customer_id, email FROM customers WHERE email IS NOT NULL "
                                        "ORDER BY customer_id LIMIT 2", "--format", "csv").stdout)
    product = csv_rows(cli(served, "sql", "SELECT product_id FROM order_lines GROUP BY 1 ORDER BY count(*) DESC "
                                          "LIMIT 1", "--format", "csv").stdout)[0]["product_id"]
    customer, doomed = first[0], first[1]
    for args in (
        ["kpis"], ["kpis", "--by", "month"], ["kpis", "--by", "channel"], ["doctor"], ["segment", "rfm"],
        ["segments", "create", "Coffee lovers", "orders >= 3 and category_share_coffee > 0.5"],
        ["segments", "refresh"], ["segments", "history", "coffee_lovers"], ["cohorts", "--by", "month"],
        ["funnel", "--by", "source"], ["clusters"], ["predict"], ["backtest"],
        ["experiments", "create", "Win-back 10%", "--segment", "At risk", "--arms", "control:0.5,offer:0.5"],
        ["experiments", "analyze", "Win-back 10%"], ["recommend", customer["customer_id"], "--k", "5"],
        ["recommend", "--all", "--k", "10", "--format", "csv"], ["bought-together", product],
        ["next-actions", "--segment", "At risk"], ["kpis", "--by", "segment", "rfm"], ["journeys", "list"],
        ["journeys", "approve", "cart_abandonment"], ["journeys", "results", "cart_abandonment"],
        ["audiences", "export", "rfm:champions", "--format", "klaviyo"],
        ["webhooks", "add", "crm", "https://crm.example.com/hook", "--topic", "segment.entered"],
        ["report", "monday"], ["sql", "SELECT * FROM orders LIMIT 5"], ["quarantine"], ["runs"],
        ["customer", customer["customer_id"]], ["export-customer", customer["customer_id"]],
        ["keys", "list"], ["suppressions", "list"],
    ):
        cli(served, *args)
    assert list(tmp_path.glob("monday-report-*.html")), "the server wrote the report in the caller's folder"
    # a 300-customer shop is too small to plan a test on: the command's own advice comes back, not a lock
    plan = cli(served, "experiments", "plan", "--segment", "At risk", "--lift", "0.02", ok=False)
    assert plan.exit_code in (0, 1) and ("error:" in plan.stderr or plan.exit_code == 0)

    # writes are visible to the next command and to the running dashboard at once
    made = cli(served, "keys", "create", "--role", "viewer", "--name", "while serving")
    secret = made.stdout.strip().splitlines()[-1]
    assert api.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).json()["role"] == "viewer"
    cli(served, "keys", "revoke", secret.split("_")[1])
    assert api.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401

    loaded = json.loads(cli(served, "ingest", "orders", SAMPLES / "shopify_orders.csv", "--json").stdout)
    assert loaded["rows_loaded"] > 0
    assert json.loads(cli(served, "runs", "--format", "json").stdout)[0]["run_id"] == loaded["run_id"]
    assert "coffee_lovers" in cli(served, "segments", "list", "--format", "csv").stdout

    cli(served, "forget", doomed["email"], "--yes")
    left = csv_rows(cli(served, "sql", f"SELECT count(*) AS n FROM customers WHERE customer_id = "
                                       f"'{doomed['customer_id']}'", "--format", "csv").stdout)
    assert left[0]["n"] == "0"
    assert api.get(f"/api/customers/{doomed['customer_id']}").status_code == 404
    assert api.get(f"/api/customers/{customer['customer_id']}").status_code == 200  # the server reopened the file
