"""A lake workspace: `regulars lake promote`, the analyses on Spark over the lake, and DuckDB reading it.

One demo shop (300 customers) is promoted once for the module; the failure tests promote again into
the same lake and check that it is left exactly as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.optional import engine

engine("pyspark")

from regulars import Workspace  # noqa: E402
from regulars.data import lake as lake_module  # noqa: E402
from regulars.data.lake import MANIFEST, LakeError, promote, read_manifest  # noqa: E402
from regulars.data.lake_read import LakeTables, duckdb_lake, lake_tables  # noqa: E402
from regulars.features.mart import customer_features  # noqa: E402
from regulars.segments import rfm  # noqa: E402
from tests.lake.promoted import promoted_demo  # noqa: E402
from tests.parity.test_engine_parity import normalise  # noqa: E402

pytestmark = pytest.mark.slow

MONTHLY = ("SELECT strftime(ordered_at, '%Y-%m') AS month, count(*) AS orders, sum(total) AS revenue, "
           "count(DISTINCT customer_id) AS customers FROM orders GROUP BY 1 ORDER BY 1")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The demo shop and its lake (promoted through the command)."""
    return promoted_demo(tmp_path_factory.mktemp("lake"))


def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def test_promote_copies_every_row_by_month(shop):
    path, lake, summary = shop
    manifest = read_manifest(lake)
    with Workspace(path, read_only=True) as ws:
        assert manifest["schema_version"] == ws.schema_version
        for name in ("orders", "order_lines", "events", "messages", "customers", "ingest_runs", "quarantine",
                     "schema_version"):
            assert manifest["tables"][name]["rows"] == ws.count(name) == summary["tables"][name]["rows"]
        months = ws.sql("SELECT DISTINCT strftime(ordered_at, '%Y-%m') AS m FROM orders ORDER BY 1")["m"].tolist()
        line_months = ws.sql("SELECT DISTINCT strftime(o.ordered_at, '%Y-%m') AS m FROM order_lines l "
                             "JOIN orders o USING (order_id) ORDER BY 1")["m"].tolist()
    assert len(months) > 12 and manifest["tables"]["orders"]["months"] == months
    assert sorted(p.name for p in (lake / "orders").glob("month=*")) == [f"month={m}" for m in months]
    assert manifest["tables"]["order_lines"]["months"] == line_months
    for name in ("orders", "order_lines", "events", "messages", "customers"):
        assert (lake / name / "_SUCCESS").is_file()  # committed by Spark's file commit protocol
    assert not list((lake / "customers").glob("month=*"))
    assert not [p for p in lake.parent.iterdir() if p.name.startswith(".warehouse")]  # no staging left
    assert "secret" not in " ".join(manifest["tables"]) and "api_keys" not in manifest["tables"]


@pytest.mark.parametrize("how", ["raises after the first table", "counts one row short"])
def test_failed_promote_leaves_the_previous_lake(shop, monkeypatch, how):
    path, lake, _ = shop
    before, manifest = _listing(lake), (lake / MANIFEST).read_text()
    if how == "raises after the first table":
        written = []
        real = lake_module._write_table

        def write_then_fail(*args, **kwargs):
            if written:
                raise OSError("disk full (simulated)")
            written.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(lake_module, "_write_table", write_then_fail)
        expected = OSError
    else:
        real_count = lake_module._count
        monkeypatch.setattr(lake_module, "_count", lambda target: real_count(target) - 1)
        expected = LakeError
    with Workspace(path, read_only=True) as ws, pytest.raises(expected):
        promote(ws, lake)
    assert _listing(lake) == before and (lake / MANIFEST).read_text() == manifest
    assert not [p for p in lake.parent.iterdir() if p.name.startswith(".warehouse")]


def test_analyses_on_spark_over_the_lake_equal_duckdb(shop, monkeypatch):
    from regulars.data.engine_workspace import engine_workspace
    from regulars.data.engines import open_engine

    path, lake, _ = shop
    with Workspace(path, read_only=True) as ws, lake_tables(lake, ws) as spark:
        for build in (lambda t: customer_features(t, None), rfm):
            ours, theirs = (normalise(p.execute(build(p)), ["customer_id"]) for p in (ws, spark))
            assert len(ours) > 250
            pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, check_exact=False, atol=1e-6)
        monkeypatch.setenv("REGULARS_LAKE", str(lake))
        with open_engine(ws, "spark") as provider, engine_workspace(ws, "spark") as reads:
            assert isinstance(provider, LakeTables) and isinstance(reads.provider, LakeTables)
            assert provider.lake == lake.resolve() and provider.folder != str(lake.resolve())


