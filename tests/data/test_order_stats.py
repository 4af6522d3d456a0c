"""customer_order_stats: per-customer order totals kept equal to the orders through every writer."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import duckdb
import pytest

from regulars.data import order_stats
from regulars.data.erasure import forget
from regulars.data.ingest.pipeline import ingest
from tests.data.test_ingest import write

LATER = dt.date(2025, 1, 1)


def stats(ws) -> dict:
    rows = ws._con.execute("SELECT customer_id, last_order_date, orders, net FROM customer_order_stats").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def exported(path, when: str):
    """Give a file the modification time of an export made at *when* (UTC)."""
    import os

    stamp = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_loads_reloads_merges_and_erasure_keep_the_totals_exact(workspace, tmp_path):
    first = write(tmp_path, "o1.csv", (
        "order_id,customer_id,ordered_at,total,status,refunded\n"
        "A,C1,2024-03-01 10:00,20.00,paid,\n"
        "B,C1,2024-04-02 23:30,30.00,paid,5.00\n"
        "C,C1,2024-05-01,-4.50,refunded,\n"        # a return: net only
        "D,C2,2024-02-01,15.00,cancelled,\n"       # never counts
        "E,C2,2024-02-03,12.00,paid,\n"
    ))
    ingest(workspace, "orders", [exported(first, "2024-05-01 12:00")])  # B's refund is known from the export
    assert stats(workspace) == {
        "C1": (dt.date(2024, 4, 2), 2, Decimal("40.50")),
        "C2": (dt.date(2024, 2, 3), 1, Decimal("12.00")),
    }
    summary = workspace._con.execute("SELECT first_order_date, purchase_days, purchases_net, first_day_net, n_gaps, "
                                    "log_gap_mean, log_gap_var FROM customer_order_stats WHERE customer_id = 'C1'").fetchall()
    assert summary == [(dt.date(2024, 3, 1), 2, Decimal("45.00"), Decimal("20.00"), 1, math.log(32), None)]
    assert order_stats.mismatches(workspace._con) == 0
    assert order_stats.covers(workspace._con, dt.date(2024, 5, 2))
    assert not order_stats.covers(workspace._con, dt.date(2024, 5, 1))  # the return on 1 May would be counted
    refunds = workspace._con.execute("SELECT order_id, refunded_at, cancelled_at FROM orders WHERE order_id IN ('B', 'D') "
                                    "ORDER BY 1").fetchall()
    assert refunds == [("B", dt.datetime(2024, 5, 1, 12), None), ("D", None, None)]  # D: cancelled from the start

    # a newer export: B moves to C2 (the old and the new owner change), E is cancelled, C3 is new
    second = write(tmp_path, "o2.csv", (
        "order_id,customer_id,ordered_at,total,status,refunded\n"
        "B,C2,2024-04-02 23:30,30.00,paid,5.00\n"
        "E,C2,2024-02-03,12.00,cancelled,\n"
        "F,C3,2024-06-01,8.00,paid,\n"
    ))
    ingest(workspace, "orders", [exported(second, "2024-06-15 08:00")])
    assert stats(workspace) == {
        "C1": (dt.date(2024, 3, 1), 1, Decimal("15.50")),
        "C2": (dt.date(2024, 4, 2), 1, Decimal("25.00")),
        "C3": (dt.date(2024, 6, 1), 1, Decimal("8.00")),
    }
    assert order_stats.mismatches(workspace._con) == 0

    # an e-mail-only buyer merged into the shop's customer record carries its orders over
    ingest(workspace, "orders", [write(tmp_path, "o3.csv", "order_id,email,ordered_at,total\nG,ann@example.com,2024-06-02,10\n")])
    ingest(workspace, "customers", [write(tmp_path, "c.csv", "customer_id,email\nC3,ann@example.com\n")])
    assert stats(workspace)["C3"] == (dt.date(2024, 6, 2), 2, Decimal("18.00"))
    assert not any(c.startswith("e-") for c in stats(workspace))
    assert order_stats.mismatches(workspace._con) == 0

    forget(workspace, "C2")
    assert set(stats(workspace)) == {"C1", "C3"}
    assert order_stats.covers(workspace._con, LATER)  # still usable after the erasure


def test_orders_written_behind_regulars_back_are_detected(workspace, tmp_path):
    ingest(workspace, "orders", [write(tmp_path, "o.csv", "order_id,customer_id,ordered_at,total\nA,C1,2024-03-01,20\n")])
    assert order_stats.covers(workspace._con, LATER)
    workspace._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES ('Z', 'C9', '2024-03-02', 1)")
    assert not order_stats.covers(workspace._con, LATER)
    assert workspace.order_stats(LATER) is None  # readers go back to the orders
    assert order_stats.mismatches(workspace._con) == 1


def test_a_failed_load_leaves_the_totals_untouched(workspace, tmp_path):
    ingest(workspace, "orders", [write(tmp_path, "o.csv", "order_id,customer_id,ordered_at,total\nA,C1,2024-03-01,20\n")])
    before = stats(workspace)
    workspace._con.execute("CREATE TABLE boom AS SELECT 1")  # a name the next statement will collide with
    con = workspace._con
    with pytest.raises(duckdb.CatalogException, match="boom"):
        with workspace.transaction():
            con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES ('B', 'C1', '2024-03-05', 7)")
            order_stats.refresh(con, "SELECT 'C1' AS customer_id")
            assert stats(workspace) != before  # the refresh did run inside the transaction
            con.execute("CREATE TABLE boom AS SELECT 2")
    assert stats(workspace) == before and order_stats.covers(workspace._con, LATER)


def test_gap_statistics_from_the_stored_totals_equal_those_from_the_orders(workspace, tmp_path):
    import pandas as pd

    from regulars.features.purchase_history import gap_statistics

    rows = ["order_id,customer_id,ordered_at,total,status"]
    days = {"A": ["2024-01-01", "2024-01-03", "2024-01-03", "2024-01-10", "2024-02-20"], "B": ["2024-01-05"],
            "C": ["2024-01-01", "2024-03-01"], "D": ["2024-01-02", "2024-01-09", "2024-01-30"]}
    for cid, ds in days.items():
        rows += [f"{cid}{i},{cid},{d},10.00,paid" for i, d in enumerate(ds)]
    rows += ["X1,C,2024-02-01,99.00,cancelled", "X2,D,2024-01-20,-5.00,paid"]  # neither is a purchase day
    ingest(workspace, "orders", [write(tmp_path, "o.csv", "\n".join(rows) + "\n")])

    class OrdersOnly:
        table = workspace.table

    as_of = dt.date(2024, 6, 1)
    assert workspace.order_stats(as_of) is not None
    stored = workspace.frame(gap_statistics(workspace, as_of).order_by("customer_id")).set_index("customer_id")
    scanned = workspace.frame(gap_statistics(OrdersOnly, as_of).order_by("customer_id")).set_index("customer_id")
    pd.testing.assert_frame_equal(stored, scanned, check_exact=False, rtol=1e-12)
    assert list(stored.index) == ["A", "C", "D"]  # B has a single purchase day: no gap
    assert stored.loc["A", "n_gaps"] == 3  # 2, 7 and 41 days; the second 3 January order is the same day
    assert math.isclose(stored.loc["A", "log_gap_mean"], (math.log(2) + math.log(7) + math.log(41)) / 3)
    assert stored.loc["C", "n_gaps"] == 1 and math.isnan(stored.loc["C", "log_gap_var"])


def test_readiness_counts_from_the_stored_totals_equal_those_from_the_orders(workspace, tmp_path, monkeypatch):
    from regulars.jobs.data_stats import data_stats

    rows = ["order_id,customer_id,ordered_at,total,status"]
    days = {"A": ["2024-01-01", "2024-01-03", "2024-01-03"], "B": ["2024-01-05", "2024-01-05"],
            "C": ["2024-01-01", "2024-03-01"]}
    for cid, ds in days.items():
        rows += [f"{cid}{i},{cid},{d},10.00,paid" for i, d in enumerate(ds)]
    rows += ["X1,B,2024-02-01,99.00,cancelled", "X2,E,2024-01-20,-5.00,paid"]  # E has only a return
    ingest(workspace, "orders", [write(tmp_path, "o.csv", "\n".join(rows) + "\n")])
    as_of = dt.date(2024, 6, 1)
    assert workspace.order_stats(as_of) is not None
    stored = data_stats(workspace, as_of)
    monkeypatch.setattr(workspace, "order_stats", lambda _as_of: None)
    assert data_stats(workspace, as_of) == stored
    assert (stored.customers_with_orders, stored.repeat_customers, stored.days_with_orders) == (3, 2, 4)
