"""The hybrid: every recommender's opinion blended into one list, with the shop's rules.

For each customer, each part's scores are scaled so that its best product scores 1, then
added with the part's weight (Burke 2002, "Hybrid recommender systems: survey and
experiments", weighted hybrid). The reason shown for a product is the one of the part that
added most to its score.

Fallbacks and rules:

- a **new customer** (no history) gets the recent best-sellers of her group (region) or of
  the shop: ``source = "popularity"``;
- a customer who **opted out of personalisation** (``accepts_personalization = false``) gets
  the shop-wide best-sellers and nothing from her history; ``is_personal`` is false and the
  reason says so;
- a **new product** (in the catalogue, never bought) can still come from the content part;
- products the catalogue marks **inactive** are never recommended;
- a **durable** bought within ``durable_days`` is not recommended again, a **consumable**
  only when it is due again (:class:`~regulars.recommend.rules.ProductKinds`).

Examples
--------
>>> import pandas as pd, datetime as dt
>>> d = dt.date(2024, 2, 20)
>>> frame = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"], "product_id": ["beans", "filter", "beans",
...     "filter", "beans"], "purchases": [3, 1, 1, 1, 1], "customer_orders": [3, 3, 1, 1, 1],
...     "last_purchase_day": [d] * 5})
>>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "accepts_personalization": [True, True, False]})
>>> rec = HybridRecommender().fit(frame, "2024-03-01", customers=customers)
>>> out = rec.recommend(["a", "c", "new"], k=1)
>>> out[["customer_id", "product_id", "source", "is_personal"]].values.tolist()
[['a', 'beans', 'usual_order', True], ['c', 'beans', 'popularity', False], ['new', 'beans', 'popularity', True]]
>>> out["reason"].iloc[1]
'a best-seller: 3 customers bought it in the last 90 days (personalised recommendations are off for this customer)'
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from regulars.recommend.base import BaseRecommender
from regulars.recommend.content import ContentRecommender
from regulars.recommend.item_knn import ItemKNNRecommender
from regulars.recommend.matrix import cells, top_k
from regulars.recommend.popularity import PopularityRecommender
from regulars.recommend.repeat import ReplenishmentRecommender, UsualOrderRecommender
from regulars.recommend.rules import ProductKinds
from regulars.recommend.together import FrequentlyBoughtTogether

__all__ = ["DEFAULT_WEIGHTS", "HybridRecommender", "OPTED_OUT"]

#: Weight of each part (its best product per customer scores 1 before weighting).
DEFAULT_WEIGHTS = {"replenishment": 1.0, "usual_order": 1.0, "item_knn": 0.6, "together": 0.4,
                   "content": 0.25, "popularity": 0.35}
OPTED_OUT = " (personalised recommendations are off for this customer)"


class HybridRecommender(BaseRecommender):
    """Weighted blend of popularity, item-item CF, content, bought-together, usual order and
    replenishment, with fallbacks and business rules.

    Parameters
    ----------
    weights : dict, optional
        Part name -> weight (default :data:`DEFAULT_WEIGHTS`); a part with weight 0 is not fitted.
    popularity_window : int, default 90
        Days of purchases the best-sellers count.
    group_column : str, default "region"
        Column of ``customers`` grouping the best-sellers (ignored when absent).
    horizon_days : int, default 30
        How far ahead replenishment and consumables look.
    durable_days : int, default 365
        A durable bought this recently is not recommended again.

    Attributes
    ----------
    parts_ : dict
        The fitted parts, by name.
    kinds_ : ProductKinds
        Durable / consumable verdicts.
    opted_out_ : pandas.Index
        Customers who refused personalisation as of ``as_of``.
    """

    def __init__(self, weights: dict | None = None, popularity_window: int = 90, group_column: str = "region",
                 horizon_days: int = 30, durable_days: int = 365):
        self.weights = weights
        self.popularity_window = popularity_window
        self.group_column = group_column
        self.horizon_days = horizon_days
        self.durable_days = durable_days

    def _parts(self) -> dict:
        return {
            "popularity": PopularityRecommender(self.popularity_window, group_column=self.group_column),
            "replenishment": ReplenishmentRecommender(self.horizon_days),
            "usual_order": UsualOrderRecommender(),
            "item_knn": ItemKNNRecommender(),
            "together": FrequentlyBoughtTogether(),
            "content": ContentRecommender(),
        }

    def _fit(self, matrix, products=None, baskets=None, schedule=None, customers=None, **_ignored) -> None:
        weights = {**DEFAULT_WEIGHTS, **(self.weights or {})}
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown hybrid parts {sorted(unknown)}; known: {sorted(DEFAULT_WEIGHTS)}")
        self.weights_ = weights
        data = {"products": products, "baskets": baskets, "schedule": schedule, "customers": customers}
        self.parts_ = {}
        for name, part in self._parts().items():
            if weights.get(name, 0) <= 0 and name != "popularity":
                continue
            if name == "together" and baskets is None:
                continue
            self.parts_[name] = part.fit(matrix, **data)
        self.global_popularity_ = PopularityRecommender(self.popularity_window).fit(matrix, products=products)
        categories = None
        if products is not None and "category" in products.columns:
            categories = products.drop_duplicates("product_id").set_index("product_id")["category"].reindex(
                matrix.products).to_numpy(dtype=object)
        due = self.parts_["replenishment"].due_ if "replenishment" in self.parts_ else None
        self.kinds_ = ProductKinds(horizon_days=self.horizon_days, durable_days=self.durable_days).fit(
            matrix, categories, schedule_due=due)
        opted = pd.Index([])
        if customers is not None and "accepts_personalization" in customers.columns:
            flag = customers["accepts_personalization"]
            opted = pd.Index(customers.loc[(flag == False).to_numpy(dtype=bool, na_value=False),  # noqa: E712
                                           "customer_id"])
        self.opted_out_ = opted

    def _popularity_table(self) -> np.ndarray:
        """Row 0: the shop-wide list; row g + 1: group g's; each scaled so its best available product is 1."""
        pop = self.parts_["popularity"]
        table = np.vstack([self.global_popularity_.shares_[None, :], pop.group_scores_]).astype(np.float32)
        table[:, ~self.available_] = 0.0
        top = table.max(axis=1, keepdims=True)
        return np.divide(table, top, out=np.zeros_like(table), where=top > 0)

    def _blend(self, rows: np.ndarray, ids: np.ndarray):
        """Combined scores, each part's weighted contribution (dense block or sparse), and which rows are personal."""
        personal = ~pd.Index(ids).isin(self.opted_out_)
        groups = self.parts_["popularity"].group_rows(rows, ids)
        groups = np.where(personal, groups + 1, 0)  # opted out: the shop-wide list
        w_pop = np.float32(self.weights_["popularity"])
        total = self._popularity_table()[groups] * w_pop
        contributions = {"popularity": total.copy()}
        prows = np.where(personal, rows, -1)
        for name, part in self.parts_.items():
            w = np.float32(self.weights_[name])
            if name == "popularity":
                continue
            if hasattr(part, "sparse_scores"):
                block = part.sparse_scores(prows).tocsr()
                if block.nnz:
                    block.sum_duplicates()
                    top = block.max(axis=1).toarray().ravel()
                    scale = np.divide(w, top, out=np.zeros_like(top), where=top > 0).astype(np.float32)
                    r, c = cells(block)
                    block.data = (block.data * scale[r]).astype(np.float32)
                    total[r, c] += block.data
                contributions[name] = block
                continue
            s = part._scores(prows)
            top = np.fmax.reduce(s, axis=1)
            scale = np.divide(w, top, out=np.zeros_like(top), where=np.isfinite(top) & (top > 0))
            np.nan_to_num(s, copy=False, nan=0.0)
            s *= scale[:, None]
            total += s
            contributions[name] = s
        r, c = self.kinds_.blocked_cells(self.matrix_, prows)
        total[r, c] = np.nan
        total[:, ~self.available_] = np.nan
        np.copyto(total, np.float32(np.nan), where=total <= 0)
        return total, contributions, personal

    def _scores(self, rows, ids=None) -> np.ndarray:
        ids = np.asarray(self.matrix_.customers, dtype=object)[np.maximum(rows, 0)] if ids is None else ids
        return self._blend(np.asarray(rows), np.asarray(ids, dtype=object))[0]

    def _recommend_rows(self, ids, rows, k) -> pd.DataFrame:
        ids = np.asarray(ids, dtype=object)
        total, contributions, personal = self._blend(rows, ids)
        cols, vals = top_k(total, k)
        del total
        who, rank = np.nonzero(cols >= 0)
        chosen = cols[who, rank]
        names = list(contributions)
        stack = np.zeros((len(who), len(names)), dtype=np.float32)
        for i, name in enumerate(names):
            c = contributions[name]
            stack[:, i] = np.asarray(c[who, chosen]).ravel() if sp.issparse(c) else c[who, chosen]
        del contributions
        source = np.asarray(names, dtype=object)[np.argmax(stack, axis=1)] if len(who) else np.array([], dtype=object)
        reason = np.empty(len(who), dtype=object)
        for name in names:
            m = source == name
            if m.any():
                reason[m] = self.parts_[name]._explain(rows[who][m], chosen[m], ids[who][m])
        out_of = ~personal[who]
        if out_of.any():
            plain = self.global_popularity_._explain(np.full(int(out_of.sum()), -1), chosen[out_of], ids[who][out_of])
            reason[out_of] = np.array([t + OPTED_OUT for t in plain], dtype=object)
            source[out_of] = "popularity"
        return self._frame(ids[who], rank, chosen, vals[who, rank], reason, source=source, is_personal=personal[who])

    def _explain(self, rows, cols, ids=None):  # pragma: no cover - _recommend_rows explains
        raise NotImplementedError

