"""`regulars recommend`, `bought-together`, `next-actions` and `kpis --by segment` in a child process."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from tests.cli.test_cli import run
from tests.jobs.test_recommend_jobs import AS_OF, _shop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec-cli") / "shop.duckdb"
    _shop(path).close()
    return path


def test_recommend_all_writes_the_csv_the_issue_asks_for(shop, tmp_path):
    ws = tmp_path / "shop.duckdb"
    shutil.copy(shop, ws)
    out = run("recommend", "--all", "--k", "3", "--as-of", AS_OF.isoformat(), "--format", "csv", workspace=ws).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["customer_id", "rank", "product_id", "product_name", "score", "reason"]
    assert {r["customer_id"] for r in rows} == {f"c{i}" for i in range(24)}
    assert max(int(r["rank"]) for r in rows) == 3 and all(r["reason"] for r in rows)
    one = run("recommend", "c0", "--k", "2", workspace=ws).stdout
    assert "what to offer c0" in one
    as_json = json.loads(run("recommend", "c1", "--format", "json", workspace=ws).stdout)
    assert as_json["is_personal"] is False and as_json["items"]
    pairs = json.loads(run("bought-together", "beans", "--format", "json", workspace=ws).stdout)
    assert pairs["items"][0]["product_id"] == "filter" and pairs["items"][0]["lift"] >= 1
    missing = run("bought-together", "nope", workspace=ws, check=False)
    assert missing.returncode == 1 and "no product 'nope'" in missing.stderr and "Traceback" not in missing.stderr
    both = run("recommend", "c0", "--all", workspace=ws, check=False)
    assert both.returncode == 1 and "CUSTOMER" in both.stderr


def test_next_actions_csv_and_bad_catalogue(shop, tmp_path):
    ws = tmp_path / "shop.duckdb"
    shutil.copy(shop, ws)
    run("recommend", "--all", "--as-of", AS_OF.isoformat(), "--format", "csv", workspace=ws)
    out = run("next-actions", "--refresh", "--as-of", AS_OF.isoformat(), "--format", "csv", workspace=ws).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0])[:5] == ["customer_id", "action", "channel", "expected_value", "reason"]
    assert len(rows) == 24 and {r["channel"] for r in rows} <= {"email", "sms", "audience", "none"}
    bad = tmp_path / "bad.toml"
    bad.write_text('[costs]\nemail = 0.1\n[[action]]\nid = "x"\neligibility = "churn > 1"\nchannels = ["email"]\n'
                   'response = "purchase"\nvalue = "basket"\nuplift = 0.1\n')
    failed = run("next-actions", "--actions", bad, workspace=ws, check=False)
    assert failed.returncode == 1 and "unknown column 'churn'" in failed.stderr and "Traceback" not in failed.stderr
    table = run("next-actions", workspace=ws).stdout
    assert "next best actions" in table


def test_kpis_by_segment_kind(shop, tmp_path):
    ws = tmp_path / "shop.duckdb"
    shutil.copy(shop, ws)
    run("segments", "refresh", workspace=ws)
    data = json.loads(run("kpis", "--by", "segment", "lifecycle", "--json", workspace=ws).stdout)
    assert data["kind"] == "lifecycle" and data["rows"]
    assert sum(r["customers"] for r in data["rows"]) <= 24
    wrong = run("kpis", "--by", "segment", "colour", workspace=ws, check=False)
    assert wrong.returncode == 1 and "unknown segment kind" in wrong.stderr


def test_no_progress_bar_reaches_stdout(tmp_path):
    """DuckDB's own progress bar (queries over 2 s) must not end up in a CSV written to stdout."""
    import os
    import subprocess
    import sys

    code = ("from regulars import Workspace\n"
            f"ws = Workspace({str(tmp_path / 'w.duckdb')!r})\n"
            "ws._con.execute('SELECT count(*) FROM range(400000000) t(x) WHERE x % 7 = 3').fetchall()\n"
            "print('customer_id')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=300)
    assert out.stdout == "customer_id\n", out.stdout[:200]
