"""Clusters, persona cards and the ideal customer profile, for the CLI and the dashboard.

>>> sorted(ClusterReport.__dataclass_fields__)
['assignments', 'cards', 'k_scores', 'method', 'n_clusters', 'selection', 'silhouette', 'stability']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from regulars.features.mart import customer_features
from regulars.segments.clusters import cluster_customers
from regulars.segments.icp import IdealCustomerProfile, ideal_customer_profile
from regulars.segments.personas import PersonaCard, order_channels, persona_cards


@dataclass
class ClusterReport:
    """A fitted clustering: how k was chosen, the persona cards and who is where."""

    method: str
    n_clusters: int
    selection: str
    silhouette: float
    stability: float
    k_scores: pd.DataFrame
    cards: list[PersonaCard]
    assignments: pd.DataFrame

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "n_clusters": self.n_clusters,
            "selection": self.selection,
            "silhouette": _num(self.silhouette),
            "stability": _num(self.stability),
            "k_scores": self.k_scores.replace({np.nan: None}).to_dict(orient="records"),
            "personas": [c.to_dict() for c in self.cards],
        }

    def cards_table(self) -> pd.DataFrame:
        """One row per persona: name, size, value share, channel, top traits, action."""
        return pd.DataFrame(
            [
                {
                    "cluster": c.cluster, "persona": c.name, "customers": c.size, "share": c.share,
                    "value_share": c.value_share, "channel": c.preferred_channel,
                    "traits": "; ".join(c.traits), "action": c.action,
                }
                for c in self.cards
            ]
        )


def _num(v) -> float | None:
    v = float(v)
    return round(v, 4) if np.isfinite(v) else None


def cluster_report(ws, method: str = "kmeans", n_clusters: int | None = None, as_of=None, **params) -> ClusterReport:
    """Build the mart, cluster the buyers, and describe every cluster as a persona.

    Parameters
    ----------
    ws : table provider (Workspace, or the Spark provider)
    method : {"kmeans", "hierarchical", "hdbscan"}
    n_clusters : int, optional
        Fix k; by default it is chosen (see :class:`~regulars.segments.clusters.BehaviouralClusters`).
    as_of : date, optional
        Passed to the features mart.
    **params
        Other :class:`~regulars.segments.clusters.BehaviouralClusters` parameters.
    """
    mart = ws.execute(customer_features(ws, as_of=as_of))
    model, frame = cluster_customers(mart, method=method, n_clusters=n_clusters, **params)
    channels = ws.execute(order_channels(ws, as_of=as_of))
    channels = channels.set_index(channels["customer_id"].astype(str))["order_channel"]
    cards = persona_cards(frame, mart, model, channels=channels)
    names = {c.cluster: c.name for c in cards}
    assignments = frame[["cluster"]].assign(persona=frame["cluster"].map(names)).reset_index()
    return ClusterReport(
        method=method,
        n_clusters=int(model.n_clusters_),
        selection=model.selection_,
        silhouette=float(model.silhouette_),
        stability=float(model.stability_),
        k_scores=model.k_scores_,
        cards=cards,
        assignments=assignments,
    )


def icp_report(ws, top_share: float = 0.1, as_of=None) -> IdealCustomerProfile:
    """The ideal customer profile and everyone's similarity score (see :mod:`regulars.segments.icp`)."""
    mart = ws.execute(customer_features(ws, as_of=as_of))
    return ideal_customer_profile(mart, top_share=top_share)
