"""Offline evaluation of top-k recommendations against what customers bought next.

For each customer who bought something in the test window (``truth``), her top ``k``
recommendations made at the cutoff are compared with the products she bought:

- **precision@k**: share of the k recommendations she bought;
- **recall@k**: share of the products she bought that were among the k;
- **hit rate@k**: share of customers for whom at least one of the k was bought
  ("of 100 customers who bought next month, our top 5 contained what they bought for 31");
- **NDCG@k**: discounted cumulative gain, ``sum hit_r / log2(r + 1)`` over ranks r, divided by
  its best possible value (Järvelin & Kekäläinen 2002); rewards hits near the top;
- **coverage**: share of the products on sale that are recommended to anyone;
- **novelty**: mean ``-log2`` of the share of customers who bought each recommended product
  before the cutoff (Zhou et al. 2010): higher means less obvious suggestions.

Metrics are averaged over the customers of ``truth`` (a customer with no recommendation
counts as zero), the convention of e.g. Cremonesi, Koren & Turrin 2010.

Examples
--------
>>> import pandas as pd
>>> recs = pd.DataFrame({"customer_id": ["a", "a", "b", "b"], "rank": [1, 2, 1, 2],
...                      "product_id": ["x", "y", "x", "z"]})
>>> truth = pd.DataFrame({"customer_id": ["a", "b", "b"], "product_id": ["y", "q", "r"]})
>>> m = ranking_metrics(recs, truth, k=2, catalogue=["x", "y", "z", "q", "r"])
>>> round(m["precision"], 3), round(m["recall"], 3), m["hit_rate"], round(m["ndcg"], 3), m["coverage"]
(0.25, 0.5, 0.5, 0.315, 0.6)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["METRICS", "ranking_metrics"]

METRICS = ("precision", "recall", "hit_rate", "ndcg", "coverage", "novelty")


def ranking_metrics(recs: pd.DataFrame, truth: pd.DataFrame, k: int, catalogue=None,
                    popularity: pd.Series | None = None) -> dict:
    """Precision, recall, hit rate, NDCG at ``k``, catalogue coverage and novelty.

    Parameters
    ----------
    recs : DataFrame
        ``customer_id, rank, product_id`` (rank 1 = best); ranks beyond ``k`` are ignored.
    truth : DataFrame
        ``customer_id, product_id`` bought in the test window (the customers judged).
    catalogue : list-like, optional
        Products that could have been recommended (for coverage).
    popularity : Series, optional
        Product -> share of customers who bought it before the cutoff (for novelty).
    """
    truth = truth[["customer_id", "product_id"]].drop_duplicates()
    users = pd.Index(truth["customer_id"].unique())
    n_users = len(users)
    top = recs[(recs["rank"] <= k) & recs["customer_id"].isin(users)][["customer_id", "rank", "product_id"]]
    hits = top.merge(truth.assign(_hit=True), on=["customer_id", "product_id"], how="left")
    hits["_hit"] = hits["_hit"].fillna(False).astype(bool)
    per_user = hits.groupby("customer_id").agg(n_hits=("_hit", "sum"))
    per_user["dcg"] = (hits["_hit"] / np.log2(hits["rank"] + 1)).groupby(hits["customer_id"]).sum()
    relevant = truth.groupby("customer_id").size()
    per_user = per_user.reindex(users).fillna(0.0)
    rel = relevant.reindex(users).to_numpy(dtype=float)
    ideal_len = np.minimum(rel, k).astype(int)
    discounts = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = discounts[ideal_len]
    out = {
        "precision": float((per_user["n_hits"] / k).mean()) if n_users else float("nan"),
        "recall": float((per_user["n_hits"].to_numpy() / rel).mean()) if n_users else float("nan"),
        "hit_rate": float((per_user["n_hits"] > 0).mean()) if n_users else float("nan"),
        "ndcg": float((per_user["dcg"].to_numpy() / idcg).mean()) if n_users else float("nan"),
        "customers": n_users,
    }
    shown = recs[recs["rank"] <= k]["product_id"].unique()
    if catalogue is not None:
        cat = pd.Index(pd.unique(pd.Series(list(catalogue), dtype=object)))
        out["coverage"] = float(len(cat.intersection(pd.Index(shown))) / max(len(cat), 1))
    else:
        out["coverage"] = float("nan")
    if popularity is not None and len(recs):
        share = popularity.reindex(recs.loc[recs["rank"] <= k, "product_id"]).to_numpy(dtype=float)
        floor = 1.0 / max(float(popularity.attrs.get("customers", 0)) or 1e6, 1.0)
        out["novelty"] = float(np.mean(-np.log2(np.clip(np.nan_to_num(share, nan=floor), floor, 1.0))))
    else:
        out["novelty"] = float("nan")
    return out
