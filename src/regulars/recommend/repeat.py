"""What a customer buys again: her usual order, and what is due for a re-buy.

**Usual order** (the repeat basket): products in at least ``min_orders`` of her orders,
scored by the share of her orders holding them, faded by how long ago she last bought them
(half-life ``half_life_days``). A regular's staples are the best guess of her next basket.

**Replenishment due**: the due dates of :func:`regulars.models.next_order.replenishment_schedule`
(the same model ``regulars predict`` stores in ``replenishments``): a product scores when its
80 % due range meets the next ``horizon_days``, the closer the median due date the higher.

Examples
--------
>>> import pandas as pd, datetime as dt
>>> frame = pd.DataFrame({"customer_id": ["a", "a"], "product_id": ["beans", "mug"], "purchases": [3, 1],
...     "customer_orders": [4, 4], "last_purchase_day": [dt.date(2024, 1, 20), dt.date(2024, 1, 2)]})
>>> UsualOrderRecommender().fit(frame, "2024-02-01").recommend(["a"])[["product_id", "reason"]].values.tolist()
[['beans', 'in 3 of your 4 orders']]
>>> schedule = pd.DataFrame({"customer_id": ["a"], "product_id": ["beans"], "due_date": [dt.date(2024, 2, 5)],
...     "due_lower": [dt.date(2024, 2, 1)], "due_upper": [dt.date(2024, 2, 12)], "typical_interval_days": [14.0]})
>>> rec = ReplenishmentRecommender().fit(frame, "2024-02-01", schedule=schedule)
>>> rec.recommend(["a"])[["product_id", "reason"]].values.tolist()
[['beans', 'due for a re-buy around 2024-02-05 (you buy it every ~14 days)']]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from regulars.recommend.base import BaseRecommender, by_key

__all__ = ["ReplenishmentRecommender", "UsualOrderRecommender"]


class UsualOrderRecommender(BaseRecommender):
    """The customer's repeat basket.

    Parameters
    ----------
    min_orders : int, default 2
        A product must be in at least this many of her orders.
    half_life_days : float, default 180
        The score halves for every this many days since she last bought it.

    Attributes
    ----------
    orders_ : ndarray
        Orders per customer (``customer_orders`` of the interaction frame, else the most
        orders any of her products was in).
    """

    def __init__(self, min_orders: int = 2, half_life_days: float = 180.0):
        self.min_orders = min_orders
        self.half_life_days = half_life_days

    def _fit(self, matrix, **_ignored) -> None:
        p = matrix.purchases.tocsr()
        most = np.asarray(p.max(axis=1).todense()).ravel() if p.nnz else np.zeros(matrix.n_customers)
        orders = matrix.customer_orders if matrix.customer_orders is not None else most
        self.orders_ = np.maximum(np.asarray(orders, dtype=np.float32), most).astype(np.float32)

    def sparse_scores(self, rows) -> sp.csr_matrix:
        """Scores of ``rows`` as a sparse block (rows of -1 are empty)."""
        rows = np.asarray(rows)
        p = self.matrix_.purchases[np.maximum(rows, 0)].tocsr()
        age = self.matrix_.age[np.maximum(rows, 0)].tocsr()  # same pattern as the purchases
        r = np.repeat(np.arange(len(rows)), np.diff(p.indptr))
        share = p.data / np.maximum(self.orders_[np.maximum(rows, 0)][r], 1)
        fade = np.power(0.5, np.maximum(age.data - 1, 0) / self.half_life_days)
        keep = (p.data >= self.min_orders) & (rows[r] >= 0)
        return sp.csr_matrix(((share * fade)[keep].astype(np.float32), (r[keep], p.indices[keep])),
                             shape=(len(rows), self.matrix_.n_products))

    def _scores(self, rows, ids=None) -> np.ndarray:
        return _dense(self.sparse_scores(rows))

    def _explain(self, rows, cols, ids=None) -> np.ndarray:
        n = np.asarray(self.matrix_.purchases[np.maximum(rows, 0), cols]).ravel().astype(np.int64)
        m = self.orders_[np.maximum(rows, 0)].astype(np.int64)
        return by_key(n * 1_000_000 + m, lambda f: [f"in {a} of your {b} orders" for a, b in zip(n[f], m[f])])


class ReplenishmentRecommender(BaseRecommender):
    """Products due for a re-buy, from the replenishment schedule.

    Parameters
    ----------
    horizon_days : int, default 30
        A product is due when its 80 % due range meets ``as_of .. as_of + horizon_days``.

    Attributes
    ----------
    due_ : scipy.sparse.csr_matrix
        Score per due customer x product (zero elsewhere).
    """

    def __init__(self, horizon_days: int = 30):
        self.horizon_days = horizon_days

    def _fit(self, matrix, schedule: pd.DataFrame | None = None, **_ignored) -> None:
        shape = (matrix.n_customers, matrix.n_products)
        self.due_ = sp.csr_matrix(shape, dtype=np.float32)
        if schedule is None or schedule.empty:
            return
        s = schedule.copy()
        s["row"] = matrix.rows(s["customer_id"])
        s["col"] = matrix.products.get_indexer(s["product_id"])
        s = s[(s["row"] >= 0) & (s["col"] >= 0)]
        start = pd.Timestamp(matrix.as_of)
        end = start + pd.Timedelta(days=self.horizon_days)
        lower = pd.to_datetime(s["due_lower"].fillna(s["due_date"]))
        upper = pd.to_datetime(s["due_upper"].fillna(s["due_date"]))
        due = pd.to_datetime(s["due_date"])
        meets = (lower <= end) & (upper >= start)
        s = s[meets.to_numpy()]
        due = due[meets.to_numpy()]
        interval = pd.to_numeric(s["typical_interval_days"], errors="coerce").fillna(30.0).clip(lower=1.0)
        middle = start + pd.Timedelta(days=self.horizon_days / 2)
        distance = (due - middle).dt.days.abs().to_numpy(dtype=float)
        score = np.exp(-distance / np.maximum(interval.to_numpy(), self.horizon_days)).astype(np.float32)
        self.due_ = sp.csr_matrix((score, (s["row"].to_numpy(), s["col"].to_numpy())), shape=shape)
        self.schedule_ = s.assign(due_date=due.dt.date.to_numpy(), interval=interval.to_numpy()).set_index(["row", "col"])

    def sparse_scores(self, rows) -> sp.csr_matrix:
        """Scores of ``rows`` as a sparse block (rows of -1 are empty)."""
        rows = np.asarray(rows)
        d = self.due_[np.maximum(rows, 0)].tocsr()
        d = sp.diags((rows >= 0).astype(np.float32)) @ d
        d.eliminate_zeros()
        return d.tocsr()

    def _scores(self, rows, ids=None) -> np.ndarray:
        return _dense(self.sparse_scores(rows))

    def _explain(self, rows, cols, ids=None) -> np.ndarray:
        info = self.schedule_.reindex(pd.MultiIndex.from_arrays([rows, cols]))
        due = pd.to_datetime(info["due_date"].to_numpy())
        day = np.where(due.isna(), -1, (due - pd.Timestamp("1970-01-01")).days).astype(np.int64)
        every = info["interval"].round().fillna(0).to_numpy(dtype=np.int64)
        today = (pd.Timestamp(self.as_of_) - pd.Timestamp("1970-01-01")).days

        def sentence(d, e):
            if d < 0:
                return f"due for a re-buy soon (you buy it every ~{e} days)"
            when = (pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(d))).date()
            lead = "overdue for a re-buy since" if d < today else "due for a re-buy around"
            return f"{lead} {when} (you buy it every ~{e} days)"

        return by_key(day * 100_000 + every, lambda f: [sentence(d, e) for d, e in zip(day[f], every[f])])


def _dense(block: sp.csr_matrix) -> np.ndarray:
    """A sparse score block as a dense one with NaN where there is no score."""
    out = np.full(block.shape, np.nan, dtype=np.float32)
    coo = block.tocoo()
    out[coo.row, coo.col] = coo.data
    return out
