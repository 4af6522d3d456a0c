"""Data minimisation at ingest (and the doctor saying what is held), retention of raw web events."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from regulars import Workspace
from regulars.data import privacy_store
from regulars.data.ingest.pipeline import ingest
from regulars.jobs.retention import cutoff_for, retention
from regulars.privacy.settings import validate
from regulars.reports.doctor import doctor


def _customers_file(path, n=5):
    rows = ["customer_id,email,first_name,last_name,postal_code,birth_date,city,country"]
    rows += [f"C{i},c{i}@example.org,Ann{i},Lee{i},9720{i},1980-01-0{i + 1},Portland,US" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_columns_the_shop_does_not_keep_never_land_and_held_ones_are_erased(tmp_path):
    ws = Workspace(tmp_path / "shop.duckdb")
    ingest(ws, "customers", [_customers_file(tmp_path / "a.csv")])
    assert ws.sql("SELECT count(birth_date) AS n FROM customers")["n"][0] == 5
    with ws.transaction() as con:
        erased = privacy_store.put(con, "drop_columns", validate("drop_columns", "birth_date,postal_code"))
    assert erased == {"birth_date": 5, "postal_code": 5}
    result = ingest(ws, "customers", [_customers_file(tmp_path / "b.csv", n=8)])
    assert any("not kept (data minimisation setting): postal_code, birth_date" in w or
               "birth_date" in w for w in result.warnings)
    held = ws.sql("SELECT count(birth_date) AS b, count(postal_code) AS p, count(first_name) AS f FROM customers")
    assert (held["b"][0], held["p"][0], held["f"][0]) == (0, 0, 8)
    assert not (tmp_path / "shop.duckdb").read_bytes().count(b"97207")  # the new rows' postal codes never written
    report = doctor(ws)
    by_col = {(p["table"], p["column"]): p for p in report.personal_data}
    assert by_col[("customers", "birth_date")] == {"table": "customers", "column": "birth_date", "values": 0,
                                                   "kept_at_ingest": False}
    assert by_col[("customers", "first_name")]["values"] == 8 and by_col[("customers", "first_name")]["kept_at_ingest"]
    with pytest.raises(ValueError, match="may be dropped"):
        validate("drop_columns", "email")
    with pytest.raises(ValueError, match="may be dropped"):
        privacy_store.put(ws._con, "drop_columns", ["email"])
    ws.close()


def _events(ws, days_back: list[int], today: dt.date):
    for i, d in enumerate(days_back):
        ws._con.execute("INSERT INTO events (event_id, customer_id, anonymous_id, session_id, event_type, occurred_at, "
                       "traffic_source) VALUES (?, 'C1', 'a1', 's' || ?, 'page_view', ?, 'google / organic')",
                       [f"e{i}", i // 3, dt.datetime.combine(today - dt.timedelta(days=d), dt.time(12))])


def test_retention_aggregates_then_deletes_old_events_and_logs_it(tmp_path):
    today = dt.date(2026, 12, 7)
    ws = Workspace(tmp_path / "shop.duckdb")
    _events(ws, [1, 2, 30, 400, 400, 400, 800], today)
    assert retention(ws)["applied"] is False  # no limit set: nothing happens
    preview = retention(ws, months=12, apply=False, today=today)
    assert preview["events"] == 4 and ws.count("events") == 7
    done = retention(ws, months=12, today=today)
    assert done["cutoff"] == cutoff_for(12, today) == dt.datetime(2025, 12, 1)
    assert (done["events_aggregated"], done["events_deleted"], done["daily_rows"]) == (4, 4, 2)
    assert ws.count("events") == 3
    daily = ws.sql("SELECT day, events FROM event_daily ORDER BY day")
    assert daily["events"].tolist() == [1, 3]  # nothing lost: every deleted event is counted
    runs = privacy_store.retention_runs(ws._con)
    assert len(runs) == 1 and runs[0]["events_deleted"] == 4
    again = retention(ws, months=12, today=today)
    assert again["events_deleted"] == 0 and ws.sql("SELECT sum(events) AS n FROM event_daily")["n"][0] == 4
    ws.close()


def test_privacy_and_retention_commands(tmp_path):
    from regulars.cli.main import app

    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        _events(ws, [1, 500], dt.date.today())
    out = CliRunner().invoke(app, ["privacy", "set", "event_retention_months", "6", "--workspace", str(path)])
    assert out.exit_code == 0 and "event_retention_months = 6" in out.output
    out = CliRunner().invoke(app, ["retention", "--workspace", str(path)])
    assert out.exit_code == 0 and "would aggregate and delete 1 raw events" in out.output
    out = CliRunner().invoke(app, ["retention", "--apply", "--workspace", str(path)])
    assert out.exit_code == 0 and "1 raw events before" in out.output
    out = CliRunner().invoke(app, ["privacy", "show", "--workspace", str(path)])
    assert out.exit_code == 0 and "personal data held" in out.output and "aggregated into 1 daily" in out.output
    out = CliRunner().invoke(app, ["privacy", "set", "event_retention_months", "lots", "--workspace", str(path)])
    assert out.exit_code == 1 and "whole number of months" in out.output
