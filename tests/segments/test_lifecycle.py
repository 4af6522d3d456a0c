"""Lifecycle stages on a hand-built shop, and thresholds derived from inter-purchase times."""

from __future__ import annotations

import datetime as dt

import pytest

from regulars.segments.lifecycle import Thresholds, inter_purchase_gaps, lifecycle, lifecycle_thresholds
from tests.segments.conftest import AS_OF, add_orders


def ago(days: int) -> dt.datetime:
    d = AS_OF - dt.timedelta(days=days)
    return dt.datetime(d.year, d.month, d.day, 15)


SHOP = {  # customer: days before AS_OF of each purchase -> expected stage with thresholds 30 / 90 / new 30
    "n1": ([10], "new"),
    "n2": ([25, 5], "new"),
    "a1": ([200, 100, 15], "active"),  # last gap 85 <= 90
    "b1": ([100, 30], "active"),  # exactly 30 days silent is not yet at risk
    "re1": ([300, 20], "reactivated"),  # came back after 280 days, more than the churn threshold
    "r1": ([120, 50], "at_risk"),
    "b2": ([200, 90], "at_risk"),  # exactly 90 days silent is not yet churned
    "ch1": ([100], "churned"),
}


@pytest.fixture
def shop(workspace):
    rows = [(f"{c}-{i}", c, ago(d), 25) for c, (days, _) in SHOP.items() for i, d in enumerate(days)]
    rows.append(("x", "ch1", ago(3), 50, "cancelled"))  # a cancelled order does not bring them back
    add_orders(workspace, rows)
    return workspace


def test_stages_by_hand(shop):
    th = Thresholds(at_risk_after_days=30, churned_after_days=90)
    df = shop.execute(lifecycle(shop, AS_OF, th)).set_index("customer_id")
    assert df["stage"].to_dict() == {c: stage for c, (_, stage) in SHOP.items()}
    assert df.loc["re1", "last_gap_days"] == 280 and df.loc["a1", "days_since_last_order"] == 15


def test_thresholds_from_the_shops_gaps(workspace):
    # 40 customers with two purchases 1..40 days apart: 40 gaps, uniformly 1..40
    rows = []
    for g in range(1, 41):
        rows += [(f"a{g}", f"c{g}", ago(100 + g), 10), (f"b{g}", f"c{g}", ago(100), 10)]
    rows += [("s1", "c1", ago(100), 5)]  # a second order on the same day is not a gap
    add_orders(workspace, rows)
    gaps = sorted(workspace.execute(inter_purchase_gaps(workspace, AS_OF))["gap_days"])
    assert gaps == list(range(1, 41))
    th = lifecycle_thresholds(workspace, AS_OF)
    # interpolated percentiles: 1 + 0.75 * 39 = 30.25 -> 31;  1 + 0.95 * 39 = 38.05 -> 39
    assert (th.at_risk_after_days, th.churned_after_days, th.new_within_days, th.gaps) == (31, 39, 31, 40)
    assert "40 repeat-purchase gaps" in th.source
    over = lifecycle_thresholds(workspace, AS_OF, at_risk_after_days=10)
    assert (over.at_risk_after_days, over.churned_after_days) == (10, 39)


def test_too_few_gaps_fall_back_to_defaults(shop):
    th = lifecycle_thresholds(shop, AS_OF)
    assert (th.at_risk_after_days, th.churned_after_days) == (90, 365)
    assert "only" in th.source


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="at_risk_after_days"):
        Thresholds(at_risk_after_days=100, churned_after_days=50)
