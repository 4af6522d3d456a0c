"""Fit on the driver from a stratified sample, score on the Spark executors (issue 21, item 5).

On the demo shop (300 customers) with Spark on ``local[1]``: the predictions the executors
write equal the ones scored on the driver with the same fitted models and features; the
scoring path brings no more than a handful of rows back to the Spark driver; the fitting
sample is stratified and reported. The same parity on a real standalone cluster is in
:func:`test_executor_scores_equal_driver_scores_on_the_cluster` (slow).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from regulars import Workspace  # noqa: E402
from regulars.data import predictions_store as store  # noqa: E402
from regulars.data.engine_workspace import EngineWorkspace  # noqa: E402
from regulars.data.engines import spark_tables  # noqa: E402
from regulars.data.spark_config import spark_settings  # noqa: E402
from regulars.data.spark_scoring import conform_batch  # noqa: E402
from tests.parity.test_command_parity import LOCAL, demo  # noqa: E402,F401  (the 300-customer demo shop)

pytestmark = pytest.mark.slow


@pytest.fixture
def local_spark(monkeypatch):
    for var, value in LOCAL.items():
        monkeypatch.setenv(var, value)
    for var in ("REGULARS_SETTINGS", "REGULARS_ENGINE", "REGULARS_FIT_SAMPLE", "REGULARS_SCORING"):
        monkeypatch.delenv(var, raising=False)


class Collected:
    """Records how many rows each collect to the Spark driver returns (every ``toPandas``,
    ``collect``, ``toArrow`` and Ibis read goes through one of these)."""

    def __init__(self, monkeypatch):
        from pyspark.sql.classic.dataframe import DataFrame

        self.rows: list[int] = []
        for name in ("_collect_as_arrow", "collect", "toLocalIterator"):
            original = getattr(DataFrame, name)

            def wrapped(frame, *args, _original=original, **kwargs):
                out = _original(frame, *args, **kwargs)
                if isinstance(out, list):
                    self.rows.append(sum(getattr(b, "num_rows", 1) for b in out))
                else:
                    out = list(out)
                    self.rows.append(len(out))
                return out

            monkeypatch.setattr(DataFrame, name, wrapped)


def _fitted(reads):
    """The models ``predict`` fits, fitted on every customer (the shop is smaller than any sample)."""
    from regulars.jobs.predict import fit_models
    from regulars.jobs.scoring import fit_scoring_models
    from regulars.jobs.snapshot import snapshot

    fm = fit_models(reads)
    frame = snapshot(reads, fm.as_of, fm.categories)
    fit_scoring_models(reads, fm, frame, 365)
    return fm, frame


def _driver_scores(fm, frame, constants):
    from regulars.jobs.scoring import reasons_methods, score_frame
    from regulars.jobs.spark_scoring import model_versions

    out = score_frame(fm, frame, 365, reasons_methods(fm, len(frame))).reset_index()
    for key, value in {**constants, "model_versions": model_versions(fm)}.items():
        out[key] = value
    return conform_batch(out, store.CUSTOMER_PREDICTIONS).sort_values("customer_id").reset_index(drop=True)


def _executor_scores(path_files):
    frame = pd.concat([pd.read_parquet(f) for f in path_files], ignore_index=True)
    return conform_batch(frame, store.CUSTOMER_PREDICTIONS).sort_values("customer_id").reset_index(drop=True)


def _assert_same(driver: pd.DataFrame, executors: pd.DataFrame) -> None:
    assert len(driver) == len(executors) > 200
    assert list(driver.columns) == list(executors.columns)
    pd.testing.assert_frame_equal(driver, executors, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9)
    assert driver["churn_reasons"].notna().sum() > 200 and driver["clv"].notna().all()


def test_executor_scores_equal_driver_scores_and_nothing_per_customer_is_collected(demo, local_spark, monkeypatch):
    from regulars.jobs.spark_scoring import score_on_executors

    constants = {"run_id": "r1", "created_at": pd.Timestamp("2024-01-01 12:00")}
    with Workspace(demo, read_only=True) as ws, spark_tables(ws) as provider:
        reads = EngineWorkspace(ws, provider, "spark")
        fm, frame = _fitted(reads)
        population = len(frame)
        collected = Collected(monkeypatch)
        scored = score_on_executors(reads, fm, 365, constants=constants)
        assert scored.files and scored.path.startswith(provider.folder)
        executors = _executor_scores(scored.files)
        # the scoring path brought back counts and the summary only: never a row per customer
        assert collected.rows and max(collected.rows) <= 1, collected.rows
        assert scored.rows == population == scored.summary["customers"]
        driver = _driver_scores(fm, frame, constants)
        _assert_same(driver, executors)
        assert np.isclose(scored.summary["total_clv"], driver["clv"].sum())
        assert scored.summary["high_churn_risk"] == int((driver["churn_band"] == "high").sum())

        # the recorder does see a per-customer collect: the driver path is caught by it
        from regulars.jobs.scoring import score_customers

        score_customers(reads, fm, 365, reasons=False)
        assert max(collected.rows) >= population


def _strata_of(ws, as_of, ids=None) -> dict[int, int]:
    """Customers per stratum (of *ids* only, when given)."""
    from regulars.jobs.fit_sample import strata_expression

    strata = ws.execute(strata_expression(ws, as_of))
    if ids is not None:
        assert set(ids) <= set(strata["customer_id"])
        strata = strata[strata["customer_id"].isin(set(ids))]
    return {int(k): int(v) for k, v in strata["stratum"].value_counts().sort_index().items()}


def test_the_fitting_sample_is_stratified_and_reported(demo, local_spark):
    from regulars.jobs.fit_sample import allocate, stratified_sample
    from regulars.data.as_of import ORDERS, resolve_as_of

    with Workspace(demo, read_only=True) as ws:
        as_of = resolve_as_of(ws, basis=ORDERS)
        everyone = stratified_sample(ws, as_of, 10_000)
        assert not everyone.sampled and everyone.size == everyone.population > 250 and everyone.fraction == 1.0
        population = _strata_of(ws, as_of)
        assert sum(population.values()) == everyone.population
        for engine, provider in (("duckdb", ws), ("spark", None)):
            with (spark_tables(ws) if engine == "spark" else _same(ws)) as tables:
                reads = tables if engine == "duckdb" else EngineWorkspace(ws, tables, "spark")
                sample = stratified_sample(reads, as_of, 100)
                try:
                    ids = reads.execute(sample.tables.table("orders").select("customer_id").distinct())["customer_id"]
                    assert sample.sampled and sample.size == len(ids) == 100
                    assert sample.population == everyone.population
                    assert np.isclose(sample.fraction, 100 / everyone.population)
                    # each stratum gives exactly its proportional share (largest remainders)
                    shares = allocate(population, 100)
                    got = _strata_of(ws, as_of, ids)
                    assert got == {k: v for k, v in shares.items() if v}, engine
                    assert sum(s["sampled"] for s in sample.to_dict()["strata"]) == 100
                    assert len(population) >= 4  # more than one stratum to keep the mix of
                finally:
                    sample.close()


class _same:
    def __init__(self, ws):
        self.ws = ws

    def __enter__(self):
        return self.ws

    def __exit__(self, *exc):
        return False


def test_predict_on_spark_scores_on_executors_and_reports_the_sample(demo, local_spark, tmp_path, monkeypatch):
    """End to end: `predict` on Spark with a 120-customer fitting sample; the predictions are
    written from the executors' Parquet, kept in the output folder, and the sample is reported."""
    from regulars.data.engine_workspace import engine_workspace
    from regulars.jobs.predict import predict

    path = tmp_path / "shop.duckdb"
    shutil.copy(demo, path)
    output = tmp_path / "lake" / "predictions"
    monkeypatch.setenv("REGULARS_SCORING_OUTPUT", str(output))
    with Workspace(path) as ws, engine_workspace(ws, "spark") as reads:
        result = predict(reads, fit_sample=120)
    s = result.summary
    assert s["scoring"]["where"] == "executors"
    sample = s["fit_sample"]
    assert sample["stratified"] and sample["size"] == 120 and sample["population"] > 250
    assert np.isclose(sample["fraction"], 120 / sample["population"], atol=1e-6)
    assert "stratified sample of 120" in sample["sentence"]
    kept = list((output / f"as_of={result.as_of.isoformat()}").glob("*.parquet"))
    assert kept, "the executors' Parquet is kept in the output folder"
    with Workspace(path, read_only=True) as ws:
        stored = ws.sql("SELECT * FROM customer_predictions")
    assert len(stored) == result.rows["customer_predictions"] == s["customers"] == sample["population"]
    assert stored["run_id"].eq(result.run_id).all() and stored["churn_risk"].notna().sum() > 200
    assert np.isclose(stored["clv"].sum(), s["total_clv"])
    assert len(pd.concat([pd.read_parquet(f) for f in kept])) == len(stored)


