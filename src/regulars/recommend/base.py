"""The interface every recommender follows (scikit-learn's estimator contract).

``fit(interactions, as_of, **data)`` learns from what was knowable before ``as_of``;
``recommend(customer_ids, k)`` returns a frame ``customer_id, rank, product_id, score,
reason`` (plus ``product_name`` when the catalogue was given). Hyperparameters are set in
``__init__``; learned attributes end in ``_``; ``fit`` returns ``self``.

``interactions`` is the frame of :func:`regulars.features.recommend.interactions` or an
:class:`~regulars.recommend.matrix.InteractionMatrix` already built from it (the hybrid
builds it once and hands it to each part). Optional ``data``:

- ``products``: the catalogue (``product_id, name, category, brand, price, is_active``);
- ``baskets``: purchase x product (``basket, product_id``), for frequently bought together;
- ``schedule``: replenishment due dates (``customer_id, product_id, due_date, due_lower,
  due_upper, typical_interval_days``) from :func:`regulars.models.next_order.replenishment_schedule`;
- ``customers``: ``customer_id`` with ``region`` (or another group) and ``accepts_personalization``.

A subclass implements ``_fit(matrix, **data)``, ``_scores(rows, ids)`` (a float32 block
``len(rows) x n_products``, NaN = no opinion; a row of -1 is a customer without history, whose
id is in ``ids``) and ``_explain(rows, cols, ids)`` (one sentence per chosen customer x product).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from regulars.recommend.matrix import InteractionMatrix, cells, chunks, strongest, top_k

__all__ = ["BaseRecommender", "RECOMMENDATION_COLUMNS", "availability", "by_key", "product_names"]

RECOMMENDATION_COLUMNS = ["customer_id", "rank", "product_id", "product_name", "score", "reason"]


def availability(products: pd.DataFrame | None, index: pd.Index) -> np.ndarray:
    """Which products may be recommended: all, except those the catalogue marks inactive.

    A product missing from the catalogue, or with no ``is_active`` value, counts as available
    (the data does not say otherwise).

    >>> cat = pd.DataFrame({"product_id": ["a", "b"], "is_active": [True, False]})
    >>> availability(cat, pd.Index(["a", "b", "c"])).tolist()
    [True, False, True]
    """
    ok = np.ones(len(index), dtype=bool)
    if products is None or "is_active" not in products.columns or products.empty:
        return ok
    flags = products.drop_duplicates("product_id").set_index("product_id")["is_active"]
    known = flags.reindex(index)
    ok[(known == False).to_numpy(dtype=bool, na_value=False)] = False  # noqa: E712 - nullable booleans
    return ok


def product_names(products: pd.DataFrame | None, index: pd.Index) -> np.ndarray:
    """Product name per column (the id when the catalogue has no name)."""
    ids = np.asarray(index, dtype=object)
    if products is None or "name" not in products.columns or products.empty:
        return ids
    names = products.drop_duplicates("product_id").set_index("product_id")["name"].reindex(index)
    return np.where(names.isna().to_numpy(), ids, names.astype(object).to_numpy())


def by_key(key: np.ndarray, build) -> np.ndarray:
    """Sentences for many rows that repeat a few: ``build(first)`` makes the sentence of each distinct
    ``key`` (``first`` = the first row with that key) and every row takes its key's sentence.

    >>> by_key(np.array([7, 3, 7]), lambda first: np.array([f"row {i}" for i in first], dtype=object)).tolist()
    ['row 0', 'row 1', 'row 0']
    """
    if not len(key):
        return np.array([], dtype=object)
    uniques, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return np.asarray(build(first), dtype=object)[inverse]


class BaseRecommender(BaseEstimator):
    """Shared ``fit`` / ``recommend`` machinery; see the module docstring."""

    def fit(self, interactions, as_of=None, **data):
        """Learn from ``interactions`` (a frame or an InteractionMatrix) as of ``as_of``."""
        if isinstance(interactions, InteractionMatrix):
            matrix = interactions
        else:
            if as_of is None:
                raise ValueError("as_of is needed to encode an interaction frame")
            products = data.get("products")
            matrix = InteractionMatrix.from_frame(
                interactions, as_of, products=None if products is None else products["product_id"])
        self.matrix_ = matrix
        self.as_of_ = matrix.as_of
        products = data.get("products")
        self.available_ = availability(products, matrix.products)
        self.product_names_ = product_names(products, matrix.products)
        self._fit(matrix, **data)
        return self

    def _fit(self, matrix: InteractionMatrix, **data) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scores(self, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _explain(self, rows: np.ndarray, cols: np.ndarray, ids: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def score_block(self, rows: np.ndarray, ids=None) -> np.ndarray:
        """Scores of ``rows`` (positions in the matrix, -1 = no history; ``ids`` their customer
        ids), unavailable products NaN."""
        rows = np.asarray(rows)
        ids = np.asarray(self.matrix_.customers, dtype=object)[np.maximum(rows, 0)] if ids is None else np.asarray(ids, dtype=object)
        s = np.array(self._scores(rows, ids), dtype=np.float32, copy=True)
        s[:, ~self.available_] = np.nan
        return s

    def recommend(self, customer_ids, k: int = 10) -> pd.DataFrame:
        """The top ``k`` products for each customer, best first, each with one sentence of reason."""
        check_is_fitted(self, "matrix_")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        given = customer_ids if isinstance(customer_ids, (pd.Index, pd.Series, np.ndarray)) else list(customer_ids)
        ids = pd.Index(pd.unique(np.asarray(given, dtype=object)))  # converted column-wise, not id by id
        rows = self.matrix_.rows(ids)
        parts = [self._recommend_rows(ids[sl], rows[sl], k) for sl in chunks(len(ids), self.matrix_.n_products)]
        if not parts:
            return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
        return pd.concat(parts, ignore_index=True)

    def _recommend_rows(self, ids: pd.Index, rows: np.ndarray, k: int) -> pd.DataFrame:
        ids = np.asarray(ids, dtype=object)
        cols, vals = top_k(self.score_block(rows, ids), k)
        who, rank = np.nonzero(cols >= 0)
        chosen = cols[who, rank]
        reasons = self._explain(rows[who], chosen, ids[who]) if len(who) else np.array([], dtype=object)
        return self._frame(ids[who], rank, chosen, vals[who, rank], reasons)

    def _frame(self, ids, rank, chosen, scores, reasons, **extra) -> pd.DataFrame:
        """The output rows: customer, 1-based rank, product and its name, score, reason (and ``extra`` columns)."""
        return pd.DataFrame({
            "customer_id": ids,
            "rank": (rank + 1).astype(np.int32),
            "product_id": np.asarray(self.matrix_.products, dtype=object)[chosen],
            "product_name": self.product_names_[chosen],
            "score": np.asarray(scores, dtype=np.float64).round(6),
            "reason": reasons,
            **extra,
        })

    def _spread(self, rows: np.ndarray, x: sp.csr_matrix | None, weights) -> np.ndarray:
        """``x @ weights`` for the rows with history (``x`` holds their rows, in order), NaN elsewhere and
        where the result is not positive; with ``exclude_bought``, NaN for what each customer bought."""
        out = np.full((len(rows), self.matrix_.n_products), np.nan, dtype=np.float32)
        known = rows >= 0
        if not known.any():
            return out
        s = x @ weights
        s = np.asarray(s.toarray() if sp.issparse(s) else s, dtype=np.float32)
        np.copyto(s, np.float32(np.nan), where=s <= 0)
        if getattr(self, "exclude_bought", False):
            r, c = cells(self.matrix_.purchases[rows[known]])
            s[r, c] = np.nan
        out[known] = s
        return out

    def _name_strongest(self, rows, cols, x: sp.csr_matrix, weights, default: str, template) -> np.ndarray:
        """One sentence per chosen cell naming the product of her history that adds most to it:
        ``template(names, bought)`` with ``bought`` True where she bought it (not only looked at it)."""
        text = np.full(len(rows), default, dtype=object)
        known = np.flatnonzero(rows >= 0)
        if not len(known):
            return text
        j, _v = strongest(x, weights, cols[known])
        ok = j >= 0
        r, j, chosen = rows[known][ok], j[ok], cols[known][ok]
        bought = np.asarray(self.matrix_.purchases[r, j]).ravel() > 0
        m = self.matrix_.n_products
        key = (j.astype(np.int64) * m + chosen) * 2 + bought

        def build(first):
            names = pd.Series(self.product_names_[j[first]]).astype(str)
            return np.asarray(template(names, bought[first], j[first], chosen[first]), dtype=object)

        text[known[ok]] = by_key(key, build)
        return text
