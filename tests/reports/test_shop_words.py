"""Issue 16.5 in the reports: amounts in two currencies are never added silently; the terminal's words."""

from __future__ import annotations

import pandas as pd

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
from regulars.reports.kpis import kpis
from regulars.reports.words import in_words, say


def test_orders_in_two_currencies_are_not_added_silently(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,ordered_at,total,currency\n"
                      "o1,c1,2024-01-03 10:00,100.00,EUR\no2,c1,2024-02-03 10:00,50.00,EUR\n"
                      "o3,c2,2024-02-04 10:00,80.00,USD\n")
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "orders", [str(orders)])
        report = kpis(ws)
    assert report.currency_warning and "EUR: 2 orders" in report.currency_warning and "USD: 1" in report.currency_warning
    assert report.notes[0] == report.currency_warning
    assert report.to_dict()["currency_warning"] == report.currency_warning


def test_one_currency_gives_no_warning(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,ordered_at,total,currency\no1,c1,2024-01-03 10:00,100.00,EUR\n")
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "orders", [str(orders)])
        assert kpis(ws).currency_warning is None


def test_terminal_words_rates_money_and_scores():
    frame = pd.DataFrame({"month": ["2024-01"], "revenue": [1234.5], "churn_rate": [0.25], "nps": [12.0],
                          "orders": [3.0]})
    shown = in_words(frame, "EUR").iloc[0].to_dict()
    assert shown == {"month": "2024-01", "revenue": "1,234.50 EUR", "churn_rate": "25.0%", "nps": "12.0",
                     "orders": "3"}
    assert say("repeat_purchase_rate", 0.62) == "62.0%"
