"""Issue 16.5: orders in several currencies are converted with the shop's rates, or shown per currency."""

from __future__ import annotations

import math

import pytest

from regulars import Workspace
from regulars.data import auth
from regulars.data.ingest.pipeline import ingest
from regulars.reports.kpis import ORDER_MONEY, kpis

ORDERS = ("order_id,customer_id,ordered_at,total,currency\n"
          "o1,c1,2024-01-03 10:00,100.00,EUR\no2,c1,2024-02-03 10:00,50.00,EUR\n"
          "o3,c2,2024-02-04 10:00,80.00,USD\no4,c3,2024-02-05 10:00,33.33,USD\n")


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "orders", [str(path)])
        auth.set_settings(ws._con, {"currency": "EUR"}, "test")
        yield ws


def test_without_a_rate_no_mixed_total_is_given(shop):
    report = kpis(shop)
    row = report.table.iloc[0]
    for col in ORDER_MONEY:
        assert math.isnan(row[col]), col
    assert row["orders"] == 4  # counts still add up
    per = report.by_currency.set_index("currency")
    assert per.loc["EUR", "revenue"] == 150.0 and per.loc["USD", "revenue"] == 113.33
    assert per.loc["USD", "average_order_value"] == pytest.approx(56.665)
    assert "`regulars settings --rate USD=RATE`" in report.currency_warning
    data = report.to_dict()
    assert data["rows"][0]["revenue"] is None and {r["currency"] for r in data["by_currency"]} == {"EUR", "USD"}
    monthly = kpis(shop, by="month")
    assert monthly.table["revenue"].isna().all()
    assert set(zip(monthly.by_currency["currency"], monthly.by_currency["month"])) >= {("EUR", "2024-01"),
                                                                                       ("USD", "2024-02")}


def test_with_rates_money_is_converted_to_the_shop_currency(shop):
    auth.set_settings(shop._con, {"exchange_rates": "USD=0.92"}, "test")
    report = kpis(shop)
    row = report.table.iloc[0]
    converted = 100.00 + 50.00 + round(80.00 * 0.92, 2) + round(33.33 * 0.92, 2)  # 73.60 + 30.66
    assert row["revenue"] == pytest.approx(converted)
    assert row["average_order_value"] == pytest.approx(converted / 4)
    assert report.by_currency is None and report.currency_warning is None
    today = auth.get_settings(shop._con)["exchange_rates"]["USD"]["set_on"]
    assert report.currency_note == f"amounts in EUR: 2 orders in USD converted at 0.92 (rate set {today})"
    assert report.notes[0] == report.currency_note


def test_by_currency_keeps_each_currency_in_its_own_money(shop):
    auth.set_settings(shop._con, {"exchange_rates": "USD=0.92"}, "test")
    table = kpis(shop, by="currency").table.set_index("currency")
    assert table.loc["USD", "revenue"] == 113.33 and table.loc["EUR", "orders"] == 2


def test_a_rate_the_shop_cannot_mean_is_refused(shop):
    with pytest.raises(auth.AuthError, match="positive number"):
        auth.set_settings(shop._con, {"exchange_rates": "USD=-1"}, "test")
    with pytest.raises(auth.AuthError, match="ISO 4217"):
        auth.set_settings(shop._con, {"exchange_rates": "DOLLAR=1"}, "test")


def test_segment_kpis_and_cohorts_follow_the_same_rule(shop):
    from regulars.reports.cohorts import cohort_matrix
    from regulars.reports.segment_kpis import segment_kpis
    from regulars.jobs.segments import refresh

    refresh(shop)
    mixed = segment_kpis(shop, "rfm")
    assert mixed.table["revenue"].isna().all() and "--rate USD=RATE" in mixed.notes[0]
    assert cohort_matrix(shop, metric="revenue").matrix.isna().all().all()
    auth.set_settings(shop._con, {"exchange_rates": "USD=0.92"}, "test")
    converted = segment_kpis(shop, "rfm")
    assert converted.table["revenue"].sum() == pytest.approx(100.00 + 50.00 + 73.60 + 30.66)
    assert converted.notes[0].startswith("amounts in EUR: 2 orders in USD converted at 0.92")


def test_segment_sizes_add_converted_money_when_rates_cover_every_currency(shop):
    from regulars.reports.segments import sizes
    from regulars.jobs.segments import refresh

    auth.set_settings(shop._con, {"exchange_rates": "USD=0.92"}, "test")
    refresh(shop)
    assert sizes(shop).revenue == pytest.approx(100.00 + 50.00 + 73.60 + 30.66)


def test_segment_sizes_leave_revenue_empty_without_a_rate(shop):
    from regulars.reports.segments import sizes
    from regulars.jobs.segments import refresh

    refresh(shop)
    shown = sizes(shop)
    assert shown.table["revenue"].isna().all() and shown.to_dict()["revenue"] is None
    assert "--rate USD=RATE" in shown.currency_note
