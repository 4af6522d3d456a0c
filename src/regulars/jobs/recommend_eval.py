"""Offline evaluation of the recommendations against popularity, on a time split.

``evaluate(ws, cutoff=None, horizon_days=30, k=10)`` fits every recommender with only the data
before ``cutoff`` (the same :func:`~regulars.jobs.recommend.load_inputs` and
:func:`~regulars.jobs.recommend.fit` the recommendation job uses), recommends ``k`` products to
each customer who bought something in the ``horizon_days`` after it, and compares with what
they bought (:func:`regulars.recommend.evaluate.ranking_metrics`). Every recommender is put
next to the best-sellers list (popularity), in plain words.

The decision stored with the evaluation is what the recommendation job serves: the hybrid when
its recall@k beats popularity's, popularity otherwise.

Point in time: ``products.is_active`` is today's flag, not the cutoff's, so the evaluation
ignores it (every product counts as on sale); everything else is read as of the cutoff.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regulars.data import recommend_store as store
from regulars.data.as_of import ORDERS, resolve_as_of
from regulars.features import recommend as features
from regulars.jobs.recommend import MODEL_VERSION, fit, load_inputs
from regulars.recommend import (
    ContentRecommender,
    FrequentlyBoughtTogether,
    ItemKNNRecommender,
    PopularityRecommender,
    ReplenishmentRecommender,
    UsualOrderRecommender,
)
from regulars.recommend.evaluate import ranking_metrics

__all__ = ["EvaluationResult", "LABELS", "default_cutoff", "evaluate"]

LABELS = {
    "hybrid": "the blended recommendations",
    "popularity_region": "best-sellers of the customer's region",
    "item_knn": "customers-who-bought-this-also-bought (item-item)",
    "content": "similar products (content)",
    "together": "frequently bought together",
    "usual_order": "the customer's usual order",
    "replenishment": "replenishment due",
}
MIN_CUSTOMERS = 20


def default_cutoff(ws, horizon_days: int = 30) -> dt.date:
    """90 days before the day after the last order (the predictions' backtest cutoff), so the
    same history is judged; at least ``horizon_days`` must follow it."""
    return resolve_as_of(ws, basis=ORDERS) - dt.timedelta(days=max(90, horizon_days))


@dataclass
class EvaluationResult:
    run_id: str
    cutoff: dt.date
    horizon_days: int
    k: int
    served: str
    metrics: dict[str, dict] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def metric(self, recommender: str, name: str) -> float:
        return float(self.metrics.get(recommender, {}).get(name, float("nan")))

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "cutoff": self.cutoff.isoformat(), "horizon_days": self.horizon_days,
                "k": self.k, "served": self.served, "sentences": self.sentences, "seconds": round(self.seconds, 2),
                "metrics": {r: {m: (None if isinstance(v, float) and np.isnan(v) else v) for m, v in ms.items()}
                            for r, ms in self.metrics.items()}}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def evaluate(ws, cutoff=None, horizon_days: int = 30, k: int = 10, progress=None, write: bool = True) -> EvaluationResult:
    """Judge every recommender on the purchases after ``cutoff``; store and return the result."""
    say = progress or (lambda _s: None)
    start = time.perf_counter()
    end_data = resolve_as_of(ws, basis=ORDERS)
    cutoff = pd.Timestamp(cutoff).date() if cutoff is not None else default_cutoff(ws, horizon_days)
    horizon = min(horizon_days, (end_data - cutoff).days)
    run_id = f"e-{cutoff.isoformat()}-{uuid.uuid4().hex[:8]}"
    result = EvaluationResult(run_id, cutoff, horizon, k, "popularity")
    rows: list[dict] = []

    def add(recommender, metric, value, baseline=None, customers=None, sentence=None):
        rows.append({"run_id": run_id, "run_at": pd.Timestamp.now(tz="UTC").tz_localize(None), "cutoff": cutoff,
                     "horizon_days": horizon, "k": k, "recommender": recommender, "metric": metric,
                     "value": None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value),
                     "baseline_value": None if baseline is None else float(baseline), "customers": customers,
                     "sentence": sentence, "model_version": MODEL_VERSION})
        if sentence:
            result.sentences.append(sentence)

    say(f"reading the history before {cutoff}")
    inputs = load_inputs(ws, cutoff, use_active_flag=False, stored_schedule=False)
    truth = ws.frame(features.purchased_between(ws, cutoff, cutoff + dt.timedelta(days=horizon))) \
        if horizon > 0 else pd.DataFrame(columns=["customer_id", "product_id"])
    buyers = truth["customer_id"].nunique()
    if horizon < 7 or inputs.matrix is None or buyers < MIN_CUSTOMERS:
        why = (f"the cutoff {cutoff} leaves {horizon} days after it" if horizon < 7 else
               f"only {buyers} customers bought in the {horizon} days after {cutoff}" if inputs.matrix is not None
               else f"no purchases before {cutoff}")
        add("hybrid", "served", 0, sentence=f"Recommendations cannot be judged yet ({why}; at least "
            f"{MIN_CUSTOMERS} buyers after a cutoff with history before it are needed): regulars serves the "
            "best-sellers until they can.")
        return _finish(ws, result, rows, write, start)

    say("fitting every recommender")
    hybrid, popularity = fit(inputs)
    data = inputs.data()
    parts = {"hybrid": hybrid, "popularity": popularity,
             "popularity_region": PopularityRecommender(group_column="region").fit(inputs.matrix, **data),
             "item_knn": ItemKNNRecommender().fit(inputs.matrix, **data),
             "content": ContentRecommender().fit(inputs.matrix, **data),
             "together": FrequentlyBoughtTogether().fit(inputs.matrix, **data),
             "usual_order": UsualOrderRecommender().fit(inputs.matrix, **data),
             "replenishment": ReplenishmentRecommender().fit(inputs.matrix, **data)}
    users = truth["customer_id"].unique()
    bought_before = np.asarray((inputs.matrix.purchases > 0).sum(axis=0)).ravel()
    share = pd.Series(bought_before / max(inputs.matrix.n_customers, 1), index=inputs.matrix.products)
    share.attrs["customers"] = inputs.matrix.n_customers
    catalogue = inputs.matrix.products
    for name, model in parts.items():
        say(f"judging {name}")
        recs = model.recommend(users, k=k)
        result.metrics[name] = ranking_metrics(recs, truth, k, catalogue=catalogue, popularity=share)
    pop = result.metrics["popularity"]
    returning = int(pd.Index(users).isin(inputs.matrix.customers[inputs.matrix.purchases.getnnz(axis=1) > 0]).sum())
    _sentences(add, result, pop, buyers, returning, cutoff, horizon, k, len(catalogue))
    return _finish(ws, result, rows, write, start)


def _sentences(add, result, pop, buyers, returning, cutoff, horizon, k, n_products) -> None:
    h = result.metrics["hybrid"]
    common = {"customers": buyers}
    add("hybrid", "hit_rate", h["hit_rate"], pop["hit_rate"], sentence=(
        f"Of the {buyers:,} customers who bought something in the {horizon} days after {cutoff} ({returning:,} of them "
        f"had bought before), our top {k} contained something they bought for {round(h['hit_rate'] * buyers):,} "
        f"({_pct(h['hit_rate'])}); the best-sellers list for {round(pop['hit_rate'] * buyers):,} "
        f"({_pct(pop['hit_rate'])})."), **common)
    add("hybrid", "recall", h["recall"], pop["recall"], sentence=(
        f"On average our top {k} held {_pct(h['recall'])} of the products each of them bought (recall@{k}); "
        f"the best-sellers {_pct(pop['recall'])}."), **common)
    add("hybrid", "precision", h["precision"], pop["precision"], sentence=(
        f"{_pct(h['precision'])} of our {k} suggestions per customer were bought (precision@{k}); "
        f"{_pct(pop['precision'])} of the best-sellers'."), **common)
    add("hybrid", "ndcg", h["ndcg"], pop["ndcg"], sentence=(
        f"Ranking quality (NDCG@{k}, 1 = everything bought at the top): {h['ndcg']:.2f}; best-sellers "
        f"{pop['ndcg']:.2f}."), **common)
    add("hybrid", "coverage", h["coverage"], pop["coverage"], sentence=(
        f"We recommended {round(h['coverage'] * n_products):,} of the {n_products:,} products to someone "
        f"({_pct(h['coverage'])} of the catalogue); the best-sellers list shows {round(pop['coverage'] * n_products):,}."),
        **common)
    add("hybrid", "novelty", h["novelty"], pop["novelty"], sentence=(
        f"Novelty (how unexpected the suggestions are; bits, higher = less obvious): {h['novelty']:.1f}; "
        f"best-sellers {pop['novelty']:.1f}."), **common)
    for name, label in LABELS.items():
        if name == "hybrid":
            continue
        m = result.metrics[name]
        for metric in ("recall", "precision", "ndcg", "hit_rate", "coverage", "novelty"):
            add(name, metric, m[metric], pop[metric], customers=buyers,
                sentence=(f"On its own, {label} reached recall@{k} {_pct(m['recall'])} (best-sellers "
                          f"{_pct(pop['recall'])})." if metric == "recall" else None))
    wins = h["recall"] > pop["recall"]
    result.served = "hybrid" if wins else "popularity"
    add("hybrid", "served", 1.0 if wins else 0.0, customers=buyers, sentence=(
        f"regulars serves the blended recommendations: they found more of what customers bought next "
        f"(recall@{k} {_pct(h['recall'])} against {_pct(pop['recall'])})." if wins else
        f"regulars serves the best-sellers list: on this shop the blended recommendations did not beat it "
        f"(recall@{k} {_pct(h['recall'])} against {_pct(pop['recall'])})."))


def _finish(ws, result, rows, write, start) -> EvaluationResult:
    if not any(r["metric"] == "served" for r in rows):  # pragma: no cover - every path adds it
        raise AssertionError("the evaluation must decide what is served")
    result.seconds = time.perf_counter() - start
    if write:
        store.write_evaluation(ws, pd.DataFrame(rows), result.run_id)
    return result
