"""Lead scoring: who counts as a lead, rule tiers, and the learned score."""

from __future__ import annotations

import numpy as np
import pytest
import pandas as pd

from regulars.features.leads import lead_features
from regulars.models.leads import LEAD_FEATURES, LeadScorer


def test_leads_are_people_with_activity_but_no_purchase(workspace):
    workspace._con.execute(
        "INSERT INTO events (event_id, customer_id, session_id, event_type, occurred_at) VALUES "
        "('e1', 'lead', 's1', 'add_to_cart', '2024-03-28 10:00'), ('e2', 'lead', 's1', 'product_view', '2024-03-28 10:01'), "
        "('e3', 'buyer', 's2', 'page_view', '2024-03-29 10:00'), ('e4', 'later', 's3', 'page_view', '2024-04-02 10:00')")
    workspace._con.execute(
        "INSERT INTO messages (message_id, customer_id, event_type, occurred_at) VALUES "
        "('m1', 'reader', 'opened', '2024-03-01 08:00'), ('m2', 'sent_only', 'sent', '2024-03-01 08:00')")
    workspace._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES ('o1', 'buyer', '2024-02-01', 10)")
    X = workspace.execute(lead_features(workspace, "2024-04-01")).set_index("customer_id")
    assert sorted(X.index) == ["lead", "reader"]
    assert X.loc["lead", "cart_adds_7d"] == 1 and X.loc["lead", "days_since_last_visit"] == 4
    assert X.loc["reader", "days_since_last_open"] == 31
    tiers = LeadScorer().fit(None).tiers(X)
    assert tiers.loc["lead", "tier"] == "hot"
    assert tiers.loc["reader", "tier"] == "cold"
    assert tiers.loc["lead", "reasons"][0] == "added 1 item(s) to the cart in the last 30 days"


def _leads(n, rng):
    X = pd.DataFrame({c: rng.poisson(0.5, n).astype(float) for c in LEAD_FEATURES})
    X["days_since_last_visit"] = rng.exponential(30, n)
    X["days_since_last_open"] = np.where(rng.random(n) < 0.3, np.nan, rng.exponential(40, n))
    logit = -3.5 + 1.5 * X["cart_adds_7d"] - 0.03 * X["days_since_last_visit"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_learned_tiers_rank_conversions():
    rng = np.random.default_rng(0)
    X, y = _leads(4000, rng)
    scorer = LeadScorer().fit(X, y)
    assert scorer.method_ == "learned"
    Xt, yt = _leads(4000, rng)
    tiers = scorer.tiers(Xt)["tier"].to_numpy()
    rate = {t: yt[tiers == t].mean() for t in ("hot", "warm", "cold")}
    assert rate["hot"] > rate["warm"] > rate["cold"]
    assert rate["hot"] > 2 * yt.mean()


def test_too_few_conversions_fall_back_to_rules():
    rng = np.random.default_rng(1)
    X, _ = _leads(300, rng)
    y = np.zeros(300, dtype=int)
    y[:5] = 1
    assert LeadScorer().fit(X, y).method_ == "rules"


def test_lead_scorer_is_a_scikit_learn_estimator():
    from sklearn.base import BaseEstimator, clone
    from sklearn.exceptions import NotFittedError

    scorer = LeadScorer(min_conversions=5, C=0.5)
    assert isinstance(scorer, BaseEstimator) and clone(scorer).get_params() == {"C": 0.5, "min_conversions": 5}
    assert not hasattr(scorer, "score")  # scikit-learn's score(X, y) means goodness of fit; tiers() rates leads
    with pytest.raises(NotFittedError):
        scorer.predict(None)
