"""Popularity: the recent best-sellers, overall or within the customer's group (the baseline).

A product's popularity is the number of distinct customers who bought it in the
``window_days`` days before ``as_of``. With a group (the customer's region, or a segment),
each group's counts are shrunk towards the shop's (an empirical-Bayes average with
``shrinkage`` customers' worth of the shop-wide shares), so a small group does not follow the
whims of a handful of buyers:

    score(g, i) = (buyers(g, i) + shrinkage * share(i)) / (buyers(g) + shrinkage)

Customers without a group, and new customers, get the shop-wide shares. It recommends the
same list to everyone of a group, including products they already own: that is what the
best-sellers list on a shop's home page does, and what every other recommender must beat.

Examples
--------
>>> import pandas as pd, datetime as dt
>>> day = dt.date(2024, 3, 1)
>>> frame = pd.DataFrame({"customer_id": ["a", "b", "c", "c"], "product_id": ["x", "x", "y", "x"],
...     "purchases": [1, 1, 1, 1], "last_purchase_day": [day] * 4})
>>> rec = PopularityRecommender(window_days=30).fit(frame, "2024-03-10")
>>> rec.recommend(["new"], k=2)[["product_id", "score"]].values.tolist()
[['x', 1.0], ['y', 0.333333]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from regulars.recommend.base import BaseRecommender, by_key

__all__ = ["PopularityRecommender"]


class PopularityRecommender(BaseRecommender):
    """Recent best-sellers, optionally per group of customers.

    Parameters
    ----------
    window_days : int, default 90
        Buyers in this many days before ``as_of`` count.
    group_column : str, optional
        Column of the ``customers`` frame given to ``fit`` that groups customers (e.g.
        ``"region"``). ``None``: one list for the whole shop.
    shrinkage : float, default 50
        Pseudo-customers of the shop-wide shares added to each group.

    Attributes
    ----------
    counts_ : ndarray
        Recent buyers per product (shop-wide); ``buyers_`` the number of recent buyers.
    groups_ : pandas.Index
        The groups seen; ``group_scores_`` their score per product.
    """

    def __init__(self, window_days: int = 90, group_column: str | None = None, shrinkage: float = 50.0):
        self.window_days = window_days
        self.group_column = group_column
        self.shrinkage = shrinkage

    def _fit(self, matrix, customers: pd.DataFrame | None = None, **_ignored) -> None:
        recent = matrix.recent_buyers(self.window_days)
        counts = np.asarray(recent.sum(axis=0)).ravel()
        buyers = int((recent.getnnz(axis=1) > 0).sum())
        if buyers == 0:  # nothing recent: fall back to all history
            recent = (matrix.purchases > 0).astype(np.float32)
            counts = np.asarray(recent.sum(axis=0)).ravel()
            buyers = int((recent.getnnz(axis=1) > 0).sum())
        self.counts_, self.buyers_ = counts, buyers
        self.shares_ = (counts / max(buyers, 1)).astype(np.float32)
        self.customer_group_ = np.full(matrix.n_customers, -1, dtype=np.int64)
        self.groups_ = pd.Index([])
        self.group_scores_ = np.empty((0, matrix.n_products), dtype=np.float32)
        self.row_group_of_ = {}
        if self.group_column and customers is not None and self.group_column in customers.columns:
            groups = customers.drop_duplicates("customer_id").set_index("customer_id")[self.group_column]
            labels = groups.reindex(matrix.customers)
            codes, uniques = pd.factorize(labels)  # NaN -> -1
            self.groups_ = pd.Index(uniques)
            self.customer_group_ = codes.astype(np.int64)
            has = codes >= 0
            onehot = sp.csr_matrix((np.ones(int(has.sum()), dtype=np.float32), (codes[has], np.flatnonzero(has))),
                                   shape=(len(uniques), matrix.n_customers))
            per_group = np.asarray((onehot @ recent).todense())
            group_buyers = np.asarray(onehot @ (recent.getnnz(axis=1) > 0).astype(np.float32)).ravel()
            m = float(self.shrinkage)
            self.group_scores_ = ((per_group + m * self.shares_) / (group_buyers[:, None] + m)).astype(np.float32)
            self.group_of_ = groups

    def group_rows(self, rows: np.ndarray, ids=None) -> np.ndarray:
        """The group code of each customer (-1: the shop-wide list)."""
        rows = np.asarray(rows)
        out = np.where(rows >= 0, self.customer_group_[np.maximum(rows, 0)], -1)
        missing = rows < 0
        if ids is not None and len(self.groups_) and missing.any():
            # customers without history still have a group when the customers frame knew them
            labels = self.group_of_.reindex(pd.Index(np.asarray(ids, dtype=object)[missing]))
            out[missing] = self.groups_.get_indexer(labels)
        return out

    def _scores(self, rows: np.ndarray, ids=None) -> np.ndarray:
        groups = self.group_rows(rows, ids)
        out = np.broadcast_to(self.shares_, (len(rows), len(self.shares_))).copy()
        has = groups >= 0
        if has.any():
            out[has] = self.group_scores_[groups[has]]
        return out

    def _explain(self, rows: np.ndarray, cols: np.ndarray, ids=None) -> np.ndarray:
        groups = self.group_rows(rows, ids)
        days = f" in the last {self.window_days} days"
        labels = np.asarray(self.groups_, dtype=object)

        def sentence(c, g):
            if g >= 0:
                return f"popular in {labels[g]}: a best-seller there{days}"
            return f"a best-seller: {int(self.counts_[c]):,} customers bought it{days}"

        key = cols.astype(np.int64) * (len(labels) + 1) + (groups + 1)
        return by_key(key, lambda f: [sentence(c, g) for c, g in zip(cols[f], groups[f])])