def test_kpis_command_on_the_lake(shop):
    from regulars.cli.main import app

    path, lake, _ = shop
    runner = CliRunner()
    duck = runner.invoke(app, ["kpis", "--by", "month", "--json", "--workspace", str(path)])
    spark = runner.invoke(app, ["kpis", "--by", "month", "--json", "--engine", "spark", "--workspace", str(path)],
                          env={"REGULARS_LAKE": str(lake)})
    assert duck.exit_code == 0 and spark.exit_code == 0, spark.output
    a, b = json.loads(duck.stdout)["rows"], json.loads(spark.stdout)["rows"]
    assert len(a) > 12 and [r["month"] for r in a] == [r["month"] for r in b]
    assert np.allclose([r["revenue"] for r in a], [r["revenue"] for r in b])

    doctor = runner.invoke(app, ["doctor", "--json", "--engine", "spark", "--workspace", str(path)],
                           env={"REGULARS_LAKE": str(lake)})
    assert doctor.exit_code == 0, doctor.output
    check = json.loads(doctor.stdout)["engine"]
    assert check["lake"] == str(lake.resolve()) and check["ok"]
    assert check["counts"]["orders"]["spark"] == check["counts"]["orders"]["duckdb"] > 0


def test_duckdb_reads_the_lake(shop):
    path, lake, _ = shop
    with Workspace(path, read_only=True) as ws, duckdb_lake(lake, ws) as duck:
        pd.testing.assert_frame_equal(duck.sql(MONTHLY), ws.sql(MONTHLY))
        for name in ("orders", "order_lines", "events", "quarantine", "customer_predictions"):
            assert duck.sql(f"DESCRIBE {name}")[["column_name", "column_type"]].equals(
                ws.sql(f"DESCRIBE {name}")[["column_name", "column_type"]]), name
        assert duck.sql("SELECT count(*) AS n FROM events WHERE properties IS NOT NULL")["n"][0] == \
            ws.sql("SELECT count(*) AS n FROM events WHERE properties IS NOT NULL")["n"][0]
        ours = normalise(ws.execute(customer_features(ws, None)), ["customer_id"])
        theirs = normalise(duck.execute(customer_features(duck, None)), ["customer_id"])
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


def test_a_lake_older_than_the_workspace_schema_is_refused(shop, tmp_path):
    path, lake, _ = shop
    old = tmp_path / "old-lake"
    old.mkdir()
    manifest = json.loads((lake / MANIFEST).read_text())
    (old / MANIFEST).write_text(json.dumps({**manifest, "schema_version": manifest["schema_version"] - 1}))
    with Workspace(path, read_only=True) as ws, pytest.raises(LakeError, match="promote` again"):
        with lake_tables(old, ws):
            pass


def test_a_lake_that_still_holds_an_erased_customer_is_refused(shop, tmp_path):
    path, lake, _ = shop
    later = tmp_path / "later.duckdb"
    later.write_bytes(path.read_bytes())
    with Workspace(later) as ws:
        ws.insert_rows("erasures", [{"erasure_id": "e1", "erased_at": "2026-11-30 10:00:00", "rows_deleted": "{}"}])
        with pytest.raises(LakeError, match="1 customer erasure"):
            with lake_tables(lake, ws):
                pass


def test_promote_refuses_a_folder_that_is_not_a_lake(shop, tmp_path):
    from regulars.cli.main import app

    path, _, _ = shop
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["lake", "promote", str(tmp_path), "--workspace", str(path)])
    assert result.exit_code == 1 and "not a lake" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"
    shown = CliRunner().invoke(app, ["lake", "show", str(tmp_path)])
    assert shown.exit_code == 1 and "regulars lake promote" in " ".join(shown.output.split())


def test_show_says_when_the_workspace_changed_since_the_promotion(shop, tmp_path):
    from regulars.cli.main import app

    path, lake, _ = shop
    runner = CliRunner()
    same = json.loads(runner.invoke(app, ["lake", "show", str(lake), "-f", "json", "-w", str(path)]).stdout)
    assert same["changed_since_promotion"] == [] and same["tables"]["orders"]["rows_in_workspace"] > 1000
    later = tmp_path / "later.duckdb"
    later.write_bytes(path.read_bytes())
    with Workspace(later) as ws:
        ws._con.execute("DELETE FROM orders WHERE order_id = (SELECT min(order_id) FROM orders)")
    shown = runner.invoke(app, ["lake", "show", str(lake), "-w", str(later)])
    assert shown.exit_code == 0 and "orders" in shown.output and "promote` again" in " ".join(shown.output.split())


def test_an_empty_table_promotes_and_reads_back_with_its_columns(tmp_path):
    path = tmp_path / "new.duckdb"
    with Workspace(path) as ws:
        ws.insert_rows("customers", [{"customer_id": "only-one"}])
        done = promote(ws, tmp_path / "lake")
        assert done.manifest["tables"]["orders"] == {**done.manifest["tables"]["orders"], "rows": 0, "months": []}
        with lake_tables(done.warehouse, ws) as spark:
            assert spark.execute(spark.table("orders").count()) == 0
            assert spark.execute(spark.table("customers").count()) == 1
            assert spark.table("orders").columns == ws.table("orders").columns
        with duckdb_lake(done.warehouse, ws) as duck:
            assert duck.sql("SELECT count(*) AS n FROM orders")["n"][0] == 0
            assert duck.sql("DESCRIBE orders")["column_type"].tolist() == ws.sql("DESCRIBE orders")["column_type"].tolist()
