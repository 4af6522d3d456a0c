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
from tests.lake.promoted import promoted_demo  # noqa: E402
from tests.parity.test_command_parity import LOCAL  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake_shop(tmp_path_factory):
    """The demo shop and its lake; the predictions, segments and KPIs computed on the lake."""
    env = {**LOCAL, "REGULARS_LAKE": "", "REGULARS_FIT_SAMPLE": "150"}
    path, lake, _ = promoted_demo(tmp_path_factory.mktemp("lake-results"), env)
    return path, lake, {**env, "REGULARS_LAKE": str(lake)}


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


def test_a_failed_results_write_leaves_the_previous_results(lake_shop, predicted):
    """A Spark job that fails while its tasks write the new results (some tasks done, one raising):
    the lake's results are exactly the previous ones and no staging folder is left."""
    from pyspark.sql import functions as F

    from regulars.data.engines import spark_session
    from regulars.data.lake_results import ResultsWrite
    from regulars.data.spark_config import spark_settings

    path, lake, env = lake_shop
    before = _listing(lake / "results" / "predictions")
    session = spark_session(None, spark_settings(None, env=env))
    rows = session.range(0, 4000, numPartitions=4).withColumn(
        "customer_id",
        F.when(F.col("id") < 3990, F.col("id").cast("string")).otherwise(F.raise_error(F.lit("disk full"))))
    with pytest.raises(Exception, match="disk full"), ResultsWrite(lake, "predictions") as out:
        rows.write.parquet(out.folder("customer_predictions", [("customer_id", "VARCHAR")]))
        out.commit(as_of=pd.Timestamp("2030-01-01").date(), run_id="never")
    assert _listing(lake / "results" / "predictions") == before
    assert result_set_manifest(lake, "predictions")["run_id"] == predicted["run_id"]
    assert not [p for p in (lake / "results").iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def segmented(lake_shop):
    path, lake, env = lake_shop
    out = _run(env, "segments", "refresh", "--engine", "spark", "--json", "--workspace", str(path))
    return json.loads(out.stdout[out.stdout.index("{"):])


@pytest.fixture(scope="module")
def kpis(lake_shop):
    path, lake, env = lake_shop
    return {by: json.loads(_run(env, "kpis", *(["--by", by] if by else []), "--json", "--engine", "spark",
                                "--workspace", str(path)).stdout) for by in (None, "month")}


def test_segments_on_a_lake_are_written_into_the_lake_and_equal_duckdb(lake_shop, segmented, tmp_path):
    import shutil

    import duckdb

    path, lake, _ = lake_shop
    manifest = result_set_manifest(lake, "segments")
    assert manifest["run_id"] == str(segmented["refresh_id"]) and manifest["as_of"] == segmented["as_of"]
    folder = lake / "results" / "segments"
    assert (folder / "segment_memberships" / "_SUCCESS").is_file()  # written by the executors, committed
    ours = duckdb.sql(f"SELECT segment_id, customer_id FROM read_parquet('{folder}/segment_memberships/*.parquet')"
                      ).df()
    sizes = pd.read_parquet(folder / "segment_sizes")
    with Workspace(path, read_only=True) as ws:
        assert ws.count("segment_memberships") == 0 and ws.count("segment_sizes") == 0  # nothing on this machine
    copy = tmp_path / "duck.duckdb"
    shutil.copy(path, copy)
    from regulars.jobs.segments import refresh

    with Workspace(copy) as ws:
        refresh(ws, engine="duckdb")
        theirs = ws.sql("SELECT segment_id, customer_id FROM segment_memberships WHERE segment_id NOT LIKE 'clv:%'")
        their_sizes = ws.sql("SELECT segment_id, members, revenue::DOUBLE AS revenue FROM segment_sizes")
    key = ["segment_id", "customer_id"]
    pd.testing.assert_frame_equal(ours.sort_values(key).reset_index(drop=True),
                                  theirs.sort_values(key).reset_index(drop=True))
    assert len(ours) == segmented["members"] == manifest["tables"]["segment_memberships"]["rows"] > 1000
    both = their_sizes.merge(sizes, on="segment_id", suffixes=("_duck", "_lake"))
    assert len(both) == len(their_sizes) == len(sizes)
    assert (both["members_duck"] == both["members_lake"]).all()
    assert ((both["revenue_duck"] - both["revenue_lake"].astype(float)).abs() < 0.01).all()


def _serve(path, lake, monkeypatch):
    from tests.api.server import start

    monkeypatch.setenv("REGULARS_LAKE", str(lake))
    return start(path, warm_reports=False, warm_profiles=False)


def test_the_dashboard_and_api_on_a_lake_read_its_results(lake_shop, predicted, segmented, kpis, monkeypatch):
    """uvicorn on 127.0.0.1 serving the workspace with its lake: the JSON routes show the lake's
    predictions, segments and KPIs (the workspace file holds none), the pages render them, and a new
    results write is shown at once."""
    import duckdb

    from regulars.data.lake_results import write_kpi_report

    path, lake, _ = lake_shop
    scores = pd.read_parquet(lake / "results" / "predictions" / "customer_predictions")
    sizes = pd.read_parquet(lake / "results" / "segments" / "segment_sizes")
    server = _serve(path, lake, monkeypatch)
    try:
        with server.client("analyst") as c:
            listed = c.get("/api/predictions", params={"limit": 5, "sort": "clv"}).json()
            assert listed["total"] == len(scores) and listed["as_of"] == predicted["as_of"]
            assert listed["results_source"]["run_id"] == predicted["run_id"]
            top = scores.sort_values(["clv", "churn_risk", "customer_id"], ascending=[False, False, True]).head(5)
            assert [i["customer_id"] for i in listed["items"]] == top["customer_id"].tolist()
            assert sum(listed["distributions"]["churn_risk"]["counts"]) == scores["churn_risk"].notna().sum()
            one = scores.iloc[7]
            mine = c.get(f"/api/predictions/{one['customer_id']}").json()
            assert abs(mine["predictions"]["clv"] - one["clv"]) < 1e-6
            segs = c.get("/api/segments").json()
            assert segs["refresh_id"] == segmented["refresh_id"] and segs["as_of"] == segmented["as_of"]
            got = {i["segment_id"]: i["members"] for i in segs["items"]}
            assert got == dict(zip(sizes["segment_id"], sizes["members"].astype(int)))
            members = c.get("/api/segments/rfm:champions/members", params={"limit": 500}).json()
            lake_members = duckdb.sql(
                f"SELECT customer_id FROM read_parquet('{lake}/results/segments/segment_memberships/*.parquet') "
                "WHERE segment_id = 'rfm:champions'").df()
            assert sorted(i["customer_id"] for i in members["items"]) == sorted(lake_members["customer_id"])
            assert c.get("/api/kpis").json()["rows"] == kpis[None]["rows"]
            assert c.get("/api/kpis", params={"by": "month"}).json()["rows"] == kpis["month"]["rows"]
            for page, shows in (("/predictions", "as of " + predicted["as_of"]), ("/segments", "Champions"),
                                ("/", "Revenue by month")):
                html = c.get(page)
                assert html.status_code == 200 and shows in html.text, page
            changed = {**kpis[None], "rows": [{**kpis[None]["rows"][0], "customers": 123456}]}
            write_kpi_report(lake, None, changed)  # a new KPI report in the lake: shown at the next request
            assert c.get("/api/kpis").json()["rows"][0]["customers"] == 123456
    finally:
        write_kpi_report(lake, None, kpis[None])
        server.stop()


def test_a_lake_without_results_says_which_command_to_run(lake_shop, tmp_path, monkeypatch):
    import shutil

    path, lake, _ = lake_shop
    bare = tmp_path / "bare"
    shutil.copytree(lake, bare, ignore=shutil.ignore_patterns("results"))
    server = _serve(path, bare, monkeypatch)
    try:
        with server.client("analyst") as c:
            kpi = c.get("/api/kpis")
            assert kpi.status_code == 409 and "regulars kpis --engine spark" in kpi.json()["message"]
            preds = c.get("/api/predictions").json()
            assert preds["total"] == 0 and "regulars predict --engine spark" in preds["notes"][0]
            segs = c.get("/api/segments").json()
            assert segs["items"] == [] and "regulars segments refresh --engine spark" in segs["notes"][0]
            for page, says in (("/", "regulars kpis --engine spark"),
                               ("/predictions", "regulars predict --engine spark"),
                               ("/segments", "regulars segments refresh --engine spark")):
                html = c.get(page, headers={"Accept": "text/html"})
                assert html.status_code in (200, 409) and says in html.text, page
    finally:
        server.stop()
