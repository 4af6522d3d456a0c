"""Scoring: every customer's predictions from the fitted models (:class:`FittedModels`).

:func:`score_customers` builds the snapshot (:mod:`regulars.jobs.snapshot`) as of the models'
date, fits what scoring needs besides the classifiers (:func:`fit_scoring_models`: the value
models and the BG/NBD whose outputs feed the classifiers) and scores it (:func:`score_frame`:
value, churn risk, purchase chance, next order, with the reasons of each classifier).
:func:`score_frame` depends on nothing but its rows and the models, so Spark executors score
partitions with it (:mod:`regulars.jobs.spark_scoring`). Leads and replenishment due dates are
scored by :func:`score_leads` and :func:`score_replenishment`. :mod:`regulars.jobs.predict`
fits the models and writes what this module scores.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regulars.features.labels import CHURN_WINDOW, PROPENSITY_WINDOW
from regulars.features.leads import lead_features
from regulars.features.purchase_history import replenishment_pairs
from regulars.jobs.forecast import ForecastChoice
from regulars.jobs.snapshot import _feature_btyd, snapshot
from regulars.jobs.tables import as_known_on
from regulars.jobs.value import ValueModels, fit_value, score_value
from regulars.models.churn import ChurnModel, float_matrix
from regulars.models.leads import LeadScorer
from regulars.models.next_order import add_days, replenishment_schedule
from regulars.models.propensity import PurchasePropensityModel
from regulars.models.readiness import Verdict
from regulars.models.reasons import explain_json, topic_of

__all__ = ["CHURN_WINDOW", "MODEL_VERSIONS", "PROPENSITY_WINDOW", "FittedModels", "fit_scoring_models",
           "reasons_methods", "score_customers", "score_frame", "score_leads", "score_replenishment"]

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
