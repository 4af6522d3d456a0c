"""The customer x product matrix every recommender works on, and top-k selection.

:class:`InteractionMatrix` encodes the interaction frame of
:func:`regulars.features.recommend.interactions` once (customer and product ids to
positions) into sparse matrices, so the hybrid's components share one copy:

- ``weights``: implicit feedback, ``purchase_weight * purchases + cart_weight * cart_adds
  + view_weight * (views + wishlist_adds)`` (a purchase says more than a cart add, a cart add
  more than a view: Hu, Koren & Volinsky 2008 treat such counts as confidence);
- ``purchases``: how many orders held the product;
- ``age``: days from the last purchase of the product to ``as_of`` plus one (so a purchase
  on the eve of ``as_of`` is 1, and a missing purchase stays an implicit zero);
- ``interval``: her re-buy interval of the product, days between her first and last purchase
  of it divided by the purchases after the first (for products bought twice or more).

The product axis is the union of the catalogue and the products interacted with, so a new
product (in the catalogue, never bought) has a column: content-based scoring can reach it.

Examples
--------
>>> import pandas as pd, datetime as dt
>>> frame = pd.DataFrame({"customer_id": ["a", "a", "b"], "product_id": ["x", "y", "x"],
...     "purchases": [2, 0, 1], "views": [0, 3, 0], "cart_adds": [0, 1, 0],
...     "last_purchase_day": [dt.date(2024, 1, 9), None, dt.date(2024, 1, 1)]})
>>> m = InteractionMatrix.from_frame(frame, "2024-01-10", products=["x", "y", "z"])
>>> m.weights.toarray().astype(float).round(2).tolist()
[[2.0, 0.6, 0.0], [1.0, 0.0, 0.0]]
>>> m.age.toarray().tolist()
[[2.0, 0.0, 0.0], [10.0, 0.0, 0.0]]
>>> m.rows(["b", "new"]).tolist()
[1, -1]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from regulars.values import to_date

__all__ = ["InteractionMatrix", "cells", "chunks", "strongest", "top_k"]

#: Dense score blocks are at most this many cells (rows x products), about 80 MB of float32.
CHUNK_CELLS = 20_000_000



@dataclass
class InteractionMatrix:
    """Customers x products: implicit-feedback weights, purchase counts and purchase ages."""

    customers: pd.Index
    products: pd.Index
    weights: sp.csr_matrix
    purchases: sp.csr_matrix
    age: sp.csr_matrix
    as_of: dt.date
    customer_orders: np.ndarray | None = None
    interval: sp.csr_matrix | None = None

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, as_of, products=None, purchase_weight: float = 1.0,
                   cart_weight: float = 0.3, view_weight: float = 0.1) -> "InteractionMatrix":
        """Encode an interaction frame (``customer_id, product_id, purchases`` and optionally
        ``views, cart_adds, wishlist_adds, first_purchase_day, last_purchase_day, customer_orders``)."""
        as_of = to_date(as_of)
        cust_codes, customers = pd.factorize(frame["customer_id"], sort=False)
        seen = pd.Index(pd.unique(frame["product_id"]))
        universe = seen if products is None else pd.Index(pd.unique(pd.Index(list(products)).append(seen)))
        prod_codes = universe.get_indexer(frame["product_id"])

        def col(name, default=0.0):
            if name not in frame.columns:
                return np.full(len(frame), default, dtype=np.float32)
            return pd.to_numeric(frame[name], errors="coerce").fillna(default).to_numpy(dtype=np.float32)

        bought = col("purchases")
        age = np.zeros(len(frame), dtype=np.float32)
        if "last_purchase_day" in frame.columns:
            last = pd.to_datetime(frame["last_purchase_day"])
            days = (pd.Timestamp(as_of) - last).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
            # a purchase without a known day counts as long ago (same sparsity as the purchases)
            age = np.where(bought > 0, np.where(np.isfinite(days), days + 1.0, 1e6), 0.0).astype(np.float32)
        span = None
        if "first_purchase_day" in frame.columns and "last_purchase_day" in frame.columns:
            first = pd.to_datetime(frame["first_purchase_day"])
            gap = (pd.to_datetime(frame["last_purchase_day"]) - first).dt.days.to_numpy(dtype=np.float64, na_value=0.0)
            span = np.where(bought >= 2, gap, 0.0).astype(np.float32)
        orders = None
        if "customer_orders" in frame.columns:
            orders = np.zeros(len(customers), dtype=np.float32)
            orders[cust_codes] = col("customer_orders")
        return cls.from_codes(pd.Index(customers), universe, cust_codes, prod_codes, bought, col("cart_adds"),
                              col("views") + col("wishlist_adds"), age, span, orders, as_of,
                              purchase_weight, cart_weight, view_weight)

    @classmethod
    def from_codes(cls, customers: pd.Index, products: pd.Index, rows, cols, purchases, cart_adds, looks, age,
                   span=None, customer_orders=None, as_of=None, purchase_weight: float = 1.0,
                   cart_weight: float = 0.3, view_weight: float = 0.1) -> "InteractionMatrix":
        """Build from positions (``rows`` into ``customers``, ``cols`` into ``products``) and per-pair
        arrays: purchases, cart adds, looks (views + wishlist adds), age (days since the last purchase
        + 1, 0 = never bought), span (days from the first to the last purchase, or None)."""
        shape = (len(customers), len(products))
        rows, cols = np.asarray(rows, dtype=np.int32), np.asarray(cols, dtype=np.int32)

        def matrix(values):
            m = sp.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=shape, dtype=np.float32)
            m.eliminate_zeros()
            return m

        bought = np.asarray(purchases, dtype=np.float32)
        w = purchase_weight * bought + cart_weight * np.asarray(cart_adds, dtype=np.float32) \
            + view_weight * np.asarray(looks, dtype=np.float32)
        age = np.where(bought > 0, np.maximum(np.asarray(age, dtype=np.float32), 1.0), 0.0)
        orders = None if customer_orders is None else np.asarray(customer_orders, dtype=np.float32)
        interval = None
        if span is not None:
            interval = matrix(np.where(bought >= 2, np.asarray(span, dtype=np.float32) / np.maximum(bought - 1, 1), 0))
        return cls(pd.Index(customers), pd.Index(products), matrix(w), matrix(bought), matrix(age), to_date(as_of),
                   orders, interval)

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def n_products(self) -> int:
        return len(self.products)

    def rows(self, customer_ids) -> np.ndarray:
        """Row of each customer id, -1 for a customer without interactions."""
        return self.customers.get_indexer(pd.Index(customer_ids))

    def recent_buyers(self, days: int) -> sp.csr_matrix:
        """1 where the customer bought the product in the ``days`` days before ``as_of``."""
        a = self.age.copy()
        a.data = (a.data <= days).astype(np.float32)
        a.eliminate_zeros()
        return a


def cells(block: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every stored cell of a CSR block (without building a COO matrix)."""
    return np.repeat(np.arange(block.shape[0]), np.diff(block.indptr)), block.indices


