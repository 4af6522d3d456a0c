"""Read commands read what the refresh stored (issue 16, item 4): the same numbers, recomputed when the data changes."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from regulars import Workspace
from regulars.reports import standard
from regulars.reports.stored import lookup
from tests.cli.test_cli import run


def _same_report(stored_value, fresh) -> None:
    """Every field equal: frames with their dtypes, the rest as values."""
    for name in fresh.__dataclass_fields__:
        a, b = getattr(stored_value, name), getattr(fresh, name)
        if isinstance(b, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
        else:
            assert a == b, name


@pytest.fixture
def shop(demo_shop, tmp_path):
    path = tmp_path / "shop.duckdb"
    shutil.copy(demo_shop, path)
    return path


def test_demo_stores_funnel_clusters_kpis_and_they_equal_a_fresh_computation(shop):
    from regulars.reports.funnel import funnel_report
    from regulars.reports.kpis import kpis
    from regulars.reports.personas import cluster_report

    with Workspace(shop) as ws:
        funnel = standard.funnel(ws, by="source")
        clusters = standard.clusters(ws)
        monthly = standard.kpis(ws, by="month")
        assert funnel.from_store and clusters.from_store and monthly.from_store  # `regulars demo` stored them
        _same_report(funnel.value, funnel_report(ws, by="source"))
        overall = standard.funnel(ws)  # stored with the split funnel's paths and drop-off
        assert overall.from_store
        _same_report(overall.value, funnel_report(ws))
        _same_report(clusters.value, cluster_report(ws, random_state=0))
        _same_report(monthly.value, kpis(ws, by="month"))
        assert funnel.value.to_dict() == funnel_report(ws, by="source").to_dict()


def test_read_commands_show_the_stored_numbers_and_say_so(shop):
    proc = run("funnel", "--by", "source", "--format", "json", workspace=shop)
    assert "stored" in proc.stderr  # the note goes to stderr: stdout stays pure json
    with Workspace(shop, read_only=True) as ws:
        from regulars.reports.funnel import funnel_report

        fresh = json.loads(json.dumps(funnel_report(ws, by="source").to_dict(), default=str))
    assert json.loads(proc.stdout) == fresh


def test_predict_shows_the_stored_run_until_refresh_and_the_numbers_match(shop):
    shown = json.loads(run("predict", "--json", workspace=shop).stdout)
    with Workspace(shop) as ws:
        from regulars.data import predictions_store

        latest = predictions_store.read_prediction_run(ws)
    assert shown["run_id"] == latest["run_id"]  # nothing was fitted: the demo's run is shown
    refitted = json.loads(run("predict", "--json", "--refresh", workspace=shop).stdout)
    assert refitted["run_id"] != shown["run_id"]
    assert refitted["summary"] == shown["summary"]  # same data, same numbers
    assert refitted["readiness"] == shown["readiness"]
    again = json.loads(run("predict", "--json", workspace=shop).stdout)
    assert again["run_id"] == refitted["run_id"]
    with Workspace(shop, read_only=True) as ws:
        from regulars.reports.predictions import backtest_report

        demo_backtest = backtest_report(ws).run_id
    assert json.loads(run("backtest", "--json", workspace=shop).stdout)["run_id"] == demo_backtest  # not rerun
    assert json.loads(run("backtest", "--json", "--refresh", workspace=shop).stdout)["run_id"] != demo_backtest


def test_new_data_invalidates_the_stored_results(shop, tmp_path):
    with Workspace(shop, read_only=True) as ws:
        before = standard.kpis(ws).value.table
    old_run = json.loads(run("predict", "--json", workspace=shop).stdout)["run_id"]
    orders = tmp_path / "late_orders.csv"
    orders.write_text("order_id,customer_id,ordered_at,total\nLATE-1,C0000001,2026-12-01 10:00:00,123.45\n"
                      "LATE-2,C0000002,2026-12-01 11:00:00,50.00\n")
    mapping = tmp_path / "late.toml"
    mapping.write_text('kind = "orders"\n[columns]\norder_id = "order_id"\ncustomer_id = "customer_id"\n'
                       'ordered_at = "ordered_at"\ntotal = "total"\n')
    run("ingest", "orders", orders, "--mapping", mapping, workspace=shop)
    with Workspace(shop, read_only=True) as ws:
        assert lookup(ws, "funnel", {**standard.FUNNEL_DEFAULTS, "by": "source"}, reads="inputs") is None
        assert lookup(ws, "kpis", {"by": None}, reads="inputs") is None
    shown = json.loads(run("kpis", "--format", "json", workspace=shop).stdout)
    with Workspace(shop, read_only=True) as ws:
        from regulars.reports.kpis import kpis

        fresh = kpis(ws)
        assert standard.kpis(ws).from_store  # the command stored what it computed
    assert shown["rows"][0]["orders"] == int(fresh.table.iloc[0]["orders"]) == int(before.iloc[0]["orders"]) + 2
    assert json.loads(run("predict", "--json", workspace=shop).stdout)["run_id"] != old_run  # fitted again


def test_a_segment_refresh_keeps_input_only_results_and_an_erasure_drops_all(shop):
    run("segments", "refresh", workspace=shop)
    with Workspace(shop, read_only=True) as ws:
        assert standard.funnel(ws).from_store and standard.doctor(ws).from_store  # refresh stored them again
    run("forget", "C0000001", "--yes", workspace=shop)
    with Workspace(shop, read_only=True) as ws:
        assert ws.count("report_results") == 0  # they may have listed the erased customer


def test_an_order_changed_in_place_by_a_reload_is_not_hidden_by_a_stored_result(shop, tmp_path):
    """A re-export with a changed total updates the order in place: no count or row id moves, yet
    the stored kpis must not survive it (the version also follows every load)."""
    with Workspace(shop) as ws:
        before = standard.kpis(ws)
        assert before.from_store or standard.kpis(ws).from_store
        order = ws.sql("SELECT order_id, customer_id, ordered_at, total FROM orders WHERE total > 10 "
                       "ORDER BY order_id LIMIT 1")
    changed = order.assign(total=order["total"].astype(float) + 1000)
    changed["ordered_at"] = pd.to_datetime(changed["ordered_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    path = tmp_path / "reexport.csv"
    changed.to_csv(path, index=False)
    proc = run("ingest", "orders", str(path), workspace=shop)
    assert "1 updated" in proc.stdout, proc.stdout
    with Workspace(shop) as ws:
        after = standard.kpis(ws)
        assert not after.from_store
        revenue = after.value.table["revenue"].iloc[0] - before.value.table["revenue"].iloc[0]
        assert float(revenue) == pytest.approx(1000, abs=0.01)
