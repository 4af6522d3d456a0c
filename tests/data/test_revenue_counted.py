"""Defects 3, 4 and 5 of issue 12: guest orders, line-level files and refunds all reach the numbers.

A line-level till export (one row per item, no order total) with guests and credit notes is loaded
with ``regulars ingest order-lines --mapping``; every KPI below is worked out by hand:

==========  ========  =====================  ===========================================
order       customer  day                    lines -> total
==========  ========  =====================  ===========================================
1001        17850     2024-03-01             2 x 5.00 + 1 x 3.50 = 13.50
1002        (guest)   2024-03-02             1 x 5.00 + 3 x 2.00 = 11.00
1003        13047     2024-03-05             4 x 3.50 = 14.00
C1004       17850     2024-03-09             credit note: -1 x 5.00 = -5.00 (a return)
1005        (guest)   2024-04-02             2 x 2.00 = 4.00
1006        13047     2024-04-03             1 x 5.00 - 1 x 1.00 (a returned pen) = 4.00
C1007       (guest)   2024-04-05             credit note written with +2 x 2.00 -> -4.00
==========  ========  =====================  ===========================================

Purchases: 1001, 1002, 1003, 1005, 1006 (5; guests 1002, 1005). Revenue 13.50 + 11.00 + 14.00 - 5.00
+ 4.00 + 4.00 - 4.00 = 37.50, of which guests 11.00 + 4.00 - 4.00 = 11.00. Refunds: the two credit
notes, 9.00. Customers 2 (17850, 13047) with 3 purchases.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from decimal import Decimal

import pytest

from regulars.data.ingest.pipeline import ingest
from regulars.reports.kpis import kpis
from tests.conftest import SAMPLES

LINES = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID
1001,A,Mug,2,2024-03-01 10:00,5.00,17850.0
1001,B,Tea,1,2024-03-01 10:00,3.50,17850.0
1002,A,Mug,1,2024-03-02 11:00,5.00,
1002,C,Cake,3,2024-03-02 11:00,2.00,
1003,B,Tea,4,2024-03-05 09:00,3.50,13047.0
C1004,A,Mug,-1,2024-03-09 12:00,5.00,17850.0
1005,C,Cake,2,2024-04-02 15:00,2.00,
1006,A,Mug,1,2024-04-03 10:00,5.00,13047.0
1006,D,Pen,-1,2024-04-03 10:00,1.00,13047.0
C1007,C,Cake,2,2024-04-05 10:00,2.00,
"""

MAPPING = """kind = "order-lines"
[columns]
order_id = "InvoiceNo"
product_id = "StockCode"
product_name = "Description"
quantity = "Quantity"
ordered_at = "InvoiceDate"
unit_price = "UnitPrice"
customer_id = "CustomerID"
[parse]
cancellation_prefix = "C"
currency = "GBP"
"""


@pytest.fixture
def till(workspace, tmp_path):
    (tmp_path / "lines.csv").write_text(LINES)
    (tmp_path / "m.toml").write_text(MAPPING)
    result = ingest(workspace, "order-lines", [tmp_path / "lines.csv"], mapping=tmp_path / "m.toml")
    return workspace, result, tmp_path


def test_line_level_file_becomes_orders_with_guests_and_dated_returns(till):
    ws, result, tmp_path = till
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (10, 10, 0)
    assert result.tables["orders"] == {"new": 7, "updated": 0, "unchanged": 0, "merged": 3}
    assert result.tables["order_lines"]["new"] == 10 and result.guest_orders == 3
    orders = ws._con.execute("SELECT order_id, customer_id, ordered_at::DATE::VARCHAR, total::VARCHAR, currency "
                            "FROM orders ORDER BY ordered_at").fetchall()
    assert orders == [
        ("1001", "17850", "2024-03-01", "13.50", "GBP"), ("1002", None, "2024-03-02", "11.00", "GBP"),
        ("1003", "13047", "2024-03-05", "14.00", "GBP"), ("C1004", "17850", "2024-03-09", "-5.00", "GBP"),
        ("1005", None, "2024-04-02", "4.00", "GBP"), ("1006", "13047", "2024-04-03", "4.00", "GBP"),
        ("C1007", None, "2024-04-05", "-4.00", "GBP"),
    ]
    assert ws._con.execute("SELECT quantity FROM order_lines WHERE order_id = 'C1007'").fetchall() == [(-2,)]
    # loading the same file again changes nothing
    again = ingest(ws, "order-lines", [tmp_path / "lines.csv"], mapping=tmp_path / "m.toml")
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 17)


