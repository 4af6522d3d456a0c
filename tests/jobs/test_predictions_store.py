"""The prediction tables: created by a migration, replaced per as_of, read back typed."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from regulars.data import predictions_store as store


def test_migration_creates_every_prediction_table(workspace):
    tables = set(workspace.list_tables())
    assert {name for name, _ in store.TABLE_COLUMNS} | {"prediction_runs"} <= tables


def test_writing_the_same_as_of_replaces_and_other_dates_are_kept(workspace):
    day1, day2 = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
    rows = pd.DataFrame({"customer_id": ["a", "b"], "churn_risk": [0.2, 0.7], "churn_reasons": [["x"], []]})
    assert store.write_customer_predictions(workspace, rows.assign(as_of=day1), day1) == 2
    store.write_customer_predictions(workspace, rows.head(1).assign(as_of=day1), day1)
    store.write_customer_predictions(workspace, rows.assign(as_of=day2), day2)
    assert store.latest_as_of(workspace) == day2
    assert len(store.read_customer_predictions(workspace, day1)) == 1
    latest = store.read_customer_predictions(workspace, customer_id="a")
    assert json.loads(latest["churn_reasons"].iloc[0]) == ["x"]
    assert pd.isna(latest["p_alive"].iloc[0])  # columns not given are stored as nulls


def test_backtest_runs_and_prediction_runs_round_trip(workspace):
    rows = pd.DataFrame({"run_id": "r1", "run_at": pd.Timestamp("2025-01-02"), "cutoff": dt.date(2024, 10, 1),
                         "model": ["churn", "churn"], "metric": ["auc", "brier"], "value": [0.8, 0.1],
                         "details": [None, {"reliability": [{"predicted": 0.1, "observed": 0.12, "n": 5}]}]})
    store.write_backtests(workspace, rows, "r1")
    store.write_backtests(workspace, rows, "r1")  # same run id: replaced, not doubled
    got = store.read_backtests(workspace)
    assert got["metric"].tolist() == ["auc", "brier"]
    assert json.loads(got["details"].iloc[1])["reliability"][0]["n"] == 5
    store.write_prediction_run(workspace, {"run_id": "p1", "as_of": dt.date(2025, 1, 1), "horizon_days": 365,
                                           "finished_at": pd.Timestamp("2025-01-02"),
                                           "readiness": {"churn": {"status": "refused", "messages": ["m"]}},
                                           "summary": {}, "timings": {}})
    run = store.read_prediction_run(workspace)
    assert run["readiness"]["churn"]["messages"] == ["m"]
