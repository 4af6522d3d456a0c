"""Results written back to a lake workspace (issue 21, items 5 and 6): predictions, segments and KPIs.

One demo shop (300 customers, no analyses run) is promoted to a lake once for the module; the
commands then run with ``REGULARS_LAKE`` on Spark ``local[1]`` and write their results into the
lake, not into the workspace file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.optional import engine

engine("pyspark")

from regulars import Workspace  # noqa: E402
from regulars.data.lake_results import result_set_manifest  # noqa: E402
from tests.parity.test_command_parity import LOCAL  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake_shop(tmp_path_factory):
    """The demo shop and its lake; the predictions, segments and KPIs computed on the lake."""
    from regulars.cli.main import app
    from regulars.jobs.demo import run_demo

    folder = tmp_path_factory.mktemp("lake-results")
    path, lake = folder / "shop.duckdb", folder / "warehouse"
    with Workspace(path) as ws:
        run_demo(ws, customers=300, seed=1, analyses=False)
    env = {**LOCAL, "REGULARS_LAKE": str(lake), "REGULARS_FIT_SAMPLE": "150"}
    runner = CliRunner()
    done = runner.invoke(app, ["lake", "promote", str(lake), "--format", "json", "--workspace", str(path)], env=env)
    assert done.exit_code == 0, done.output
    return path, lake, env


def _run(env, *args):
    from regulars.cli.main import app

    result = CliRunner().invoke(app, [*args], env=env)
    assert result.exit_code == 0, result.output
    return result


def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def predicted(lake_shop):
    path, lake, env = lake_shop
    out = _run(env, "predict", "--engine", "spark", "--json", "--workspace", str(path))
    return json.loads(out.stdout[out.stdout.index("{"):])


def test_predict_on_a_lake_writes_the_predictions_into_the_lake(lake_shop, predicted):
    path, lake, _ = lake_shop
    manifest = result_set_manifest(lake, "predictions")
    assert manifest is not None and manifest["run_id"] == predicted["run_id"]
    assert manifest["as_of"] == predicted["as_of"] and manifest["source"]["lake"] == str(lake.resolve())
    files = sorted((lake / "results" / "predictions" / "customer_predictions").glob("*.parquet"))
    assert (lake / "results" / "predictions" / "customer_predictions" / "_SUCCESS").is_file()  # Spark's commit
    scores = pd.concat([pd.read_parquet(f) for f in files])
    with Workspace(path, read_only=True) as ws:
        buyers = ws.sql("SELECT count(DISTINCT customer_id) AS n FROM orders")["n"].iloc[0]
        assert ws.count("customer_predictions") == 0 and ws.count("prediction_runs") == 0  # nothing on this machine
    assert len(scores) == scores["customer_id"].nunique() == manifest["tables"]["customer_predictions"]["rows"]
    assert len(scores) == predicted["summary"]["fit_sample"]["population"] > buyers - 5  # every customer who bought
    assert len(scores) == predicted["rows"]["customer_predictions"] == predicted["summary"]["customers"]
    assert scores["run_id"].eq(predicted["run_id"]).all() and scores["churn_risk"].notna().sum() > 200
    runs = pd.read_parquet(lake / "results" / "predictions" / "prediction_runs")
    assert runs["run_id"].tolist() == [predicted["run_id"]]
    assert json.loads(runs["summary"].iloc[0])["customers"] == len(scores)
    assert not [p for p in (lake / "results").iterdir() if p.name.startswith(".")]  # no staging left


def test_a_failed_predictions_write_leaves_the_previous_results(lake_shop, predicted, monkeypatch):
    """The executors wrote the new predictions, then the job fails before the commit: the lake's
    results are exactly the previous ones and no staging folder is left."""
    from regulars.data.engine_workspace import engine_workspace
    from regulars.jobs import spark_scoring
    from regulars.jobs.predict import predict

    path, lake, env = lake_shop
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    before = _listing(lake / "results" / "predictions")
    real = spark_scoring.summary_of

    def summarise_then_fail(scored):
        real(scored)
        staged = [p for p in (lake / "results").iterdir() if p.name.startswith(".predictions.staging")]
        assert staged and list((staged[0] / "customer_predictions").glob("*.parquet"))  # written, not committed
        raise OSError("disk full")

    monkeypatch.setattr(spark_scoring, "summary_of", summarise_then_fail)
    with Workspace(path) as ws, engine_workspace(ws, "spark") as reads, pytest.raises(OSError, match="disk full"):
        predict(reads, fit_sample=150)
    assert _listing(lake / "results" / "predictions") == before
    assert result_set_manifest(lake, "predictions")["run_id"] == predicted["run_id"]
    assert not [p for p in (lake / "results").iterdir() if p.name.startswith(".")]
