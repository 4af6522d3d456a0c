"""`kpis`, `predict`, `backtest` and `doctor` with ``--engine spark`` give DuckDB's results on the demo shop.

The commands' reads run on a local Spark session (``local[1]``); models fit on this machine
from what the engine returns (the demo is smaller than the fitting sample: every customer), and
``predict`` scores the customers on the Spark executors, so the predictions must match DuckDB's
to rounding.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("pyspark")

from regulars import Workspace  # noqa: E402
from regulars.data.engine_workspace import EngineWorkspace, engine_workspace  # noqa: E402
from regulars.data.engines import spark_tables  # noqa: E402
from regulars.data.spark_config import spark_settings  # noqa: E402
from tests.parity.test_engine_parity import normalise  # noqa: E402

pytestmark = pytest.mark.slow

LOCAL = {"REGULARS_SPARK_MASTER": "local[1]", "REGULARS_SPARK_DRIVER_MEMORY": "1g"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from regulars.jobs.demo import run_demo

    path = tmp_path_factory.mktemp("demo-parity") / "shop.duckdb"
    with Workspace(path) as ws:
        run_demo(ws, customers=300, seed=1, analyses=False)
    return path


@pytest.fixture
def twin(demo, tmp_path, monkeypatch):
    """Two copies of the demo shop: one for DuckDB, one for Spark; Spark on ``local[1]``."""
    for var, value in LOCAL.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("REGULARS_SETTINGS", raising=False)
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    shutil.copy(demo, a)
    shutil.copy(demo, b)
    return a, b


def _nulls_as_nan(df: pd.DataFrame) -> pd.DataFrame:
    """A column with no value is None (object) from DuckDB and NaN from Spark: the same empty column."""
    df = df.copy()
    for col in df.columns:
        if df[col].isna().all():
            df[col] = np.nan
    return df


def test_kpis_on_spark_equal_duckdb(twin):
    from regulars.reports.kpis import kpis

    with Workspace(twin[0], read_only=True) as ws, spark_tables(ws) as spark:
        for by in (None, "month", "channel", "cohort"):
            ours, theirs = kpis(ws, by=by), kpis(spark, by=by)
            assert len(ours.table) > 0
            pd.testing.assert_frame_equal(normalise(_nulls_as_nan(ours.table), None),
                                          normalise(_nulls_as_nan(theirs.table), None),
                                          check_dtype=False, check_exact=False, rtol=1e-9, obj=f"kpis by {by}")
            assert ours.notes == theirs.notes and ours.active_days == theirs.active_days


def _stored(path, query):
    with Workspace(path, read_only=True) as ws:
        return ws.sql(query)


def _in_two_currencies(one, mixed):
    """Both shops sell in USD; *mixed* states a quarter of its orders in CAD at twice the amounts,
    with the rate CAD=0.5 that converts each back exactly."""
    from regulars.data import auth
    from regulars.features.currency import MONEY_COLUMNS

    for path in (one, mixed):
        with Workspace(path) as ws:
            auth.set_settings(ws._con, {"currency": "USD"}, "test")
    with Workspace(mixed) as ws:
        doubled = ", ".join(f"{c} = {c} * 2" for c in MONEY_COLUMNS)
        ws._con.execute(f"UPDATE orders SET currency = 'CAD', {doubled} WHERE hash(order_id) % 4 = 0")
        auth.set_settings(ws._con, {"exchange_rates": "CAD=0.5"}, "test")
        assert ws._con.execute("SELECT count(DISTINCT currency) FROM orders").fetchall() == [(2,)]


def test_predict_and_backtest_on_spark_equal_duckdb(twin):
    """The Spark twin's orders are in two currencies (converted by the shop's rate on Spark, issue
    16.5): its predictions and backtest equal those of the one-currency shop on DuckDB."""
    from regulars.jobs.backtest import backtest
    from regulars.jobs.predict import predict

    _in_two_currencies(*twin)
    results = {}
    for path, engine in zip(twin, ("duckdb", "spark")):
        with Workspace(path) as ws, engine_workspace(ws, engine) as reads:
            assert isinstance(reads, EngineWorkspace) == (engine == "spark")
            results[engine] = (predict(reads, horizon_days=365), backtest(reads))
    (p_duck, b_duck), (p_spark, b_spark) = results["duckdb"], results["spark"]
    assert p_duck.rows == p_spark.rows and p_duck.rows["customer_predictions"] > 0
    assert {k: v.status for k, v in p_duck.verdicts.items()} == {k: v.status for k, v in p_spark.verdicts.items()}

    query = "SELECT * EXCLUDE (run_id, created_at) FROM customer_predictions"
    ours, theirs = (normalise(_stored(p, query), ["customer_id"]) for p in twin)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, check_exact=False, rtol=1e-6, atol=1e-6)
    assert ours["churn_risk"].notna().sum() > 100

    cols = ["model", "metric", "value", "baseline_value"]
    ours, theirs = (r.rows[cols].sort_values(cols[:2]).reset_index(drop=True) for r in (b_duck, b_spark))
    assert len(ours) > 10
    pd.testing.assert_frame_equal(ours, theirs, check_exact=False, rtol=1e-6, atol=1e-9)
    assert b_duck.sentences == b_spark.sentences


def test_engine_flags_on_the_commands(twin):
    from regulars.cli.main import app

    runner = CliRunner()
    duck = runner.invoke(app, ["kpis", "--by", "channel", "--json", "--workspace", str(twin[0])])
    spark = runner.invoke(app, ["kpis", "--by", "channel", "--json", "--engine", "spark", "--workspace", str(twin[0])])
    assert duck.exit_code == 0 and spark.exit_code == 0, spark.output
    a, b = json.loads(duck.stdout), json.loads(spark.stdout)
    assert [r["channel"] for r in a["rows"]] == [r["channel"] for r in b["rows"]]
    assert np.allclose([r["revenue"] for r in a["rows"]], [r["revenue"] for r in b["rows"]])

    doctor = runner.invoke(app, ["doctor", "--json", "--engine", "spark", "--workspace", str(twin[0])])
    assert doctor.exit_code == 0, doctor.output
    check = json.loads(doctor.stdout)["engine"]
    assert check["status"]["master"] == "local[1]" and check["ok"]
    assert check["settings"]["from"]["master"] == "environment"

    bad = runner.invoke(app, ["kpis", "--engine", "spark", "--workspace", str(twin[0])],
                        env={"REGULARS_SPARK_MASTER": "spark//nowhere"})
    assert bad.exit_code == 1 and "is not local[N], spark://host:port" in " ".join(bad.output.split())
    for command in ("predict", "backtest"):
        assert "--engine" in runner.invoke(app, [command, "--help"]).output


def test_settings_file_beside_the_workspace_chooses_spark(twin, monkeypatch):
    monkeypatch.delenv("REGULARS_SPARK_MASTER")
    (twin[0].parent / "regulars.toml").write_text('engine = "spark"\n[spark]\nmaster = "local[1]"\n'
                                                  '[spark.conf]\n"spark.sql.shuffle.partitions" = "3"\n')
    settings = spark_settings(twin[0])
    assert settings.master == "local[1]" and settings.spark_conf()["spark.sql.shuffle.partitions"] == "3"
    with Workspace(twin[0]) as ws, engine_workspace(ws) as reads:
        assert isinstance(reads, EngineWorkspace)
        assert reads.provider.session.conf.get("spark.sql.shuffle.partitions") == "3"


def test_training_sample_is_kept_on_the_engine_and_dropped(twin):
    """Above 200,000 buyers `predict` fits on a hash sample kept as a temporary table: on Spark a cached view."""
    from regulars.jobs.tables import SampledTables

    with Workspace(twin[1]) as ws, engine_workspace(ws, "spark") as reads:
        sample = SampledTables(reads, 0.5, materialize=True)
        first = reads.execute(sample.table("orders").count())
        again = reads.execute(sample.table("orders").count())  # the stored sample, read a second time
        total = reads.execute(reads.table("orders").count())
        assert first == again and 0 < first < total
        catalog = reads.provider.session.catalog
        assert catalog.tableExists("_training_sample_orders") and catalog.isCached("_training_sample_orders")
        sample.close()
        assert not catalog.tableExists("_training_sample_orders")