def test_kpis_count_guests_and_credit_notes_as_worked_out_by_hand(till):
    ws, _, _ = till
    report = kpis(ws)
    row = report.table.iloc[0]
    assert (int(row.orders), float(row.revenue), int(row.guest_orders), float(row.guest_revenue)) == (5, 37.5, 2, 11.0)
    assert (int(row.refunds), float(row.refund_amount), int(row.customers)) == (2, 9.0, 2)
    assert float(row.average_order_value) == pytest.approx(37.5 / 5)
    assert float(row.purchase_frequency) == pytest.approx(3 / 2)  # customers' orders only
    assert any("29% of revenue (2 guest orders) is from guest orders" in n for n in report.notes)
    month = kpis(ws, by="month").table.set_index("month")
    assert month.loc["2024-03", ["orders", "guest_orders", "refunds"]].tolist() == [3, 1, 1]
    assert month.loc["2024-03", ["revenue", "guest_revenue"]].tolist() == [33.5, 11.0]
    assert month.loc["2024-04", ["orders", "guest_orders", "refunds"]].tolist() == [2, 1, 1]
    assert month.loc["2024-04", ["revenue", "guest_revenue", "refund_amount"]].tolist() == [4.0, 0.0, 4.0]
    channel = kpis(ws, by="channel").table.set_index("channel")
    assert channel.loc["(guest orders)", ["orders", "customers", "revenue"]].tolist() == [2, 0, 11.0]


def test_customer_analyses_skip_guests(till):
    ws, _, _ = till
    from regulars.segments import rfm

    scores = ws.execute(rfm(ws, as_of=dt.date(2024, 4, 6))).set_index("customer_id")
    assert sorted(scores.index) == ["13047", "17850"]
    assert scores.loc["17850", "monetary"] == Decimal("8.50")  # 13.50 less the credit note
    assert ws._con.execute("SELECT count(*) FROM customer_order_stats").fetchall() == [(2,)]


def test_guest_baskets_count_in_basket_analysis(till):
    """Bought-together pairs come from every basket: a walk-in's mug and cake are a pair too."""
    ws, _, _ = till
    from regulars.features.recommend import basket_lines

    lines = ws.execute(basket_lines(ws, dt.date(2024, 5, 1)))
    baskets = lines.groupby("basket").product_id.apply(lambda p: "".join(sorted(p))).tolist()
    assert sorted(baskets) == ["A", "AB", "AC", "B", "C"]  # 1006's pen was returned: only the mug


def test_the_demand_forecast_learns_from_guest_orders(till):
    ws, _, _ = till
    from regulars.features.purchase_history import daily_sales

    days = ws.execute(daily_sales(ws, dt.date(2024, 5, 1)))
    days = days.set_index(days.day.astype(str).str[:10]).sort_index()
    assert days.index.tolist() == ["2024-03-01", "2024-03-02", "2024-03-05", "2024-04-02", "2024-04-03"]
    assert days.loc["2024-03-02", "revenue"] == 11.0 and days.orders.sum() == 5  # 1002 and 1005 are guests


def test_an_order_is_loaded_whole_or_not_at_all(workspace, tmp_path):
    (tmp_path / "m.toml").write_text(MAPPING)
    (tmp_path / "bad.csv").write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "2001,A,Mug,1,2024-03-01 10:00,5.00,1\n"
        "2001,B,Tea,one,2024-03-01 10:00,3.50,1\n"          # unreadable: the whole order stays out
        "2002,A,Mug,1,2024-03-01 10:00,5.00,1\n"
        "2002,B,Tea,1,2024-03-01 10:00,3.50,2\n"            # two customers: the whole order stays out
        "2003,A,Mug,1,2024-03-01 10:00,5.00,3\n"
        "2003,B,Tea,1,2024-03-01 10:00,3.50,\n"             # no customer on this line: still customer 3's
    )
    result = ingest(workspace, "order-lines", [tmp_path / "bad.csv"], mapping=tmp_path / "m.toml")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 2, 4)
    assert workspace._con.execute("SELECT order_id, customer_id, total::VARCHAR FROM orders").fetchall() == [
        ("2003", "3", "8.50")]
    reasons = dict(workspace._con.execute("SELECT row_number, reason FROM quarantine").fetchall())
    assert "has a line that could not be loaded (row 2)" in reasons[1]
    assert "names more than one customer (1, 2)" in reasons[3] and reasons[3] == reasons[4]


