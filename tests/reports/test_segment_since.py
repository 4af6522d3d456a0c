"""Issue 16.5: a segment's "since" in a customer's profile (JSON and timeline) is the data's date, not
the moment the refresh ran."""

from __future__ import annotations

import datetime as dt

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
from regulars.reports.customers import customer_profile
from regulars.jobs.segments import refresh
from tests.cli.test_shop_time import ORDERS


def test_segment_since_and_timeline_use_the_data_date(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "orders", [str(path)])
        refresh(ws)
        profile = customer_profile(ws, "c1")
    today = dt.datetime.now(dt.UTC).date()
    current = profile.sections["segments"]["current"]
    assert current and all(str(m["since"])[:4] == "2024" for m in current), current
    assert all(str(m["since_refreshed_at"])[:10] == today.isoformat() for m in current)
    moves = [t for t in profile.timeline if t["kind"] == "segment"]
    assert moves and all(str(t["at"])[:4] == "2024" for t in moves), moves
