"""Ideal customer profile: what the best customers share, and how close everyone else is.

**Who is "best"**: among buyers, a customer's *value-and-loyalty score* is the mean of three
percentile ranks: net revenue, number of purchases and recency (recent = high). The top
``top_share`` (10 %) by that score are the ideal customers (at least ``min_members``).

**What they share**: for each behavioural feature, the ideal customers' mean against the
rest's, as a standardised difference (in standard deviations of everyone) and in words;
for the acquisition channel and region, the values over-represented among them (lift).

**Similarity (0-100)** for every customer and every prospect (someone with events or
e-mail engagement but no purchase): the weighted distance to the ideal customers' centre
in standardised feature space, weights = how strongly each feature sets the ideal
customers apart (|standardised difference|). The score is the share of ideal customers
who are *farther* from the centre than the person: 100 = at the heart of the profile, 50 =
as close as the typical ideal customer, 0 = farther than all of them. Buyers are compared
on all features; prospects only on what a prospect can have (web and e-mail engagement,
product views, cart adds), with the ideal customers' distances measured the same way, so
both scores mean the same thing.

Examples
--------
>>> closeness(np.array([0.0, 1.0, 5.0]), reference=np.array([0.5, 1.5, 2.0, 3.0]))
array([100.,  75.,   0.])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from regulars.segments.clusters import FEATURES, LOG_FEATURES, behavioural_features
from regulars.segments.personas import describe

#: Features a prospect (no purchase yet) can have.
ENGAGEMENT_FEATURES = ("web_engagement", "email_engagement", "product_views", "cart_adds")
ICP_FEATURES = (*FEATURES, "product_views", "cart_adds")
_LOG = (*LOG_FEATURES, "product_views", "cart_adds")


@dataclass
class IdealCustomerProfile:
    """The profile (``traits``, ``lifts``) and everyone's ``scores``."""

    members: list[str]
    traits: pd.DataFrame
    lifts: pd.DataFrame
    scores: pd.DataFrame
    definition: str

    def summary(self, n: int = 5) -> list[str]:
        """The *n* most distinguishing traits, in words."""
        return self.traits.head(n)["text"].tolist()

    def to_dict(self, n_scores: int | None = None) -> dict:
        scores = self.scores if n_scores is None else self.scores.head(n_scores)
        return {
            "definition": self.definition,
            "members": len(self.members),
            "traits": self.traits.replace({np.nan: None}).to_dict(orient="records"),
            "lifts": self.lifts.to_dict(orient="records"),
            "scores": scores.reset_index().replace({np.nan: None}).to_dict(orient="records"),
        }


