"""Lead scoring: hot / warm / cold for people with site or e-mail activity but no purchase yet.

Two ways to score, chosen by how much history the shop has:

* **learned** (when earlier leads converted often enough to learn from, see
  :attr:`LeadScorer.min_conversions`): a logistic regression of "bought within
  ``window_days``" on the lead's activity at an earlier snapshot. A lead is **hot** when
  her probability is at least three times the shop's lead conversion rate (and in the top
  tenth), **warm** when at least the average rate, **cold** otherwise.
* **rules** (otherwise): hot = added to cart or began checkout in the last 7 days, or
  clicked an e-mail and viewed products in the last 14 days; warm = any visit, open or
  click in the last 30 days; cold = the rest.

Reasons are sentences about the activity that raised the score, with the lead's values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["LEAD_FEATURES", "LeadScorer"]

LEAD_FEATURES = (
    "days_since_last_visit", "visits_7d", "events_30d", "product_views_30d", "cart_adds_7d", "cart_adds_30d",
    "checkout_30d", "days_since_last_open", "opens_30d", "clicks_30d", "days_since_signup", "accepts_email",
)


def _matrix(X: pd.DataFrame) -> np.ndarray:
    cols = []
    for name in LEAD_FEATURES:
        v = pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if name.startswith("days_since"):
            cols.append(np.isnan(v).astype(float))  # never seen there
            v = np.where(np.isnan(v), 365.0, np.minimum(v, 365.0))
        cols.append(np.log1p(np.maximum(v, 0)))
    return np.column_stack(cols)


def _sentences(X: pd.DataFrame) -> dict[str, pd.Series]:
    """Candidate reason sentence per signal, with the lead's values."""
    def n(c):
        return pd.to_numeric(X[c], errors="coerce")

    def i(s):
        return s.round().astype("Int64").astype(str)

    return {
        "cart": "added " + i(n("cart_adds_30d")) + " item(s) to the cart in the last 30 days",
        "checkout": "started checkout " + i(n("checkout_30d")) + " time(s) in the last 30 days",
        "visit": "visited the site " + i(n("days_since_last_visit")) + " day(s) ago",
        "views": "viewed " + i(n("product_views_30d")) + " product(s) in the last 30 days",
        "click": "clicked " + i(n("clicks_30d")) + " e-mail(s) in the last 30 days",
        "open": "opened an e-mail " + i(n("days_since_last_open")) + " day(s) ago",
        "stale": "no visit or e-mail open in the last 30 days",
    }


