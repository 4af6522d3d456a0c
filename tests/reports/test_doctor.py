"""The data doctor on an empty workspace, a tiny shop with planted problems, and a shop at the minimums.

Everything is loaded through the real ingest pipeline from CSV files written here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
from regulars.reports import doctor as doc
from regulars.reports.doctor import DoctorReport, doctor

ANALYSES = ["rfm", "cohorts", "funnel", "predicted_clv", "churn", "recommendations", "cac", "nps", "sentiment"]

# Loaded first: a guest order known only by e-mail -> a provisional customer "e-<hash>",
# merged into c5 when the customers file shows dora's e-mail next to shop id c5.
GUEST_ORDERS = """order_id,email,ordered_at,total
g1,dora@example.com,2024-02-02 12:00:00,35.00
"""

# c1 and c2 share an e-mail address; c4, c5 have no channel; walkin is the till's default customer.
CUSTOMERS = """customer_id,email,phone,acquisition_channel,created_at
c1,ann@example.com,,paid_search,2024-01-01
c2,ann@example.com,,organic,2024-01-02
c3,bob@example.com,+44 7700 900123,organic,2024-01-03
c4,,,,2024-01-04
c5,dora@example.com,,,2024-01-05
walkin,,,store,2024-01-01
"""

ORDERS_HEAD = "order_id,customer_id,ordered_at,total\n"
ORDERS_ROWS = [
    "d01,c1,2024-01-10 10:00:00,10.00",
    "d02,c1,2024-02-10 10:00:00,20.00",
    "d03,c2,2024-01-15 10:00:00,30.00",
    "d04,c2,2024-03-15 10:00:00,40.00",
    "d05,c3,2024-02-01 10:00:00,50.00",
    "d06,c3,2024-04-01 10:00:00,60.00",
    "d07,c4,2024-02-20 10:00:00,70.00",
    "d08,c4,2024-05-20 18:30:00,80.00",
    "d09,c1,2024-03-01 10:00:00,25.00",  # d09 and d10: same customer, time and total
    "d10,c1,2024-03-01 10:00:00,25.00",
    "d11,c2,2024-04-10 10:00:00,5000.00",  # the outlier
    "d12,c3,2024-04-15 10:00:00,-20.00",  # a refund: not a purchase, not in the totals check
    *[f"w{i:02d},walkin,2024-03-05 {8 + i:02d}:00:00,15.00" for i in range(1, 13)],  # 12 orders on one day
    "bad1,c1,2024-03-07 10:00:00,abc",  # quarantined
]
ORDERS = ORDERS_HEAD + "\n".join(ORDERS_ROWS) + "\n"

SPEND = """spent_on,channel,amount
2024-01-15,paid_search,100.00
"""

SURVEYS = """response_id,customer_id,survey,score,comment,answered_at
s1,c1,nps,10,lovely mugs,2024-03-01 10:00:00
s2,c2,nps,3,,2024-03-02 10:00:00
s3,c3,nps,8,slow delivery,2024-03-03 10:00:00
"""


def load(ws, folder, kind, name, text):
    path = folder / name
    path.write_text(text)
    return ingest(ws, kind, [path])


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("doctor_shop")
    ws = Workspace(folder / "shop.duckdb")
    load(ws, folder, "orders", "guest_orders.csv", GUEST_ORDERS)
    load(ws, folder, "customers", "customers.csv", CUSTOMERS)
    result = load(ws, folder, "orders", "orders.csv", ORDERS)
    assert (result.rows_read, result.rows_quarantined) == (25, 1)
    load(ws, folder, "spend", "spend.csv", SPEND)
    load(ws, folder, "surveys", "surveys.csv", SURVEYS)
    report = doctor(ws)
    yield ws, report
    ws.close()


def test_empty_workspace_is_missing_everything(workspace):
    report = doctor(workspace)
    assert isinstance(report, DoctorReport)
    assert [r.analysis for r in report.readiness] == ANALYSES
    for r in report.readiness:
        assert r.status == "missing", r
        assert r.load and "regulars ingest" in r.load, r
    assert report.ready("predicted_clv").reason == (
        "predicted CLV needs at least 200 customers with repeat purchases over at least 6 months of history; "
        "you have 0 over 0.0 month(s)"
    )
    assert report.ready("funnel").load.startswith("load web/app events")
    assert report.ready("cac").load.startswith("load marketing spend")
    assert all(t.rows == 0 and t.first is None and t.last is None for t in report.tables)
    assert all(v is None for t in report.tables for v in t.completeness.values())
    assert report.findings == []
    assert report.quarantine == {"rows": 0, "by_kind": {}, "top_reasons": []}
    assert report.ingest_runs == []
    assert report.identities["customers"] == 0 and report.identities["merges"] == 0
    assert report.outliers["order_totals"].message == "not checked: 0 purchase(s), the check needs at least 20"
    assert report.summary.startswith("The workspace is empty")
    json.dumps(report.to_dict())


def test_row_counts_and_date_ranges(shop):
    _, report = shop
    counts = {t.name: t.rows for t in report.tables}
    assert counts["orders"] == 25  # g1 + 24 loaded rows of orders.csv
    assert counts["customers"] == 6  # the provisional dora customer was merged into c5
    assert counts["marketing_spend"] == 1 and counts["surveys"] == 3 and counts["events"] == 0
    orders = report.table("orders")
    assert (orders.first, orders.last) == ("2024-01-10 10:00:00", "2024-05-20 18:30:00")
    assert report.table("marketing_spend").first == "2024-01-15"
    assert report.table("identities").time_column is None


def test_completeness(shop):
    _, report = shop
    c = report.table("customers").completeness
    assert c["email"] == pytest.approx(4 / 6, abs=1e-4)  # c1, c2, c3, c5
    assert c["acquisition_channel"] == pytest.approx(4 / 6, abs=1e-4)  # c1, c2, c3, walkin
    assert c["phone"] == pytest.approx(1 / 6, abs=1e-4)
    assert report.table("orders").completeness["status"] == 0.0
    assert report.table("orders").completeness["total"] == 1.0
    info = [f["message"] for f in report.findings if f["status"] == "info"]
    assert "customers.phone is filled in 17% of rows" in info
    assert "orders.status is filled in 0% of rows" in info


def test_duplicates(shop):
    _, report = shop
    orders = report.duplicates["orders"]
    assert (orders.count, orders.rows) == (1, 2)
    assert orders.examples == [{"customer_id": "c1", "ordered_at": "2024-03-01 10:00:00", "total": 25.0,
                                "orders": ["d09", "d10"]}]
    emails = report.duplicates["customer_emails"]
    assert (emails.count, emails.rows) == (1, 2)
    # no fingerprint of the e-mail itself (a bare sha256 prefix could be reversed by guessing)
    assert emails.examples == [{"customers": ["c1", "c2"]}]
    assert hashlib.sha256(b"ann@example.com").hexdigest()[:12] not in str(report.to_dict())
    assert "example.com" not in json.dumps(report.to_dict())  # no e-mail address leaves the doctor
    assert report.duplicates["customer_phones"].count == 0


def test_outliers(shop):
    _, report = shop
    totals = report.outliers["order_totals"]
    # 24 positive totals: 10, 12 x 15, 20, 25, 25, 30, 35, 40, 50, 60, 70, 80, 5000.
    # Q1 at position 0.25 * 23 = 5.75 -> 15; Q3 at 17.25 -> 35 + 0.25 * (40 - 35) = 36.25;
    # limit 36.25 + 3 * (36.25 - 15) = 100.
    assert totals.threshold == 100.0
    assert (totals.count, totals.rows) == (1, 1)
    assert totals.examples == [{"order_id": "d11", "customer_id": "c2", "ordered_at": "2024-04-10 10:00:00",
                                "total": 5000.0}]
    assert "Q1 15.00, Q3 36.25" in totals.message
    busy = report.outliers["orders_per_day"]
    assert (busy.count, busy.rows) == (1, 12)
    assert busy.examples == [{"customer_id": "walkin", "day": "2024-03-05", "orders": 12}]


def test_quarantine_and_runs(shop):
    _, report = shop
    q = report.quarantine
    assert q["rows"] == 1 and q["by_kind"] == {"orders": 1}
    assert len(q["top_reasons"]) == 1 and q["top_reasons"][0]["rows"] == 1
    assert '"…"' in q["top_reasons"][0]["reason"] and "abc" not in q["top_reasons"][0]["reason"]
    runs = report.ingest_runs
    assert [r["kind"] for r in runs] == ["surveys", "spend", "orders", "customers", "orders"]  # newest first
    orders_run = runs[2]
    assert (orders_run["rows_read"], orders_run["rows_new"], orders_run["rows_quarantined"]) == (25, 24, 1)
    assert orders_run["files"][0].endswith("orders.csv")
    warn = [f for f in report.findings if f["status"] == "warn"]
    assert {f["check"] for f in warn} == {
        "orders with the same customer, time and total", "customers sharing an e-mail address",
        "order totals above Q3 + 3 x IQR", "customers with more than 10 orders on a day", "rejected rows",
    }


def test_identities(shop):
    _, report = shop
    ids = report.identities
    assert ids["identifiers"] == {"email": 3, "phone": 1, "shop_id": 6}  # ann, bob, dora; bob's phone
    assert ids["customers_with_several_identifiers"] == 3  # c1 (id, e-mail), c3 (id, e-mail, phone), c5
    assert ids["merges"] == 1  # dora's guest customer into c5
    assert ids["provisional_customers"] == 0
    assert ids["customers"] == 6


def test_readiness_of_the_tiny_shop(shop):
    _, report = shop
    status = {r.analysis: r.status for r in report.readiness}
    assert status == {
        "rfm": "warn", "cohorts": "warn", "funnel": "missing", "predicted_clv": "warn", "churn": "warn",
        "recommendations": "missing", "cac": "ok", "nps": "warn", "sentiment": "warn",
    }
    # buyers: c1, c2, c3, c4, c5 (g1), walkin; on two or more days: c1, c2, c3, c4.
    # purchase history 2024-01-10..05-20 = 131 days = 4.3 months.
    assert report.ready("rfm").reason == "RFM segments need at least 100 customers with a purchase; you have 6"
    assert report.ready("predicted_clv").reason == (
        "predicted CLV needs at least 200 customers with repeat purchases over at least 6 months of history; "
        "you have 4 over 4.3 month(s) (below 20 repeat customers or 90 days of history the model does not run at all)"
    )
    assert report.ready("churn").have == "6 (4 repeat) over 131 day(s)"
    assert report.ready("cac").have == ("1 spend row(s) over 1 month(s), a channel for 67% of customers, "
                                        "1 channel(s) in both (paid_search)")
    assert report.ready("cac").load is None
    assert report.ready("nps").have == "3"
    assert report.ready("sentiment").have == "2"  # two survey comments
    assert "ready for 1 of 9 analyses (CAC)" in report.summary


def test_to_dict_is_json(shop):
    _, report = shop
    d = json.loads(json.dumps(report.to_dict()))
    assert d["readiness"][0]["analysis"] == "rfm" and d["readiness"][0]["status"] == "warn"
    assert d["outliers"]["order_totals"]["status"] == "warn"
    assert d["duplicates"]["customer_phones"]["status"] == "ok"
    assert d["tables"][0]["name"] == "customers"
    assert d["summary"] == report.summary


def test_readiness_at_the_minimums(tmp_path):
    """200 customers who came back, over 7 months, and 100 NPS answers: ok for RFM, cohorts, CLV and NPS."""
    start = dt.datetime(2024, 1, 1, 12)
    orders = ["order_id,customer_id,ordered_at,total"]
    surveys = ["response_id,customer_id,survey,score,answered_at"]
    for i in range(200):
        first = start + dt.timedelta(days=i % 30)
        orders.append(f"a{i},k{i},{first:%Y-%m-%d %H:%M:%S},{20 + i % 7}.00")
        orders.append(f"b{i},k{i},{first + dt.timedelta(days=200):%Y-%m-%d %H:%M:%S},{25 + i % 5}.00")
        if i < 100:
            surveys.append(f"n{i},k{i},nps,{i % 11},{first:%Y-%m-%d %H:%M:%S}")
    with Workspace(tmp_path / "shop.duckdb") as ws:
        load(ws, tmp_path, "orders", "orders.csv", "\n".join(orders) + "\n")
        load(ws, tmp_path, "surveys", "surveys.csv", "\n".join(surveys) + "\n")
        report = doctor(ws)
        status = {r.analysis: r.status for r in report.readiness}
        assert status["rfm"] == "ok" and status["cohorts"] == "ok" and status["nps"] == "ok"
        assert status["predicted_clv"] == "ok" and report.ready("predicted_clv").load is None
        churn = report.ready("churn")
        assert churn.status == "warn" and "small-data mode" in churn.reason  # 200 < 1,000 customers
        assert report.outliers["order_totals"].count == 0
        assert report.outliers["order_totals"].message.startswith("no order total above")


def test_thresholds_follow_the_models():
    from regulars.models.readiness import Minimums

    m = Minimums()
    assert doc.BTYD_MIN_REPEAT_CUSTOMERS == m.comfortable_repeat
    assert doc.CHURN_MIN_DAYS == 2 * m.churn_horizon_days + 30
