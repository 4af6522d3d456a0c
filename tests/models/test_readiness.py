"""Readiness: refusal below the stated minimums, small-data mode, normal mode."""

from __future__ import annotations

from regulars.models.readiness import DataStats, Minimums, assess


def test_thin_data_is_refused_with_what_is_needed():
    v = assess(DataStats(customers_with_orders=60, repeat_customers=8, history_days=120, days_with_orders=40, leads=3))
    assert {k for k, x in v.items() if x.refused} == {"churn", "propensity", "value", "next_order", "forecast", "leads"}
    assert "at least 100" in v["churn"].messages[0]
    assert any("needs 210" in m for m in v["churn"].messages)  # 2 x 90 + 30 days of history
    assert "at least 20" in v["value"].messages[0]
    assert "at least 56" in v["forecast"].messages[0]


def test_a_few_hundred_customers_run_in_small_data_mode():
    v = assess(DataStats(customers_with_orders=300, repeat_customers=80, history_days=500, days_with_orders=400, leads=50))
    assert v["churn"].status == "small" and v["propensity"].status == "small"
    assert v["value"].status == "small" and v["forecast"].status == "small" and v["leads"].status == "small"
    assert "small-data mode" in v["churn"].messages[0]


def test_enough_data_is_ok_and_minimums_are_adjustable():
    stats = DataStats(customers_with_orders=5000, repeat_customers=2000, history_days=900, days_with_orders=880, leads=400)
    assert all(x.status == "ok" for x in assess(stats).values())
    strict = assess(stats, Minimums(comfortable_customers=10_000))
    assert strict["churn"].status == "small"
