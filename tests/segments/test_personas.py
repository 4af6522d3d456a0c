"""Persona cards on a planted mart: names, numbers in the traits, value shares and channels.

Four planted groups (every buyer has 365 days of tenure and last bought 30 days ago):

=========  ====  ======  =====  ===================================  =========  ==========
cluster    n     orders  AOV    what sets it apart                   revenue    channel
=========  ====  ======  =====  ===================================  =========  ==========
0 deal     36    3       50     90 % of orders discounted            150        social
1 loyal    20    24      50     24 orders a year                     1,200      store
2 tea      30    4       50     95 % of spend on tea                 200        organic
never      10    0       -      40 sessions a year, never bought     0          paid_search
=========  ====  ======  =====  ===================================  =========  ==========
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from regulars.data.ingest.pipeline import ingest
from regulars.segments.clusters import NEVER_BOUGHT, behavioural_features
from regulars.segments.personas import describe, name_for, order_channels, persona_cards


def _mart() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, clusters = [], []

    def add(n, cluster, prefix, **values):
        for i in range(n):
            rows.append({"customer_id": f"{prefix}{i:02d}", **values})
            clusters.append(cluster)

    base = dict(tenure_days=365, days_since_last_order=30, sessions=10, email_sends=10, email_opens=3,
                category_share_coffee=0.6, category_share_tea=0.4, discounted_order_share=0.05)
    add(36, 0, "d", **{**base, "orders": 3, "aov": 50.0, "revenue": 150.0, "discounted_order_share": 0.9,
                      "acquisition_channel": "social"})
    add(20, 1, "l", **{**base, "orders": 24, "aov": 50.0, "revenue": 1200.0, "acquisition_channel": "store"})
    add(30, 2, "t", **{**base, "orders": 4, "aov": 50.0, "revenue": 200.0, "category_share_coffee": 0.05,
                      "category_share_tea": 0.95, "acquisition_channel": "organic"})
    add(10, NEVER_BOUGHT, "n", tenure_days=365, orders=0, revenue=0.0, sessions=40, email_sends=10, email_opens=5,
        acquisition_channel="paid_search")
    mart = pd.DataFrame(rows)
    frame = behavioural_features(mart)
    frame["cluster"] = clusters
    return mart, frame


@pytest.fixture(scope="module")
def cards():
    mart, frame = _mart()
    return {c.cluster: c for c in persona_cards(frame, mart)}


def test_names_come_from_the_planted_trait(cards):
    assert cards[0].name == "Deal-Seeking Dana"
    assert cards[1].name == "Loyal Laura"
    assert cards[2].name == "Tea-Loving Tara"
    assert cards[NEVER_BOUGHT].name == "Window-Shopping Wendy"
    assert len({c.name for c in cards.values()}) == 4
    assert (cards[0].top_trait, cards[1].top_trait, cards[2].top_trait) == ("buy on discount", "buy often", "stick to tea")
    assert cards[NEVER_BOUGHT].top_trait == "never bought"


def test_traits_state_the_numbers(cards):
    buyers_discount = (36 * 0.9 + 50 * 0.05) / 86  # the shop's average before shrinking
    deal = (3 * 0.9 + buyers_discount) / 4  # one pseudo-order at the average
    loyal = (24 * 0.05 + buyers_discount) / 25
    tea = (4 * 0.05 + buyers_discount) / 5
    average = (36 * deal + 20 * loyal + 30 * tea) / 86
    assert cards[0].traits[0] == f"{deal:.0%} of purchases use a discount (average customer: {average:.0%})"
    frequency = (36 * 3 + 20 * 24 + 30 * 4) / 86  # orders a year (tenure is one year)
    assert cards[1].traits[0] == (
        f"buys {24 / frequency:.1f}× as often as the average customer (24.0 vs {frequency:.1f} orders a year)"
    )
    assert "mostly on tea" in cards[2].traits[0]
    assert cards[NEVER_BOUGHT].traits[0] == "has never bought"
    assert any("sessions a year" in t for t in cards[NEVER_BOUGHT].traits)


def test_size_value_and_channel(cards):
    total = 36 * 150 + 20 * 1200 + 30 * 200
    assert cards[1].value_share == pytest.approx(20 * 1200 / total, abs=1e-4)
    assert cards[1].size == 20 and cards[1].share == round(20 / 96, 4)
    assert sum(c.value_share for c in cards.values()) == pytest.approx(1.0, abs=1e-3)
    assert cards[1].preferred_channel == "store" and cards[1].channels == {"store": 1.0}
    assert cards[1].revenue_per_customer == 1200.0
    assert "loyalty" in cards[1].action and "tea" in cards[2].action
    json.dumps([c.to_dict() for c in cards.values()])


def test_cards_are_ordered_by_value_with_never_buyers_last():
    mart, frame = _mart()
    order = [c.cluster for c in persona_cards(frame, mart)]
    assert order == [1, 2, 0, NEVER_BOUGHT]


def test_describe_and_names():
    assert describe("frequency", 1.0, 4.0) == "buys 4.0× less often than the average customer (1.0 vs 4.0 orders a year)"
    assert describe("email_engagement", 0.5, 0.25) == "opens 50% of e-mails (average customer: 25%)"
    assert describe("order_value", 150, 50).startswith("spends 150.00 per order, 3.0× the average")
    assert name_for("frequency", True, taken={"Loyal Laura"}) == "Loyal Leo"
    assert name_for("frequency", True, taken={"Loyal Laura", "Loyal Leo"}) == "Loyal Laura 2"
    assert name_for("recency", True, taken=set()) == "Lapsing Laura"


def test_order_channels_picks_the_most_used(workspace, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,ordered_at,total,channel,status\n"
        "o1,c1,2024-01-01 10:00:00,10.00,web,paid\n"
        "o2,c1,2024-01-02 10:00:00,10.00,pos,paid\n"
        "o3,c1,2024-01-03 10:00:00,10.00,pos,paid\n"
        "o4,c2,2024-01-01 10:00:00,10.00,web,paid\n"
        "o5,c2,2024-01-02 10:00:00,10.00,app,paid\n"
        "o6,c2,2024-01-03 10:00:00,10.00,pos,cancelled\n"
        "o7,c2,2024-01-04 10:00:00,10.00,pos,cancelled\n"
    )
    ingest(workspace, "orders", [path])
    got = workspace.execute(order_channels(workspace)).set_index("customer_id").order_channel.to_dict()
    assert got == {"c1": "pos", "c2": "app"}  # cancelled orders do not count; ties by name