class LeadScorer(BaseEstimator):
    """Hot / warm / cold tiers for leads, learned from earlier leads when possible.

    Parameters
    ----------
    min_conversions : int, default 20
        Earlier leads that converted needed before the learned score replaces the rules.
    C : float, default 1.0
        Inverse regularisation of the logistic regression.

    Attributes
    ----------
    method_ : str
        ``learned`` or ``rules``.
    base_rate_ : float or None
        Conversion rate of the earlier leads (learned only).
    model_ : LogisticRegression or None

    Examples
    --------
    >>> X = pd.DataFrame({"days_since_last_visit": [2.0, 20.0, None], "visits_7d": [2, 0, 0],
    ...     "events_30d": [9, 3, 0], "product_views_30d": [4, 1, 0], "cart_adds_7d": [1, 0, 0],
    ...     "cart_adds_30d": [1, 0, 0], "checkout_30d": [0, 0, 0], "days_since_last_open": [None, None, 200.0],
    ...     "opens_30d": [0, 0, 0], "clicks_30d": [0, 0, 0], "days_since_signup": [10.0, 40.0, 300.0],
    ...     "accepts_email": [1, 1, 0]})
    >>> LeadScorer().fit(X, None).tiers(X)["tier"].tolist()
    ['hot', 'warm', 'cold']
    >>> LeadScorer().fit(X).predict(X).tolist()
    ['hot', 'warm', 'cold']
    """

    def __init__(self, min_conversions: int = 20, C: float = 1.0):
        self.min_conversions = min_conversions
        self.C = C

    def fit(self, X: pd.DataFrame | None, y=None):
        """Learn from earlier leads ``X`` and whether each bought afterwards ``y`` (0/1);
        with ``y`` None or too few conversions the rules are used."""
        self.model_, self.base_rate_ = None, None
        self.method_ = "rules"
        if X is not None and y is not None and len(X):
            y = np.asarray(y).astype(int)
            if y.sum() >= self.min_conversions and (len(y) - y.sum()) >= self.min_conversions:
                from sklearn.linear_model import LogisticRegression

                Z = _matrix(X)
                self.mean_, self.scale_ = Z.mean(axis=0), Z.std(axis=0) + 1e-9
                self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit((Z - self.mean_) / self.scale_, y)
                self.base_rate_ = float(y.mean())
                p = self.model_.predict_proba((Z - self.mean_) / self.scale_)[:, 1]
                self.hot_threshold_ = float(max(3 * self.base_rate_, np.quantile(p, 0.9)))
                self.method_ = "learned"
        return self

    def _rules(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        def n(c):
            return pd.to_numeric(X[c], errors="coerce").fillna(0).to_numpy(dtype=float)

        visit = pd.to_numeric(X["days_since_last_visit"], errors="coerce").fillna(1e9).to_numpy()
        opened = pd.to_numeric(X["days_since_last_open"], errors="coerce").fillna(1e9).to_numpy()
        hot = (n("cart_adds_7d") > 0) | ((n("checkout_30d") > 0) & (visit <= 7)) | (
            (n("clicks_30d") > 0) & (n("product_views_30d") > 0) & (visit <= 14))
        warm = (visit <= 30) | (opened <= 30) | (n("clicks_30d") > 0)
        score = (3.0 * n("cart_adds_7d") + 2.0 * n("checkout_30d") + n("clicks_30d") + 0.5 * n("product_views_30d")
                 + np.where(visit <= 7, 2.0, np.where(visit <= 30, 1.0, 0.0)) + np.where(opened <= 30, 0.5, 0.0))
        tier = np.where(hot, "hot", np.where(warm, "warm", "cold"))
        return tier, score

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The tier of each lead: ``hot``, ``warm`` or ``cold``."""
        return self.tiers(X)["tier"].to_numpy()

    def tiers(self, X: pd.DataFrame) -> pd.DataFrame:
        """``tier`` (hot/warm/cold), ``score`` (probability when learned, points with rules)
        and ``reasons`` (list of sentences), one row per lead (same index as ``X``).

        (Not ``score``: in scikit-learn ``score(X, y)`` is a goodness-of-fit.)"""
        check_is_fitted(self, "method_")
        if self.method_ == "learned":
            Z = (_matrix(X) - self.mean_) / self.scale_
            score = self.model_.predict_proba(Z)[:, 1]
            tier = np.where(score >= self.hot_threshold_, "hot", np.where(score >= self.base_rate_, "warm", "cold"))
        else:
            tier, score = self._rules(X)
        out = pd.DataFrame({"tier": tier, "score": score}, index=X.index)
        out["reasons"] = self._reasons(X)
        return out

    @staticmethod
    def _reasons(X: pd.DataFrame) -> pd.Series:
        s = _sentences(X)

        def num(c):
            return pd.to_numeric(X[c], errors="coerce")

        conditions = [
            ("checkout", num("checkout_30d") > 0),
            ("cart", num("cart_adds_30d") > 0),
            ("click", num("clicks_30d") > 0),
            ("visit", num("days_since_last_visit") <= 30),
            ("views", num("product_views_30d") > 0),
            ("open", num("days_since_last_open") <= 30),
        ]
        reasons = [[] for _ in range(len(X))]
        for key, cond in conditions:
            idx = np.flatnonzero(cond.fillna(False).to_numpy(dtype=bool))
            text = s[key].to_numpy()
            for k in idx:
                if len(reasons[k]) < 3:
                    reasons[k].append(text[k])
        stale = s["stale"]
        return pd.Series([r if r else [stale] for r in reasons], index=X.index, dtype=object)
