"""The recommendation job: read what the recommenders need, fit them, recommend for every customer, store.

``recommend(ws, as_of=None, k=10)`` is what ``regulars predict`` (and the demo) run after the
predictions:

1. :func:`load_inputs` runs the Ibis expressions of :mod:`regulars.features.recommend` (only
   data before ``as_of``) and reads the replenishment due dates ``regulars predict`` stored
   for ``as_of`` (or computes them with the same model when none are stored);
2. :func:`fit` fits the hybrid (and its parts) on them;
3. the served recommender is the hybrid when the latest offline evaluation
   (:mod:`regulars.jobs.recommend_eval`) found it better than popularity on recall@10, and
   popularity otherwise (the reason is stored with the run and shown with the results);
4. the top ``k`` for every customer, the bought-together rules and the run are written in
   :mod:`regulars.data.recommend_store`.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import ibis
import pandas as pd

from regulars.data import predictions_store
from regulars.data import recommend_store as store
from regulars.data.as_of import ORDERS, resolve_as_of
from regulars.features import recommend as features
from regulars.features.purchase_history import replenishment_pairs
from regulars.models.next_order import replenishment_schedule
from regulars.recommend import HybridRecommender, PopularityRecommender
from regulars.recommend.hybrid import OPTED_OUT
from regulars.recommend.matrix import InteractionMatrix
from regulars.values import to_date

__all__ = ["MODEL_VERSION", "RecommendInputs", "RecommendResult", "fit", "load_inputs", "recommend", "served"]

MODEL_VERSION = "hybrid-1"
BASKET_DAYS = 730  # bought-together rules learn from the last two years of baskets
EVENT_DAYS = 365  # product views and cart adds of the last year count
MIN_BUYERS = 20  # below this many customers with a purchase, only popularity is served


@dataclass
class RecommendInputs:
    """What the recommenders are fitted on, as of ``as_of``: the encoded customer x product matrix and frames."""

    as_of: dt.date
    matrix: InteractionMatrix | None
    products: pd.DataFrame
    baskets: pd.DataFrame
    schedule: pd.DataFrame
    customers: pd.DataFrame

    def data(self) -> dict:
        return {"products": self.products, "baskets": self.baskets, "schedule": self.schedule,
                "customers": self.customers}



_TEMP = ("_rec_pairs", "_rec_customers", "_rec_products")


def _matrix(ws, as_of: dt.date, products: pd.DataFrame) -> tuple[InteractionMatrix | None, pd.DataFrame]:
    """The interaction matrix and the coded baskets, read as integers: ids are numbered in DuckDB
    (temporary tables), so millions of id strings never reach Python."""
    pairs = ws.temp_table("_rec_pairs", features.interactions(
        ws, as_of, events_since=as_of - dt.timedelta(days=EVENT_DAYS)))
    try:
        cidx = ws.temp_table("_rec_customers", features.code_index(
            pairs, "customer_id", customer_orders=lambda t: t.customer_orders.max()))
        catalogue = ibis.memtable({"product_id": products["product_id"].astype(str).tolist() or [""]})
        known = pairs.select("product_id").union(catalogue.filter(catalogue.product_id != ""), distinct=True)
        pidx = ws.temp_table("_rec_products", features.code_index(known, "product_id"))
        customers = ws.frame(cidx.order_by("code"))
        product_ids = ws.frame(pidx.order_by("code"))["product_id"]
        coded = ws.arrow(features.coded_interactions(pairs, cidx, pidx, as_of))
        basket_expr = features.basket_lines(ws, as_of, since=as_of - dt.timedelta(days=BASKET_DAYS))
        baskets = ws.arrow(features.coded_baskets(basket_expr, pidx)).to_pandas()
    finally:
        for name in _TEMP:
            ws.drop_temp_table(name)
    if not len(customers):
        return None, baskets
    col = {name: coded.column(name).to_numpy() for name in coded.column_names}
    del coded
    matrix = InteractionMatrix.from_codes(
        pd.Index(customers["customer_id"]), pd.Index(product_ids), col["row"], col["col"], col["purchases"],
        col["cart_adds"], col["looks"], col["age"], col["span"], customers["customer_orders"].to_numpy(), as_of)
    return matrix, baskets


def load_inputs(ws, as_of, use_active_flag: bool = True, stored_schedule: bool = True) -> RecommendInputs:
    """Everything the recommenders read, as of ``as_of``.

    ``use_active_flag=False`` ignores ``products.is_active`` (a backtest at a past cutoff: the
    flag is today's state, not the cutoff's).
    """
    as_of = to_date(as_of)
    products = ws.frame(features.product_catalogue(ws))
    if not use_active_flag:
        products = products.assign(is_active=None)
    matrix, baskets = _matrix(ws, as_of, products)
    customers = ws.frame(features.customer_context(ws, as_of))
    schedule = pd.DataFrame()
    if stored_schedule:
        schedule = predictions_store.read_table_as_of(ws, "replenishments", as_of)
        if len(schedule) and pd.Timestamp(schedule["as_of"].iloc[0]).date() != as_of:
            schedule = pd.DataFrame()
    if schedule.empty:
        schedule = replenishment_schedule(ws.frame(replenishment_pairs(ws, as_of)), as_of)
    return RecommendInputs(as_of, matrix, products, baskets, schedule, customers)


def fit(inputs: RecommendInputs, weights: dict | None = None) -> tuple[HybridRecommender, PopularityRecommender]:
    """The hybrid and the shop-wide popularity baseline, fitted on ``inputs``."""
    if inputs.matrix is None:
        raise ValueError(f"no purchases or product views before {inputs.as_of}: nothing to recommend from")
    data = inputs.data()
    hybrid = HybridRecommender(weights=weights).fit(inputs.matrix, **data)
    popularity = PopularityRecommender().fit(inputs.matrix, products=inputs.products)
    return hybrid, popularity


def served(ws) -> tuple[str, str]:
    """Which recommender to serve, and why: from the latest offline evaluation."""
    evaluation = store.read_evaluation(ws)
    decision = evaluation[(evaluation["metric"] == "served")]
    if decision.empty:
        return "hybrid", ("no offline evaluation yet (run `regulars backtest`): serving the hybrid, which falls back "
                          "to best-sellers where it knows too little")
    row = decision.iloc[0]
    return ("hybrid" if row["value"] >= 1 else "popularity"), str(row["sentence"])


@dataclass
class RecommendResult:
    run_id: str
    as_of: dt.date
    served: str
    served_reason: str
    customers: int
    rows: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), "served": self.served,
                "served_reason": self.served_reason, "customers": self.customers, "rows": self.rows,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}, "notes": self.notes}


def all_customer_ids(ws, inputs: RecommendInputs) -> pd.Index:
    """Every customer of the shop (and anyone with interactions), sorted."""
    ids = pd.Index(inputs.customers["customer_id"])
    if inputs.matrix is not None:
        ids = ids.append(inputs.matrix.customers)
    return pd.Index(pd.unique(ids)).sort_values()


def best_sellers(popularity: PopularityRecommender, k: int = 20) -> list[dict]:
    """The shop-wide best-seller list (for customers who arrive after the run, and opt-outs)."""
    recs = popularity.recommend(["\x00anyone"], k=k)
    return [{"rank": int(r["rank"]), "product_id": r["product_id"], "product_name": r["product_name"],
             "score": float(r["score"]), "reason": r["reason"]} for r in recs.to_dict(orient="records")]


def recommend(ws, as_of=None, k: int = 10, progress=None, customer_ids=None, write: bool = True,
              evaluate_if_missing: bool = True) -> RecommendResult:
    """Fit and recommend for every customer as of ``as_of`` (default: the day after the last order).

    Without a stored offline evaluation (``regulars backtest``), one is run first (when ``write`` and
    ``evaluate_if_missing``), so that what is served is decided by evidence, not by default.
    """
    say = progress or (lambda _s: None)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    as_of = resolve_as_of(ws, as_of, basis=ORDERS)
    run_id = f"r-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    say("reading purchases, views and baskets")
    t = time.perf_counter()
    inputs = load_inputs(ws, as_of)
    timings["load"] = time.perf_counter() - t
    ws.release_memory()
    if write and evaluate_if_missing and store.read_evaluation(ws).empty:
        from regulars.jobs.recommend_eval import evaluate

        say("evaluating against the best-sellers (first run)")
        t = time.perf_counter()
        evaluate(ws, progress=say)
        timings["evaluate"] = time.perf_counter() - t
    choice, why = served(ws)
    notes = []
    buyers = 0 if inputs.matrix is None else int((inputs.matrix.purchases.getnnz(axis=1) > 0).sum())
    if buyers < MIN_BUYERS:
        choice, why = "popularity", (f"only {buyers} customers have bought something before {as_of}; personal "
                                     f"recommendations need at least {MIN_BUYERS}: serving the best-sellers")
    if inputs.matrix is None:
        return RecommendResult(run_id, as_of, "none", why, 0, {}, timings, ["nothing to recommend from yet"])
    say("fitting the recommenders")
    t = time.perf_counter()
    hybrid, popularity = fit(inputs)
    timings["fit"] = time.perf_counter() - t
    ids = all_customer_ids(ws, inputs) if customer_ids is None else pd.Index(customer_ids)
    say(f"recommending for {len(ids):,} customers")
    t = time.perf_counter()
    model = hybrid if choice == "hybrid" else popularity
    recs = model.recommend(ids, k=k)
    if choice == "popularity":
        recs["source"] = "popularity"
        recs["is_personal"] = False
        opted = recs["customer_id"].isin(hybrid.opted_out_)
        recs.loc[opted, "reason"] = recs.loc[opted, "reason"] + OPTED_OUT
    timings["recommend"] = time.perf_counter() - t
    recs["as_of"] = as_of
    recs["served"] = choice
    recs["model_version"] = MODEL_VERSION if choice == "hybrid" else "popularity-1"
    recs["run_id"] = run_id
    pairs = _pairs(hybrid, as_of, run_id)
    summary = {"best_sellers": best_sellers(popularity), "weights": hybrid.weights_, "k": k,
               "opted_out": int(len(hybrid.opted_out_)), "products": int(inputs.matrix.n_products),
               "sources": recs["source"].value_counts().to_dict() if len(recs) else {},
               "kinds": pd.Series(hybrid.kinds_.kind_).value_counts(dropna=False).rename(str).to_dict()}
    rows = {}
    if write:
        say("writing")
        t = time.perf_counter()
        rows = store.write_recommendations(ws, recs, pairs, {
            "run_id": run_id, "as_of": as_of, "served": choice, "served_reason": why, "customers": len(ids),
            "rows": len(recs), "model_version": MODEL_VERSION, "summary": summary,
            "timings": {k_: round(v, 3) for k_, v in timings.items()}})
        timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    return RecommendResult(run_id, as_of, choice, why, len(ids), rows, timings, notes, recs)


def _pairs(hybrid: HybridRecommender, as_of, run_id) -> pd.DataFrame:
    part = hybrid.parts_.get("together")
    if part is None or part.rules_.empty:
        return pd.DataFrame()
    r = part.rules_
    return pd.DataFrame({
        "as_of": as_of, "product_id": r["antecedent"], "other_product_id": r["consequent"], "baskets": r["baskets"],
        "support": r["support"], "confidence": r["confidence"], "lift": r["lift"],
        "product_baskets": r["antecedent_baskets"], "other_baskets": r["consequent_baskets"],
        "model_version": "pairs-1", "run_id": run_id,
    })


def recommend_for(ws, customer_ids, k: int = 10, as_of=None) -> pd.DataFrame:
    """Recommendations computed now (nothing stored) for a few customers."""
    as_of = resolve_as_of(ws, as_of, basis=ORDERS)
    inputs = load_inputs(ws, as_of)
    if inputs.matrix is None:
        return pd.DataFrame(columns=["customer_id", "rank", "product_id", "product_name", "score", "reason"])
    hybrid, popularity = fit(inputs)
    choice, _why = served(ws)
    return (hybrid if choice == "hybrid" else popularity).recommend(customer_ids, k=k)

