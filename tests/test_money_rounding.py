"""Money is rounded by one rule everywhere: to cents, halves away from zero (``values.round_money``).

Before, reports rounded with Python's ``round``/pandas ``round`` (halves to even: 0.125 -> 0.12)
while DuckDB's ``DECIMAL`` rounding, which the stored totals use, rounds 0.125 to 0.13.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regulars.reports.segments import _summarise
from regulars.values import round_money


@pytest.mark.parametrize("amount,cents", [(0.125, 0.13), (2.675, 2.68), (-0.125, -0.13), (1.005, 1.01),
                                          (10.0, 10.0), (0.004, 0.0), (-0.004, 0.0), (123456.785, 123456.79)])
def test_halves_round_away_from_zero(amount, cents):
    got = round_money(amount)
    assert got == cents and str(got) != "-0.0"


def test_arrays_and_series_keep_their_shape_and_gaps():
    assert round_money(np.array([0.125, 2.675])).tolist() == [0.13, 2.68]
    s = round_money(pd.Series([0.125, None], index=["a", "b"], name="revenue"))
    assert s.name == "revenue" and list(s.index) == ["a", "b"] and s["a"] == 0.13 and np.isnan(s["b"])


def test_segment_summary_money_follows_the_rule():
    df = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["x", "x"], "monetary": [0.1, 0.15],
                       "orders": [1, 2]})
    row = _summarise(df, "segment").iloc[0]
    assert row["mean_monetary"] == 0.13 and row["revenue"] == 0.25 and row["mean_orders"] == 1.5


def test_a_plain_list_is_rounded_like_an_array():
    """A list has an ``index`` method; it used to be taken for a pandas index (TypeError)."""
    assert round_money([0.125, 2.675, -0.125]).tolist() == [0.13, 2.68, -0.13]
    assert round_money((1.005,)).tolist() == [1.01]
