"""Purchase propensity: labels on a hand-made shop and the model's defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from regulars.features.labels import propensity_labels
from regulars.models.propensity import PurchasePropensityModel


def test_propensity_labels_count_purchases_in_the_window(workspace):
    workspace._con.execute(
        "INSERT INTO orders (order_id, customer_id, ordered_at, total, status) VALUES "
        "('o1', 'a', '2024-01-01', 10, 'paid'), ('o2', 'a', '2024-02-10', 10, 'paid'), "
        "('o3', 'b', '2024-01-02', 10, 'paid'), ('o4', 'b', '2024-03-05', 10, 'paid'), "
        "('o5', 'c', '2024-01-03', 10, 'paid'), ('o6', 'c', '2024-02-05', -10, 'paid'), "
        "('o7', 'e', '2024-01-03', 10, 'voided')")
    labels = workspace.execute(propensity_labels(workspace.table("orders"), "2024-02-01", 30))
    got = labels.set_index("customer_id")["bought"].to_dict()
    # a bought on day 9 of the window; b after it; c only returned something; e's order was voided
    assert got == {"a": 1, "b": 0, "c": 0}


def test_propensity_model_is_a_30_day_calibrated_classifier():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"days_since_last_order": rng.exponential(40, 3000)})
    y = (rng.random(3000) < np.exp(-X["days_since_last_order"] / 30)).astype(int)
    model = PurchasePropensityModel(n_estimators=40).fit(X, y)
    assert model.window_days == 30
    assert clone(model).window_days == 30
    p = model.predict_proba(X)[:, 1]
    assert abs(p.mean() - y.mean()) < 0.04
    assert p[X["days_since_last_order"] < 5].mean() > p[X["days_since_last_order"] > 90].mean() + 0.4
