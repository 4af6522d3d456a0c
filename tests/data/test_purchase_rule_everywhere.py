"""The customer list, the 360 profile and the journeys count purchases by the one rule of
:mod:`regulars.data.purchases` (issue 15 item 4).

Before, each wrote its own: the list and the profile counted a cancelled order and a fully
refunded one as orders (and started "first order" at the cancelled one); the post-purchase
journey was triggered by a cancelled order.
"""

from __future__ import annotations

import datetime as dt

from regulars import Workspace
from regulars.data import customer_queries, journey_store

ORDERS = [  # C1: a cancelled order, then a purchase, then an order refunded in full, then a return
    {"order_id": "o1", "customer_id": "C1", "ordered_at": "2024-01-05 10:00:00", "status": "cancelled", "total": 50},
    {"order_id": "o2", "customer_id": "C1", "ordered_at": "2024-02-05 10:00:00", "status": "paid", "total": 30},
    {"order_id": "o3", "customer_id": "C1", "ordered_at": "2024-03-05 10:00:00", "status": "paid", "total": 20,
     "refunded": 20},
    {"order_id": "o4", "customer_id": "C1", "ordered_at": "2024-03-06 10:00:00", "status": "paid", "total": -5},
    # C2: only a cancelled order in the journey's window
    {"order_id": "o5", "customer_id": "C2", "ordered_at": "2024-02-10 10:00:00", "status": "canceled", "total": 40},
]


def _shop(tmp_path):
    ws = Workspace(tmp_path / "shop.duckdb")
    ws.insert_rows("customers", [{"customer_id": "C1"}, {"customer_id": "C2"}])
    ws.insert_rows("orders", [{"currency": "EUR", "refunded": 0, **o} for o in ORDERS])
    return ws


def test_the_list_and_the_profile_count_purchases(tmp_path):
    with _shop(tmp_path) as ws:
        _, rows = customer_queries.search(ws)
        listed = {r["customer_id"]: r for r in rows}
        profile = customer_queries.profile_rows(ws, ["C1", "C2"], orders_limit=10, events_limit=10,
                                                messages_limit=10)["summaries"]
        facts = customer_queries.order_facts(ws, "C1")
    for c1 in (listed["C1"], profile["C1"], facts):
        assert c1["orders"] == 1 and float(c1["revenue"]) == 25.0  # 30 + (20 - 20) - 5
        assert str(c1["first_order_at"]).startswith("2024-02-05") and str(c1["last_order_at"]).startswith("2024-02-05")
    assert profile["C1"]["returns"] == 1 and float(profile["C1"]["aov"]) == 30.0
    assert not listed["C2"]["orders"] and not profile["C2"]["orders"]


def test_a_cancelled_order_does_not_trigger_the_post_purchase_journey(tmp_path):
    with _shop(tmp_path) as ws:
        found = journey_store.order_candidates(ws, "post_purchase", dt.datetime(2024, 1, 1), dt.datetime(2024, 4, 1),
                                               dt.timedelta(days=30), first_only=True)
    assert [(c["customer_id"], c["order_id"]) for c in found] == [("C1", "o2")]
