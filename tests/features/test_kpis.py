"""KPIs on a tiny shop whose every number is computed by hand below.

The shop is written as CSV files and loaded through the real ingest pipeline.

Customers (acquisition channel):
    c1 c2 c3 c4 paid_search · c5 c6 c7 organic · c8 (none -> "unknown")

Orders (net = total - refunded):
    o01 c1 2024-01-05  100.00          o09 c5 2024-01-10  80.00
    o02 c1 2024-02-10   50.00          o10 c5 2024-04-12  20.00
    o03 c1 2024-03-15   70.00          o11 c6 2024-02-28  90.00
    o04 c2 2024-01-20   40.00          o12 c6 2024-04-25  45.00
    o05 c2 2024-03-02   60.00 ref 10   o13 c7 2024-04-05  25.00   (o05's refund on 2024-03-06)
    o06 c3 2024-02-05  200.00          o14 c7 2024-04-05  35.00 (same day as o13)
    o07 c3 2024-02-20  -50.00 refund   o15 c8 2024-04-30  10.00
    o08 c4 2024-03-10   30.00          o16 c4 2024-04-01  99.00 cancelled (counts nowhere)

14 purchases; net revenue = 855 (sum of purchase totals) - 10 (refunded) - 50 (refund) = 795.
Purchases per customer: c1 3, c2 2, c3 1, c4 1, c5 2, c6 2, c7 2, c8 1 -> 5 with two or more.
Net revenue per customer: c1 220, c2 90, c3 150, c4 30, c5 100, c6 135, c7 60, c8 10.
Gaps between purchase days: c1 36 and 34, c2 42, c5 93, c6 57 (c7's two orders are one day)
-> median 42 -> default activity window 2 * 42 = 84 days; end = 2024-04-30, so the current
period is 2024-02-07..04-30 and the previous one 2023-11-15..2024-02-06.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import ibis
import pytest

from tests.optional import engine

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
from regulars.features import kpis as features
from regulars.reports.kpis import KpiReport, kpis

CUSTOMERS = """customer_id,email,acquisition_channel,created_at
c1,c1@example.com,paid_search,2024-01-01
c2,c2@example.com,paid_search,2024-01-02
c3,c3@example.com,paid_search,2024-01-03
c4,c4@example.com,paid_search,2024-01-04
c5,c5@example.com,organic,2024-01-05
c6,c6@example.com,organic,2024-01-06
c7,c7@example.com,organic,2024-01-07
c8,c8@example.com,,2024-01-08
"""

ORDERS = """order_id,customer_id,ordered_at,status,total,refunded,refunded_at
o01,c1,2024-01-05 10:00:00,paid,100.00,,
o02,c1,2024-02-10 11:00:00,paid,50.00,,
o03,c1,2024-03-15 12:00:00,paid,70.00,,
o04,c2,2024-01-20 09:30:00,paid,40.00,,
o05,c2,2024-03-02 16:00:00,partially_refunded,60.00,10.00,2024-03-06 09:00:00
o06,c3,2024-02-05 08:00:00,paid,200.00,,
o07,c3,2024-02-20 13:00:00,paid,-50.00,,
o08,c4,2024-03-10 19:00:00,paid,30.00,,
o09,c5,2024-01-10 10:00:00,paid,80.00,,
o10,c5,2024-04-12 10:00:00,paid,20.00,,
o11,c6,2024-02-28 23:00:00,paid,90.00,,
o12,c6,2024-04-25 07:00:00,paid,45.00,,
o13,c7,2024-04-05 10:00:00,paid,25.00,,
o14,c7,2024-04-05 18:00:00,paid,35.00,,
o15,c8,2024-04-30 21:00:00,paid,10.00,,
o16,c4,2024-04-01 12:00:00,cancelled,99.00,,
"""

# Sessions are a visitor's events with no 30-minute gap (as in the funnel): seven, because a2
# comes back three hours later (e11), and a6 reusing the source session id "s1" is another visitor.
EVENTS = """event_id,anonymous_id,session_id,event_type,occurred_at
e01,a1,s1,page_view,2024-03-03 10:00:00
e02,a1,s1,add_to_cart,2024-03-03 10:05:00
e03,a1,s1,purchase,2024-03-03 10:09:00
e04,a2,s2,page_view,2024-03-10 12:00:00
e05,a3,s3,page_view,2024-03-20 09:00:00
e06,a3,s3,product_view,2024-03-20 09:02:00
e07,a4,s4,page_view,2024-04-05 18:00:00
e08,a4,s4,purchase,2024-04-05 18:10:00
e09,a5,s5,page_view,2024-04-28 20:00:00
e10,a6,s1,page_view,2024-04-29 08:00:00
e11,a2,,page_view,2024-03-10 15:00:00
"""

SPEND = """spent_on,channel,amount
2024-01-15,paid_search,120.00
2024-02-15,paid_search,80.00
2024-03-15,Paid_Search,60.00
2024-04-15,social,40.00
"""

SURVEYS = """response_id,customer_id,survey,score,answered_at
r1,c1,nps,10,2024-01-20 10:00:00
r2,c2,nps,9,2024-02-15 10:00:00
r3,c3,nps,6,2024-03-01 10:00:00
r4,c5,nps,7,2024-03-20 10:00:00
r5,c6,nps,0,2024-04-02 10:00:00
r6,c7,nps,10,2024-04-10 10:00:00
r7,c4,csat,5,2024-03-20 10:00:00
r8,c8,csat,2,2024-04-30 10:00:00
r9,c1,other,3,2024-04-01 10:00:00
"""

TICKETS = """ticket_id,customer_id,opened_at,csat
t1,c3,2024-02-21 09:00:00,1
t2,c1,2024-03-16 10:00:00,4
t3,c2,2024-03-05 11:00:00,
"""

SOURCES = [
    ("customers", CUSTOMERS), ("orders", ORDERS), ("events", EVENTS),
    ("spend", SPEND), ("surveys", SURVEYS), ("tickets", TICKETS),
]


def load(ws: Workspace, folder, sources) -> None:
    for kind, text in sources:
        path = folder / f"{kind}.csv"
        path.write_text(text)
        result = ingest(ws, kind, [path])
        assert result.rows_quarantined == 0, (kind, result)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kpi_shop")
    ws = Workspace(folder / "shop.duckdb")
    load(ws, folder, SOURCES)
    yield ws
    ws.close()


def approx(x):
    return pytest.approx(x, abs=1e-9)


def check(row, expected: dict) -> None:
    """Every expected KPI equals the row's value (NaN expected as None)."""
    for name, want in expected.items():
        got = row[name]
        if want is None:
            assert got is None or (isinstance(got, float) and math.isnan(got)), (name, got)
        elif name in ("revenue", "average_order_value", "clv_historical", "spend", "cac"):
            assert got == pytest.approx(want, abs=0.005), (name, got, want)  # money is shown in cents
        else:
            assert got == approx(want), (name, got, want)


