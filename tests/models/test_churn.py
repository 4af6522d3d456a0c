"""Churn: labels and features on hand-made shops, the calibrated LightGBM classifier's contract."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from regulars.features.labels import activity_features, churn_labels
from regulars.models.churn import CalibratedBoostingClassifier, ChurnModel
from regulars.models.readiness import EXCLUDED_STATUSES, NotEnoughData


def _orders(ws, rows):
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "total", "status"])
    df["ordered_at"] = pd.to_datetime(df["ordered_at"])
    ws._con.register("_o", df)
    ws._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total, status) SELECT * FROM _o")
    ws._con.unregister("_o")


@pytest.fixture
def shop(workspace):
    _orders(workspace, [
        ("o1", "a", "2024-01-01 10:00", 10, "paid"),
        ("o2", "a", "2024-01-11 09:00", 30, "paid"),
        ("o3", "a", "2024-02-20 23:59", 20, "paid"),     # the day before the cutoff: counts as before
        ("o4", "b", "2024-01-05 12:00", 15, "paid"),
        ("o5", "b", "2024-02-21 00:00", 15, "paid"),     # on the cutoff day: the outcome window
        ("o6", "c", "2024-01-07 08:00", 50, "paid"),
        ("o7", "c", "2024-03-01 08:00", 50, "cancelled"),  # cancelled: not a return
        ("o8", "d", "2024-03-01 08:00", 9, "paid"),      # first order after the cutoff: not in the population
    ])
    workspace._con.execute(
        "INSERT INTO messages (message_id, customer_id, event_type, occurred_at) VALUES "
        "('m1', 'a', 'opened', '2024-01-10 10:00'), ('m2', 'a', 'sent', '2024-02-15 10:00'), "
        "('m3', 'b', 'clicked', '2024-02-19 10:00')")
    return workspace


def test_churn_labels_use_the_window_from_the_cutoff_day(shop):
    labels = shop.execute(churn_labels(shop.table("orders"), "2024-02-21", 30)).set_index("customer_id")["churned"]
    assert labels.to_dict() == {"a": 1, "b": 0, "c": 1}


def test_activity_features_hand_computed(shop):
    f = shop.execute(activity_features(shop, dt.date(2024, 2, 21))).set_index("customer_id")
    assert sorted(f.index) == ["a", "b", "c"]
    # a: purchase days Jan 1, Jan 11, Feb 20 -> mean gap 25 days, last purchase 1 day ago
    assert f.loc["a", "gap_ratio"] == pytest.approx(1 / 25)
    assert f.loc["a", "orders_90d"] == 3
    assert f.loc["a", "revenue_365d"] == pytest.approx(60.0)
    assert f.loc["a", "days_since_last_open"] == 42  # opened Jan 10; "sent" is not engagement
    assert f.loc["b", "days_since_last_open"] == 2
    assert np.isnan(f.loc["c", "gap_ratio"])  # a single purchase day
    assert np.isnan(f.loc["c", "days_since_last_open"])


def test_the_excluded_statuses_are_written_once():
    from pathlib import Path

    import regulars
    from regulars.features import mart

    assert EXCLUDED_STATUSES is mart.EXCLUDED_STATUSES
    src = Path(regulars.__file__).parent
    spelled = [p.relative_to(src).as_posix() for p in src.rglob("*.py") if '"canceled", "voided"' in p.read_text()]
    assert spelled == ["values.py"]


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"recency": rng.exponential(60, n), "opens": rng.poisson(2, n), "noise": rng.normal(size=n)})
    logit = -1.0 + 0.025 * X["recency"] - 0.4 * X["opens"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y.to_numpy()


def test_classifier_contract_and_calibration():
    X, y = _data()
    Xc, yc = _data(seed=1)
    model = ChurnModel(n_estimators=80)
    with pytest.raises(NotFittedError):
        model.predict_proba(X)
    assert model.fit(X, y, Xc, yc) is model
    assert model.calibration_fold_ == "held-out" and model.calibration_ == "isotonic"
    assert clone(model).get_params() == model.get_params()
    Xt, yt = _data(seed=2)
    p = model.predict_proba(Xt)[:, 1]
    # calibrated on a separate fold: the mean prediction and each fifth match what happens
    assert abs(p.mean() - yt.mean()) < 0.03
    order = np.argsort(p)
    for chunk in np.array_split(order, 5):
        assert abs(p[chunk].mean() - yt[chunk].mean()) < 0.08  # 800 rows a fifth: 0.018 standard error
    # TreeSHAP: contributions plus the bias sum to the raw score
    contrib = model.contributions(Xt.head(50))
    np.testing.assert_allclose(contrib.sum(axis=1), model.decision_function(Xt.head(50)), rtol=1e-6, atol=1e-6)
    assert model.feature_importance().index[0] == "recency"


def test_save_and_load_round_trip(tmp_path):
    X, y = _data(1500)
    model = CalibratedBoostingClassifier(n_estimators=30).fit(X, y)
    assert model.calibration_fold_ == "random" and model.calibration_ == "sigmoid"
    model.save(tmp_path / "m.json")
    again = CalibratedBoostingClassifier.load(tmp_path / "m.json")
    np.testing.assert_allclose(again.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match="does not hold"):
        ChurnModel.load(tmp_path / "m.json")


def test_missing_features_and_single_outcome_are_refused():
    X, y = _data(500)
    model = ChurnModel(n_estimators=10).fit(X, y)
    with pytest.raises(ValueError, match="lacks the feature"):
        model.predict_proba(X.drop(columns="opens"))
    with pytest.raises(NotEnoughData, match="both outcomes"):
        ChurnModel(n_estimators=10).fit(X, np.zeros(len(X), dtype=int))


def test_small_data_mode_uses_fewer_simpler_trees():
    X, y = _data(400)
    model = ChurnModel(small_data=True).fit(X, y)
    assert model.booster_.num_trees() == 100
    assert model.n_estimators == 200  # the hyperparameter itself is untouched
