"""Scheduled jobs with a scripted clock: the Monday report (file and e-mail) on its cron in the shop's time
zone, scheduled audience exports, and alerts delivered by e-mail and webhook at most once per day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from regulars import Workspace
from regulars.data import activation_store, predictions_store
from regulars.data.access import LocalAccess
from regulars.jobs.activation import Runner
from regulars.jobs.activation_admin import add_webhook
from regulars.jobs.scheduled import add_export, run_alerts
from regulars.reports.monday import monday_report
from tests.activation.servers import SmtpServer, WebhookReceiver
from tests.activation.shop import T0, Clock, build, configure, customer, ts

D = dt.timedelta(days=1)


def _shop(tmp_path):
    orders, events = [], []
    for i in range(20):                                   # the week before last: 20 orders of 50.00, 20 sessions
        at = T0 - 14 * D + dt.timedelta(hours=7 * i)
        orders.append([f"P{i}", f"C{i % 5}", ts(at), "50.00"])
        events.append([f"EP{i}", f"C{i % 5}", "page_view", ts(at), ""])
    for i in range(4):                                    # last week: 4 orders of 25.00, 4 sessions
        at = T0 - 6 * D + dt.timedelta(hours=20 * i)
        orders.append([f"L{i}", f"C{i}", ts(at), "25.00"])
        events.append([f"EL{i}", f"C{i}", "page_view", ts(at), ""])
    return build(tmp_path, [customer(f"C{i}") for i in range(5)], orders=orders, events=events)


def test_monday_report_goes_out_on_its_cron_with_the_week_numbers(tmp_path):
    path = _shop(tmp_path)
    sunday = dt.datetime(2025, 3, 2, 12, 0)
    clock = Clock(sunday)
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), time_zone="Europe/Paris", report_recipients="owner@example.com",
                  monday_report_cron="0 7 * * 1")
        runner = Runner(LocalAccess(ws), clock)
        try:
            runner.run_once()
            nxt = {s["schedule_id"]: s["next_run_at"] for s in activation_store.list_schedules(ws)}
            assert nxt["monday_report"] == dt.datetime(2025, 3, 3, 6, 0)          # 07:00 in Paris
            clock.set(dt.datetime(2025, 3, 3, 5, 59))
            assert [j["kind"] for j in runner.run_once()["jobs"]] == ["alerts"]   # hourly alert check only
            clock.set(dt.datetime(2025, 3, 3, 6, 1))
            jobs = runner.run_once()["jobs"]
        finally:
            runner.close()
        assert [j["kind"] for j in jobs if j["kind"] == "monday_report"] == ["monday_report"]
        assert all(j["status"] == "ok" for j in jobs)
        report = monday_report(ws, as_of=dt.date(2025, 3, 3)).to_dict()
    revenue = next(k for k in report["kpis"] if k["metric"] == "revenue")
    assert revenue["this_week"] == 100.0 and revenue["last_week"] == 1000.0 and round(revenue["change"]) == -90
    file = Path(tmp_path / "reports" / "monday-report-2025-03-03.html")
    assert file.exists() and "100.00" in file.read_text() and "1,000.00" in file.read_text()
    [mail] = [m for m in smtp.inbox.messages if "your week" in m["Subject"]]
    assert mail["To"] == "owner@example.com" and "your week (2025-02-24 to 2025-03-02)" in mail["Subject"]
    assert "1,000.00" in mail.get_body(("html",)).get_content()


def test_alerts_fire_by_email_and_webhook_at_most_once_a_day(tmp_path):
    path = _shop(tmp_path)
    with SmtpServer() as smtp, WebhookReceiver() as hook, Workspace(path) as ws:
        configure(ws, **smtp.settings(), report_recipients="owner@example.com", alert_traffic_drop_pct=50)
        forecast = pd.DataFrame({"day": [(T0 - k * D).date() for k in range(1, 8)], "as_of": (T0 - 8 * D).date(),
                                 "orders": 3.0, "orders_lower": 2.0, "orders_upper": 4.0, "revenue": 150.0,
                                 "revenue_lower": 100.0, "revenue_upper": 200.0, "is_busy": False})
        predictions_store.write_demand_forecast(ws, forecast, (T0 - 8 * D).date())
        with ws.transaction():
            sub = add_webhook(ws, "pager", hook.url, ["alert.fired"], "tests")
        hook.secret = sub["secret"]
        db = LocalAccess(ws)
        first = run_alerts(db, T0, _settings(ws))
        assert sorted(first["fired"]) == ["revenue_below_forecast", "traffic_drop"]
        assert run_alerts(db, T0 + dt.timedelta(hours=3), _settings(ws))["fired"] == []   # same day: not again
        assert len(smtp.inbox.messages) == 2
        runner = Runner(db, Clock(T0 + dt.timedelta(hours=3)))
        try:
            runner.run_once()                                          # delivers the queued webhooks
        finally:
            runner.close()
        assert sorted(r["body"]["data"]["key"] for r in hook.accepted()) == ["revenue_below_forecast", "traffic_drop"]
        assert all(r["verified"] for r in hook.accepted())
        next_day = run_alerts(db, T0 + D, _settings(ws))
        assert "revenue_below_forecast" not in next_day["fired"]       # the forecast no longer covers the window
        assert "traffic_drop" in next_day["fired"]                     # still down, a new day: reported again
        subjects = [m["Subject"] for m in smtp.inbox.messages]
        assert any("Revenue below forecast" in s for s in subjects) and any("Traffic dropped" in s for s in subjects)


def test_scheduled_export_to_a_folder_and_a_failed_job_alert(tmp_path):
    path = _shop(tmp_path)
    clock = Clock(T0)
    with Workspace(path) as ws:
        configure(ws, alert_traffic_drop_pct=0, alert_revenue_below_forecast=False, alerts_cron="*/10 * * * *")
        from regulars.jobs.activation import load_settings

        with ws.transaction():
            add_export(ws, "all", "klaviyo", "0 6 * * *", "exports", None, T0, load_settings(ws))
            add_export(ws, "all", "meta", "0 6 * * *", None, "no-such-hook", T0, load_settings(ws))
        runner = Runner(LocalAccess(ws), clock)
        try:
            clock.set(T0 + D - dt.timedelta(hours=5, minutes=59))    # 06:01 the next day
            jobs = {j["schedule_id"][:6] + j["status"] for j in runner.run_once()["jobs"]}
            clock.set(T0 + D - dt.timedelta(hours=5, minutes=49))    # the next alert check
            out = runner.run_once()
        finally:
            runner.close()
        assert jobs >= {"exportok", "exportfailed"}
        exported = (tmp_path / "exports" / "all-klaviyo.csv").read_text()
        assert exported.splitlines()[0].startswith("Email,") and len(exported.splitlines()) == 6
        alerts = [j for j in out["jobs"] if j["kind"] == "alerts"]
        assert alerts and alerts[0]["status"] == "ok"
        fired = activation_store.alert_history(ws)
        assert [a["alert_key"] for a in fired] == ["failed_job"] and "audience_export" in fired[0]["message"]


def _settings(ws) -> dict:
    from regulars.jobs.activation import load_settings

    return load_settings(ws)