def test_the_shop_loaded_whole(shop):
    assert shop.count("orders") == 16
    assert shop.count("customers") == 8
    assert shop.count("events") == 11
    assert shop.count("quarantine") == 0


def test_default_activity_window_is_twice_the_median_gap(shop):
    report = kpis(shop)
    # gaps 34, 36, 42, 57, 93 -> median 42 -> 84 days
    assert report.active_days == 84
    assert "42 days, from 5 repeat purchases" in report.active_days_reason
    assert report.start == dt.date(2024, 1, 5) and report.end == dt.date(2024, 4, 30)


def test_overall(shop):
    report = kpis(shop)
    assert len(report.table) == 1
    check(report.table.iloc[0].to_dict(), {
        "customers": 8,
        # last purchase on/after 2024-02-07: all but c3 (last purchase 02-05)
        "active_customers": 7,
        "orders": 14,
        "revenue": 795.00,
        "average_order_value": 795 / 14,
        "purchase_frequency": 14 / 8,
        "repeat_purchase_rate": 5 / 8,
        # previous period (to 02-06): c1, c2, c3, c5; of those c1, c2, c5 bought again
        "retention_base": 4,
        "retention_rate": 3 / 4,
        "churn_rate": 1 / 4,
        "clv_historical": 795 / 8,
        # the window is all history: everyone is new; the 5 repeat customers came back (issue 16.5:
        # "returning customers 0" next to a 62% repeat rate was a bug)
        "new_customers": 8,
        "returning_customers": 5,
        "refunds": 2,  # the return o07 and o05's refund
        "refund_amount": 60.00,
        "guest_orders": 0, "guest_revenue": 0.0,
        # sessions: a1, a2 (twice), a3, a4, a5, a6; a1's and a4's have a purchase event
        "sessions": 7,
        "conversion_rate": 2 / 7,
        "spend": 300.00,  # 120 + 80 + 60 + 40
        "cac": 300 / 8,
        # revenue per customer per month over Jan..Apr: 795 / 8 / 4
        "cac_payback_months": (300 / 8) / (795 / 8 / 4),
        # CSAT ratings: tickets 1 and 4, surveys 5 and 2 -> 4 and 5 are satisfied
        "csat": 2 / 4,
        "csat_responses": 4,
        # NPS: 10, 9, 6, 7, 0, 10 -> promoters 3, detractors 2 (6, 0)
        "nps": 100 * (3 - 2) / 6,
        "nps_responses": 6,
    })
    assert set(report.definitions) == set(features.METRICS)
    assert any("blended" in n for n in report.notes)
    assert any("2 refund(s)" in n for n in report.notes)
    assert any("1 cancelled" in n for n in report.notes)


