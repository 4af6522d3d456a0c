"""Issue 16.5: spend and CLV are never predicted from amounts in different currencies added up.

The demo shop sells in USD. Its twin states a quarter of its orders in CAD at twice their USD
amounts; with the rate CAD=0.5 each converts back exactly, so its value predictions must equal the one-currency shop's.
Without a rate the value predictions are refused, naming the rate to add.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from regulars import Workspace
from regulars.data import auth
from regulars.demo import build_demo
from regulars.features.currency import MONEY_COLUMNS
from regulars.jobs.predict import predict

pytestmark = pytest.mark.slow

VALUE = ["expected_orders", "expected_spend", "clv", "clv_lower", "clv_upper"]


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("currencies")
    one = folder / "one.duckdb"
    with Workspace(one) as ws:
        build_demo(ws, n_customers=1500, seed=5)
        auth.set_settings(ws._con, {"currency": "USD"}, "test")
        assert ws._con.execute("SELECT DISTINCT currency FROM orders").fetchall() == [("USD",)]
    mixed = folder / "mixed.duckdb"
    shutil.copy(one, mixed)
    with Workspace(mixed) as ws:
        doubled = ", ".join(f"{c} = {c} * 2" for c in MONEY_COLUMNS)
        ws._con.execute(f"UPDATE orders SET currency = 'CAD', {doubled} WHERE hash(order_id) % 4 = 0")
    return one, mixed


def _values(path) -> pd.DataFrame:
    with Workspace(path) as ws:
        result = predict(ws)
        frame = ws._con.execute(f"SELECT customer_id, {', '.join(VALUE)} FROM customer_predictions").df()
    return result, frame.set_index("customer_id").sort_index()


def test_with_a_rate_the_value_predictions_are_made_in_the_shop_currency(shops):
    one, mixed = shops
    with Workspace(mixed) as ws:
        auth.set_settings(ws._con, {"exchange_rates": "CAD=0.5"}, "test")
    expected_result, expected = _values(one)
    result, got = _values(mixed)
    assert not result.verdicts["value"].refused and got["clv"].notna().any()
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-6)


def test_without_a_rate_spend_and_clv_are_refused_with_the_rate_to_add(shops, tmp_path):
    _, mixed = shops
    path = tmp_path / "no-rate.duckdb"
    shutil.copy(mixed, path)
    with Workspace(path) as ws:
        auth.set_settings(ws._con, {"exchange_rates": "CAD="}, "test")
    result, got = _values(path)
    verdict = result.verdicts["value"]
    assert verdict.refused and "`regulars settings --rate CAD=RATE`" in " ".join(verdict.messages)
    assert got["clv"].isna().all() and got["expected_spend"].isna().all()


def test_the_fairness_audit_scores_in_the_shop_currency(shops, tmp_path):
    """The audit refits churn and propensity as `predict` does: on amounts in the shop's currency."""
    from regulars.jobs.audit import AuditContext
    from regulars.jobs.backtest import default_cutoff

    one, mixed = shops
    path = tmp_path / "rated.duckdb"
    shutil.copy(mixed, path)
    scores = []
    for shop, rates in ((one, None), (path, "CAD=0.5")):
        with Workspace(shop) as ws:
            if rates:
                auth.set_settings(ws._con, {"exchange_rates": rates}, "test")
            scored = AuditContext(ws, default_cutoff(ws)).scored()
        scores.append(scored[["churn_risk", "propensity_30d"]].sort_index())
    assert len(scores[0]) > 100
    pd.testing.assert_frame_equal(scores[1], scores[0], check_exact=False, rtol=1e-6)
