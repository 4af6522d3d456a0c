"""Uplift, difference-in-differences and shop-level counterfactual reports on real workspaces."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from regulars import Workspace
from regulars.data import order_stats
from regulars.reports.causal import did_report, impact_report, uplift_report
from tests.experiments.shop import AS_OF, experiment_shop


def _orders(ws, frame):
    ws._con.register("_o", frame)
    ws._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total, location, currency) "
                   "SELECT order_id, customer_id, ordered_at, total, location, 'EUR' FROM _o")
    ws._con.unregister("_o")


def loyalty_shop(path, effect=2.5, drift=0.0, seed=0, n=4000):
    """Weekly orders for 20 weeks; members of 'Loyalty club' spend *effect* more a week from week 12."""
    rng = np.random.default_rng(seed)
    ws = Workspace(path)
    ids = np.array([f"c{i:05d}" for i in range(n)])
    member = rng.random(n) < 0.3
    ws._con.register("_c", pd.DataFrame({"customer_id": ids}))
    ws._con.execute("INSERT INTO customers (customer_id) SELECT customer_id FROM _c")
    ws._con.unregister("_c")
    start = dt.datetime(2024, 1, 1)
    rows = []
    for w in range(20):
        buy = rng.random(n) < 0.3
        amount = rng.gamma(2.0, 10.0, n) + (member * (effect if w >= 12 else 0.0) + member * drift * w) / 0.3
        idx = np.flatnonzero(buy)
        rows.append(pd.DataFrame({"order_id": [f"w{w}-{i}" for i in idx], "customer_id": ids[idx],
                                  "ordered_at": start + pd.to_timedelta(7 * w + rng.uniform(0, 6.9, len(idx)), unit="D"),
                                  "total": np.round(amount[idx], 2), "location": None}))
    _orders(ws, pd.concat(rows, ignore_index=True))
    order_stats.rebuild(ws._con)
    ws._con.execute("INSERT INTO segment_definitions VALUES ('loyalty_club', 'Loyalty club', 'rule', '', now(), now(), NULL)")
    ws._con.register("_m", pd.DataFrame({"customer_id": ids[member]}))
    ws._con.execute("INSERT INTO segment_memberships SELECT 'loyalty_club', customer_id, 1, 1, DATE '2024-05-20' FROM _m")
    ws._con.unregister("_m")
    return ws


def test_did_report_recovers_the_loyalty_effect(tmp_path):
    ws = loyalty_shop(tmp_path / "loyal.duckdb")
    r = did_report(ws, "Loyalty club", "2024-03-25", weeks_before=12, weeks_after=8)
    ws.close()
    assert r.result.lower <= 2.5 <= r.result.upper
    assert not r.result.pre_trend_differs
    assert "per customer and week" in r.sentence and "EUR" in r.sentence
    assert r.comparison.startswith("customers outside it") and r.result.treated_units > 1000


def test_did_report_warns_on_different_pre_trends(tmp_path):
    ws = loyalty_shop(tmp_path / "drift.duckdb", effect=0.0, drift=0.3, seed=1)
    r = did_report(ws, "Loyalty club", "2024-03-25", weeks_before=12, weeks_after=8)
    ws.close()
    assert r.result.pre_trend_differs and "do not trust" in r.sentence


def test_impact_report_synthetic_control_by_location(tmp_path):
    rng = np.random.default_rng(4)
    ws = Workspace(tmp_path / "stores.duckdb")
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    rows = []
    for s, scale in enumerate([1.0, 0.8, 1.3, 0.6, 1.1, 0.9]):
        base = scale * (300 + 60 * np.sin(2 * np.pi * np.arange(120) / 7)) + rng.normal(0, 15, 120)
        if s == 0:
            base[90:] += 80               # new opening hours at store-0 from day 90
        rows.append(pd.DataFrame({"order_id": [f"s{s}-{d}" for d in range(120)], "customer_id": None,
                                  "ordered_at": days + pd.Timedelta(hours=12), "total": np.round(base, 2),
                                  "location": f"store-{s}"}))
    _orders(ws, pd.concat(rows, ignore_index=True))
    r = impact_report(ws, days[90].date(), before=90, after=29, by="location", treated="store-0")
    s = impact_report(ws, days[90].date(), before=90, after=29)
    ws.close()
    assert r.result.effect_lower <= 80 * 29 <= r.result.effect_upper
    assert r.result.p_value <= 1 / 6 + 1e-9 and "store-0" in r.sentence
    assert s.result.method == "structural time series" and s.result.assumptions


def test_uplift_report_on_an_experiment(tmp_path):
    ws, truth = experiment_shop(tmp_path / "uplift.duckdb", n=12_000, lift=0.08, seed=11)
    r = uplift_report(ws, "spring-offer", learner="x", as_of=AS_OF)
    ws.close()
    assert r.train_customers + r.test_customers == 12_000
    assert -1 <= r.scores["qini"] <= 1 and "Qini" in r.sentence
    assert len(r.curve["x"]) == len(r.curve["model"])
