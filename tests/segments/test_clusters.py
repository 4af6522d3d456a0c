"""Behavioural clusters: k chosen (not given), stability, the three methods, and the demo's planted types.

The demo bound: on the 3,000-customer demo shop (seed 0) k-means chooses k = 9 among the
buyers and, with never-buyers kept as their own group, reaches ARI 0.41 against
``demo_truth.latent_type`` (seeds 1-3 and other random states: 0.38 - 0.44). The test asks
for 0.33: well above the trivial answers -- buyers vs never-buyers 0.09, the best-silhouette
choice k = 2 0.22 -- with room for honest changes to the generator. The planted types overlap
by design (a lapsing customer who dropped out after one order *is* a one-timer in the data):
a supervised classifier on the same seven features reaches only ARI 0.53 in 5-fold
cross-validation, so 0.41 is most of what the features carry (see docs/clusters.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from regulars.segments.clusters import (
    FEATURES,
    NEVER_BOUGHT,
    BehaviouralClusters,
    behavioural_features,
    cluster_customers,
)

DEMO_ARI_BOUND = 0.33


def _blobs(n_per=300, centres=((0, 0), (4, 0), (0, 4)), seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(c, 0.4, (n_per, 2)) for c in centres])
    y = np.repeat(np.arange(len(centres)), n_per)
    return pd.DataFrame(X, columns=["a", "b"]), y


def _model(**kw):
    return BehaviouralClusters(features=["a", "b"], log_features=(), **kw)


def test_kmeans_chooses_k_and_recovers_blobs():
    X, y = _blobs()
    m = _model().fit(X)
    assert m.n_clusters_ == 3
    assert m.k_scores_.k.tolist() == list(range(2, 11))
    assert adjusted_rand_score(y, m.labels_) > 0.99
    assert m.stability_ > 0.95 and m.silhouette_ > 0.6
    assert "k=3" in m.selection_ and "stability" in m.selection_
    # clusters are numbered by size
    assert np.all(np.diff(np.bincount(m.labels_)) <= 0)


def test_choice_follows_the_stated_rule():
    X, y = _blobs(centres=((0, 0), (4, 0), (0, 4), (4, 4), (9, 9)))
    m = _model().fit(X)
    s = m.k_scores_
    stable = s[s.stability >= m.min_stability]
    eligible = stable[stable.silhouette >= m.silhouette_ratio * stable.silhouette.max()]
    assert m.n_clusters_ == eligible.k.max() == 5
    # ratio 1.0 is "best silhouette among stable k"
    best = _model(silhouette_ratio=1.0).fit(X)
    assert best.n_clusters_ == int(stable.sort_values("silhouette").k.iloc[-1])


def test_fixed_k_predict_and_save(tmp_path):
    X, _ = _blobs()
    m = _model(n_clusters=4).fit(X)
    assert m.n_clusters_ == 4 and m.selection_ == "k=4 fixed by the caller"
    assert (m.predict(X) == m.labels_).all()
    m.save(tmp_path / "m.joblib")
    again = BehaviouralClusters.load(tmp_path / "m.joblib")
    assert (again.predict(X.iloc[:50]) == m.labels_[:50]).all()


@pytest.mark.parametrize("method", ["hierarchical", "hdbscan"])
def test_other_methods_recover_blobs(method):
    X, y = _blobs()
    m = _model(method=method, hierarchical_sample=500).fit(X)
    assert m.n_clusters_ == 3
    assert adjusted_rand_score(y, m.labels_) > 0.95
    assert len(m.predict(X)) == len(X)


def test_hdbscan_marks_far_points_as_noise():
    X, _ = _blobs()
    far = pd.DataFrame({"a": [30.0, -30.0], "b": [30.0, 30.0]})
    m = _model(method="hdbscan", min_cluster_size=20).fit(pd.concat([X, far], ignore_index=True))
    assert m.predict(far).tolist() == [-1, -1]


def test_log_transform_and_missing_values():
    X = pd.DataFrame({"a": [1.0, 10.0, 100.0, np.nan, 1000.0, 5.0], "b": [0.1, 0.2, 0.3, 0.4, np.nan, 0.6]})
    m = BehaviouralClusters(features=["a", "b"], log_features=("a",), n_clusters=2, n_bootstrap=2).fit(X)
    z = m.transform(X)
    assert np.isfinite(z).all()
    raw = np.log1p(X.a.fillna(X.a.median()))
    assert np.allclose(z[:, 0], (raw - raw.mean()) / raw.std(ddof=0))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="lacks feature column"):
        BehaviouralClusters().fit(pd.DataFrame({"frequency": [1, 2, 3]}))
    with pytest.raises(ValueError, match="method must be one of"):
        _model(method="dbscan").fit(_blobs()[0])


# -- the demo shop ------------------------------------------------------------------------

# the ``demo`` fixture (3,000 customers, seed 0) is in conftest.py: the RFM tests use it too


@pytest.mark.slow
def test_demo_clusters_recover_planted_types(demo):
    ws, mart, truth = demo
    model, frame = cluster_customers(mart, random_state=0)
    y = truth.reindex(frame.index).astype(str)
    ari = adjusted_rand_score(y, frame.cluster)
    trivial = adjusted_rand_score(y, frame.cluster == NEVER_BOUGHT)
    assert 2 <= model.n_clusters_ <= 10
    assert ari >= DEMO_ARI_BOUND, (ari, model.selection_)
    assert ari > trivial + 0.15
    # the never-buyers are the planted browsers, and customers whose every order was refunded in full
    # (a fully refunded order is not a purchase)
    from regulars.data.purchases import purchase_sql

    never = set(frame.index[frame.cluster == NEVER_BOUGHT])
    buyers = set(ws.sql(f"SELECT DISTINCT customer_id FROM orders WHERE {purchase_sql()}").customer_id)
    assert never == set(frame.index) - buyers
    assert set(y[y == "browser"].index) <= never
    # the same shop in another row order gives the same clusters
    again = cluster_customers(mart.sample(frac=1, random_state=1), random_state=0)[1]
    assert (again.cluster.reindex(frame.index) == frame.cluster).all()


@pytest.mark.slow
def test_demo_personas_describe_real_differences(demo):
    from regulars.segments.personas import persona_cards

    _ws, mart, truth = demo
    model, frame = cluster_customers(mart, random_state=0)
    cards = persona_cards(frame, mart, model)
    names = [c.name for c in cards]
    assert len(set(names)) == len(names)
    assert sum(c.size for c in cards) == len(frame)
    assert sum(c.value_share for c in cards) == pytest.approx(1.0, abs=0.01)
    deal = next(c for c in cards if c.name.startswith("Deal-Seeking"))
    members = truth.reindex(frame.index[frame.cluster == deal.cluster])
    assert (members == "deal_seeker").mean() > 0.6
    assert any("of purchases use a discount" in t for t in deal.traits)
    # the most valuable persona is set apart by how often, how recently or how much it buys
    top = max(cards, key=lambda c: c.value_share)
    assert any(("orders a year" in t and "as often" in t) or "per order" in t or "last bought" in t
               for t in top.traits), top.traits
    for card in cards:  # every trait is a sentence with the cluster's number and the average's
        assert card.traits and all(any(ch.isdigit() for ch in t) for t in card.traits if t != "has never bought")


def test_behavioural_features_columns():
    mart = pd.DataFrame({"customer_id": ["a"], "orders": [2], "tenure_days": [365], "days_since_last_order": [3],
                         "aov": [10.0], "discounted_order_share": [0.5], "sessions": [12],
                         "email_sends": [10], "email_opens": [4]})
    f = behavioural_features(mart)
    assert list(f.columns) == list(FEATURES)
    assert f.loc["a", "frequency"] == 2 and f.loc["a", "web_engagement"] == 12
    assert f.loc["a", "email_engagement"] == 0.4


@pytest.mark.slow
def test_cli_clusters_and_icp(demo):
    import json

    import typer
    from typer.testing import CliRunner

    from regulars.cli import explore

    ws, _mart, _truth = demo
    app = typer.Typer()
    explore.register(app)
    ws.close()  # the commands open the file read-only
    result = CliRunner().invoke(app, ["clusters", "--format", "json", "-w", str(ws.path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["method"] == "kmeans" and 2 <= out["n_clusters"] <= 10 and "stability" in out["selection"]
    assert {p["name"] for p in out["personas"]} >= {"Window-Shopping Wendy"}
    icp = CliRunner().invoke(app, ["icp", "--format", "json", "--scores", "3", "--prospects", "-w", str(ws.path)])
    assert icp.exit_code == 0, icp.output
    out = json.loads(icp.output)
    assert len(out["scores"]) == 3 and {s["kind"] for s in out["scores"]} == {"prospect"}
    assert out["traits"][0]["text"]


@pytest.mark.slow
def test_personas_have_no_inf_nan_or_negative_nonsense(demo):
    """Customers whose orders were all returned, or were $0, or who have only a return on record
    used to make "Budget Ben: spends 0.05 per order, 2063.8x less" and "Window-Shopping Wendy:
    -306.21 per customer, visits inf x as often (0 vs 0)"."""
    import re

    from regulars.segments.clusters import NO_NET_SPEND
    from regulars.segments.personas import persona_cards

    _ws, mart, _truth = demo
    extra = pd.DataFrame([
        {"customer_id": f"refunded{i}", "orders": 2, "revenue": 0.0, "aov": 0.0, "tenure_days": 200,
         "days_since_last_order": 50, "sessions": 0} for i in range(30)] + [
        {"customer_id": f"free{i}", "orders": 1, "revenue": 0.0, "aov": 0.0, "tenure_days": 90,
         "days_since_last_order": 80, "sessions": 2} for i in range(10)] + [
        {"customer_id": "returns-only", "orders": 0, "revenue": -306.21, "aov": None, "tenure_days": 40,
         "days_since_last_order": None, "sessions": 0}])
    mart = pd.concat([mart, extra], ignore_index=True)
    model, frame = cluster_customers(mart, random_state=0)
    assert (frame.loc[extra["customer_id"], "cluster"] == NO_NET_SPEND).all()
    cards = persona_cards(frame, mart, model)
    rita = next(c for c in cards if c.cluster == NO_NET_SPEND)
    assert rita.name == "Returning Rita" and rita.size >= len(extra) and rita.value_share == 0  # + the demo's own
    for card in cards:
        text = " ".join([card.name, card.top_trait, card.action, *card.traits])
        assert not re.search(r"\binf\b|\bnan\b", text, re.IGNORECASE), text
        assert not re.search(r"(?<![\w.])-\d", text), text
        assert card.revenue_per_customer >= 0 and card.value_share >= 0
    budget = [c for c in cards if c.name.startswith("Budget")]
    assert all(float(re.search(r"spends ([\d.,]+) per order", t).group(1).replace(",", "")) >= 1
               for c in budget for t in c.traits if "per order" in t)


def test_clusters_are_a_transformer_whose_fit_transform_is_fit_then_transform():
    from sklearn.base import TransformerMixin

    X, _ = _blobs(n_per=100)
    model = _model(n_clusters=3)
    assert isinstance(model, TransformerMixin)
    np.testing.assert_allclose(model.fit_transform(X), _model(n_clusters=3).fit(X).transform(X))