def test_by_month(shop):
    t = kpis(shop, by="month").table.set_index("month")
    assert list(t.index) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    check(t.loc["2024-01"].to_dict(), {
        "customers": 3, "new_customers": 3, "returning_customers": 0,  # c1, c2, c5
        "active_customers": 3,  # bought 2023-11-09..2024-01-31
        "orders": 3, "refunds": 0, "revenue": 220,  # 100 + 40 + 80
        "average_order_value": 220 / 3, "purchase_frequency": 1.0,
        "repeat_purchase_rate": 0.0,
        "retention_base": 0, "retention_rate": None, "churn_rate": None,
        "clv_historical": 220 / 3,
        "sessions": 0, "conversion_rate": None,
        "spend": 120, "cac": 40, "cac_payback_months": 40 / (220 / 3),
        "csat_responses": 0, "csat": None,
        "nps_responses": 1, "nps": 100.0,  # c1: 10
    })
    check(t.loc["2024-02"].to_dict(), {
        "customers": 3, "new_customers": 2, "returning_customers": 1,  # c1 back; c3, c6 new
        "active_customers": 5,  # bought 2023-12-08..2024-02-29: c1, c2, c3, c5, c6
        "orders": 3, "refunds": 1, "revenue": 290,  # 50 + 200 + 90 - 50
        "average_order_value": 290 / 3, "purchase_frequency": 1.0,
        "repeat_purchase_rate": 1 / 3,  # c1 has two purchases by February
        "retention_base": 3, "retention_rate": 1 / 3, "churn_rate": 2 / 3,  # of c1, c2, c5 only c1
        "clv_historical": (220 + 290) / 5,
        "sessions": 0, "conversion_rate": None,
        "spend": 80, "cac": 40, "cac_payback_months": 40 / (290 / 3),
        "csat_responses": 1, "csat": 0.0,  # ticket t1: 1
        "nps_responses": 1, "nps": 100.0,  # c2: 9
    })
    check(t.loc["2024-03"].to_dict(), {
        "customers": 3, "new_customers": 1, "returning_customers": 2,  # c1, c2 back; c4 new
        "active_customers": 6,  # bought 2024-01-08..03-31: all but c7, c8 (c5 on 01-10)
        "orders": 3, "refunds": 1, "revenue": 150,  # 70 + (60 - 10 refunded on 03-06) + 30
        "average_order_value": 50, "purchase_frequency": 1.0,
        "repeat_purchase_rate": 2 / 3,  # c1 (3), c2 (2); c4 (1)
        "retention_base": 3, "retention_rate": 1 / 3, "churn_rate": 2 / 3,  # of c1, c3, c6 only c1
        "clv_historical": (220 + 290 + 150) / 6,
        "sessions": 4, "conversion_rate": 1 / 4,  # a1, a2 (twice), a3; a1 bought
        "spend": 60, "cac": 60, "cac_payback_months": 60 / (150 / 3),
        "csat_responses": 2, "csat": 1.0,  # t2: 4, c4 survey: 5 (t3 has no rating)
        "nps_responses": 2, "nps": 100 * (0 - 1) / 2,  # 6 (detractor), 7 (passive)
    })
    check(t.loc["2024-04"].to_dict(), {
        "customers": 4, "new_customers": 2, "returning_customers": 2,  # c5, c6 back; c7, c8 new
        "active_customers": 7,
        "orders": 5, "refunds": 0, "revenue": 135,  # 20 + 45 + 25 + 35 + 10
        "average_order_value": 27, "purchase_frequency": 5 / 4,
        "repeat_purchase_rate": 3 / 4,  # c5, c6, c7 (two orders on one day); not c8
        "retention_base": 3, "retention_rate": 0.0, "churn_rate": 1.0,  # none of c1, c2, c4
        "clv_historical": 795 / 8,
        "sessions": 3, "conversion_rate": 1 / 3,  # a4 bought; a5 and a6 did not
        "spend": 40, "cac": 20, "cac_payback_months": 20 / (135 / 4),
        "csat_responses": 1, "csat": 0.0,  # c8 survey: 2
        "nps_responses": 2, "nps": 0.0,  # 0 and 10
    })


