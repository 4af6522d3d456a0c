"""Frequently bought together: association rules between two products, from the baskets.

Agrawal, Imielinski & Swami (1993), "Mining association rules between sets of items in large
databases", SIGMOD; lift after Brin, Motwani, Ullman & Tsur (1997). For products A and B over
``N`` purchases (baskets):

- support(A, B) = baskets with both / N
- confidence(A -> B) = baskets with both / baskets with A
- lift(A -> B) = confidence(A -> B) / (baskets with B / N): above 1, buying A makes B more
  likely than it is in general.

Only pairs are mined (a small shop's baskets hold two or three products), by one sparse
product of the basket x product matrix with itself: co-occurrence counts of every pair at
once. A million baskets take well under a second; ``mlxtend``'s apriori on the same baskets
needs a dense basket x product table and was measured much slower
(``benchmarks/recommend_bench.py``), for the same numbers.

For a customer, the products bought with what she bought in the last ``recent_days`` score
the sum of their confidences (rules with a lift above ``min_lift`` only): a product bought
with several of her recent purchases scores higher.

Examples
--------
>>> import pandas as pd
>>> baskets = pd.DataFrame({"basket": [1, 1, 2, 2, 3, 4],
...                         "product_id": ["kettle", "filters", "kettle", "filters", "kettle", "mug"]})
>>> rules = association_rules(baskets, min_baskets=1)
>>> rules[rules["antecedent"] == "kettle"][["consequent", "support", "confidence", "lift"]].values.tolist()
[['filters', 0.5, 0.666667, 1.333333]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from regulars.recommend.base import BaseRecommender
from regulars.recommend.item_knn import DENSE_MAX

__all__ = ["FrequentlyBoughtTogether", "association_rules", "cooccurrence"]

RULE_COLUMNS = ["antecedent", "consequent", "baskets", "support", "confidence", "lift",
                "antecedent_baskets", "consequent_baskets"]


def cooccurrence(baskets: pd.DataFrame, index: pd.Index | None = None):
    """``(pair counts, product counts, number of baskets, product index)`` from ``basket, product_id`` rows
    (or ``basket, product_code`` rows, codes being positions in ``index``)."""
    b_codes, b_uniques = pd.factorize(baskets["basket"])
    if "product_code" in baskets.columns:  # already positions in ``index``
        p_codes = baskets["product_code"].to_numpy()
    else:
        index = pd.Index(pd.unique(baskets["product_id"])) if index is None else index
        p_codes = index.get_indexer(baskets["product_id"])
    keep = p_codes >= 0
    B = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (b_codes[keep], p_codes[keep])),
                      shape=(len(b_uniques), len(index)))
    B.data[:] = 1.0  # a product twice in one basket counts once
    B.sum_duplicates()
    B.data[:] = 1.0
    pairs = (B.T @ B).tocsr()
    counts = np.asarray(pairs.diagonal()).ravel()
    pairs.setdiag(0)
    pairs.eliminate_zeros()
    return pairs, counts, len(b_uniques), index


def association_rules(baskets: pd.DataFrame, min_baskets: int = 5, min_confidence: float = 0.0,
                      index: pd.Index | None = None) -> pd.DataFrame:
    """Every rule A -> B between two products seen together in at least ``min_baskets`` baskets.

    Columns: ``antecedent, consequent, baskets`` (with both), ``support, confidence, lift,
    antecedent_baskets, consequent_baskets``; sorted by antecedent, then lift (highest first).
    """
    pairs, counts, n, index = cooccurrence(baskets, index)
    return rules_from_counts(pairs, counts, n, index, min_baskets, min_confidence)


def rules_from_counts(pairs, counts, n, index, min_baskets=5, min_confidence=0.0) -> pd.DataFrame:
    coo = pairs.tocoo()
    keep = coo.data >= min_baskets
    a, b, both = coo.row[keep], coo.col[keep], coo.data[keep].astype(np.float64)
    if n == 0 or not len(a):
        return pd.DataFrame(columns=RULE_COLUMNS)
    support = both / n
    confidence = both / counts[a]
    lift = confidence / (counts[b] / n)
    frame = pd.DataFrame({
        "antecedent": np.asarray(index, dtype=object)[a], "consequent": np.asarray(index, dtype=object)[b],
        "baskets": both.astype(np.int64), "support": support.round(6), "confidence": confidence.round(6),
        "lift": lift.round(6), "antecedent_baskets": counts[a].astype(np.int64),
        "consequent_baskets": counts[b].astype(np.int64),
    })
    frame = frame[frame["confidence"] >= min_confidence]
    return frame.sort_values(["antecedent", "lift", "baskets", "consequent"],
                             ascending=[True, False, False, True]).reset_index(drop=True)


class FrequentlyBoughtTogether(BaseRecommender):
    """Products bought with the customer's recent purchases (pair association rules).

    Parameters
    ----------
    min_baskets : int, default 5
        A pair must be seen together in at least this many baskets.
    min_lift : float, default 1.0
        Only rules whose lift exceeds this.
    recent_days : int, default 90
        The customer's purchases in this many days before ``as_of`` are the antecedents
        (her latest purchase day when she bought nothing that recently).
    exclude_bought : bool, default True
        Score NaN for products the customer already bought.

    Attributes
    ----------
    rules_ : pandas.DataFrame
        Every rule kept (see :func:`association_rules`).
    confidence_ : scipy.sparse.csr_matrix
        Confidence of A -> B for the rules kept (zero elsewhere); ``lift_`` alike.
    """

    def __init__(self, min_baskets: int = 5, min_lift: float = 1.0, recent_days: int = 90,
                 exclude_bought: bool = True):
        self.min_baskets = min_baskets
        self.min_lift = min_lift
        self.recent_days = recent_days
        self.exclude_bought = exclude_bought

    def _fit(self, matrix, baskets: pd.DataFrame | None = None, **_ignored) -> None:
        if baskets is None:
            raise ValueError("FrequentlyBoughtTogether needs baskets= (basket, product_id)")
        pairs, counts, n, index = cooccurrence(baskets, matrix.products)
        self.n_baskets_ = n
        self.rules_ = rules_from_counts(pairs, counts, n, index, self.min_baskets)
        r = self.rules_[self.rules_["lift"] > self.min_lift]
        a, b = index.get_indexer(r["antecedent"]), index.get_indexer(r["consequent"])
        shape = (len(index), len(index))
        self.confidence_ = sp.csr_matrix((r["confidence"].to_numpy(np.float32), (a, b)), shape=shape)
        self.lift_ = sp.csr_matrix((r["lift"].to_numpy(np.float32), (a, b)), shape=shape)
        if len(index) <= DENSE_MAX:
            self.confidence_ = self.confidence_.toarray()
        last = matrix.age.tocsr()
        # antecedents: purchases in the recent window, else those of the latest purchase day
        latest = np.full(matrix.n_customers, np.inf, dtype=np.float32)
        filled = np.diff(last.indptr) > 0
        if filled.any():
            latest[filled] = np.minimum.reduceat(last.data, last.indptr[:-1][filled])
        rr = np.repeat(np.arange(matrix.n_customers), np.diff(last.indptr))
        keep = (last.data <= self.recent_days) | (last.data <= latest[rr])
        self.antecedents_ = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32),
                                           (rr[keep], last.indices[keep])), shape=last.shape)

    def _scores(self, rows, ids=None) -> np.ndarray:
        return self._spread(rows, self.antecedents_[rows[rows >= 0]], self.confidence_)

    def _explain(self, rows, cols, ids=None) -> np.ndarray:
        def sentence(names, _bought, j, chosen):
            conf = np.asarray(self.confidence_[j, chosen]).ravel()
            lift = np.asarray(self.lift_[j, chosen]).ravel()
            pct = pd.Series(np.round(conf * 100)).astype(int).astype(str)
            return ("bought together with " + names + " (in " + pct + "% of its orders; "
                    + pd.Series(lift).map("{:.1f}".format) + "x the usual rate)")

        return self._name_strongest(rows, cols, self.antecedents_[rows[rows >= 0]], self.confidence_,
                                    "often bought together with what you bought", sentence)

    def together(self, product_id, k: int = 10) -> pd.DataFrame:
        """The products most often bought with ``product_id``: the rules with it as antecedent, by lift."""
        r = self.rules_[self.rules_["antecedent"] == product_id]
        return r.head(k).reset_index(drop=True)

