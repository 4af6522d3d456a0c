"""A load killed with SIGKILL leaves the workspace exactly as it was before the load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
from tests.conftest import CDNOW
from tests.data.test_ingest import CDNOW_MAPPING, snapshot, write

TABLES = ("customers", "identities", "orders", "ingest_runs", "quarantine")

#: Runs one ingest in a child process, announcing each step on stdout; sleeps at *pause_at* so
#: that the parent can kill it at a known point inside the transaction.
CHILD = textwrap.dedent(
    """
    import sys, time
    from regulars import Workspace
    from regulars.data.ingest.pipeline import ingest

    path, data, mapping, pause_at = sys.argv[1:5]

    def say(step):
        print(step, flush=True)
        if step.startswith(pause_at):
            time.sleep(60)

    ws = Workspace(path)
    ingest(ws, "orders", [data], mapping=mapping, progress=say)
    print("finished", flush=True)
    """
)


def _bigger_file(tmp_path, copies: int = 8):
    """CDNOW again (unchanged rows) followed by copies under new customer ids (new rows)."""
    lines = (CDNOW / "CDNOW_master.txt").read_text().splitlines()
    out = [lines[0]]
    for k in range(copies):
        for line in lines[1:]:
            cid, date, qty, dollars = line.split()
            out.append(line if k == 0 else f"{int(cid) + 100_000 * k} {date} {qty} {dollars}")
    return write(tmp_path, "bigger.txt", "\n".join(out) + "\n")


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["validating and loading orders", "committing"])
def test_kill_9_during_a_load_leaves_the_workspace_unchanged(tmp_path, kill_at):
    mapping = write(tmp_path, "cdnow.toml", CDNOW_MAPPING)
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, "orders", [CDNOW / "CDNOW_master.txt"], mapping=mapping)
        before = snapshot(ws, *TABLES)
    big = _bigger_file(tmp_path)
    script = write(tmp_path, "child.py", CHILD)

    child = subprocess.Popen(
        [sys.executable, str(script), str(path), str(big), str(mapping), kill_at],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    seen = []
    deadline = time.monotonic() + 120
    for line in child.stdout:
        seen.append(line.strip())
        if line.startswith(kill_at) or time.monotonic() > deadline:
            break
    if kill_at != "committing":
        time.sleep(0.3)  # mid-statement: the orders upsert is running
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert kill_at in seen and "finished" not in seen

    with Workspace(path) as ws:
        assert snapshot(ws, *TABLES) == before
        # The workspace is usable after the crash: the same load now completes.
        done = ingest(ws, "orders", [big], mapping=mapping)
        assert done.rows_unchanged == 69_659 and done.rows_new == 69_659 * 7