def test_by_channel(shop):
    report = kpis(shop, by="channel")
    t = report.table.set_index("channel")
    # "Paid_Search" spend is the same channel as "paid_search"; social has spend but no customers
    assert list(t.index) == ["organic", "paid_search", "social", "unknown"]
    check(t.loc["paid_search"].to_dict(), {
        "customers": 4, "active_customers": 3,  # c3 is not active
        "orders": 7, "refunds": 2, "revenue": 490,  # 220 + 90 + 150 + 30; o07's return and o05's refund
        "average_order_value": 70, "purchase_frequency": 7 / 4,
        "repeat_purchase_rate": 2 / 4,  # c1, c2
        "retention_base": 3, "retention_rate": 2 / 3, "churn_rate": 1 / 3,  # c1, c2, c3 -> c1, c2
        "clv_historical": 490 / 4, "new_customers": 4, "returning_customers": 2,  # c1, c2 came back
        "sessions": None, "conversion_rate": None,
        "spend": 260, "cac": 65, "cac_payback_months": 65 / (490 / 4 / 4),
        "csat_responses": 3, "csat": 2 / 3,  # c3: 1, c1: 4, c4: 5
        "nps_responses": 3, "nps": 100 * (2 - 1) / 3,  # 10, 9, 6
    })
    check(t.loc["organic"].to_dict(), {
        "customers": 3, "active_customers": 3,
        "orders": 6, "refunds": 0, "revenue": 295,  # 100 + 135 + 60
        "average_order_value": 295 / 6, "purchase_frequency": 2.0,
        "repeat_purchase_rate": 1.0,
        "retention_base": 1, "retention_rate": 1.0, "churn_rate": 0.0,  # c5 (01-10) came back 04-12
        "clv_historical": 295 / 3, "new_customers": 3,
        "spend": None, "cac": None, "cac_payback_months": None,  # no spend on organic
        "csat_responses": 0, "csat": None,
        "nps_responses": 3, "nps": 0.0,  # 7, 0, 10
    })
    check(t.loc["social"].to_dict(), {
        "customers": 0, "orders": 0, "revenue": 0, "average_order_value": None,
        "spend": 40, "cac": None, "new_customers": 0,
    })
    check(t.loc["unknown"].to_dict(), {
        "customers": 1, "orders": 1, "revenue": 10, "repeat_purchase_rate": 0.0,
        "retention_base": 0, "retention_rate": None, "clv_historical": 10,
        "csat_responses": 1, "csat": 0.0, "nps_responses": 0, "nps": None,
    })
    assert t["revenue"].sum() == pytest.approx(795)
    assert any("spend on social won no new customers" in n for n in report.notes)
    assert any("1 customer(s) have no acquisition channel" in n for n in report.notes)
    assert any("conversion rate is shown overall and by month only" in n for n in report.notes)