def chunks(n_rows: int, n_products: int):
    """Row slices whose dense score blocks stay under :data:`CHUNK_CELLS` cells."""
    size = max(1, CHUNK_CELLS // max(1, n_products))
    for start in range(0, n_rows, size):
        yield slice(start, min(n_rows, start + size))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` best columns (best first; ties to the lower column) and their scores.

    Cells that are ``-inf`` or NaN are never chosen: their column comes back as -1.

    >>> cols, vals = top_k(np.array([[0.1, 0.9, -np.inf], [np.nan, 0.2, 0.2]], dtype=np.float32), 2)
    >>> cols.tolist(), vals.astype(float).round(1).tolist()
    ([[1, 0], [1, 2]], [[0.9, 0.1], [0.2, 0.2]])
    """
    s = np.where(np.isnan(scores), -np.inf, scores)
    k = min(k, s.shape[1])
    if k <= 0:
        return np.empty((len(s), 0), dtype=np.int64), np.empty((len(s), 0), dtype=s.dtype)
    part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.tile(np.arange(s.shape[1]), (len(s), 1))
    vals = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    cols = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    cols = np.where(np.isfinite(vals), cols, -1)
    return cols, vals


def strongest(x: sp.csr_matrix, weights, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row ``i`` of ``x``: the column ``j`` maximising ``x[i, j] * weights[j, cols[i]]`` and that
    product (``j = -1`` when no product is positive). ``weights`` is dense or sparse, square.

    >>> x = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]]))
    >>> w = np.array([[0.0, 0.0, 0.9], [0.0, 0.0, 0.1], [0.5, 0.0, 0.0]])
    >>> j, v = strongest(x, w, np.array([2, 1]))
    >>> j.tolist(), v.round(2).tolist()
    ([0, -1], [0.9, 0.0])
    """
    n = x.shape[0]
    best_j = np.full(n, -1, dtype=np.int64)
    best_v = np.zeros(n, dtype=np.float64)
    size = max(1, CHUNK_CELLS // max(1, x.shape[1]) // 2)
    for start in range(0, n, size):
        sl = slice(start, min(n, start + size))
        block = x[sl].toarray()
        w = weights[:, cols[sl]]
        w = (w.toarray() if sp.issparse(w) else np.asarray(w)).T
        block *= w
        j = np.argmax(block, axis=1)
        v = block[np.arange(len(j)), j]
        best_j[sl] = np.where(v > 0, j, -1)
        best_v[sl] = np.where(v > 0, v, 0.0)
    return best_j, best_v
