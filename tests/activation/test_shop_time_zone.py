"""Journeys, quiet hours and report schedules use the shop's one time zone (it used to be a second,
separate activation setting that could disagree with the one reports and ingestion use)."""

from __future__ import annotations

from regulars import Workspace
from regulars.data import activation_store, auth, shop
from regulars.jobs.activation import load_settings


def test_activation_and_reports_share_the_shop_time_zone(tmp_path):
    with Workspace(tmp_path / "shop.duckdb") as ws:
        assert load_settings(ws)["time_zone"] == "UTC"
        auth.set_settings(ws._con, {"timezone": "Europe/Paris"}, "admin")          # `regulars settings timezone`
        assert load_settings(ws)["time_zone"] == "Europe/Paris"
        activation_store.write_settings(ws, {"time_zone": "America/New_York", "quiet_hours": ""}, "admin")
        assert shop.timezone(ws._con) == "America/New_York"                           # one value, both ways
        assert load_settings(ws)["time_zone"] == "America/New_York"
        assert load_settings(ws)["quiet_hours"] == ""