def test_by_cohort(shop):
    t = kpis(shop, by="cohort").table.set_index("cohort")
    assert list(t.index) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    check(t.loc["2024-01"].to_dict(), {  # c1, c2, c5
        "customers": 3, "active_customers": 3, "orders": 7, "refunds": 1, "revenue": 410,  # 220 + 90 + 100; o05's refund
        "average_order_value": 410 / 7, "purchase_frequency": 7 / 3, "repeat_purchase_rate": 1.0,
        "retention_base": 3, "retention_rate": 1.0, "churn_rate": 0.0,
        "clv_historical": 410 / 3, "new_customers": 3,
        "spend": 120, "cac": 40, "cac_payback_months": 40 / (410 / 3 / 4),
        "csat_responses": 1, "csat": 1.0,  # c1's ticket: 4
        "nps_responses": 3, "nps": 100 * 2 / 3,  # 10, 9, 7
    })
    check(t.loc["2024-02"].to_dict(), {  # c3, c6
        "customers": 2, "active_customers": 1, "orders": 3, "refunds": 1, "revenue": 285,  # 150 + 135
        "average_order_value": 95, "purchase_frequency": 1.5, "repeat_purchase_rate": 0.5,
        # only c3 bought in the previous period (c6's 02-28 is in the current one); c3 did not return
        "retention_base": 1, "retention_rate": 0.0, "churn_rate": 1.0,
        "clv_historical": 142.5, "spend": 80, "cac": 40, "cac_payback_months": 40 / (285 / 2 / 4),
        "csat_responses": 1, "csat": 0.0, "nps_responses": 2, "nps": -100.0,  # 6, 0
    })
    check(t.loc["2024-03"].to_dict(), {  # c4
        "customers": 1, "orders": 1, "revenue": 30, "retention_rate": None,
        "spend": 60, "cac": 60, "cac_payback_months": 60 / (30 / 1 / 4),
        "csat_responses": 1, "csat": 1.0, "nps_responses": 0, "nps": None,
    })
    check(t.loc["2024-04"].to_dict(), {  # c7, c8
        "customers": 2, "active_customers": 2, "orders": 3, "revenue": 70,
        "average_order_value": 70 / 3, "repeat_purchase_rate": 0.5, "clv_historical": 35,
        "spend": 40, "cac": 20, "cac_payback_months": 20 / (70 / 2 / 4),
        "csat_responses": 1, "csat": 0.0, "nps_responses": 1, "nps": 100.0,
    })


