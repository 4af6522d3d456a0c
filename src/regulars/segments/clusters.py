"""Behavioural clusters: k-means, hierarchical or HDBSCAN on scaled customer features.

Why this module is long: behavioural clustering is one estimator whose k selection (bootstrap
stability, silhouette), three methods (k-means, Ward, HDBSCAN) and persona descriptions depend on
the same scaled features.

The feature set (:data:`FEATURES`) is derived from the customer features mart
(:func:`regulars.features.mart.customer_features`) by :func:`behavioural_features`:

==================  ======================================================  ==========
feature             from the mart                                           transform
==================  ======================================================  ==========
frequency           purchases per year of tenure (tenure at least 30 days)  log1p
recency             days since the last purchase (never bought: tenure)     log1p
order_value         average order value                                     log1p
discount_share      share of purchases that used a discount, shrunk         -
category_focus      largest category's share of line spend, shrunk          -
web_engagement      web/app sessions per year of tenure                     log1p
email_engagement    e-mail opens / sends                                    -
==================  ======================================================  ==========

Skewed counts and amounts are log-transformed so a handful of heavy buyers does not
stretch the scale; everything is then standardised (mean 0, sd 1). A value that does not
exist (the order value of someone who never bought, the open rate of someone never
e-mailed) is left missing and replaced by the median learned in ``fit``, so non-buyers
are told apart by frequency and recency instead of squashing everyone else's scale with
zeros. The two shares are **shrunk** towards the shop's average with one pseudo-order
(``(n * share + average) / (n + 1)``; for the category focus n counts orders after the
first), because one discounted order or one single-category order says little.

**Choosing k** (k-means and hierarchical, ``n_clusters=None``): for every k in
``k_range`` the model is fitted on a selection sample, scored by the silhouette on a
sub-sample, and its **stability** is the mean adjusted Rand index (ARI) between that
solution and ``n_bootstrap`` refits on bootstrap resamples, all compared on the same
reference customers (k-means; for Ward and HDBSCAN, the mean ARI between every pair of
bootstrap refits).
The chosen k is the **largest stable k that is nearly as well separated as the best**:
among the k whose stability is at least ``min_stability`` (0.8), the largest whose
silhouette is at least ``silhouette_ratio`` (90 %) of the best silhouette among them; when
no k is that stable, the most stable k. Why not simply the best silhouette: on customer
data the silhouette is nearly flat across k and usually peaks at k = 2 (one coarse split,
e.g. frequent vs. occasional), which is stable but too coarse to act on; a finer solution
that is as reproducible and nearly as well separated is more useful (on the demo shop it
recovers the planted types far better, see ``docs/clusters.md``). The table is kept in ``k_scores_`` and the reason in
``selection_``.

**Scale**: selection runs on at most ``selection_sample`` customers; the final k-means
runs on everyone (``MiniBatchKMeans`` above 50,000 customers, started from the
selection's centres), so a million customers take well under a minute. Hierarchical
clustering (Ward) runs on ``hierarchical_sample`` customers and everyone is then assigned
to the nearest cluster centre; HDBSCAN runs on ``hierarchical_sample`` customers, finds
its own number of clusters and assigns everyone the label of their nearest sampled
neighbour (-1 = noise).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame(np.vstack([rng.normal(m, 0.3, (200, 2)) for m in (0, 3, 6)]), columns=["a", "b"])
>>> model = BehaviouralClusters(features=["a", "b"], log_features=(), n_bootstrap=3).fit(X)
>>> model.n_clusters_, round(model.stability_, 2)
(3, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

METHODS = ("kmeans", "hierarchical", "hdbscan")

#: The default behavioural feature set, in the order used for the model.
FEATURES = (
    "frequency",
    "recency",
    "order_value",
    "discount_share",
    "category_focus",
    "web_engagement",
    "email_engagement",
)
#: Features that get ``log1p`` before scaling (counts, rates and money: right-skewed).
LOG_FEATURES = ("frequency", "recency", "order_value", "web_engagement")

#: Plain-word description of each feature, for docs and persona cards.
FEATURE_DOCS = {
    "frequency": "purchases per year",
    "recency": "days since the last purchase",
    "order_value": "average order value",
    "discount_share": "share of purchases with a discount",
    "category_focus": "share of spend in the favourite category",
    "web_engagement": "web sessions per year",
    "email_engagement": "e-mail open rate",
}

_MIN_TENURE_DAYS = 30
_LARGE = 50_000


def _col(mart: pd.DataFrame, name: str, default=np.nan) -> pd.Series:
    if name in mart.columns:
        return pd.to_numeric(mart[name], errors="coerce").astype(float)
    return pd.Series(default, index=mart.index, dtype=float)


def behavioural_features(mart: pd.DataFrame) -> pd.DataFrame:
    """The :data:`FEATURES` of every customer, from an executed features mart.

    Parameters
    ----------
    mart : DataFrame
        Output of :func:`regulars.features.mart.customer_features` (one row per customer;
        columns used: ``customer_id, orders, tenure_days, days_since_last_order, aov,
        discounted_order_share, category_share_*, sessions, email_sends, email_opens``).

    Returns
    -------
    DataFrame indexed by ``customer_id`` (raw scale, before any log or scaling).

    Examples
    --------
    >>> mart = pd.DataFrame({"customer_id": ["a", "b"], "orders": [4, 0], "tenure_days": [730, 10],
    ...                      "days_since_last_order": [20, None], "aov": [25.0, None],
    ...                      "category_share_tea": [0.2, None], "category_share_coffee": [0.8, None]})
    >>> f = behavioural_features(mart)
    >>> f.loc["a", ["frequency", "recency", "order_value"]].tolist()
    [2.0, 20.0, 25.0]
    >>> float(round(f.loc["a", "category_focus"], 3))  # only buyer, so the average is 0.8 too
    0.8
    >>> f.loc["b", ["frequency", "recency"]].tolist(), bool(f.loc["b", ["order_value", "category_focus"]].isna().all())
    ([0.0, 10.0], True)
    """
    mart = mart.reset_index(drop=True)
    orders = _col(mart, "orders", 0).fillna(0)
    buyer = orders > 0
    tenure = _col(mart, "tenure_days").fillna(0)
    years = np.maximum(tenure, _MIN_TENURE_DAYS) / 365.0
    shares = [c for c in mart.columns if c.startswith("category_share_")]
    if shares:
        focus = mart[shares].apply(pd.to_numeric, errors="coerce").max(axis=1, skipna=True)
    else:
        focus = pd.Series(np.nan, index=mart.index)
    sends = _col(mart, "email_sends", 0).fillna(0)
    opens = _col(mart, "email_opens", 0).fillna(0)
    open_rate = (opens / sends.where(sends > 0)).clip(0, 1)
    discount = _col(mart, "discounted_order_share").where(buyer)
    focus = focus.where(buyer)
    out = pd.DataFrame(
        {
            "frequency": orders / years,
            "recency": _col(mart, "days_since_last_order").fillna(tenure).clip(lower=0),
            "order_value": _col(mart, "aov").where(buyer).clip(lower=0),
            "discount_share": _shrink(discount, orders),
            "category_focus": _shrink(focus, orders - 1),
            "web_engagement": _col(mart, "sessions", 0).fillna(0) / years,
            "email_engagement": open_rate,
        }
    )
    out.index = pd.Index(mart["customer_id"].astype(str), name="customer_id")
    return out


def _shrink(share: pd.Series, n: pd.Series, pseudo: float = 1.0) -> pd.Series:
    """``(n * share + pseudo * mean) / (n + pseudo)``: little evidence stays near the average."""
    prior = share.mean(skipna=True)
    if not np.isfinite(prior):
        return share
    n = n.clip(lower=0)
    return (n * share + pseudo * prior) / (n + pseudo)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


class BehaviouralClusters(ClusterMixin, TransformerMixin, BaseEstimator):
    """Clusters of customers on behavioural features (scikit-learn estimator).

    Parameters
    ----------
    method : {"kmeans", "hierarchical", "hdbscan"}
    n_clusters : int, optional
        Fix k instead of choosing it (ignored by HDBSCAN).
    k_range : (int, int)
        Smallest and largest k tried when choosing.
    features : list of str, optional
        Columns of ``X`` to use (default :data:`FEATURES`).
    log_features : list of str
        Columns that get ``log1p`` (default :data:`LOG_FEATURES`).
    min_stability : float
        Bootstrap mean ARI a k needs to be eligible.
    silhouette_ratio : float
        An eligible k must reach this fraction of the best eligible silhouette; the largest
        such k wins. 1.0 gives "the highest silhouette among stable k".
    selection_sample, silhouette_sample, hierarchical_sample : int
        Sample sizes for choosing k, for the silhouette, and for Ward/HDBSCAN.
    n_bootstrap : int
        Bootstrap fits per k for the stability.
    min_cluster_size : int, optional
        HDBSCAN's minimum cluster size (default 2 % of its sample, at least 10).
    n_jobs : int or None
        Threads for scikit-learn's OpenMP/BLAS work. 1 (default) is the fastest on a busy
        two-core machine (OpenMP threads spin when cores are shared); None = no limit.
    random_state : int
    """

    def __init__(
        self,
        method: str = "kmeans",
        n_clusters: int | None = None,
        k_range: tuple[int, int] = (2, 10),
        features: Sequence[str] | None = None,
        log_features: Sequence[str] = LOG_FEATURES,
        min_stability: float = 0.8,
        silhouette_ratio: float = 0.9,
        selection_sample: int = 20_000,
        silhouette_sample: int = 4_000,
        hierarchical_sample: int = 5_000,
        n_bootstrap: int = 8,
        min_cluster_size: int | None = None,
        n_jobs: int | None = 1,
        random_state: int = 0,
    ):
        self.method = method
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.features = features
        self.log_features = log_features
        self.min_stability = min_stability
        self.silhouette_ratio = silhouette_ratio
        self.selection_sample = selection_sample
        self.silhouette_sample = silhouette_sample
        self.hierarchical_sample = hierarchical_sample
        self.n_bootstrap = n_bootstrap
        self.min_cluster_size = min_cluster_size
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- preprocessing -------------------------------------------------------------------
    def _frame(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X, dtype=float), columns=list(self.features or FEATURES))
        names = list(self.features or FEATURES)
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ValueError(
                f"X lacks feature column(s) {', '.join(missing)}; build them with behavioural_features(mart)"
            )
        return X[names].apply(pd.to_numeric, errors="coerce").astype(float)

    def _transform_raw(self, X) -> np.ndarray:
        frame = self._frame(X)
        values = frame.to_numpy(copy=True)
        for j, name in enumerate(frame.columns):
            column = values[:, j]
            column[~np.isfinite(column)] = self.medians_[j]
            if name in self.log_features:
                values[:, j] = np.log1p(np.clip(column, 0, None))
        return values

    def transform(self, X) -> np.ndarray:
        """The scaled feature matrix the clusters live in."""
        check_is_fitted(self, "scaler_")
        return self.scaler_.transform(self._transform_raw(X))

    # -- fitting -------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Choose k (unless fixed), cluster, and keep ``labels_`` for the rows of ``X``."""
        with threadpool_limits(self.n_jobs):
            return self._fit(X)

    def _fit(self, X):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        lo, hi = self.k_range
        if not (2 <= lo <= hi):
            raise ValueError(f"k_range must satisfy 2 <= low <= high, got {self.k_range}")
        frame = self._frame(X)
        if len(frame) < 3:
            raise ValueError(f"need at least 3 customers to cluster, got {len(frame)}")
        self.feature_names_in_ = np.array(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        medians = frame.median(skipna=True).fillna(0).to_numpy()
        self.medians_ = medians
        raw = self._transform_raw(frame)
        self.scaler_ = StandardScaler().fit(raw)
        Z = self.scaler_.transform(raw)
        rng = np.random.default_rng(self.random_state)
        n = Z.shape[0]
        hi = min(hi, n - 1)
        lo = min(lo, hi)

        if self.method == "kmeans":
            self._fit_kmeans(Z, lo, hi, rng)
        elif self.method == "hierarchical":
            self._fit_hierarchical(Z, lo, hi, rng)
        else:
            self._fit_hdbscan(Z, rng)
        self._order_by_size(self._assign(Z))
        self.labels_ = self._assign(Z)
        self.n_clusters_ = int(len(self.cluster_centers_))
        return self

    def _order_by_size(self, labels: np.ndarray) -> None:
        """Renumber clusters by size (0 = largest), so ids do not depend on initialisation."""
        k = len(self.cluster_centers_)
        counts = np.bincount(labels[labels >= 0], minlength=k)
        order = np.lexsort((np.arange(k), -counts))
        self.cluster_centers_ = self.cluster_centers_[order]
        if self.method == "hdbscan":
            new = np.full(k, -1)
            new[order] = np.arange(k)
            old = self._nn_labels_
            self._nn_labels_ = np.where(old >= 0, new[np.clip(old, 0, None)], old)

    def _choose(self, scores: pd.DataFrame) -> int:
        stable = scores[(scores.stability >= self.min_stability) & scores.silhouette.notna()]
        if len(stable):
            top = stable.silhouette.max()
            near = stable[stable.silhouette >= self.silhouette_ratio * top]
            best = near.sort_values("k").iloc[-1]
            self.selection_ = (
                f"k={int(best.k)}: the largest k with bootstrap stability >= {self.min_stability:g} "
                f"(its mean ARI {best.stability:.2f}) and a silhouette ({best.silhouette:.3f}) at least "
                f"{self.silhouette_ratio:.0%} of the best stable one ({top:.3f})"
            )
        else:
            best = scores.sort_values(["stability", "k"], ascending=[False, True]).iloc[0]
            self.selection_ = (
                f"k={int(best.k)}: no k reached stability {self.min_stability:g}; the most stable one "
                f"(mean ARI {best.stability:.2f}, silhouette {best.silhouette:.3f})"
            )
        return int(best.k)

    def _silhouette(self, Z: np.ndarray, labels: np.ndarray, rng) -> float:
        keep = labels >= 0
        Z, labels = Z[keep], labels[keep]
        if len(np.unique(labels)) < 2:
            return float("nan")
        idx = _sample(len(Z), self.silhouette_sample, rng)
        if len(np.unique(labels[idx])) < 2:
            return float("nan")
        return float(silhouette_score(Z[idx], labels[idx]))

    def _stability(self, Z: np.ndarray, fit_predict, rng, reference: np.ndarray | None = None) -> float:
        """Mean ARI of bootstrap fits on the same rows ``Z``: against ``reference`` labels when
        given (the solution that will be used), else between every pair of bootstrap fits."""
        if self.n_bootstrap < 2:
            return float("nan")
        runs = []
        for _ in range(self.n_bootstrap):
            boot = rng.integers(0, len(Z), len(Z))
            runs.append(fit_predict(Z[boot], Z))
        if reference is not None:
            return float(np.mean([adjusted_rand_score(reference, r) for r in runs]))
        aris = [adjusted_rand_score(runs[i], runs[j]) for i in range(len(runs)) for j in range(i + 1, len(runs))]
        return float(np.mean(aris))

    def _fit_kmeans(self, Z, lo, hi, rng):
        sel = Z[_sample(len(Z), self.selection_sample, rng)]
        ref = sel[_sample(len(sel), max(self.silhouette_sample, 2_000), rng)]
        seed = int(rng.integers(2**31 - 1))

        def km(k, data, n_init=3, seed=seed):
            return KMeans(k, n_init=n_init, random_state=seed).fit(data)

        ks = [self.n_clusters] if self.n_clusters else list(range(lo, hi + 1))
        rows, fitted = [], {}
        for k in ks:
            model = km(k, sel)
            fitted[k] = model
            sil = self._silhouette(sel, model.labels_, rng)
            stab = self._stability(
                ref, lambda train, full, k=k: km(k, train, 3, int(rng.integers(2**31 - 1))).predict(full), rng,
                reference=model.predict(ref),
            )
            rows.append({"k": k, "silhouette": sil, "stability": stab, "inertia": float(model.inertia_)})
        self.k_scores_ = pd.DataFrame(rows)
        k = self.n_clusters or self._choose(self.k_scores_)
        if self.n_clusters:
            self.selection_ = f"k={k} fixed by the caller"
        init = fitted[k].cluster_centers_
        if len(Z) > _LARGE:
            final = MiniBatchKMeans(k, init=init, n_init=1, batch_size=4096, max_iter=50,
                                    random_state=seed).fit(Z)
        else:
            final = KMeans(k, init=init, n_init=1, random_state=seed).fit(Z)
        self.cluster_centers_ = final.cluster_centers_
        row = self.k_scores_.set_index("k").loc[k]
        self.silhouette_, self.stability_ = float(row.silhouette), float(row.stability)

    def _ward_labels(self, data: np.ndarray, k: int, tree=None) -> np.ndarray:
        from scipy.cluster.hierarchy import fcluster, linkage

        tree = linkage(data, method="ward") if tree is None else tree
        return fcluster(tree, t=k, criterion="maxclust") - 1

    @staticmethod
    def _centres(data: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.vstack([data[labels == c].mean(axis=0) for c in np.unique(labels) if c >= 0])

    def _fit_hierarchical(self, Z, lo, hi, rng):
        from scipy.cluster.hierarchy import linkage

        sample = Z[_sample(len(Z), self.hierarchical_sample, rng)]
        tree = linkage(sample, method="ward")
        ref = sample[_sample(len(sample), 2_000, rng)]
        ks = [self.n_clusters] if self.n_clusters else list(range(lo, hi + 1))

        def boot_fit(train, full, k):
            labels = self._ward_labels(train, k)
            centres = self._centres(train, labels)
            return _nearest(full, centres)

        rows = []
        for k in ks:
            labels = self._ward_labels(sample, k, tree)
            sil = self._silhouette(sample, labels, rng)
            stab = self._stability(ref, lambda train, full, k=k: boot_fit(train, full, k), rng)
            rows.append({"k": k, "silhouette": sil, "stability": stab})
        self.k_scores_ = pd.DataFrame(rows)
        k = self.n_clusters or self._choose(self.k_scores_)
        if self.n_clusters:
            self.selection_ = f"k={k} fixed by the caller"
        labels = self._ward_labels(sample, k, tree)
        self.cluster_centers_ = self._centres(sample, labels)
        row = self.k_scores_.set_index("k").loc[k]
        self.silhouette_, self.stability_ = float(row.silhouette), float(row.stability)

    def _hdbscan(self, data):
        size = self.min_cluster_size or max(10, int(0.02 * len(data)))
        return HDBSCAN(min_cluster_size=size, copy=True).fit(data).labels_

    def _fit_hdbscan(self, Z, rng):
        sample = Z[_sample(len(Z), self.hierarchical_sample, rng)]
        labels = self._hdbscan(sample)
        if (labels >= 0).sum() == 0:
            raise ValueError("HDBSCAN found no cluster (everyone is noise); lower min_cluster_size")
        self._nn_points_ = sample
        self._nn_labels_ = labels
        self._nn_ = NearestNeighbors(n_neighbors=1).fit(sample)
        self.cluster_centers_ = self._centres(sample, labels)
        ref = sample[_sample(len(sample), 2_000, rng)]

        def boot_fit(train, full):
            lab = self._hdbscan(train)
            nn = NearestNeighbors(n_neighbors=1).fit(train)
            return lab[nn.kneighbors(full, return_distance=False)[:, 0]]

        self.silhouette_ = self._silhouette(sample, labels, rng)
        self.stability_ = self._stability(ref, boot_fit, rng)
        k = int((np.unique(labels) >= 0).sum())
        self.k_scores_ = pd.DataFrame([{"k": k, "silhouette": self.silhouette_, "stability": self.stability_}])
        noise = float((labels < 0).mean())
        self.selection_ = f"k={k} found by HDBSCAN (density); {noise:.0%} of the sample is noise"

    def _assign(self, Z: np.ndarray) -> np.ndarray:
        if self.method == "hdbscan":
            idx = self._nn_.kneighbors(Z, return_distance=False)[:, 0]
            return self._nn_labels_[idx]
        return _nearest(Z, self.cluster_centers_)

    # -- using ---------------------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """Cluster of each row of ``X`` (nearest centre; HDBSCAN: nearest sampled neighbour)."""
        check_is_fitted(self, "cluster_centers_")
        with threadpool_limits(self.n_jobs):
            return self._assign(self.transform(X))

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    def save(self, path: str | Path) -> None:
        """Pickle the fitted model with joblib."""
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "BehaviouralClusters":
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a {cls.__name__}")
        return model


def _nearest(Z: np.ndarray, centres: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """Index of the nearest centre for every row (in chunks, to bound memory)."""
    out = np.empty(len(Z), dtype=np.int64)
    c2 = (centres**2).sum(axis=1)
    for start in range(0, len(Z), chunk):
        block = Z[start : start + chunk]
        d = c2[None, :] - 2 * block @ centres.T
        out[start : start + chunk] = d.argmin(axis=1)
    return out


#: Label of customers who never bought (they are not clustered: they have no purchase behaviour).
NEVER_BOUGHT = -2
#: Label of HDBSCAN's noise.
NOISE = -1
#: Label of customers with no net spend: every purchase returned, refunded or free, or only
#: returns on record. Their order values of 0 (or below) would form a bogus "budget" cluster.
NO_NET_SPEND = -3


def cluster_customers(mart: pd.DataFrame, **params) -> tuple[BehaviouralClusters, pd.DataFrame]:
    """Cluster the buyers of an executed features mart; never-buyers get :data:`NEVER_BOUGHT`,
    customers with no net spend :data:`NO_NET_SPEND`.

    Customers without a purchase have no order value, discount or category behaviour, so
    they would form one trivial cluster and stretch every scale; they are kept aside as
    their own group (persona cards describe them too). So are customers whose purchases were
    all returned, refunded or free (or who have only returns on record): their order value
    of 0 says nothing about their baskets.

    Parameters
    ----------
    mart : DataFrame
        :func:`regulars.features.mart.customer_features`, executed.
    **params
        :class:`BehaviouralClusters` parameters (``method``, ``n_clusters`` ...).

    Returns
    -------
    (model, frame)
        The fitted model and a frame indexed by ``customer_id`` with the behavioural
        features and a ``cluster`` column.
    """
    # sorted, so the samples drawn (and so the result) do not depend on the mart's row order
    features = behavioural_features(mart).sort_index()
    revenue = _col(mart.set_index(mart["customer_id"].astype(str)), "revenue", 0.0).reindex(features.index).fillna(0.0)
    bought = (features["frequency"] > 0).to_numpy()
    spent = (revenue > 0).to_numpy()
    buyers = bought & spent
    if buyers.sum() < 3:
        raise ValueError(f"need at least 3 customers with a purchase to cluster, got {int(buyers.sum())}")
    model = BehaviouralClusters(**params).fit(features[buyers])
    labels = np.full(len(features), NEVER_BOUGHT, dtype=np.int64)
    labels[(bought & ~spent) | (~bought & (revenue < 0).to_numpy())] = NO_NET_SPEND
    labels[buyers] = model.labels_
    frame = features.copy()
    frame["cluster"] = labels
    return model, frame