def closeness(distance: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """100 x the share of *reference* distances that are larger than each distance."""
    ref = np.sort(np.asarray(reference, dtype=float))
    farther = len(ref) - np.searchsorted(ref, np.asarray(distance, dtype=float), side="right")
    return 100.0 * farther / max(len(ref), 1)


def _percentile(s: pd.Series) -> pd.Series:
    return s.rank(pct=True, method="average")


def _people_features(mart: pd.DataFrame) -> pd.DataFrame:
    f = behavioural_features(mart)
    tenure = pd.to_numeric(mart.get("tenure_days"), errors="coerce").fillna(0).to_numpy()
    years = np.maximum(tenure, 30) / 365.0
    for col in ("product_views", "cart_adds"):
        values = pd.to_numeric(mart[col], errors="coerce").fillna(0).to_numpy() if col in mart else 0.0
        f[col] = values / years
    return f


def ideal_customer_profile(mart: pd.DataFrame, top_share: float = 0.1, min_members: int = 5) -> IdealCustomerProfile:
    """Find the ideal customers of an executed features mart and score everyone.

    Parameters
    ----------
    mart : DataFrame
        :func:`regulars.features.mart.customer_features`, executed.
    top_share : float
        Share of buyers taken as ideal customers.
    min_members : int
        Fewest ideal customers; fewer buyers than twice this raises ``ValueError``.

    Returns
    -------
    IdealCustomerProfile
        ``scores`` is indexed by ``customer_id`` with ``kind`` (customer | prospect),
        ``is_ideal`` and ``similarity`` (0-100), highest first.
    """
    if not 0 < top_share < 1:
        raise ValueError(f"top_share must be between 0 and 1, got {top_share}")
    mart = mart.reset_index(drop=True)
    ids = mart["customer_id"].astype(str)
    feats = _people_features(mart)
    orders = pd.to_numeric(mart["orders"], errors="coerce").fillna(0).to_numpy()
    buyer = orders > 0
    if buyer.sum() < 2 * min_members:
        raise ValueError(f"need at least {2 * min_members} customers with a purchase, got {int(buyer.sum())}")
    revenue = pd.to_numeric(mart["revenue"], errors="coerce").fillna(0)
    recency = pd.to_numeric(mart["days_since_last_order"], errors="coerce")
    b = pd.DataFrame({"revenue": revenue[buyer], "orders": orders[buyer], "recency": -recency[buyer]})
    score = (_percentile(b.revenue) + _percentile(b.orders) + _percentile(b.recency.fillna(b.recency.min()))) / 3
    n_ideal = max(min_members, int(round(top_share * len(b))))
    # ties broken by customer id, so the members do not depend on row order
    ranked = pd.DataFrame({"score": score.to_numpy(), "id": ids[buyer].to_numpy()}, index=b.index)
    ideal_index = ranked.sort_values(["score", "id"], ascending=[False, True]).index[:n_ideal]
    is_ideal = np.zeros(len(mart), dtype=bool)
    is_ideal[ideal_index] = True

    # model scale: log of the skewed columns, missing -> buyers' median, z-scored over everyone
    raw = feats[list(ICP_FEATURES)].astype(float).to_numpy().copy()
    for j, name in enumerate(ICP_FEATURES):
        col = raw[:, j]
        med = np.nanmedian(col[buyer]) if np.isfinite(col[buyer]).any() else 0.0
        col[~np.isfinite(col)] = med
        if name in _LOG:
            raw[:, j] = np.log1p(np.clip(col, 0, None))
    sd = raw.std(axis=0)
    z = (raw - raw.mean(axis=0)) / np.where(sd > 0, sd, 1)
    rest = buyer & ~is_ideal
    smd = z[is_ideal].mean(axis=0) - z[rest].mean(axis=0)
    centre = z[is_ideal].mean(axis=0)

    raw_feats = feats[list(ICP_FEATURES)].astype(float)
    traits = []
    for j, name in enumerate(ICP_FEATURES):
        ideal_mean = float(raw_feats[is_ideal][name].mean(skipna=True))
        rest_mean = float(raw_feats[rest][name].mean(skipna=True))
        text = describe(name, ideal_mean, rest_mean) if name in FEATURES else (
            f"{ideal_mean:.0f} {name.replace('_', ' ')} a year (other customers: {rest_mean:.0f})")
        text = text.replace("the average customer", "other customers").replace("average customer", "other customers")
        traits.append({"feature": name, "ideal": ideal_mean, "rest": rest_mean,
                       "difference_sd": float(smd[j]), "text": text})
    traits = pd.DataFrame(traits)
    traits = traits.reindex(traits.difference_sd.abs().sort_values(ascending=False).index).reset_index(drop=True)

    lifts = []
    for col in ("acquisition_channel", "region", "country"):
        if col not in mart.columns:
            continue
        values = mart[col].astype(object).where(mart[col].notna(), "unknown")
        ideal_share = values[is_ideal].value_counts(normalize=True)
        all_share = values[buyer].value_counts(normalize=True)
        for value, share in ideal_share.items():
            lift = share / all_share.get(value, np.nan)
            if share >= 0.05 and lift >= 1.2:
                lifts.append({"column": col, "value": str(value), "ideal_share": round(float(share), 4),
                              "buyer_share": round(float(all_share.get(value, 0)), 4), "lift": round(float(lift), 2)})
    lifts = pd.DataFrame(lifts, columns=["column", "value", "ideal_share", "buyer_share", "lift"])
    lifts = lifts.sort_values("lift", ascending=False).reset_index(drop=True)

    weights = np.abs(smd)
    weights = weights / weights.sum() if weights.sum() > 0 else np.ones_like(weights) / len(weights)
    similarity = np.full(len(mart), np.nan)
    full_d = np.sqrt((((z - centre) ** 2) * weights).sum(axis=1))
    similarity[buyer] = closeness(full_d[buyer], full_d[is_ideal])
    eng = [ICP_FEATURES.index(f) for f in ENGAGEMENT_FEATURES]
    w_eng = weights[eng] / weights[eng].sum() if weights[eng].sum() > 0 else np.ones(len(eng)) / len(eng)
    eng_d = np.sqrt((((z[:, eng] - centre[eng]) ** 2) * w_eng).sum(axis=1))
    similarity[~buyer] = closeness(eng_d[~buyer], eng_d[is_ideal])

    scores = pd.DataFrame(
        {
            "kind": np.where(buyer, "customer", "prospect"),
            "is_ideal": is_ideal,
            "similarity": np.round(similarity, 1),
            "value_loyalty_score": pd.Series(np.nan, index=mart.index).fillna(score).round(4).to_numpy(),
        },
        index=pd.Index(ids, name="customer_id"),
    ).sort_values(["similarity", "value_loyalty_score"], ascending=False)
    definition = (
        f"top {top_share:.0%} of buyers ({n_ideal} customers) by the mean percentile of net revenue, "
        "number of purchases and recency"
    )
    return IdealCustomerProfile(ids[is_ideal].tolist(), traits, lifts, scores, definition)
