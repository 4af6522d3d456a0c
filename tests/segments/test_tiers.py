"""Behavioural tiers on a hand-built shop."""

from __future__ import annotations

import datetime as dt

import pytest

from regulars.segments.tiers import load_config, tiers
from tests.segments.conftest import AS_OF, add_orders


@pytest.fixture
def shop(workspace):
    rows = []
    for k in range(12):  # "m": monthly buyer, 12 orders 30 days apart (mean gap 30 -> high)
        rows.append((f"m{k}", "m", dt.datetime(2023, 7, 1) + dt.timedelta(days=30 * k), 20))
    for k in range(4):  # "q": quarterly, 4 orders 90 days apart (medium); all discounted
        rows.append((f"q{k}", "q", dt.datetime(2023, 6, 1) + dt.timedelta(days=90 * k), 50))
    rows += [("y0", "y", "2022-01-01", 300), ("y1", "y", "2023-06-01", 300)]  # yearly-ish: low
    rows += [("o0", "o", "2024-05-01", 80)]  # one-time
    add_orders(workspace, rows)
    workspace._con.execute("UPDATE orders SET discount = 5 WHERE customer_id = 'q'")
    workspace._con.execute("UPDATE customers SET region = 'North' WHERE customer_id = 'm'")
    workspace._con.execute("INSERT INTO customers (customer_id, created_at) VALUES ('b', '2024-01-01')")
    workspace._con.execute("""INSERT INTO events (event_id, customer_id, session_id, event_type, occurred_at) VALUES
        ('e1', 'b', 's1', 'product_view', '2024-06-01'), ('e2', 'b', 's1', 'add_to_cart', '2024-06-01 00:01'),
        ('e3', 'b', 's1', 'begin_checkout', '2024-06-01 00:02')""")
    workspace._con.execute("""INSERT INTO messages (message_id, customer_id, channel, event_type, occurred_at) VALUES
        ('x1', 'm', 'email', 'opened', '2024-06-01'), ('x2', 'o', 'email', 'unsubscribed', '2024-06-02'),
        ('x3', 'q', 'email', 'opened', '2023-01-01')""")
    workspace._con.execute("""INSERT INTO order_lines (order_id, line_number, category, quantity, unit_price) VALUES
        ('y0', 1, 'Coffee', 1, 300), ('y1', 1, 'Coffee', 1, 200), ('y1', 2, 'Tea', 1, 100)""")
    return workspace


def test_tiers_by_hand(shop):
    df = shop.execute(tiers(shop, AS_OF)).set_index("customer_id")
    assert df["frequency_tier"].to_dict() == {"m": "high", "q": "medium", "y": "low", "o": "one_time", "b": "none"}
    # net spend: y 600, m 240, q 200, o 80 -> top 20 % of 4 buyers = 1 (y), next 30 % = 1 (m)
    assert df["spend_tier"].to_dict() == {"y": "high", "m": "medium", "q": "low", "o": "low", "b": "none"}
    assert df.loc["y", "top_category"] == "coffee"  # 500 of 600
    assert df["is_discount_driven"].to_dict() == {"m": False, "q": True, "y": False, "o": False, "b": False}
    assert bool(df.loc["b", "is_browser_never_bought"]) and bool(df.loc["b", "is_cart_abandoner"])
    assert df.loc["b", "abandoned_checkout_step"] == 2
    assert bool(df.loc["m", "is_email_engager"]) and not bool(df.loc["q", "is_email_engager"])  # q's open is old
    assert bool(df.loc["o", "is_unsubscribed"])
    assert df.loc["m", "region"] == "North" and df.loc["q", "region"] == "unknown"


def test_thresholds_are_configurable(shop):
    df = shop.execute(tiers(shop, AS_OF, config={"frequency": {"high_max_days": 20}})).set_index("customer_id")
    assert df.loc["m", "frequency_tier"] == "medium"
    with pytest.raises(ValueError, match="unknown key"):
        load_config({"frequency": {"fast": 1}})
    with pytest.raises(ValueError, match="unknown section"):
        load_config({"speed": {}})
