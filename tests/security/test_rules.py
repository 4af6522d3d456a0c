"""Hostile segment rules and mapping files: refused when saved, and one bad saved rule never stops the others.

Issue 13 #9: ``days_since_last_order > -9223372036854775809`` was accepted and then broke every
refresh; ``"(" * 1300`` and ``"not " * 900`` raised RecursionError; a deeply nested mapping
TOML upload answered 500.
"""

from __future__ import annotations

import datetime as dt

import pytest

from regulars import Workspace
from regulars.jobs.segments import refresh
from regulars.segments.membership import create_segment
from regulars.segments import rules
from regulars.segments.rules import RuleError
from tests.api.server import start
from tests.api.shop import build_shop

MAX_CONDITIONS = getattr(rules, "MAX_CONDITIONS", 200)
HOSTILE = {
    "int_below_int64": "days_since_last_order > -9223372036854775809",
    "int_above_int64": "orders < 99999999999999999999",
    "float_overflow": "revenue > 1e400",
    "deep_parentheses": "(" * 1300,
    "not_chain": "not " * 900 + "accepts_email",
    "many_conditions": " or ".join(["orders > 1"] * (MAX_CONDITIONS + 1)),
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return build_shop(tmp_path_factory.mktemp("rules-shop") / "shop.duckdb", n_customers=20).path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_rules_are_refused_when_saved(shop, name):
    with Workspace(shop) as ws:
        with pytest.raises(RuleError) as err:
            create_segment(ws, f"hostile {name}", HOSTILE[name])
    assert "position" in str(err.value)


def _save_unchecked(ws, sid: str, rule: str) -> None:
    """What a workspace saved before validation existed holds: the rule as typed."""
    now = dt.datetime(2024, 1, 1)
    ws._con.execute("INSERT INTO segment_definitions VALUES (?, ?, 'rule', '', ?, ?, NULL)", [sid, sid, now, now])
    ws._con.execute("INSERT INTO segment_versions VALUES (?, 1, ?, '', ?)", [sid, rule, now])


@pytest.fixture(scope="module")
def saved(shop):
    """The shop with a good rule segment and every hostile rule saved unchecked, refreshed once."""
    with Workspace(shop) as ws:
        create_segment(ws, "Buyers", "orders >= 1")
        for name, rule in HOSTILE.items():
            _save_unchecked(ws, f"bad_{name}", rule)
        return shop, refresh(ws)


@pytest.fixture(scope="module")
def server(saved):
    running = start(saved[0], warm_profiles=False, warm_reports=False)
    yield running
    running.stop()


def test_saved_hostile_rules_do_not_stop_the_other_segments(saved):
    shop, result = saved
    assert set(result.errors) == {f"bad_{n}" for n in HOSTILE}
    with Workspace(shop, read_only=True) as ws:
        buyers = ws._con.execute("SELECT count(*) FROM segment_memberships WHERE segment_id = 'buyers'").fetchall()[0][0]
        expected = ws._con.execute("SELECT count(DISTINCT customer_id) FROM orders WHERE total > 0").fetchall()[0][0]
        assert buyers == expected > 0
        assert ws._con.execute("SELECT count(*) FROM segment_memberships WHERE segment_id LIKE 'rfm:%'").fetchall()[0][0]


def test_the_api_refresh_answers_and_events_still_flow(server):
    with server.client("analyst") as c:
        r = c.post("/api/segments/refresh")
        assert r.status_code == 200, r.text
        assert set(r.json()["errors"]) == {f"bad_{n}" for n in HOSTILE}
        ev = c.post("/api/events", json={"customer_id": "C0003", "event_type": "search", "search_query": "beans"})
        assert ev.status_code == 200
    assert server.app.state.refresher.wait_idle(30)
    assert server.app.state.refresher.last.get("customers") == 1


@pytest.mark.parametrize("toml", [
    "kind = " + "[" * 5000 + "]" * 5000,
    "[columns]\n" + "x = " + "{a = " * 3000 + "1" + "}" * 3000,
    "columns = 5",
    "[parse]\nheader = 3",
])
def test_hostile_mapping_uploads_answer_4xx(server, toml):
    with server.client("analyst") as c:
        r = c.post("/api/ingest/spend", files=[
            ("files", ("spend.csv", b"spent_on,channel,amount\n2024-01-01,organic,1.00\n")),
            ("mapping", ("mapping.toml", toml.encode()))])
    assert 400 <= r.status_code < 500, r.text
    assert "mapping" in r.json()["message"]
