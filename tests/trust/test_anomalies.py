"""Anomaly flags on the demo shop: the planted anomalies are found, reasons are in words, the alert hook
hears about new flags only, and the report, CLI and evaluation agree."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from regulars.anomalies import alerts
from regulars.anomalies.detect import code_flags, identity_flags, return_flags, session_flags
from regulars.jobs.anomalies import detect_anomalies
from regulars.reports.anomalies import anomalies_report, evaluation


def test_planted_anomalies_are_found_with_high_precision_and_recall(demo):
    result = detect_anomalies(demo)
    scores = evaluation(demo)
    print(json.dumps(scores, indent=1))
    assert set(scores) == {"large_order", "serial_returner", "code_abuse", "many_emails", "bot_session"}
    for kind, s in scores.items():
        assert s["planted"] >= 1, kind
        assert s["recall"] >= 0.8, (kind, s)
        assert s["precision"] >= 0.6, (kind, s)
    assert result.checks["sessions"] == "ran" and result.checks["addresses_and_cards"].startswith("not run")
    flags = result.flags
    assert flags["score"].between(0, 1).all()
    assert flags["reason"].str.len().gt(10).all()


def test_alert_subscribers_hear_new_flags_once_and_a_broken_one_does_not_stop_them(demo):
    heard: list = []

    def listener(flags):
        heard.append(len(flags))

    def broken(flags):
        raise RuntimeError("boom")

    alerts.subscribe(broken)
    alerts.subscribe(listener)
    try:
        first = detect_anomalies(demo)
        assert heard == [first.new] and first.new == len(first.flags) > 0
        again = detect_anomalies(demo)  # nothing changed: nothing new to tell
        assert again.new == 0 and heard == [first.new]
        key = ["entity", "entity_id", "kind"]
        before = again.flags.set_index(key)["first_flagged_at"].sort_index()
        assert before.equals(first.flags.set_index(key)["first_flagged_at"].sort_index())
        # a new bot session appears: exactly one new flag
        demo._con.execute("INSERT INTO events (event_id, anonymous_id, session_id, event_type, occurred_at) "
                         "SELECT 'zz' || i, 'anon-new', 'new-bot', 'page_view', TIMESTAMP '2026-10-01' + "
                         "to_seconds(i) FROM range(150) t(i)")
        third = detect_anomalies(demo)
        assert third.new == 1 and heard[-1] == 1
        assert third.flags.loc[third.flags["entity_id"] == "new-bot", "reason"].iloc[0].startswith("150 events")
    finally:
        alerts.unsubscribe(listener)
        alerts.unsubscribe(broken)


def test_report_pages_and_filters(demo):
    assert anomalies_report(demo).run is None
    detect_anomalies(demo)
    report = anomalies_report(demo, limit=5)
    assert report.total == sum(report.counts.values()) and len(report.items) == min(5, report.total)
    assert [i["score"] for i in report.items] == sorted((i["score"] for i in report.items), reverse=True)
    only = anomalies_report(demo, kind="bot_session")
    assert only.items and {i["kind"] for i in only.items} == {"bot_session"}
    assert any("addresses" in n for n in report.notes)
    with pytest.raises(ValueError):
        anomalies_report(demo, kind="nonsense")


def test_cli_lists_flags_and_evaluates(demo):
    from regulars.cli.main import app

    path = str(demo.path)
    demo.close()
    try:
        out = CliRunner().invoke(app, ["anomalies", "--evaluate", "--workspace", path])
        assert out.exit_code == 0, out.output
        assert "flag(s)" in out.output and "planted anomalies" in out.output
        out = CliRunner().invoke(app, ["anomalies", "--kind", "code_abuse", "--format", "json", "--workspace", path])
        body = json.loads(out.output)
        assert body["items"] and all(i["kind"] == "code_abuse" for i in body["items"])
        assert all("WELCOME10" in i["reason"] for i in body["items"])
        out = CliRunner().invoke(app, ["anomalies", "--kind", "bogus", "--workspace", path])
        assert out.exit_code == 1 and "unknown" in out.output
    finally:
        demo.__init__(path)


def test_checks_on_small_hand_made_cases():
    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(100)], "orders": [4] * 100,
                              "returned": [0] * 98 + [4, 1]})
    r = return_flags(customers)
    assert r["entity_id"].tolist() == ["C98"] and "4 of 4 orders" in r["reason"].iloc[0]
    uses = pd.DataFrame({"customer_id": [f"C{i}" for i in range(30)] + ["X"], "code": ["HELLO"] * 31,
                         "uses": [1] * 30 + [4]})
    assert code_flags(uses)["entity_id"].tolist() == ["X"]
    promo = uses.assign(uses=[2] * 31)  # a code everyone uses again is not a single-use code
    assert code_flags(promo).empty
    ids = pd.DataFrame({"customer_id": ["A", "B"], "emails": [2, 3], "phones": [1, 4]})
    flags = identity_flags(ids)
    assert sorted(zip(flags["entity_id"], flags["kind"])) == [("B", "many_emails"), ("B", "many_phones")]
    sessions = pd.DataFrame({"session_id": ["s1", "s2", "s3"], "customer_id": [None, "C1", None],
                             "events": [200, 200, 60], "seconds": [300, 7200, 60], "median_gap": [1.5, 30.0, 1.0],
                             "carts": [0, 2, 0]})
    assert session_flags(sessions)["entity_id"].tolist() == ["s1"]
