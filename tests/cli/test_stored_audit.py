"""A plain `regulars audit` shows the audit stored for the same options and data (issue 16, item 4).

The demo stores it with the models its backtest fitted; a fresh audit gives the same results;
a load, or a later audit of one model at another cutoff, makes the next plain audit run again.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from regulars import Workspace
from tests.cli.test_cli import run

VOLATILE = {"run_id", "audited_at", "finished_at"}


def _results(stdout: str):
    """The audit report without the fields that name the run or its time."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in VOLATILE}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return strip(json.loads(stdout))


@pytest.fixture
def shop(demo_shop, tmp_path):
    path = tmp_path / "shop.duckdb"
    shutil.copy(demo_shop, path)
    return path


def _latest(shop) -> dict[str, str]:
    """Each model's latest audit run (what the report shows)."""
    with Workspace(shop, read_only=True) as ws:
        runs = ws.sql("SELECT model, arg_max(run_id, (finished_at, run_id)) AS run_id FROM fairness_runs GROUP BY 1")
    return dict(zip(runs["model"], runs["run_id"]))


def test_the_demo_stores_the_audit_and_it_equals_a_fresh_one(shop):
    demo_runs = _latest(shop)
    assert set(demo_runs) >= {"churn", "propensity"}  # `regulars demo` audited
    shown = run("audit", "--json", workspace=shop)
    assert "stored" in shown.stderr and _latest(shop) == demo_runs  # nothing refitted
    fresh = run("audit", "--json", "--fresh", workspace=shop)
    assert "stored" not in fresh.stderr
    refitted = _latest(shop)
    assert all(refitted[m] != demo_runs[m] for m in demo_runs)  # audited again
    assert _results(fresh.stdout) == _results(shown.stdout)  # the backtest's fit = the audit's own
    again = run("audit", "--json", workspace=shop)
    assert "stored" in again.stderr and _latest(shop) == refitted
    assert _results(again.stdout) == _results(fresh.stdout)


def test_a_load_makes_the_next_audit_run_again(shop, tmp_path):
    orders = tmp_path / "late.csv"
    orders.write_text("order_id,customer_id,ordered_at,total\nLATE-1,C0000001,2026-12-01 10:00:00,123.45\n")
    run("ingest", "orders", orders, workspace=shop)
    before = _latest(shop)
    proc = run("audit", "--json", workspace=shop)
    assert "stored" not in proc.stderr
    assert all(_latest(shop)[m] != before[m] for m in before)
    assert "stored" in run("audit", "--json", workspace=shop).stderr  # and that one is kept


def test_an_audit_of_one_model_at_another_cutoff_is_not_hidden_by_the_stored_one(shop):
    from regulars.jobs.audit import default_cutoff

    with Workspace(shop, read_only=True) as ws:
        cutoff = default_cutoff(ws)
    run("audit", "--json", workspace=shop)  # the default audit, stored
    earlier = str(cutoff - dt.timedelta(days=30))
    run("audit", "churn", "--cutoff", earlier, "--json", workspace=shop)
    proc = run("audit", "--json", workspace=shop)  # the stored default audit is no longer the latest churn audit
    assert "stored" not in proc.stderr
    shown = {m["model"]: m["cutoff"][:10] for m in json.loads(proc.stdout)["models"]}
    assert shown["churn"] == str(cutoff)
