"""Rule segments over the stored predictions and recommendations, `today + N`, predicted-CLV tiers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from regulars import Workspace
from regulars.data import predictions_store
from regulars.data import recommend_store
from regulars.jobs.segments import refresh
from regulars.segments.membership import create_segment
from regulars.segments.rules import RuleError, validate

AS_OF = dt.date(2024, 6, 1)


@pytest.fixture
def ws(tmp_path):
    ws = Workspace(tmp_path / "shop.duckdb")
    ids = [f"c{i}" for i in range(10)]
    ws._con.execute("INSERT INTO customers (customer_id) VALUES " + ", ".join(f"('{c}')" for c in ids))
    ws._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES "
                   + ", ".join(f"('o{i}', 'c{i}', TIMESTAMP '2024-05-0{1 + i % 9} 10:00', 10)" for i in range(10)))
    ws._con.execute("INSERT INTO products (product_id, name, category) VALUES ('beans', 'Beans', 'coffee'), "
                   "('tea', 'Tea', 'tea')")
    predictions_store.write_customer_predictions(ws, pd.DataFrame({
        "customer_id": ids, "as_of": AS_OF, "churn_risk": [0.1 * i for i in range(10)],
        "clv": [100.0 * i for i in range(10)], "propensity_30d": [0.05 * i for i in range(10)],
        "next_order_date": [AS_OF + dt.timedelta(days=2 * i) for i in range(10)]}), AS_OF)
    recommend_store.write_recommendations(ws, pd.DataFrame({
        "customer_id": ids, "as_of": AS_OF, "rank": 1, "product_id": ["beans"] * 4 + ["tea"] * 6,
        "score": 1.0, "reason": "x", "is_personal": True}), pd.DataFrame(),
        {"run_id": "r1", "as_of": AS_OF, "served": "hybrid"})
    yield ws
    ws.close()


def members(ws, sid) -> set[str]:
    return set(ws.sql("SELECT customer_id FROM segment_memberships WHERE segment_id = ?", [sid])["customer_id"])


def test_rules_on_predictions_and_recommendations(ws):
    create_segment(ws, "Valuable at risk", "churn_risk > 0.5 and clv > 200")
    create_segment(ws, "Likely buyers", "propensity_30d >= 0.3")
    create_segment(ws, "Due this week", "next_order_date < today + 7")
    create_segment(ws, "Coffee offers", "recommended_category = 'coffee'")
    result = refresh(ws, as_of=AS_OF)
    assert not result.errors
    assert members(ws, "valuable_at_risk") == {"c6", "c7", "c8", "c9"}       # risk 0.6+ (0.5 is not > 0.5) and clv > 200
    assert members(ws, "likely_buyers") == {"c6", "c7", "c8", "c9"}          # 0.05 * i >= 0.3
    assert members(ws, "due_this_week") == {"c0", "c1", "c2", "c3"}          # 2 i < 7 days after the refresh date
    assert members(ws, "coffee_offers") == {"c0", "c1", "c2", "c3"}
    assert members(ws, "clv:high") == {"c8", "c9"} and members(ws, "clv:medium") == {"c5", "c6", "c7"}
    assert len(members(ws, "clv:low")) == 5


def test_today_needs_a_whole_number_of_days_and_a_date_column():
    cols = {"next_order_date": "date", "orders": "int64"}
    assert validate("next_order_date >= today - 3", cols) == "(next_order_date >= today - 3)"
    with pytest.raises(RuleError, match="whole number of days"):
        validate("next_order_date < today + 1.5", cols)
    with pytest.raises(RuleError, match="number column"):
        validate("orders > today", cols)
