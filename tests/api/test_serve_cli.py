"""`regulars serve` and `regulars keys`: the first admin key, the printed address, key management, shutdown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
import typer
from typer.testing import CliRunner

from regulars import Workspace
from regulars.cli.server import register
from tests.api.server import free_port


@pytest.fixture
def cli():
    app = typer.Typer()
    register(app)
    return app


def test_keys_create_list_revoke(cli, tmp_path):
    ws = str(tmp_path / "shop.duckdb")
    runner = CliRunner()
    made = runner.invoke(cli, ["keys", "create", "--role", "analyst", "--name", "crm sync", "-w", ws])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    key_id = secret.split("_")[1]
    assert re.fullmatch(r"rk_[0-9a-f]{10}_\S{32}", secret)
    listed = runner.invoke(cli, ["keys", "list", "--format", "csv", "-w", ws])
    assert key_id in listed.output and "crm sync" in listed.output and secret not in listed.output
    assert runner.invoke(cli, ["keys", "revoke", key_id, "-w", ws]).exit_code == 0
    assert key_id not in runner.invoke(cli, ["keys", "list", "--format", "csv", "-w", ws]).output
    assert key_id in runner.invoke(cli, ["keys", "list", "--all", "--format", "csv", "-w", ws]).output
    bad = runner.invoke(cli, ["keys", "create", "--role", "owner", "-w", ws])
    assert bad.exit_code == 1 and "unknown role" in bad.output


def test_serve_prints_the_address_and_a_first_admin_key_then_stops_cleanly(tmp_path):
    ws = tmp_path / "shop.duckdb"
    port = free_port()
    env = {**os.environ, "REGULARS_WARM_PROFILES": "0", "REGULARS_WARM_REPORTS": "0", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "regulars.api", "--workspace", str(ws), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        out, deadline = "", time.monotonic() + 60
        while "rk_" not in out and time.monotonic() < deadline:
            out += proc.stdout.readline()
        key = re.search(r"rk_[0-9a-f]{10}_\S{32}", out).group(0)
        assert f"http://localhost:{port}" in out
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/me", headers={"Authorization": f"Bearer {key}"})
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["role"] == "admin"
        assert httpx.get(f"http://127.0.0.1:{port}/api/me").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "rk_" not in rest  # the key is printed once, never logged
    with Workspace(ws) as w:  # the file is free again and the key is stored hashed
        assert w.sql("SELECT count(*) AS n FROM api_keys WHERE role = 'admin'")["n"][0] == 1


def test_serve_refuses_a_busy_port(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "regulars.api", "--workspace", str(tmp_path / "x.duckdb"),
                            "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "in use" in r.stderr
