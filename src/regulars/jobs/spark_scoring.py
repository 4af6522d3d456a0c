"""Fit on the driver from a sample, score every customer on the Spark executors.

What ``regulars predict --engine spark`` does with the customer predictions (scoring
``where = "executors"``, the default; :mod:`regulars.data.scoring_config`):

1. **Sample** (driver asks, engine computes): a stratified sample of at most ``fit_sample``
   customers (:mod:`regulars.jobs.fit_sample`); only the per-stratum counts come back.
2. **Fit** (driver): the classifiers train on the sample's snapshots; the value models and the
   BTYD features of the classifiers fit on the sample's snapshot as of ``as_of``. Only the
   sample's rows come to the driver.
3. **Score** (executors): every customer's snapshot is one Ibis expression on Spark (the parts
   of :func:`~regulars.jobs.snapshot.snapshot` joined there); :class:`PartitionScorer` (the
   fitted models, broadcast once) finishes and scores each partition with ``mapInPandas``:
   BTYD values with their ranges, churn risk and purchase propensity with their reasons,
   consent applied. The predictions are written as Parquet by the executors.
4. **Summarise and load**: the summary (counts, sums, means) is an aggregate on Spark over
   that Parquet; a DuckDB workspace then loads the Parquet into ``customer_predictions``
   itself (:func:`~regulars.data.predictions_store.load_customer_predictions`), reading the
   files directly, not through Python or the Spark driver. On a lake workspace the executors
   write straight into the lake's results (:mod:`regulars.data.lake_results`), committed with
   the prediction run's record, and nothing is loaded into the workspace file.

No step brings every customer's rows to the Spark driver: only the sample, counts and the
summary. (A DuckDB workspace stores every prediction on this machine by design; a lake
workspace keeps the Parquet in ``[scoring] output``.)
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import time
from dataclasses import dataclass, field

import ibis
import pandas as pd

from regulars.data import predictions_store as store
from regulars.data.spark_scoring import map_to_parquet, parquet_files
from regulars.jobs.scoring import FittedModels, fit_scoring_models, reasons_methods, score_frame
from regulars.jobs.snapshot import finish_snapshot, snapshot, snapshot_parts, text_parts
from regulars.jobs.tables import as_known_on

__all__ = ["ExecutorScores", "PartitionScorer", "lake_results", "score_on_executors", "snapshot_expression", "summary_of"]


def snapshot_expression(tables, as_of, categories=None) -> ibis.Table:
    """Every customer's snapshot (before :func:`finish_snapshot`) as one Ibis expression: the parts
    of :func:`~regulars.jobs.snapshot.snapshot` left-joined on the engine."""
    first, *parts = snapshot_parts(tables, as_of, categories, ordered=False)
    joined = first
    for part in parts:
        keyed = part.rename(_key="customer_id")
        joined = joined.left_join(keyed, joined.customer_id == keyed._key).drop("_key")
    return joined


def _light(fm: FittedModels) -> FittedModels:
    """What scoring needs of *fm*: without the training inputs, earlier scores, the lead scorer and
    the forecaster (nothing that grows with the number of customers is broadcast)."""
    out = copy.copy(fm)
    out.inputs, out.leads, out.forecast, out.forecast_choice, out.timings = {}, None, None, None, {}
    out.scored = []
    return out


@dataclass
class PartitionScorer:
    """Scores one partition of customers (their raw snapshot rows) with fitted models: what each
    Spark executor runs. Pickled once and broadcast (:func:`regulars.data.spark_scoring.map_to_parquet`)."""

    fm: FittedModels
    horizon_days: int
    methods: dict[str, str] | None
    text_columns: dict[str, list[str]] = field(default_factory=dict)
    refused: frozenset = frozenset()
    constants: dict = field(default_factory=dict)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from regulars.privacy.consent import withhold

        frame = finish_snapshot(batch, self.text_columns).set_index("customer_id")
        out = score_frame(self.fm, frame, self.horizon_days, self.methods).reset_index()
        out, _ = withhold(out, self.refused)
        for key, value in self.constants.items():
            out[key] = value
        return out


def summary_of(scored: ibis.Table) -> dict:
    """The customer part of the predict summary (as :func:`regulars.jobs.predict._summary`),
    aggregated where the predictions are."""
    from regulars.privacy.consent import NOT_PERSONALISED

    t = scored
    row = t.aggregate(
        customers=t.count(), churn_scored=t.churn_risk.count(), high=(t.churn_band == "high").sum(),
        mean_risk=t.churn_risk.mean(), propensity_scored=t.propensity_30d.count(), buyers=t.propensity_30d.sum(),
        clv_scored=t.clv.count(), clv=t.clv.sum(), orders=t.expected_orders.sum(),
        withheld=(t.data_mode == NOT_PERSONALISED).sum(),
    ).execute().iloc[0]
    out: dict = {"customers": int(row["customers"])}
    if row["churn_scored"]:
        out["high_churn_risk"] = int(row["high"] or 0)
        out["mean_churn_risk"] = float(row["mean_risk"])
    if row["propensity_scored"]:
        out["expected_buyers_30d"] = float(row["buyers"])
    if row["clv_scored"]:
        out["total_clv"] = float(row["clv"])
        out["expected_orders"] = float(row["orders"])
    out["not_personalised"] = int(row["withheld"] or 0)
    return out


@dataclass
class ExecutorScores:
    """Where the executors wrote the predictions, how many, and their summary."""

    path: str
    files: list[str]
    rows: int
    summary: dict
    timings: dict[str, float]


def lake_results(reads, executors):
    """The lake's predictions being written (:class:`~regulars.data.lake_results.ResultsWrite`) when
    *reads* reads a lake and scores on its *executors*, else None."""
    lake = getattr(getattr(reads, "provider", None), "lake", None)
    if executors is None or lake is None:
        return None
    from regulars.data.lake_results import ResultsWrite

    return ResultsWrite(lake, "predictions")


def output_folder(reads, as_of: dt.date, output: str | None) -> str:
    """Where the predictions of *as_of* are written: ``output/as_of=…`` or the staging folder."""
    base = output or os.path.join(reads.provider.folder, "customer_predictions")
    return os.path.join(base, f"as_of={as_of.isoformat()}")


def fit_on_sample(reads, fm: FittedModels, fit_sample, horizon_days: int, progress=None) -> None:
    """Fit the value models and the classifiers' BTYD features on the driver from *fit_sample*'s
    snapshot (every customer's when the shop is no larger than the sample)."""
    say = progress or (lambda _s: None)
    say("building the fitting sample's features")
    t = time.perf_counter()
    frame = snapshot(reads, fm.as_of, fm.categories, tables=fit_sample.tables if fit_sample.sampled else None)
    fm.timings["sample_features"] = time.perf_counter() - t
    if len(frame):
        fit_scoring_models(reads, fm, frame, horizon_days, progress=say, customers=fit_sample.population)


def score_on_executors(reads, fm: FittedModels, horizon_days: int, *, refused=(), constants: dict | None = None,
                       output: str | None = None, path: str | None = None, progress=None) -> ExecutorScores:
    """Score every customer with a purchase before ``fm.as_of`` on the executors of *reads*
    (an :class:`~regulars.data.engine_workspace.EngineWorkspace` on Spark) and write the
    predictions as Parquet; see the module docstring.

    *constants* are columns every row gets (run id, model versions…); *refused* the customers
    who refused personalisation (their personal columns are emptied, as on the driver). *path*:
    the folder to write (a lake's results being staged, :class:`~regulars.data.lake_results.ResultsWrite`),
    else ``output/as_of=…`` (:func:`output_folder`).
    """
    say = progress or (lambda _s: None)
    as_of = fm.as_of
    timings: dict[str, float] = {}
    t = time.perf_counter()
    tables = as_known_on(reads, as_of, reads)
    expr = snapshot_expression(tables, as_of, fm.categories)
    customers = int(reads.execute(snapshot_parts(tables, as_of, fm.categories, ordered=False)[0].count()))
    texts = text_parts(reads, as_of)
    methods = reasons_methods(fm, customers)
    scorer = PartitionScorer(_light(fm), int(horizon_days), methods, {k: list(v.columns) for k, v in texts.items()},
                             frozenset(refused), {**(constants or {}), "model_versions": model_versions(fm)})
    path = path or output_folder(reads, as_of, output)
    say(f"scoring {customers:,} customers on the executors")
    map_to_parquet(reads.provider, expr, scorer, store.CUSTOMER_PREDICTIONS, path,
                   joins=[part.reset_index() for part in texts.values()])
    timings["score_executors"] = time.perf_counter() - t
    t = time.perf_counter()
    files = parquet_files(path)
    summary = (summary_of(reads.provider.ibis.read_parquet(os.path.join(path, "*.parquet"))) if files
               else {"customers": 0, "not_personalised": 0})
    timings["summary"] = time.perf_counter() - t
    return ExecutorScores(path, files, summary["customers"], summary, timings)


def model_versions(fm: FittedModels) -> str:
    """The ``model_versions`` JSON of the customer predictions made with *fm*."""
    from regulars.jobs.scoring import MODEL_VERSIONS

    versions = {k: MODEL_VERSIONS[k] for k, v in fm.verdicts.items() if not v.refused and k in MODEL_VERSIONS}
    if fm.reasons_method:
        versions["reasons"] = fm.reasons_method
    return json.dumps(versions)
