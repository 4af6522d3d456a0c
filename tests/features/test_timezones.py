"""The shop's local time: a far-future report date must not build centuries of daylight-saving changes.

Regression: `GET /api/reports/monday?as_of=2519-01-01` (found by schemathesis) on a shop in
America/New_York spent ~20 s (over a minute on a loaded machine) planning a CASE with one branch
per daylight-saving change up to 2521.
"""

from __future__ import annotations

import datetime as dt

import ibis

from regulars.features.timezones import HORIZON_YEARS, local_time


def _branches(expr) -> int:
    return ibis.to_sql(expr, dialect="duckdb").upper().count(" WHEN ")


def test_a_far_future_end_does_not_follow_daylight_saving_for_centuries():
    t = ibis.memtable({"at": [dt.datetime(2024, 7, 4, 22, 30), dt.datetime(2024, 1, 4, 23, 30)]})
    expr = t.select(local=local_time(t.at, "America/New_York", dt.date(2020, 1, 1), dt.date(2519, 1, 1)))
    years = dt.date.today().year + HORIZON_YEARS + 2 - 2019  # a year of margin each side of the range
    assert _branches(expr) <= 2 * years  # two changes a year (was about 1,000 branches)
    assert [str(v)[:16] for v in expr.execute()["local"]] == ["2024-07-04 18:30", "2024-01-04 18:30"]


def test_moments_within_the_range_keep_their_exact_offset():
    t = ibis.memtable({"at": [dt.datetime(2024, 3, 31, 0, 30), dt.datetime(2024, 3, 31, 1, 30)]})
    expr = t.select(local=local_time(t.at, "Europe/Paris", dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
    assert [str(v)[:16] for v in expr.execute()["local"]] == ["2024-03-31 01:30", "2024-03-31 03:30"]