def test_window_from_march(shop):
    report = kpis(shop, start="2024-03-01")
    check(report.table.iloc[0].to_dict(), {
        # bought 03-01..04-30: c1, c2, c4, c5, c6, c7, c8; first purchase in it: c4, c7, c8
        "customers": 7, "new_customers": 3, "returning_customers": 5,  # c1, c2, c5, c6 and c7 (twice in April)
        "orders": 8, "refunds": 1,  # o05's refund on 03-06 (the February return is outside)
        "revenue": 285,  # 70 + 50 + 30 + 20 + 45 + 25 + 35 + 10
        "average_order_value": 285 / 8, "purchase_frequency": 8 / 7,
        "repeat_purchase_rate": 5 / 7,  # c1, c2, c5, c6, c7 have two purchases to date
        "clv_historical": (220 + 90 + 30 + 100 + 135 + 60 + 10) / 7,  # their revenue to date
        "active_customers": 7, "retention_rate": 3 / 4,  # these do not depend on start
        "sessions": 7, "conversion_rate": 2 / 7,
        "spend": 100, "cac": 100 / 3, "cac_payback_months": (100 / 3) / (285 / 7 / 2),
        "csat_responses": 3, "csat": 2 / 3,  # 4, 5, 2
        "nps_responses": 4, "nps": 100 * (1 - 2) / 4,  # 6, 7, 0, 10: promoter 10, detractors 6 and 0
    })


def test_end_ignores_later_data_and_explicit_window(shop):
    report = kpis(shop, end="2024-02-29", active_days=30)
    assert report.active_days == 30 and report.active_days_reason == "window set by you"
    check(report.table.iloc[0].to_dict(), {
        "customers": 5, "orders": 6, "revenue": 510,  # January and February only
        "active_customers": 3,  # bought 01-31..02-29: c1, c3, c6
        # previous 30 days 01-01..01-30: c1, c2, c5; again since 01-31: c1
        "retention_base": 3, "retention_rate": 1 / 3,
        "repeat_purchase_rate": 1 / 5, "clv_historical": 510 / 5,
    })


def test_gross_margin_lengthens_payback(shop):
    row = kpis(shop, gross_margin=0.5).table.iloc[0]
    assert row["cac_payback_months"] == approx((300 / 8) / (795 / 8 / 4 * 0.5))
    assert not any("uses revenue, not gross margin" in n for n in kpis(shop, gross_margin=0.5).notes)


def test_to_dict_is_json(shop):
    d = kpis(shop, by="month").to_dict()
    text = json.dumps(d)
    assert '"month": "2024-01"' in text
    assert d["rows"][0]["retention_rate"] is None  # NaN becomes null
    assert d["columns"][0] == "month" and d["active_days"] == 84
    assert d["definitions"]["nps"].startswith("net promoter score")


def test_orders_only_shop_says_what_is_missing(tmp_path):
    with Workspace(tmp_path / "shop.duckdb") as ws:
        load(ws, tmp_path, [("orders", ORDERS)])
        report = kpis(ws)
        row = report.table.iloc[0]
        assert row["revenue"] == pytest.approx(795)
        for col in ("conversion_rate", "cac", "cac_payback_months", "csat", "nps"):
            assert math.isnan(row[col]), col
        joined = " | ".join(report.notes)
        assert "CAC needs marketing spend: none loaded" in joined
        assert "conversion rate needs web/app events" in joined
        assert "CSAT needs tickets" in joined and "NPS needs nps surveys" in joined


def test_conversion_falls_back_to_orders_per_session(tmp_path):
    events = "\n".join(line for line in EVENTS.splitlines() if "purchase" not in line) + "\n"
    with Workspace(tmp_path / "shop.duckdb") as ws:
        load(ws, tmp_path, [("orders", ORDERS), ("events", events)])
        report = kpis(ws)
        # 7 sessions, 14 orders
        assert report.table.iloc[0]["conversion_rate"] == approx(14 / 7)
        assert any("orders / sessions" in n for n in report.notes)