def test_orders_across_two_files_keep_their_own_customers(workspace, tmp_path):
    """An order whose lines are split over two files (row 1 of the second file, row 1+2k of the
    first) must not lend its customer to the guest order on the same row number of the first file,
    nor take that guest's none (each order once was resolved by its lowest file and row separately)."""
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
    first, second = [header], [header]
    for k in range(20):
        first.append(f"G{k},A,Mug,1,2024-03-01 10:00,5.00,\n")          # a guest order, row 2k + 1
        first.append(f"S{k},B,Tea,1,2024-03-01 10:00,3.50,{900 + k}\n")  # line 1 of order S{k}, row 2k + 2
        second.append(f"S{k},C,Cake,1,2024-03-01 10:00,2.00,{900 + k}\n")  # its line 2, row k + 1
    (tmp_path / "a.csv").write_text("".join(first))
    (tmp_path / "b.csv").write_text("".join(second))
    (tmp_path / "m.toml").write_text(MAPPING)
    result = ingest(workspace, "order-lines", [tmp_path / "a.csv", tmp_path / "b.csv"], mapping=tmp_path / "m.toml")
    assert (result.rows_read, result.rows_quarantined, result.guest_orders) == (60, 0, 20)
    orders = dict(workspace._con.execute("SELECT order_id, customer_id FROM orders").fetchall())
    assert orders == {**{f"G{k}": None for k in range(20)}, **{f"S{k}": str(900 + k) for k in range(20)}}


def test_shopify_refunds_reach_the_kpis_on_the_day_of_the_export(workspace, tmp_path):
    export = tmp_path / "orders_export.csv"
    shutil.copy(SAMPLES / "shopify_orders.csv", export)
    stamp = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC).timestamp()
    os.utime(export, (stamp, stamp))  # Shopify gives no refund date: the export's date is used
    ingest(workspace, "orders", [export])
    refunds = workspace._con.execute("SELECT order_id, refunded::VARCHAR, refunded_at::VARCHAR FROM orders "
                                    "WHERE refunded > 0 ORDER BY 1").fetchall()
    assert refunds == [("#1002", "28.76", "2024-03-01 09:00:00"), ("#1003", "12.00", "2024-03-01 09:00:00")]
    row = kpis(workspace).table.iloc[0]
    # #1004 is cancelled; #1002 is fully refunded, so not an order; revenue 214.06 placed - 40.76 refunded
    assert (int(row.orders), int(row.refunds), float(row.refund_amount)) == (5, 2, 40.76)
    assert float(row.revenue) == 173.30
    # as of mid-February the refunds had not happened: #1002 was an order and nothing was refunded
    before = kpis(workspace, end="2024-02-15").table.iloc[0]
    assert (int(before.orders), int(before.refunds), float(before.revenue)) == (6, 0, 214.06)


def test_a_fully_refunded_order_is_not_a_purchase_anywhere(workspace, tmp_path):
    (tmp_path / "o.csv").write_text(
        "order_id,customer_id,ordered_at,total,status,refunded,refunded_at\n"
        "A,C1,2024-01-05 10:00,30.00,paid,,\n"
        "B,C1,2024-02-05 10:00,20.00,refunded,,2024-02-07 10:00\n"   # status refunded: refunded in full
        "C,C2,2024-02-06 10:00,15.00,paid,15.00,2024-03-01 10:00\n"  # refunded in full later
    )
    ingest(workspace, "orders", [tmp_path / "o.csv"])
    assert workspace._con.execute("SELECT refunded::VARCHAR FROM orders WHERE order_id = 'B'").fetchall() == [("20.00",)]
    stats = dict(workspace._con.execute("SELECT customer_id, orders FROM customer_order_stats").fetchall())
    assert stats == {"C1": 1, "C2": 0}  # C2 bought nothing: the only order was refunded in full
    from regulars.features.mart import customer_features

    early = workspace.execute(customer_features(workspace, as_of=dt.date(2024, 2, 20), categories=[]))
    assert dict(zip(early.customer_id, early.orders)) == {"C1": 1, "C2": 1}  # C's refund had not happened yet
    late = workspace.execute(customer_features(workspace, as_of=dt.date(2024, 3, 2), categories=[]))
    assert dict(zip(late.customer_id, late.orders)) == {"C1": 1, "C2": 0}


def test_the_weekly_report_counts_orders_and_revenue_by_the_same_rules(workspace, tmp_path):
    """The Monday report and alerts (activation) use the one definition: a fully refunded order is
    not an order, a cancelled one (dated, whatever its status says) is not revenue, guests count."""
    (tmp_path / "o.csv").write_text(
        "order_id,customer_id,ordered_at,total,status,refunded,cancelled_at\n"
        "A,C1,2024-01-05 10:00,30.00,paid,5.00,\n"
        "B,,2024-01-05 11:00,12.00,paid,,\n"                      # a guest
        "C,C2,2024-01-06 10:00,20.00,refunded,,\n"                 # refunded in full
        "D,C3,2024-01-06 12:00,40.00,paid,,2024-01-06 13:00\n"    # cancelled, status not updated
    )
    ingest(workspace, "orders", [tmp_path / "o.csv"])
    from regulars.data import activation_store

    week = dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 8)
    assert activation_store.net_revenue(workspace, *week) == 37.0  # 30 - 5 + 12 + (20 - 20)
    assert activation_store.traffic(workspace, *week)["orders"] == 2
    assert float(kpis(workspace).table.iloc[0].revenue) == 37.0
