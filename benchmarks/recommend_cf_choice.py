"""Which collaborative filtering: sparse item-item cosine, or ``implicit``'s ALS / BPR?

Usage::

    python benchmarks/recommend_cf_choice.py --workspace demo.duckdb [--cutoff 2026-08-04] [--days 30]

Fits each on the purchases, cart adds and views before the cutoff (the same
:class:`~regulars.recommend.matrix.InteractionMatrix`, the same "not already bought" rule) and
judges its top 10 on what the customers bought in the ``--days`` after it, next to popularity.
``implicit`` (pinned in the ``bench`` extra; a binary wheel) is needed only here: the product
uses the item-item recommender, which this script showed as good or better (see
``docs/recommendations.md``). ALS: Hu, Koren & Volinsky 2008; BPR: Rendle et al. 2009.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit asks for it; it runs its own threads

import numpy as np
import pandas as pd

from regulars import Workspace
from regulars.features import recommend as features
from regulars.recommend import ItemKNNRecommender, PopularityRecommender
from regulars.recommend.base import BaseRecommender
from regulars.recommend.evaluate import ranking_metrics
from regulars.recommend.matrix import InteractionMatrix


class ImplicitRecommender(BaseRecommender):
    """``implicit``'s ALS or BPR behind the regulars interface (benchmark only)."""

    def __init__(self, model: str = "als", factors: int = 64, iterations: int = 20, regularization: float = 0.05,
                 alpha: float = 10.0, random_state: int = 0):
        self.model = model
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.alpha = alpha
        self.random_state = random_state

    def _fit(self, matrix, **_ignored):
        from implicit.bpr import BayesianPersonalizedRanking
        from implicit.als import AlternatingLeastSquares

        conf = matrix.weights.copy()
        conf.data = np.log1p(conf.data) * self.alpha
        if self.model == "als":
            m = AlternatingLeastSquares(factors=self.factors, iterations=self.iterations,
                                        regularization=self.regularization, random_state=self.random_state)
        else:
            m = BayesianPersonalizedRanking(factors=self.factors, iterations=max(self.iterations, 100),
                                            random_state=self.random_state)
        m.fit(conf.tocsr(), show_progress=False)
        self.user_factors_ = np.asarray(m.user_factors)
        self.item_factors_ = np.asarray(m.item_factors)

    def _scores(self, rows, ids=None):
        out = np.full((len(rows), self.matrix_.n_products), np.nan, dtype=np.float32)
        known = rows >= 0
        s = (self.user_factors_[rows[known]] @ self.item_factors_.T).astype(np.float32)
        r, c = self.matrix_.purchases[rows[known]].nonzero()
        s[r, c] = np.nan
        out[known] = s
        return out

    def _explain(self, rows, cols, ids=None):
        return np.full(len(rows), "customers with similar tastes bought it", dtype=object)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--cutoff", default=None)
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    with Workspace(args.workspace, read_only=True) as ws:
        last = ws.sql("SELECT max(ordered_at)::DATE AS d FROM orders")["d"].iloc[0]
        cutoff = dt.date.fromisoformat(args.cutoff) if args.cutoff else pd.Timestamp(last).date() - dt.timedelta(days=89)
        frame = ws.frame(features.interactions(ws, cutoff))
        products = ws.frame(features.product_catalogue(ws))
        truth = ws.frame(features.purchased_between(ws, cutoff, cutoff + dt.timedelta(days=args.days)))
    matrix = InteractionMatrix.from_frame(frame, cutoff, products=products["product_id"])
    users = truth["customer_id"].unique()
    print(f"cutoff {cutoff}: {matrix.n_customers:,} customers, {matrix.n_products:,} products, "
          f"{len(users):,} buyers in the {args.days} days after")
    for name, est in [("popularity", PopularityRecommender()), ("item-item cosine", ItemKNNRecommender()),
                      ("implicit ALS f=8", ImplicitRecommender("als", factors=8, regularization=10.0, alpha=1.0)),
                      ("implicit ALS f=64", ImplicitRecommender("als")),
                      ("implicit BPR f=64", ImplicitRecommender("bpr"))]:
        t = time.perf_counter()
        est.fit(matrix)
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        recs = est.recommend(users, k=10)
        m = ranking_metrics(recs, truth, 10, catalogue=products["product_id"])
        print(f"{name:18s} fit {fit_s:6.2f}s  recommend {time.perf_counter() - t:5.2f}s  recall@10 {m['recall']:.3f}  "
              f"precision@10 {m['precision']:.3f}  NDCG@10 {m['ndcg']:.3f}  hit rate {m['hit_rate']:.3f}  "
              f"coverage {m['coverage']:.2f}")


if __name__ == "__main__":
    main()
