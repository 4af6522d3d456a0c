"""Next order date (pooled gaps + BTYD waiting time) and replenishment due dates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from regulars.features.purchase_history import gap_statistics, replenishment_pairs
from regulars.models.next_order import NextOrderEstimator, replenishment_schedule


def test_without_gaps_it_is_the_btyd_lomax_waiting_time():
    est = NextOrderEstimator().fit([3, 4, 5, 2, 6, 3], np.log([30, 28, 35, 31, 29, 33]), [0.1, 0.2, 0.1, 0.3, 0.2, 0.1])
    q = est.quantiles((0.1, 0.5, 0.9), [0], [np.nan], [np.nan], [10.0], [1.5], [60.0])
    expected = 60.0 * ((1 - np.array([0.1, 0.5, 0.9])) ** (-1 / 1.5) - 1)
    np.testing.assert_allclose(q[:, 0], expected)


def test_a_regular_customer_is_expected_after_her_usual_gap():
    est = NextOrderEstimator().fit([10] * 20, [np.log(30.0)] * 20, [0.01] * 20)
    # 30-day rhythm, 10 days since her last order: next order in about 20 days
    q = est.quantiles((0.1, 0.5, 0.9), [20], [np.log(30.0)], [0.01], [10.0], [21.0], [600.0])
    assert 15 <= q[1, 0] <= 25
    assert q[0, 0] < q[1, 0] < q[2, 0]


def test_quantiles_are_ordered_and_non_negative_for_overdue_customers():
    est = NextOrderEstimator().fit([2, 3, 1], np.log([20, 40, 60]), [0.5, 0.4, np.nan])
    q = est.quantiles((0.1, 0.5, 0.9), [2, 1, 0], np.log([20, 60, np.nan]), [0.5, np.nan, np.nan],
                      [200.0, 5.0, 0.0], [3.0, 2.0, 1.0], [300.0, 90.0, 10.0])
    assert (q >= 0).all()
    assert (np.diff(q, axis=0) >= 0).all()


def test_gap_statistics_and_replenishment_on_a_hand_made_shop(workspace):
    workspace._con.execute(
        "INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES "
        "('o1', 'a', '2024-01-01', 10), ('o2', 'a', '2024-01-31', 10), ('o3', 'a', '2024-03-01', 10), "
        "('o4', 'a', '2024-04-20', 10), ('o5', 'b', '2024-01-01', 5)")
    workspace._con.execute(
        "INSERT INTO order_lines (order_id, line_number, product_id, product_name, quantity, unit_price) VALUES "
        "('o1', 1, 'beans', 'Beans', 1, 10), ('o2', 1, 'beans', 'Beans', 1, 10), ('o3', 1, 'beans', 'Beans', 1, 10), "
        "('o4', 1, 'mug', 'Mug', 1, 10), ('o5', 1, 'beans', 'Beans', 1, 5)")
    g = workspace.execute(gap_statistics(workspace, "2024-04-01")).set_index("customer_id")
    assert list(g.index) == ["a"] and g.loc["a", "n_gaps"] == 2
    assert g.loc["a", "log_gap_mean"] == pytest.approx((np.log(30) + np.log(30)) / 2)
    pairs = workspace.execute(replenishment_pairs(workspace, "2024-04-01"))
    assert pairs[["customer_id", "product_id", "times_bought"]].values.tolist() == [["a", "beans", 3]]
    assert pairs["typical_interval_days"].iloc[0] == 30
    due = replenishment_schedule(pairs, "2024-04-01").iloc[0]
    assert due["due_date"] == dt.date(2024, 3, 31)
    assert due["due_lower"] < due["due_date"] < due["due_upper"]
    # six months later she has stopped buying beans: no reminder
    assert replenishment_schedule(pairs, "2024-10-01").empty