def test_few_repeat_purchases_use_the_fallback_window(tmp_path):
    orders = "order_id,customer_id,ordered_at,total\no1,a,2024-01-01,5\no2,a,2024-01-11,5\no3,b,2024-01-05,5\n"
    with Workspace(tmp_path / "shop.duckdb") as ws:
        load(ws, tmp_path, [("orders", orders)])
        report = kpis(ws)
        assert report.active_days == features.ACTIVE_DAYS_FALLBACK
        assert "1 repeat purchase(s)" in report.active_days_reason


def test_empty_workspace(workspace):
    report = kpis(workspace, by="channel")
    assert isinstance(report, KpiReport)
    assert report.table.empty and list(report.table.columns)[0] == "channel"
    assert report.notes == ["no orders: load them with `regulars ingest orders FILE`"]
    json.dumps(report.to_dict())


def test_bad_arguments(shop):
    with pytest.raises(ValueError, match="by must be one of"):
        kpis(shop, by="week")
    with pytest.raises(ValueError, match="after"):
        kpis(shop, start="2024-05-01", end="2024-04-01")
    with pytest.raises(ValueError, match="active_days"):
        kpis(shop, active_days=0)
    with pytest.raises(ValueError, match="gross_margin"):
        kpis(shop, gross_margin=0)


class _Config(ibis.config.Config):
    treat_nan_as_null: bool = False


@pytest.fixture
def pyspark_compiler(monkeypatch):
    """The PySpark SQL compiler reads ``ibis.options.pyspark``, set only when pyspark is imported."""
    if ibis.options.pyspark is None:
        monkeypatch.setattr(ibis.options, "pyspark", _Config())


def test_every_expression_compiles_for_pyspark(shop, pyspark_compiler):
    plan = features.KpiPlan(dt.date(2024, 1, 5), dt.date(2024, 4, 30), dt.date(2024, 1, 5), active_days=84,
                            sessions=True, spend=True, ratings=True, gross_margin=0.4)
    exprs = [features.shop_rhythm(shop, plan.end), features.monthly_kpis(shop, plan)]
    exprs += [features.summary_kpis(shop, plan, by) for by in (None, "channel", "cohort")]
    for expr in exprs:
        sql = ibis.to_sql(expr, dialect="pyspark")
        assert "SELECT" in sql
        assert "DATE_TRUNC" not in sql.upper() and "AGE(" not in sql.upper()


@pytest.mark.slow
def test_same_numbers_on_spark(shop):
    """The expressions give the same numbers on a local Spark session."""
    engine("pyspark")
    from regulars.data.engines import spark_tables

    plan = features.KpiPlan(dt.date(2024, 1, 5), dt.date(2024, 4, 30), dt.date(2024, 1, 5), active_days=84,
                            sessions=True, spend=True, ratings=True)
    builds = [lambda t: features.monthly_kpis(t, plan), lambda t: features.shop_rhythm(t, plan.end)]
    builds += [(lambda by: lambda t: features.summary_kpis(t, plan, by))(by) for by in (None, "channel", "cohort")]

    def missing(v):
        return v is None or (isinstance(v, float) and math.isnan(v))

    with spark_tables(shop) as spark:
        for build in builds:
            duck = shop.execute(build(shop))
            other = spark.execute(build(spark))
            if "key" in duck:
                duck = duck.sort_values("key").reset_index(drop=True)
                other = other.sort_values("key").reset_index(drop=True)
            assert list(duck.columns) == list(other.columns)
            for col in duck.columns:
                a, b = duck[col].tolist(), other[col].tolist()
                assert len(a) == len(b), col
                for x, y in zip(a, b):
                    if missing(x) or missing(y):
                        assert missing(x) and missing(y), (col, a, b)
                    elif isinstance(x, (int, float)):
                        assert float(x) == pytest.approx(float(y)), (col, a, b)
                    else:
                        assert str(x)[:10] == str(y)[:10], (col, a, b)
