"""How people type a date to regulars: ``YYYY-MM-DD``, optionally with a time, and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

from regulars.values import iso_date, to_date

DAY = dt.date(2024, 3, 5)


@pytest.mark.parametrize("text", ["2024-03-05", " 2024-03-05 ", "2024-03-05T10:00", "2024-03-05 23:59:59",
                                  "2024-03-05T10:00:00+02:00"])
def test_a_day_with_or_without_a_time(text):
    assert iso_date(text) == DAY


@pytest.mark.parametrize("text", ["2024-03-05x", "2024-03-05 junk", "2024-03-05T99:00", "2024-W10-2", "20240305",
                                  "2024-3-5", "2024-02-30", "03/05/2024", ""])
def test_anything_else_is_refused_with_what_to_write(text):
    """Trailing garbage after the tenth character used to be ignored ("2024-03-05x" was March 5)."""
    with pytest.raises(ValueError, match="write it as YYYY-MM-DD"):
        iso_date(text)


def test_to_date_reads_the_same_text():
    assert to_date("2024-03-05T10:00") == DAY
    with pytest.raises(ValueError):
        to_date("2024-03-05x")