def test_executor_scores_equal_driver_scores_on_the_cluster(demo, tmp_path_factory, monkeypatch):
    """The executors of a real standalone cluster (a master and a 1-core worker on 127.0.0.1)
    unpickle the broadcast models and score: the same predictions as the driver."""
    from regulars.data import spark_session
    from regulars.jobs.spark_scoring import score_on_executors
    from tests.cluster.standalone import start_cluster
    from tests.cluster.test_standalone_cluster import SMALL

    for var in ("REGULARS_SETTINGS", "REGULARS_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    spark_session.stop()  # a local session of an earlier test holds the JVM's only context
    cluster = start_cluster(tmp_path_factory.mktemp("spark-cluster-scoring"), workers=1)
    try:
        settings = spark_settings(env={"REGULARS_SPARK_MASTER": cluster.master_url, **SMALL}, path=None)
        constants = {"run_id": "r1", "created_at": pd.Timestamp("2024-01-01 12:00")}
        with Workspace(demo, read_only=True) as ws, spark_tables(ws, settings=settings) as provider:
            assert provider.status().executors == 1
            reads = EngineWorkspace(ws, provider, "spark")
            fm, frame = _fitted(reads)
            scored = score_on_executors(reads, fm, 365, constants=constants)
            _assert_same(_driver_scores(fm, frame, constants), _executor_scores(scored.files))
    finally:
        spark_session.stop()
        cluster.stop()
