"""The prediction job: check readiness, fit every model on the shop's history, score, write.

``predict(ws, as_of=None, horizon_days=365)`` is what ``regulars predict`` runs:

1. :func:`data_stats` and :func:`~regulars.models.readiness.assess` decide, per prediction,
   whether to refuse, run in small-data mode, or run normally.
2. :func:`fit_models` fits, using only data before ``as_of``: BG/NBD + Gamma-Gamma (value,
   p_alive), the churn and propensity classifiers (trained on an older snapshot, calibrated
   on a newer one, both with outcomes known by ``as_of``), the next-order gap model, the lead
   scorer and the demand forecaster.
3. :func:`score_customers` builds every customer's features as of ``as_of`` and predicts.
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
import warnings
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from regulars.data import predictions_store as store
from regulars.data.as_of import ORDERS, resolve_as_of
from regulars.features.labels import activity_features, churn_labels, propensity_labels
from regulars.models.churn import ChurnModel, float_matrix
from regulars.features.leads import lead_features
from regulars.features.purchase_history import (
    gap_statistics,
    purchase_summary,
    purchases,
    replenishment_pairs,
    stored_totals,
)
from regulars.models.leads import LeadScorer
from regulars.models.next_order import add_days, replenishment_schedule
from regulars.models.propensity import PurchasePropensityModel
from regulars.models.readiness import (
    DataStats,
    REFUSED,
    Minimums,
    NotEnoughData,
    Verdict,
    assess,
)
from regulars.models.reasons import explain_json, topic_of
from regulars.jobs.tables import SampledTables, as_known_on, in_shop_money, money_refusal, present_day
from regulars.jobs.forecast import ForecastChoice, fit_forecast
from regulars.jobs.value import ValueModels, fit_value, score_value
from regulars.values import to_date

__all__ = [
    "CHURN_WINDOW",
    "MODEL_VERSIONS",
    "PROPENSITY_WINDOW",
    "PredictResult",
    "data_stats",
    "fit_models",
    "predict",
    "score_customers",
    "score_frame",
]

CHURN_WINDOW = 90
PROPENSITY_WINDOW = 30
#: Training rows per snapshot at most (customers are sampled by a hash of their id above it).
MAX_TRAIN_CUSTOMERS = 100_000
#: Exact TreeSHAP costs ~2 us per customer and tree on one core; above this many
#: customer-trees the reasons use the path decomposition (see ChurnModel.contributions).
TREESHAP_BUDGET = 6_000_000
SCORE_CHUNK = 200_000


def reasons_method(n_rows: int, model) -> str:
    """``treeshap`` when it fits the budget, else ``path``."""
    return "treeshap" if n_rows * model.booster_.num_trees() <= TREESHAP_BUDGET else "path"

MODEL_VERSIONS = {
    "value": "btyd-chosen+gammagamma-2",
    "churn": "churn-lgbm-1",
    "propensity": "propensity30-lgbm-1",
    "next_order": "gap-lognormal+btyd-within-horizon-2",
    "leads": "leads-1",
    "forecast": "negbin-glm-2",
    "forecast_naive": "seasonal-naive-1",
}

# Columns of the snapshot frame that are bookkeeping, not model inputs.
_NOT_FEATURES = {
    "customer_id", "as_of", "created_date", "first_order_date", "last_order_date", "acquisition_channel",
    "region", "country", "city", "frequency", "recency", "T", "monetary_value", "n_gaps", "log_gap_var",
    "log_gap_mean",
}



def data_stats(ws, as_of) -> DataStats:
    """The counts that readiness is decided on, from purchases before ``as_of``."""
    p = purchases(ws.table("orders"))
    p = p.filter(p.day < ibis.literal(to_date(as_of)))
    stored = stored_totals(ws, to_date(as_of))  # one row per customer instead of every order
    if stored is not None:
        per = stored.filter(stored.orders > 0).select("customer_id", days="purchase_days")
    else:
        per = p.group_by("customer_id").aggregate(days=p.day.nunique())
    row = ws.execute(per.aggregate(customers=per.count(), repeat=(per.days > 1).sum())).iloc[0]
    day = to_date(as_of)
    recent = {n: p.day.nunique(where=p.day >= ibis.literal(day - dt.timedelta(days=n))) for n in (180, 730)}
    span = ws.execute(p.aggregate(first=p.day.min(), days=p.day.nunique(), d180=recent[180], d730=recent[730])).iloc[0]
    history = 0 if pd.isna(span["first"]) else (pd.Timestamp(day) - pd.Timestamp(span["first"])).days
    leads = _lead_count(ws, as_of)
    window = "d730" if history >= 730 else "d180"  # the window the forecast is fitted on
    return DataStats(customers_with_orders=int(row["customers"] or 0), repeat_customers=int(row["repeat"] or 0),
                     history_days=int(history), days_with_orders=int(span["days"] or 0), leads=leads,
                     recent_days_with_orders=int(span[window] or 0))


def _lead_count(ws, as_of) -> int:
    """People known on ``as_of`` with a site visit or an e-mail open/click before it and no purchase."""
    At = ibis.literal(pd.Timestamp(to_date(as_of)).to_pydatetime())
    known = as_known_on(ws, to_date(as_of))
    e, m = known.table("events"), known.table("messages")
    active = e.filter(e.customer_id.notnull() & (e.occurred_at < At)).select("customer_id").union(
        m.filter(m.event_type.lower().isin(["opened", "clicked"]) & (m.occurred_at < At)).select("customer_id"),
        distinct=True)  # people, not their events
    p = purchases(ws.table("orders"))
    buyers = p.filter(p.day < ibis.literal(to_date(as_of))).select("customer_id").distinct()
    return int(ws.execute(active.anti_join(buyers, "customer_id").count()))


# -- snapshot features ----------------------------------------------------------------------
def _mart(tables, as_of, categories):
    try:
        from regulars.features.mart import customer_features
    except ImportError:  # the mart is optional: the activity features alone still work
        return None
    return customer_features(tables, as_of=as_of, categories=categories)


def snapshot_parts(tables, as_of, categories=None, ordered: bool = True) -> list[ibis.Table]:
    """The Ibis parts of :func:`snapshot`, one row per customer each, to be left-joined on
    ``customer_id`` to the first (the activity features): BTYD summary, gap statistics, the mart.
    The narrow parts are sorted by customer id (pandas then joins sorted indexes, 3x faster than
    hashing strings); the wide mart is not (DuckDB would hold ~0.4 GB at a million customers to
    sort it, for a 0.2 s gain). ``ordered=False``: none is sorted (they are joined on the engine)."""
    first = activity_features(tables, as_of)
    parts = [first, purchase_summary(tables, as_of), gap_statistics(tables, as_of)]
    if ordered:
        parts[1:] = [p.order_by("customer_id") for p in parts[1:]]
    mart = _mart(tables, as_of, categories)
    if mart is not None:
        parts.append(mart.select("customer_id", *[c for c in mart.columns if c not in first.columns]))
    return parts


def snapshot(ws, as_of, categories=None, fraction: float = 1.0, tables=None) -> pd.DataFrame:
    """One row per customer with a purchase before ``as_of``: features mart, activity,
    BTYD summary (days) and gap statistics, all as of ``as_of``.

    Each part runs as its own query and the parts are joined in pandas (DuckDB plans the
    parts well one by one; a single query joining them all was 3x slower at a million rows).
    The customer's BTYD summary comes from the stored order totals when they hold for ``as_of``
    (:func:`regulars.features.purchase_history.purchase_summary`).
    """
    as_of = to_date(as_of)
    tables = as_known_on(ws, as_of, tables or (SampledTables(ws, fraction) if fraction < 1 else ws))
    first, *parts = snapshot_parts(tables, as_of, categories)
    frame = ws.frame(first.order_by("customer_id")).set_index("customer_id")
    for part in parts:
        frame = frame.join(ws.frame(part).set_index("customer_id"), how="left")
    text = text_parts(ws, as_of)
    for part in text.values():
        frame = frame.join(part, how="left")
    frame = finish_snapshot(frame.reset_index(), {k: list(v.columns) for k, v in text.items()})
    return frame.set_index("customer_id").sort_index()  # DuckDB returns groups in any order


def text_parts(ws, as_of) -> dict[str, pd.DataFrame]:
    """The customer text features that are model inputs (:func:`use_text_features`), by group,
    each indexed by customer (only customers who wrote something)."""
    parts = {}
    if use_text_features(ws):  # only when the backtest showed they help (regulars.jobs.text_features)
        from regulars.jobs.text_features import text_features

        parts["sentiment"] = text_features(ws, as_of)
    if use_text_features(ws, "complaint_topic"):
        from regulars.jobs.text_features import complaint_topic_features

        parts["complaint_topic"] = complaint_topic_features(ws, as_of)
    return parts


def finish_snapshot(frame: pd.DataFrame, text_columns: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """The row-by-row end of :func:`snapshot`: the joined parts (``customer_id`` a column) made
    model-ready. Each row only depends on itself, so a partition of the customers can be
    finished on its own (Spark executors do, :mod:`regulars.jobs.spark_scoring`).

    *text_columns* names the columns of each text part joined in (:func:`text_parts`).
    """
    text_columns = text_columns or {}
    for col in text_columns.get("sentiment", []):
        if col in ("texts_written", "negative_texts", "negative_tickets_90d"):
            frame[col] = frame[col].fillna(0.0)  # wrote nothing: zero texts (their sentiment stays unknown)
    topics = text_columns.get("complaint_topic", [])
    if topics:
        complained = frame[topics].notna().any(axis=1)
        frame[topics] = frame[topics].fillna(0.0)
        if "complaint_none" in topics:
            frame.loc[~complained, "complaint_none"] = 1.0  # no complaint before as_of
    for c in frame.columns:
        if frame[c].dtype == bool or str(frame[c].dtype) == "boolean":
            frame[c] = frame[c].astype(float)
    if "days_since_last_order" not in frame.columns:  # without the mart
        frame["days_since_last_order"] = frame["T"] - frame["recency"] + 1
        frame["orders"] = frame["frequency"] + 1
        frame["tenure_days"] = frame["T"] + 1
    for c in ("frequency", "recency", "T", "monetary_value"):
        frame[c] = frame[c].astype(float)
    # parallel sums differ in the last bits from run to run; rounding makes the fits repeatable
    floats = [c for c in frame.columns if frame[c].dtype == float]
    frame[floats] = frame[floats].round(6)
    return frame


def use_text_features(ws, group: str = "sentiment") -> bool:
    """Whether a group of customer text features ("sentiment": sentiment and negative tickets;
    "complaint_topic": topic of the last complaint) are model inputs: the latest comparison's
    decision (:mod:`regulars.jobs.text_features`), unless overridden while comparing."""
    from regulars.jobs.text_features import enabled

    return enabled(ws, group)


def _feature_names(frame: pd.DataFrame) -> list[str]:
    names = []
    for c in frame.columns:
        if c in _NOT_FEATURES or c in ("churned", "bought"):
            continue
        if pd.api.types.is_numeric_dtype(frame[c]) or str(frame[c].dtype).startswith("decimal"):
            names.append(c)
    return names


def _numeric(frame: pd.DataFrame, names) -> pd.DataFrame:
    """The columns ``names`` as one float64 block (non-numbers become NaN)."""
    return pd.DataFrame(float_matrix(frame, names), columns=list(names), index=frame.index, copy=False)


# -- BTYD ------------------------------------------------------------------------------------
def _feature_btyd(frame: pd.DataFrame, small: bool):
    """The BG/NBD whose p_alive and expected orders are features of the classifiers."""
    from regulars.models.beta_geo import BetaGeoModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BetaGeoModel(penalizer=0.001 if small else 0.0).fit(frame["frequency"], frame["recency"], frame["T"])


def _add_btyd(frame: pd.DataFrame, bg, window: int) -> pd.DataFrame:
    frame = frame.copy()
    x, tx, T = frame["frequency"].to_numpy(), frame["recency"].to_numpy(), frame["T"].to_numpy()
    frame["p_alive"] = bg.probability_alive(x, tx, T)
    frame["expected_orders"] = bg.expected_purchases(float(window), x, tx, T)
    return frame


# -- fitting -----------------------------------------------------------------------------------
@dataclass
class FittedModels:
    """Everything :func:`fit_models` learned as of ``as_of``, plus the readiness verdicts."""

    as_of: dt.date
    verdicts: dict[str, Verdict]
    categories: list[str] | None = None
    churn: ChurnModel | None = None
    propensity: PurchasePropensityModel | None = None
    leads: LeadScorer | None = None
    forecast: object | None = None  # the forecaster served (DemandForecaster or SeasonalNaiveForecaster)
    forecast_choice: ForecastChoice | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    reasons_method: str | None = None
    value: ValueModels | None = None
    feature_btyd: object | None = None  # the BG/NBD whose outputs are classifier inputs at scoring
    first_day: dt.date | None = None
    inputs: dict = field(default_factory=dict)
    #: Classifier-only scores already computed from these models (see :func:`score_customers`);
    #: a shallow copy shares it, so the audit reuses the backtest's scores at the same cutoff.
    scored: list = field(default_factory=list)


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


# -- scoring -------------------------------------------------------------------------------------
def _band(risk: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(risk), None, np.where(risk >= 0.6, "high", np.where(risk >= 0.3, "medium", "low")))


def score_customers(ws, fm: FittedModels, horizon_days: int = 365, reasons: bool = True,
                    progress=None, value: bool = True) -> pd.DataFrame:
    """Predictions for every customer with a purchase before ``fm.as_of`` (one row each).

    ``value=False`` skips the value models (the backtest judges them at their own cutoff). Such
    classifier-only scores are kept in ``fm.scored`` and returned again (as a copy) for the same
    models, verdicts and horizon, e.g. to the fairness audit after the backtest at the same cutoff."""
    say = progress or (lambda _s: None)
    reusable = not reasons and not value  # nothing is fitted here: the result depends only on the key
    key = (horizon_days, fm.churn, fm.propensity, fm.value,
           tuple(fm.verdicts[n].small for n in ("churn", "propensity")))
    if reusable:
        for seen, frame in fm.scored:
            if len(seen) == len(key) and all(a is b or a == b for a, b in zip(seen, key)):
                return frame.copy()
    out = _score_customers(ws, fm, horizon_days, reasons, say, value)
    if reusable:
        fm.scored.append((key, out.copy()))
    return out


def _score_customers(ws, fm: FittedModels, horizon_days: int, reasons: bool, say, value: bool) -> pd.DataFrame:
    say("building features")
    t = time.perf_counter()
    frame = snapshot(ws, fm.as_of, fm.categories)
    ws.release_memory()  # the rest is numpy work: DuckDB's cached blocks would only add to the peak
    fm.timings["features"] = time.perf_counter() - t
    if len(frame):
        fit_scoring_models(ws, fm, frame, horizon_days, value=value, progress=say)
    methods = reasons_methods(fm, len(frame)) if reasons else None
    return score_frame(fm, frame, horizon_days, methods, value=value, progress=say).reset_index()


def fit_scoring_models(ws, fm: FittedModels, frame: pd.DataFrame, horizon_days: int, value: bool = True,
                       progress=None, customers: int | None = None) -> None:
    """Fit what scoring needs besides the classifiers, on *frame* (every customer, or a sample
    of them: :mod:`regulars.jobs.fit_sample`): the value models (``fm.value``) and the BG/NBD
    whose outputs feed the classifiers (``fm.feature_btyd``). *customers* is how many customers
    *frame* stands for (default: its length)."""
    say = progress or (lambda _s: None)
    verdict = fm.verdicts["value"]
    if value and not verdict.refused:
        t = time.perf_counter()
        fm.value = fit_value(ws, fm.as_of, horizon_days, frame, verdict.small, first_day=fm.first_day, progress=say,
                             customers=customers)
        fm.timings["value"] = time.perf_counter() - t
    # the classifiers were trained with BG/NBD features: they are scored with BG/NBD features
    if fm.value is not None and fm.value.key == "bgnbd":
        fm.feature_btyd = fm.value.transaction
    else:
        first = next((n for n in ("churn", "propensity") if getattr(fm, n) is not None), None)
        fm.feature_btyd = _feature_btyd(frame, fm.verdicts[first].small) if first else None


def reasons_methods(fm: FittedModels, n_rows: int) -> dict[str, str]:
    """How each classifier's reasons are computed for *n_rows* customers in all
    (:func:`reasons_method`); decided once for the whole run, so every partition agrees."""
    methods = {name: reasons_method(n_rows, getattr(fm, name)) for name in ("churn", "propensity")
               if getattr(fm, name) is not None}
    if methods:
        fm.reasons_method = methods.get("propensity", methods.get("churn"))
    return methods


def score_frame(fm: FittedModels, frame: pd.DataFrame, horizon_days: int = 365,
                reasons: dict[str, str] | None = None, value: bool = True, progress=None) -> pd.DataFrame:
    """The predictions of the customers in *frame* (a :func:`snapshot`, or any part of one),
    indexed like it, with models already fitted (:func:`fit_scoring_models`).

    Each row only depends on its own features and the fitted models, so the customers can be
    scored in parts anywhere the models are (Spark executors: :mod:`regulars.jobs.spark_scoring`).
    *reasons* maps a classifier to its reasons method (:func:`reasons_methods`); None: no reasons.
    """
    say = progress or (lambda _s: None)
    as_of = fm.as_of
    out = pd.DataFrame(index=frame.index)
    out["as_of"] = as_of
    out["horizon_days"] = int(horizon_days)
    out["orders_to_date"] = (frame["frequency"] + 1).astype(int)
    out["last_order_date"] = add_days(as_of, -frame["days_since_last_order"].to_numpy(dtype=float)).to_numpy()
    modes = {k: v.status for k, v in fm.verdicts.items()}
    out["data_mode"] = "small" if any(s == "small" for k, s in modes.items() if k in ("churn", "value")) else "full"
    if len(frame) == 0:
        return out

    if value and fm.value is not None:
        t = time.perf_counter()
        say(f"scoring with {fm.value.name}")
        scored = score_value(fm.value, frame)
        for column in scored.columns:
            out[column] = scored[column]
        fm.timings["score_value"] = fm.timings.get("score_value", 0.0) + time.perf_counter() - t

    base = frame
    bg_features = fm.feature_btyd
    x, tx, T = (base[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    for name, window in (("churn", CHURN_WINDOW), ("propensity", PROPENSITY_WINDOW)):
        model = getattr(fm, name)
        column = "churn_risk" if name == "churn" else "propensity_30d"
        out[column] = np.nan
        if model is None:
            continue
        say(f"scoring {name}")
        t = time.perf_counter()
        names = list(model.feature_names_in_)
        # the model's inputs as one float block with this window's BTYD outputs, filled before
        # it becomes a frame: replacing a column later would split the block, and every chunk
        # would then be copied back into one matrix for LightGBM
        matrix = float_matrix(base, names)
        if "p_alive" in names:
            matrix[:, names.index("p_alive")] = bg_features.probability_alive(x, tx, T)
        if "expected_orders" in names:
            matrix[:, names.index("expected_orders")] = bg_features.expected_purchases(float(window), x, tx, T)
        X = pd.DataFrame(matrix, columns=names, index=base.index, copy=False)
        if not reasons:
            out[column] = model.predict_proba(X)[:, 1]
        else:
            method = reasons[name]
            groups = {c: topic_of(c) for c in names}
            proba, texts = [], []
            for start in range(0, len(X), SCORE_CHUNK):  # bounded memory for large shops
                chunk = X.iloc[start:start + SCORE_CHUNK]
                contrib = model.contributions(chunk, method=method, groups=groups)
                proba.append(model.proba_from_raw(contrib.to_numpy().sum(axis=1)))
                texts.append(explain_json(contrib, chunk, noun="risk" if name == "churn" else "chance").to_numpy())
                del contrib
            out[column] = np.concatenate(proba)
            out["churn_reasons" if name == "churn" else "propensity_reasons"] = np.concatenate(texts)
        del X, matrix
        fm.timings[f"score_{name}"] = fm.timings.get(f"score_{name}", 0.0) + time.perf_counter() - t
    out["churn_band"] = _band(out["churn_risk"].to_numpy(dtype=float))
    return out


def score_leads(ws, fm: FittedModels) -> pd.DataFrame:
    if fm.leads is None:
        return pd.DataFrame(columns=["customer_id", "tier", "score", "reasons", "last_seen_at"])
    X = ws.frame(lead_features(as_known_on(ws, fm.as_of), fm.as_of)).set_index("customer_id")
    if X.empty:
        return pd.DataFrame(columns=["customer_id", "tier", "score", "reasons", "last_seen_at"])
    scored = fm.leads.tiers(X)
    scored["last_seen_at"] = X["last_seen_at"]
    scored["as_of"] = fm.as_of
    scored["model_version"] = f"{MODEL_VERSIONS['leads']}-{fm.leads.method_}"
    return scored.reset_index()


def score_replenishment(ws, as_of) -> pd.DataFrame:
    pairs = ws.frame(replenishment_pairs(ws, as_of))
    schedule = replenishment_schedule(pairs, as_of)
    schedule["as_of"] = as_of
    return schedule


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
    from regulars.jobs.spark_scoring import model_versions, score_on_executors
    from regulars.privacy.consent import withhold

    refused = refused_personalisation(ws)
    created = pd.Timestamp.now(tz="UTC").tz_localize(None)
    scored = None
    if executors is not None:
        scored = score_on_executors(ws, fm, horizon_days, refused=refused, output=executors.output, progress=say,
                                    constants={"run_id": run_id, "created_at": created})
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
        "customer_predictions": (store.load_customer_predictions(ws, scored.files, as_of) if scored is not None
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
        summary["scoring"] = {"where": "executors", "output": executors.output}
        summary["fit_sample"] = {**sample.to_dict(), "sentence": sample.sentence()}
    if fm.value is not None:
        summary["value_model"] = {"model": fm.value.name, "sentence": fm.value.sentence, "notes": fm.value.notes,
                                  "calibration": fm.value.calibration}
    if fm.forecast_choice is not None:
        summary["forecast_model"] = fm.forecast_choice.to_dict()
    result = PredictResult(run_id, as_of, int(horizon_days), fm.verdicts, rows, summary, fm.timings)
    store.write_prediction_run(ws, {
        "run_id": run_id, "as_of": as_of, "horizon_days": int(horizon_days),
        "finished_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "readiness": {k: v.to_dict() for k, v in fm.verdicts.items()},
        "summary": result.summary, "timings": {k: round(v, 3) for k, v in fm.timings.items()},
    })
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


#: Under this name :func:`store_display` keeps what ``regulars predict`` shows (see :mod:`regulars.reports.stored`).
DISPLAY = "predict"


def _display_params(as_of, horizon_days: int) -> dict:
    return {"as_of": as_of, "horizon_days": horizon_days}


def store_display(ws, as_of, horizon_days: int, result: PredictResult, offers: dict) -> None:
    """Keep what ``regulars predict`` shows for a run: *result* and the *offers* made after it.

    *as_of* is the date asked for (None: the default); the stored run is shown again by
    :func:`latest_display` while the shop's data is unchanged and it is still the latest run.
    """
    from regulars.reports.stored import stored

    stored(ws, DISPLAY, _display_params(as_of, horizon_days), lambda _w: {"result": result, "offers": offers},
           refresh=True, reads="inputs", daily=False)


def latest_display(ws, as_of, horizon_days: int):
    """The stored ``{"result", "offers"}`` of the latest run with these options on the same data, or None."""
    from regulars.reports.stored import lookup

    shown = lookup(ws, DISPLAY, _display_params(as_of, horizon_days), reads="inputs", daily=False)
    if shown is None:
        return None
    latest = store.read_prediction_run(ws)
    if latest is None or latest.get("run_id") != shown.value["result"].run_id:
        return None
    return shown
