"""Item-to-item collaborative filtering on implicit feedback (sparse cosine similarity).

Sarwar, Karypis, Konstan & Riedl (2001), "Item-based collaborative filtering recommendation
algorithms", WWW; Deshpande & Karypis (2004), "Item-based top-N recommendation algorithms",
ACM TOIS. Each product is the vector of its customers' confidence ``log(1 + weight)`` (the
weights of :class:`~regulars.recommend.matrix.InteractionMatrix`: a purchase counts more than
a cart add, a cart add more than a view); two products are similar when the same customers
show interest in both (cosine of their vectors). Only each product's ``neighbours`` most
similar products are kept. A customer's score for a product is the sum of its similarities
to what she interacted with, weighted by her confidence; products she already bought score
NaN (what she re-buys is the usual order's business, not discovery).

Why this and not matrix factorisation (``implicit``'s ALS or BPR): on the demo shop and on
the benchmark shop the item-item scores were as good or better at recall@10 and need no
iterations, no random start and no extra compiled dependency; ``benchmarks/recommend_cf_choice.py``
reruns the comparison.

Examples
--------
>>> import pandas as pd, datetime as dt
>>> frame = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"],
...     "product_id": ["beans", "filter", "beans", "filter", "beans"], "purchases": [1, 1, 1, 1, 1]})
>>> rec = ItemKNNRecommender().fit(frame, "2024-01-01")
>>> rec.recommend(["c"], k=1)[["product_id", "reason"]].values.tolist()
[['filter', 'customers who bought beans also bought it']]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from regulars.recommend.base import BaseRecommender

__all__ = ["ItemKNNRecommender"]

#: Above this many products the similarity matrix is kept sparse.
DENSE_MAX = 4000


class ItemKNNRecommender(BaseRecommender):
    """Item-item cosine similarity on confidence ``log(1 + weight)``.

    Parameters
    ----------
    neighbours : int, default 50
        Similar products kept per product.
    shrink : float, default 10
        Shrinks similarities resting on few common customers: ``sim * n / (n + shrink)``.
    exclude_bought : bool, default True
        Score NaN for products the customer already bought.

    Attributes
    ----------
    similarity_ : ndarray or scipy.sparse matrix
        Product x product similarity (zero diagonal), at most ``neighbours`` per column.
    """

    def __init__(self, neighbours: int = 50, shrink: float = 10.0, exclude_bought: bool = True):
        self.neighbours = neighbours
        self.shrink = shrink
        self.exclude_bought = exclude_bought

    def _fit(self, matrix, **_ignored) -> None:
        conf = matrix.weights.copy()
        conf.data = np.log1p(conf.data)
        self.confidence_ = conf.tocsr()
        items = normalize(conf.T.tocsr(), norm="l2", axis=1)
        sim = (items @ items.T).tocsr()
        binary = (conf > 0).astype(np.float32)
        common = (binary.T @ binary).tocsr()
        if self.shrink:
            shrink = common.copy()
            shrink.data = shrink.data / (shrink.data + self.shrink)
            sim = sim.multiply(shrink).tocsr()
        sim.setdiag(0)
        sim.eliminate_zeros()
        self.similarity_ = _keep_top(sim.astype(np.float32), self.neighbours)
        if matrix.n_products <= DENSE_MAX:
            self.similarity_ = self.similarity_.toarray()

    def _scores(self, rows, ids=None) -> np.ndarray:
        return self._spread(rows, self.confidence_[rows[rows >= 0]], self.similarity_)

    def _explain(self, rows, cols, ids=None) -> np.ndarray:
        """Names the product of her history that adds most to the score."""
        return self._name_strongest(
            rows, cols, self.confidence_[rows[rows >= 0]], self.similarity_,
            "customers with similar tastes bought it",
            lambda names, bought, _j, _c: np.where(bought, "customers who bought ", "customers who looked at ")
            + names + " also bought it")


def _keep_top(sim: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep the ``n`` largest entries of each column."""
    csc = sim.tocsc()
    data, indices, indptr = [], [], [0]
    for c in range(csc.shape[1]):
        lo, hi = csc.indptr[c], csc.indptr[c + 1]
        vals, rows = csc.data[lo:hi], csc.indices[lo:hi]
        if len(vals) > n:
            keep = np.argpartition(-vals, n - 1)[:n]
            vals, rows = vals[keep], rows[keep]
        data.append(vals)
        indices.append(rows)
        indptr.append(indptr[-1] + len(vals))
    out = sp.csc_matrix((np.concatenate(data) if data else [], np.concatenate(indices) if indices else [],
                         indptr), shape=sim.shape)
    return out.tocsr()
