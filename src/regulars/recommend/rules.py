"""Business rules for what may be recommended to whom: durables and consumables.

A product is **consumable** when its buyers come back for it: at least ``consumable_share``
of its buyers bought it in two orders or more; otherwise it is **durable** (a grinder, a
kettle). The shop's own data decides; products with fewer than ``min_buyers`` buyers take
their category's verdict, and stay undecided (no rule applies) when the category has too
few buyers too.

- A **durable** the customer bought in the last ``durable_days`` is not recommended again.
- A **consumable** she bought is held back until it is due again: its typical re-buy
  interval (the median over its repeat buyers of the days between their first and last
  purchase divided by the repeats) must be reached, give or take 20 %, within the next
  ``horizon_days``. Where the replenishment model says it is due for her, it comes back.

Examples
--------
>>> import pandas as pd, datetime as dt
>>> rows = []
>>> for c in range(30):
...     rows.append((f"c{c}", "beans", 3, dt.date(2024, 1, 1), dt.date(2024, 3, 1)))
...     rows.append((f"c{c}", "grinder", 1, dt.date(2024, 2, 1), dt.date(2024, 2, 1)))
>>> frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "purchases", "first_purchase_day",
...                                     "last_purchase_day"])
>>> from regulars.recommend.matrix import InteractionMatrix
>>> m = InteractionMatrix.from_frame(frame, "2024-03-02")
>>> kinds = ProductKinds().fit(m)
>>> kinds.kind_.tolist(), kinds.interval_.round().tolist()
(['consumable', 'durable'], [30.0, nan])
>>> kinds.blocked(m, [0]).tolist()   # the grinder was just bought; beans are due within 30 days
[[False, True]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ProductKinds"]


class ProductKinds:
    """Durable / consumable verdicts per product and the hold-back rules built on them.

    Parameters
    ----------
    consumable_share : float, default 0.15
        Share of buyers buying again above which a product is consumable.
    min_buyers : int, default 20
        Fewer buyers than this: the category decides.
    durable_days : int, default 365
        A durable bought this recently is not recommended again.
    horizon_days : int, default 30
        A consumable comes back when it is due within this many days.
    """

    def __init__(self, consumable_share: float = 0.15, min_buyers: int = 20, durable_days: int = 365,
                 horizon_days: int = 30):
        self.consumable_share = consumable_share
        self.min_buyers = min_buyers
        self.durable_days = durable_days
        self.horizon_days = horizon_days

    def fit(self, matrix, categories=None, schedule_due=None):
        """Decide each product's kind from ``matrix``; ``categories`` (one per product) for the
        fallback; ``schedule_due`` a customer x product matrix, non-zero where the replenishment
        model says the product is due for her within the horizon (that overrides the interval)."""
        p = matrix.purchases.tocsc()
        buyers = np.diff(p.indptr).astype(float)
        repeat = p.copy()
        repeat.data = (repeat.data >= 2).astype(np.float32)
        repeaters = np.asarray(repeat.sum(axis=0)).ravel()
        share = np.where(buyers > 0, repeaters / np.maximum(buyers, 1), np.nan)
        kind = np.where(share >= self.consumable_share, "consumable", "durable").astype(object)
        thin = buyers < self.min_buyers
        kind[thin] = None
        if categories is not None and thin.any():
            cats = pd.Series(np.asarray(categories, dtype=object))
            by_cat = pd.DataFrame({"c": cats, "b": buyers, "r": repeaters}).groupby("c", dropna=True).sum()
            cat_share = (by_cat["r"] / by_cat["b"]).where(by_cat["b"] >= self.min_buyers)
            fallback = cats.map(cat_share).to_numpy(dtype=float)
            decided = thin & np.isfinite(fallback)
            kind[decided] = np.where(fallback[decided] >= self.consumable_share, "consumable", "durable")
        self.kind_ = kind
        self.interval_ = self._intervals(matrix)
        self.schedule_due_ = schedule_due
        return self

    def _intervals(self, matrix) -> np.ndarray:
        out = np.full(matrix.n_products, np.nan)
        if matrix.interval is None or matrix.interval.nnz == 0:
            return out
        per = pd.DataFrame({"c": matrix.interval.indices, "gap": matrix.interval.data})
        med = per.groupby("c")["gap"].median()
        out[med.index.to_numpy()] = med.to_numpy()
        return out

    def blocked(self, matrix, rows) -> np.ndarray:
        """Boolean block ``len(rows) x n_products``: True where a rule holds the product back."""
        rows = np.asarray(rows)
        out = np.zeros((len(rows), matrix.n_products), dtype=bool)
        r, c = self.blocked_cells(matrix, rows)
        out[r, c] = True
        return out

    def blocked_cells(self, matrix, rows) -> tuple[np.ndarray, np.ndarray]:
        """Row (position in ``rows``) and product of every customer x product a rule holds back."""
        rows = np.asarray(rows)
        block = matrix.age[np.maximum(rows, 0)].tocsr()
        r, col = np.repeat(np.arange(len(rows)), np.diff(block.indptr)), block.indices
        days = block.data - 1.0  # days since she last bought it
        kind = self.kind_[col]
        durable = (kind == "durable") & (days < self.durable_days)
        interval = self.interval_[col]
        not_due = (kind == "consumable") & np.isfinite(interval) & (days + self.horizon_days < 0.8 * interval)
        if self.schedule_due_ is not None and self.schedule_due_.nnz and not_due.any():
            idx = np.flatnonzero(not_due)
            due = np.asarray(self.schedule_due_[rows[r[idx]], col[idx]]).ravel() > 0
            not_due[idx[due]] = False
        hold = (durable | not_due) & (rows[r] >= 0)
        return r[hold], col[hold]
