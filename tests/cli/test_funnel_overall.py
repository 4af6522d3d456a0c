"""The overall funnel added up from the split by source equals the one computed from the events."""

from __future__ import annotations

import pandas as pd
import pytest

from regulars import Workspace
from regulars.reports.funnel import funnel_report, overall_from_split


@pytest.mark.parametrize("unit", ["session", "visitor"])
def test_overall_from_the_split_by_source_equals_the_direct_funnel(demo_shop, unit):
    with Workspace(demo_shop, read_only=True) as ws:
        split = funnel_report(ws, by="source", unit=unit)
        direct = funnel_report(ws, unit=unit)
    assert split.funnel["group"].nunique() > 1  # several sources: the sum is a real test
    added = overall_from_split(split)
    pd.testing.assert_frame_equal(added.funnel, direct.funnel)
    assert added.by is None and added.steps == direct.steps and added.unit == direct.unit


def test_only_a_split_by_source_adds_up(demo_shop):
    with Workspace(demo_shop, read_only=True) as ws:
        overall = funnel_report(ws)
    with pytest.raises(ValueError, match="split by source"):
        overall_from_split(overall)
