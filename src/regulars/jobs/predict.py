"""The prediction job: check readiness, fit every model on the shop's history, score, write.

``predict(ws, as_of=None, horizon_days=365)`` is what ``regulars predict`` runs:

1. :func:`~regulars.jobs.data_stats.data_stats` and :func:`~regulars.models.readiness.assess` decide, per prediction,
   whether to refuse, run in small-data mode, or run normally.
2. :func:`fit_models` fits, using only data before ``as_of``: BG/NBD + Gamma-Gamma (value,
   p_alive), the churn and propensity classifiers (trained on an older snapshot, calibrated
   on a newer one, both with outcomes known by ``as_of``), the next-order gap model, the lead
   scorer and the demand forecaster.
3. :func:`~regulars.jobs.scoring.score_customers` builds every customer's features as of ``as_of``
   (:mod:`regulars.jobs.snapshot`) and predicts.
4. The results are written to ``customer_predictions``, ``lead_scores``,
   ``replenishments`` and ``demand_forecast`` (:mod:`regulars.data.predictions_store`), and a
   model card per fitted model is regenerated (:mod:`regulars.jobs.model_cards`).

The same :func:`fit_models` / :func:`score_customers` pair is what the backtest refits at a
cutoff, so the numbers a backtest reports are for exactly the code that makes predictions.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from regulars.data import predictions_store as store
from regulars.data.as_of import ORDERS, resolve_as_of
from regulars.features.labels import churn_labels, propensity_labels
from regulars.features.leads import lead_features
from regulars.features.purchase_history import purchases
from regulars.jobs.data_stats import data_stats
from regulars.jobs.forecast import fit_forecast
from regulars.jobs.scoring import (
    CHURN_WINDOW,
    MODEL_VERSIONS,
    PROPENSITY_WINDOW,
    FittedModels,
    score_customers,
    score_leads,
    score_replenishment,
)
from regulars.jobs.snapshot import _add_btyd, _feature_btyd, _feature_names, _numeric, snapshot
from regulars.jobs.tables import SampledTables, as_known_on, in_shop_money, money_refusal, present_day
from regulars.models.churn import ChurnModel
from regulars.models.leads import LeadScorer
from regulars.models.propensity import PurchasePropensityModel
from regulars.models.readiness import (
    REFUSED,
    Minimums,
    NotEnoughData,
    Verdict,
    assess,
)
from regulars.values import to_date

__all__ = ["CHURN_WINDOW", "MODEL_VERSIONS", "PROPENSITY_WINDOW", "PredictResult", "data_stats", "fit_models",
           "predict", "score_customers"]

#: Training rows per snapshot at most (customers are sampled by a hash of their id above it).
MAX_TRAIN_CUSTOMERS = 100_000


#: Training snapshots sit on multiples of this many days before ``as_of``, so churn and
#: propensity share them (one feature build serves both).
SNAPSHOT_STEP = 90


def training_dates(as_of: dt.date, window: int, n: int) -> list[dt.date]:
    """The ``n`` training snapshot dates: multiples of :data:`SNAPSHOT_STEP` days before
    ``as_of``, the first at least two windows back (its outcome ends before the calibration
    window starts), newest first."""
    first = SNAPSHOT_STEP * math.ceil(2 * window / SNAPSHOT_STEP)
    return [as_of - dt.timedelta(days=first + SNAPSHOT_STEP * k) for k in range(n)]


def _snapshot_cached(ws, t, categories, sample: SampledTables, cache):
    key = (t, sample.fraction)
    if cache is None:
        return snapshot(ws, t, categories, tables=sample)
    if key not in cache:
        cache[key] = snapshot(ws, t, categories, tables=sample)
    return cache[key].copy(deep=False)


def _labelled(ws, t, window, label_fn, label, categories, sample: SampledTables, cache):
    frame = _snapshot_cached(ws, t, categories, sample, cache)
    if len(frame):
        # the same customers as the snapshot (same hash sample), not every customer of the shop
        orders = sample.table("orders")
        labels = ws.frame(label_fn(orders, t, window)).set_index("customer_id")[label]
        frame[label] = labels.reindex(frame.index).fillna(0).astype(int)
    return frame


def _fit_classifier(ws, as_of, cls, window, label_fn, label, verdict, categories, sample: SampledTables,
                    first_day, cache=None, inputs: dict | None = None):
    small = verdict.small
    fraction = sample.fraction
    # up to two training snapshots (one for big, sampled shops), each with a month of history before it
    dates = [d for d in training_dates(as_of, window, 1 if fraction < 1 else 2)
             if first_day is not None and first_day < d - dt.timedelta(days=30)] or training_dates(as_of, window, 1)
    trains = [_labelled(ws, d, window, label_fn, label, categories, sample, cache) for d in reversed(dates)]
    cal = _labelled(ws, as_of - dt.timedelta(days=window), window, label_fn, label, categories, sample, cache)
    trains = [f for f in trains if len(f)]
    if not trains or len(cal) == 0:
        raise NotEnoughData(f"no customers before {dates[0]} to learn from")
    fitted = []
    for f in [*trains, cal]:
        bg = _feature_btyd(f, small)
        fitted.append(_add_btyd(f, bg, window))
    train = pd.concat(fitted[:-1])
    cal = fitted[-1]
    names = _feature_names(train)
    least = Minimums().label_class
    for f, what in ((train, "training"), (cal, "calibration")):
        counts = f[label].value_counts()
        if counts.min() < least or len(counts) < 2:
            raise NotEnoughData(f"the {what} window has {counts.to_dict()} outcomes; at least {least} of each are needed")
    # big shops (sampled training rows): 100 trees at a larger step score twice as fast
    big = fraction < 1
    model = cls(window_days=window, small_data=small, n_estimators=100 if big else 200,
                learning_rate=0.1 if big else 0.05)
    model.fit(_numeric(train, names), train[label], _numeric(cal, names), cal[label])
    if inputs is not None:
        inputs[label] = {"train": train[[*names, label]], "calibration": cal[[*names, label]]}
    return model


def fit_models(ws, as_of=None, *, verdicts: dict[str, Verdict] | None = None, progress=None,
               keep_inputs: bool = False, fit_sample=None) -> FittedModels:
    """Fit every model that readiness allows, on data before ``as_of``.

    The classifiers train on a hash sample of at most :data:`MAX_TRAIN_CUSTOMERS` customers, or
    on *fit_sample* (a stratified :class:`~regulars.jobs.fit_sample.FitSample`) when it samples.

    With ``keep_inputs``, ``fm.inputs`` holds what each model was fitted on (the training and
    calibration frames of the classifiers, the leads' features and outcomes, the daily sales):
    what a point-in-time rebuild must reproduce exactly."""
    say = progress or (lambda _s: None)
    as_of = resolve_as_of(ws, as_of, basis=ORDERS)
    stats = data_stats(ws, as_of)
    verdicts = verdicts or assess(stats)
    mixed = money_refusal(ws)
    if mixed and not verdicts["value"].refused:  # never a sum of amounts in different currencies
        verdicts = {**verdicts, "value": Verdict("value", REFUSED, [f"spend and lifetime value are not predicted: {mixed}"])}
    try:
        from regulars.features.mart import shop_categories

        present = present_day(ws)  # categories of later orders only matter for an earlier as_of
        categories = shop_categories(ws, as_of=as_of if present is not None and as_of < present else None)
    except ImportError:
        categories = None
    first_day = as_of - dt.timedelta(days=stats.history_days) if stats.history_days else None
    fm = FittedModels(as_of=as_of, verdicts=verdicts, categories=categories, first_day=first_day)
    # with a fit sample, its size is the cap
    fraction = 1.0 if fit_sample is not None else min(1.0, MAX_TRAIN_CUSTOMERS / max(stats.customers_with_orders, 1))
    cache: dict = {}  # snapshots shared by the churn and propensity fits
    if fit_sample is not None and fit_sample.sampled:
        sample = fit_sample.tables  # the caller's stratified sample (closed by the caller)
    else:
        sample = SampledTables(ws, fraction, materialize=True)  # read by every training snapshot and label
    try:
        for name, cls, window, label_fn, label in (
            ("churn", ChurnModel, CHURN_WINDOW, churn_labels, "churned"),
            ("propensity", PurchasePropensityModel, PROPENSITY_WINDOW, propensity_labels, "bought"),
        ):
            if verdicts[name].refused:
                continue
            say(f"fitting {name}")
            t = time.perf_counter()
            try:
                setattr(fm, name, _fit_classifier(ws, as_of, cls, window, label_fn, label, verdicts[name],
                                                  categories, sample, first_day, cache,
                                                  fm.inputs if keep_inputs else None))
            except NotEnoughData as exc:
                verdicts[name] = Verdict(name, "refused", [str(exc)])
            fm.timings[f"fit_{name}"] = time.perf_counter() - t
    finally:
        if sample is not getattr(fit_sample, "tables", None):
            sample.close()

    if not verdicts["leads"].refused:
        say("fitting lead scores")
        t = time.perf_counter()
        earlier = as_of - dt.timedelta(days=PROPENSITY_WINDOW)
        X = ws.frame(lead_features(as_known_on(ws, earlier), earlier)).set_index("customer_id")
        y = None
        if len(X):
            y = converted(ws, X.index, earlier, PROPENSITY_WINDOW).astype(int)
        fm.leads = LeadScorer().fit(X if len(X) else None, y)
        if keep_inputs:
            fm.inputs["leads"] = {"features": X.sort_index(),
                                  "bought": pd.Series(y, index=X.index, dtype="float").sort_index()}
        fm.timings["fit_leads"] = time.perf_counter() - t

    if not verdicts["forecast"].refused:
        say("choosing the demand forecast")
        t = time.perf_counter()
        try:
            fm.forecast_choice = fit_forecast(ws, as_of)
            fm.forecast = fm.forecast_choice.model
        except NotEnoughData as exc:
            verdicts["forecast"] = Verdict("forecast", "refused", [str(exc)])
        fm.timings["fit_forecast"] = time.perf_counter() - t
    return fm


def _converted(ws, start, days) -> ibis.Table:
    """Customers with a purchase in ``start .. start + days - 1``."""
    p = purchases(ws.table("orders"))
    lo, hi = to_date(start), to_date(start) + dt.timedelta(days=days)
    return p.filter((p.day >= ibis.literal(lo)) & (p.day < ibis.literal(hi))).select("customer_id").distinct()


def converted(ws, customer_ids, start, days) -> np.ndarray:
    """For each of ``customer_ids``: whether they made a purchase in ``start .. start + days - 1``.

    The membership test runs in Arrow (``pandas.Index.isin`` on a million string ids takes
    over a second; this a tenth of that).
    """
    bought = ws.frame(_converted(ws, start, days))["customer_id"]
    ids = pa.array(pd.Series(customer_ids, copy=False), from_pandas=True)
    values = pa.array(bought, from_pandas=True).cast(ids.type)
    return pc.is_in(ids, value_set=values).to_numpy(zero_copy_only=False)


# -- the job ---------------------------------------------------------------------------------------
@dataclass
class PredictResult:
    """What :func:`predict` did: readiness per prediction, rows written, a summary, timings."""

    run_id: str
    as_of: dt.date
    horizon_days: int
    verdicts: dict[str, Verdict]
    rows: dict[str, int]
    summary: dict
    timings: dict[str, float]

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), "horizon_days": self.horizon_days,
                "readiness": {k: v.to_dict() for k, v in self.verdicts.items()}, "rows": self.rows,
                "summary": self.summary, "timings": {k: round(v, 3) for k, v in self.timings.items()}}


def _executor_scoring(ws, fit_sample: int | None):
    """The scoring settings when *ws* reads on Spark and scores on its executors, else None."""
    from regulars.data.engine_workspace import EngineWorkspace
    from regulars.data.scoring_config import scoring_settings

    if not isinstance(ws, EngineWorkspace) or ws.engine != "spark":
        return None
    settings = scoring_settings(getattr(ws, "path", None), fit_sample=fit_sample)
    return settings if settings.on_executors else None


def predict(ws, as_of=None, horizon_days: int = 365, forecast_days: int = 56, progress=None,
            fit_sample: int | None = None) -> PredictResult:
    """Fit, score and write every prediction as of ``as_of`` (default: the day after the last order).

    On a workspace reading on Spark (:class:`~regulars.data.engine_workspace.EngineWorkspace`)
    the models fit from a stratified sample of at most *fit_sample* customers (default: the
    ``fit_sample`` setting) and the customers are scored on the executors
    (:mod:`regulars.jobs.spark_scoring`), unless the ``[scoring] where`` setting says ``driver``.
    """
    start = time.perf_counter()
    say = progress or (lambda _s: None)
    as_of = resolve_as_of(ws, as_of, basis=ORDERS)
    run_id = f"p-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    executors = _executor_scoring(ws, fit_sample)
    ws = in_shop_money(ws)  # amounts in the shop's currency when its rates cover every currency
    say("checking the data")
    sample = None
    if executors is not None:
        from regulars.jobs.fit_sample import stratified_sample
        from regulars.jobs.spark_scoring import fit_on_sample

        say("drawing the fitting sample")
        sample = stratified_sample(ws, as_of, executors.fit_sample, CHURN_WINDOW)
    try:
        fm = fit_models(ws, as_of, progress=say, fit_sample=sample)
        if sample is not None:
            fit_on_sample(ws, fm, sample, horizon_days, progress=say)
    finally:
        if sample is not None:
            sample.close()
    # The query-heavy scores first, while DuckDB's cache is warm; the customer scores then
    # release it before their numpy work (see score_customers).
    say("scoring leads, replenishment, forecast")
    t = time.perf_counter()
    leads = score_leads(ws, fm)
    leads["run_id"] = run_id
    replenish = score_replenishment(ws, as_of) if not fm.verdicts["value"].refused else pd.DataFrame()
    replenish["run_id"] = run_id
    forecast = fm.forecast.forecast(forecast_days, start=as_of) if fm.forecast is not None else pd.DataFrame()
    if len(forecast):
        forecast["as_of"] = as_of
        forecast["model_version"] = MODEL_VERSIONS["forecast" if fm.forecast_choice.key == "model" else "forecast_naive"]
        forecast["run_id"] = run_id
    fm.timings["leads_replenishment_forecast"] = time.perf_counter() - t
    # consent: no personalised score, lead score or reminder for those who refused personalisation
    from regulars.data.privacy_store import refused_personalisation
    from regulars.jobs.spark_scoring import lake_results, model_versions, score_on_executors
    from regulars.privacy.consent import withhold

    refused = refused_personalisation(ws)
    results = lake_results(ws, executors)  # on a lake: the predictions are written there, all or nothing
    try:
        created = pd.Timestamp.now(tz="UTC").tz_localize(None)
        scored = None
        if executors is not None:
            scored = score_on_executors(ws, fm, horizon_days, refused=refused, output=executors.output, progress=say,
                                        constants={"run_id": run_id, "created_at": created},
                                        path=results and results.folder("customer_predictions",
                                                                        store.CUSTOMER_PREDICTIONS))
            fm.timings.update(scored.timings)
            customers, withheld = pd.DataFrame(columns=["customer_id"]), scored.summary["not_personalised"]
        else:
            customers = score_customers(ws, fm, horizon_days, progress=say)
            customers, withheld = withhold(customers, refused)
            customers["model_versions"] = model_versions(fm)
            customers["run_id"] = run_id
            customers["created_at"] = created
        if refused:
            leads = leads[~leads["customer_id"].isin(refused)] if len(leads) else leads
            replenish = replenish[~replenish["customer_id"].isin(refused)] if len(replenish) else replenish
        say("writing")
        t = time.perf_counter()
        rows = {
            "customer_predictions": (results.rows("customer_predictions") if results is not None
                                     else store.load_customer_predictions(ws, scored.files, as_of) if scored is not None
                                     else store.write_customer_predictions(ws, customers, as_of)),
            "lead_scores": store.write_lead_scores(ws, leads, as_of),
            "replenishments": store.write_replenishments(ws, replenish, as_of),
            "demand_forecast": store.write_demand_forecast(ws, forecast, as_of),
        }
        fm.timings["write"] = time.perf_counter() - t
        fm.timings["total"] = time.perf_counter() - start
        summary = {**_summary(customers, leads, forecast), "not_personalised": withheld}
        if scored is not None:
            summary.update(scored.summary)
            summary["scoring"] = {"where": "executors", "output": str(results.target) if results else executors.output}
            summary["fit_sample"] = {**sample.to_dict(), "sentence": sample.sentence()}
        if fm.value is not None:
            summary["value_model"] = {"model": fm.value.name, "sentence": fm.value.sentence, "notes": fm.value.notes,
                                      "calibration": fm.value.calibration}
        if fm.forecast_choice is not None:
            summary["forecast_model"] = fm.forecast_choice.to_dict()
        result = PredictResult(run_id, as_of, int(horizon_days), fm.verdicts, rows, summary, fm.timings)
        run = {"run_id": run_id, "as_of": as_of, "horizon_days": int(horizon_days),
               "finished_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
               "readiness": {k: v.to_dict() for k, v in fm.verdicts.items()},
               "summary": result.summary, "timings": {k: round(v, 3) for k, v in fm.timings.items()}}
        if results is not None:  # the predictions and their run record replace the lake's, together
            results.add_frame("prediction_runs", pd.DataFrame([run]), store.PREDICTION_RUNS)
            results.commit(as_of=as_of, run_id=run_id, customers=rows["customer_predictions"])
        else:
            store.write_prediction_run(ws, run)
    except BaseException:
        if results is not None:
            results.abort()
        raise
    from regulars.jobs.model_cards import write_model_cards

    write_model_cards(ws, result, fm)  # a model card per fitted model, regenerated on every run
    return result


def _summary(customers: pd.DataFrame, leads: pd.DataFrame, forecast: pd.DataFrame) -> dict:
    s: dict = {"customers": len(customers)}
    if len(customers) and customers["churn_risk"].notna().any():
        s["high_churn_risk"] = int((customers["churn_band"] == "high").sum())
        s["mean_churn_risk"] = float(customers["churn_risk"].mean())
    if len(customers) and "propensity_30d" in customers and customers["propensity_30d"].notna().any():
        s["expected_buyers_30d"] = float(customers["propensity_30d"].sum())
    if len(customers) and "clv" in customers and customers["clv"].notna().any():
        s["total_clv"] = float(customers["clv"].sum())
        s["expected_orders"] = float(customers["expected_orders"].sum())
    if len(leads):
        s["leads"] = {t: int((leads["tier"] == t).sum()) for t in ("hot", "warm", "cold")}
    if len(forecast):
        s["forecast_orders"] = float(forecast["orders"].sum())
        s["busiest_days"] = [d.isoformat() for d in forecast.nlargest(3, "orders")["day"]]
    return s
