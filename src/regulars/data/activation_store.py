"""Activation settings, holdout assignments, audience rows, schedules, job runs, alerts and the
shop metrics alerts watch. SQL only; the logic is in :mod:`regulars.activation`.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> write_settings(ws, {"quiet_hours": "22:00-07:00"}, "cli")
>>> read_settings(ws)["quiet_hours"]
'22:00-07:00'
>>> fire_once(ws, "traffic_drop", __import__("datetime").date(2025, 1, 6), 0.4, 0.3, "traffic down")
True
>>> fire_once(ws, "traffic_drop", __import__("datetime").date(2025, 1, 6), 0.5, 0.3, "traffic down")
False
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from regulars.data import purchases, shop
from regulars.data.activation_schema import records, where
from regulars.data.connection import connection

PREFIX = "activation."
CUSTOMER_FIELDS = ("customer_id", "email", "phone", "first_name", "last_name", "city", "region", "country",
                   "postal_code", "birth_date", "accepts_email", "accepts_sms", "accepts_personalization")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_records = records


# -- settings (stored in app_settings under "activation.<name>") ------------------------------------
#: The activation setting that is the shop's own time zone (``app_settings.timezone``, see
#: :mod:`regulars.data.shop`): one value for reports, ingestion and journeys.
SHOP_TIME_ZONE = "time_zone"


def read_settings(ws) -> dict[str, object]:
    rows = connection(ws).execute("SELECT name, arg_max(value, updated_at)::VARCHAR FROM app_settings "
                          "WHERE starts_with(name, ?) GROUP BY name", [PREFIX]).fetchall()
    out = {name[len(PREFIX):]: json.loads(value) for name, value in rows}
    out[SHOP_TIME_ZONE] = shop.timezone(connection(ws))
    return out


def write_settings(ws, values: dict[str, object], by: str) -> None:
    now = _now()
    for name, value in values.items():
        stored = "timezone" if name == SHOP_TIME_ZONE else PREFIX + name
        connection(ws).execute("INSERT INTO app_settings VALUES (?, ?, ?, ?)", [stored, json.dumps(value), now, by])


# -- holdout assignments (logged in the experiments store) -----------------------------------------------
def holdout_experiment_id(journey_id: str) -> str:
    return f"journey-{journey_id}"[:60]


def logged_arms(ws, journey_id: str, customer_ids: list[str]) -> dict[str, str]:
    """Arms already in the assignment log of the journey's holdout experiment (they never change)."""
    from regulars.data import experiments_store

    exp_id = holdout_experiment_id(journey_id)
    if not connection(ws).execute("SELECT count(*) FROM experiments WHERE experiment_id = ?", [exp_id]).fetchall()[0][0]:
        return {}
    found = experiments_store.assignments(connection(ws), exp_id, customer_ids)
    return dict(zip(found["customer_id"].astype(str), found["arm"].astype(str)))


def record_assignments(ws, journey_id: str, journey_name: str, holdout_share: float, window_days: int,
                       rows: list[dict]) -> None:
    """Log journey arm assignments (``{customer_id, arm, assigned_at}``) in the experiments store: one
    experiment per journey (``journey-<id>``, arms ``treatment`` and ``holdout``, control ``holdout``),
    created on first use, source ``journey``. Customers already logged keep their arm."""
    if not rows:
        return
    import pandas as pd

    from regulars.data import experiments_store

    exp_id = holdout_experiment_id(journey_id)
    con = connection(ws)
    if not con.execute("SELECT count(*) FROM experiments WHERE experiment_id = ?", [exp_id]).fetchall()[0][0]:
        experiments_store.create(con, {
            "experiment_id": exp_id, "name": f"Journey holdout: {journey_name}"[:200],
            "description": f"the control group of journey {journey_id}; arms decided by regulars.activation.holdout",
            "arms": [{"name": "treatment", "share": 1 - holdout_share}, {"name": "holdout", "share": holdout_share}],
            "control_arm": "holdout", "salt": f"journey/{journey_id}", "window_days": max(1, int(window_days)),
            "starts_at": min(r["assigned_at"] for r in rows)})
    frame = pd.DataFrame([{"customer_id": r["customer_id"], "arm": r["arm"], "assigned_at": r["assigned_at"]}
                          for r in rows])
    try:
        experiments_store.insert_assignments(con, exp_id, frame, source="journey", source_ref=journey_id)
    except experiments_store.ExperimentError:
        pass  # someone stopped the holdout experiment: the journey goes on, its arms stay in journey_enrollments


# -- audiences -------------------------------------------------------------------------------------------
def audience_customers(ws, source: str) -> pa.Table:
    """Customers (personal fields and consent) of a segment id, or of ``audience:<name>`` (a list built by
    journeys), or ``all`` for every customer, as an Arrow table."""
    cols = ", ".join(f"c.{f}" for f in CUSTOMER_FIELDS)
    if source == "all":
        sql, params = f"SELECT {cols} FROM customers c ORDER BY c.customer_id", []
    elif source.startswith("audience:"):
        sql = (f"SELECT {cols} FROM customers c WHERE c.customer_id IN (SELECT customer_id FROM audience_members "
               "WHERE audience_id = ?) ORDER BY c.customer_id")
        params = [source.split(":", 1)[1]]
    else:
        sql = (f"SELECT {cols} FROM customers c WHERE c.customer_id IN (SELECT customer_id FROM segment_memberships "
               "WHERE segment_id = ?) ORDER BY c.customer_id")
        params = [source]
    return connection(ws).sql(sql, params=params).to_arrow_table()


def audience_sources(ws) -> list[dict]:
    """Segments with members and journey-built audiences, with their sizes."""
    return _records(connection(ws).execute(
        "SELECT 'segment' AS kind, m.segment_id AS source, coalesce(d.name, m.segment_id) AS name, count(*) AS members "
        "FROM segment_memberships m LEFT JOIN segment_definitions d USING (segment_id) GROUP BY ALL "
        "UNION ALL SELECT 'audience', 'audience:' || audience_id, audience_id, count(*) FROM audience_members GROUP BY ALL "
        "ORDER BY 1 DESC, 2"))


def source_exists(ws, source: str) -> bool:
    if source == "all":
        return True
    if source.startswith("audience:"):
        return bool(connection(ws).execute("SELECT count(*) FROM audience_members WHERE audience_id = ?",
                                   [source.split(":", 1)[1]]).fetchall()[0][0])
    return bool(connection(ws).execute("SELECT count(*) FROM segment_definitions WHERE segment_id = ? AND deleted_at IS NULL",
                               [source]).fetchall()[0][0])


# -- schedules and job runs -----------------------------------------------------------------------------
def upsert_schedule(ws, schedule_id: str, kind: str, cron: str, config: dict, next_run_at: dt.datetime | None,
                    active: bool = True) -> None:
    connection(ws).execute("INSERT INTO activation_schedules VALUES (?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (schedule_id) "
                   "DO UPDATE SET kind = excluded.kind, cron = excluded.cron, config = excluded.config, "
                   "is_active = excluded.is_active, next_run_at = excluded.next_run_at",
                   [schedule_id, kind, cron, json.dumps(config), active, _now(), next_run_at])


def list_schedules(ws) -> list[dict]:
    rows = _records(connection(ws).execute(
        "SELECT schedule_id, kind, cron, config::VARCHAR AS config, is_active, created_at, last_run_at, next_run_at "
        "FROM activation_schedules ORDER BY schedule_id"))
    for r in rows:
        r["config"] = json.loads(r["config"] or "{}")
    return rows


def delete_schedule(ws, schedule_id: str) -> bool:
    n = connection(ws).execute("SELECT count(*) FROM activation_schedules WHERE schedule_id = ?", [schedule_id]).fetchall()[0][0]
    connection(ws).execute("DELETE FROM activation_schedules WHERE schedule_id = ?", [schedule_id])
    return bool(n)


def mark_schedule_run(ws, schedule_id: str, ran_at: dt.datetime, next_run_at: dt.datetime | None) -> None:
    connection(ws).execute("UPDATE activation_schedules SET last_run_at = ?, next_run_at = ? WHERE schedule_id = ?",
                   [ran_at, next_run_at, schedule_id])


def log_job_run(ws, schedule_id: str | None, kind: str, started: dt.datetime, finished: dt.datetime, status: str,
                detail: dict, error: str | None) -> int:
    run_id = connection(ws).execute("SELECT nextval('activation_job_run_ids')").fetchall()[0][0]
    connection(ws).execute("INSERT INTO activation_job_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [run_id, schedule_id, kind, started, finished, status, json.dumps(detail, default=str), error])
    return run_id


def job_runs(ws, limit: int = 50, status: str | None = None, since: dt.datetime | None = None) -> list[dict]:
    cond, params = where(status=status)
    if since:
        cond, params = cond + " AND finished_at >= ?", params + [since]
    rows = _records(connection(ws).execute(
        "SELECT run_id, schedule_id, kind, started_at, finished_at, status, detail::VARCHAR AS detail, error "
        f"FROM activation_job_runs WHERE {cond} ORDER BY run_id DESC LIMIT ?", params + [int(limit)]))
    for r in rows:
        r["detail"] = json.loads(r["detail"] or "{}")
    return rows


# -- alerts ------------------------------------------------------------------------------------------------
def fire_once(ws, alert_key: str, day: dt.date, value: float | None, threshold: float | None, message: str) -> bool:
    """Record that *alert_key* fired on *day*; False when it already fired that day (nothing is written)."""
    before = connection(ws).execute("SELECT count(*) FROM alert_log WHERE alert_key = ? AND day = ?",
                            [alert_key, day]).fetchall()[0][0]
    if before:
        return False
    connection(ws).execute("INSERT INTO alert_log VALUES (?, ?, ?, ?, ?, ?)", [alert_key, day, _now(), value, threshold, message])
    return True


def alert_history(ws, limit: int = 50) -> list[dict]:
    return _records(connection(ws).execute("SELECT * FROM alert_log ORDER BY fired_at DESC LIMIT ?", [int(limit)]))


# -- metrics the alerts and the weekly report watch --------------------------------------------------------------
# the one definition of a counted order, a purchase and net revenue (data/purchases.py)
_COUNTED = purchases.counted_sql()


def net_revenue(ws, start: dt.datetime, end: dt.datetime) -> float:
    """Net revenue (total - refunded) of orders in ``[start, end)``, guests included."""
    return float(connection(ws).execute(f"SELECT coalesce(sum({purchases.net_sql()}), 0)::DOUBLE FROM orders "
                                f"WHERE ordered_at >= ? AND ordered_at < ? AND {_COUNTED}", [start, end]).fetchall()[0][0])


def forecast_revenue(ws, first_day: dt.date, last_day: dt.date) -> dict | None:
    """Sum of the forecast (latest made before *first_day*) over the days, with its bounds; None when the
    forecast does not cover every day."""
    rows = connection(ws).execute(
        "SELECT count(*), sum(revenue), sum(revenue_lower), sum(revenue_upper), any_value(as_of) FROM demand_forecast "
        "WHERE as_of = (SELECT max(as_of) FROM demand_forecast WHERE as_of <= ?) AND day BETWEEN ? AND ?",
        [first_day, first_day, last_day]).fetchall()[0]
    days = (last_day - first_day).days + 1
    if not rows[0] or rows[0] < days:
        return None
    return {"revenue": float(rows[1]), "lower": float(rows[2]), "upper": float(rows[3]), "as_of": rows[4]}


def churn_high_shares(ws) -> list[dict]:
    """Share of customers in the high churn band at the last two prediction dates (newest first)."""
    return _records(connection(ws).execute(
        "SELECT as_of, avg((churn_band = 'high')::INTEGER)::DOUBLE AS high_share, count(*) AS customers "
        "FROM customer_predictions WHERE as_of IN (SELECT DISTINCT as_of FROM customer_predictions "
        "ORDER BY as_of DESC LIMIT 2) GROUP BY 1 ORDER BY 1 DESC"))


def traffic(ws, start: dt.datetime, end: dt.datetime) -> dict:
    """Sessions (by session id, else visitor and day), and sessions that purchased, in ``[start, end)``."""
    row = connection(ws).execute(
        "SELECT count(DISTINCT coalesce(session_id, coalesce(customer_id, anonymous_id) || '/' || occurred_at::DATE)), "
        "count(DISTINCT coalesce(session_id, coalesce(customer_id, anonymous_id) || '/' || occurred_at::DATE)) "
        "FILTER (WHERE event_type = 'purchase') FROM events WHERE occurred_at >= ? AND occurred_at < ?",
        [start, end]).fetchall()[0]
    orders = connection(ws).execute(f"SELECT count(*) FROM orders WHERE ordered_at >= ? AND ordered_at < ? "
                            f"AND {purchases.purchase_sql()}", [start, end]).fetchall()[0][0]
    return {"sessions": int(row[0]), "purchase_sessions": int(row[1]), "orders": int(orders)}


def quarantined_since(ws, since: dt.datetime) -> dict:
    row = connection(ws).execute(
        "SELECT coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_read), 0), count(*) FROM ingest_runs "
        "WHERE started_at >= ? AND coalesce(format, '') <> 'api'", [since]).fetchall()[0]
    # by file kind and column, never the reason text: it quotes the rejected value (possibly personal data)
    reasons = connection(ws).execute(
        "SELECT q.kind || coalesce(' column ' || q.column_name, ' rows'), count(*) AS n FROM quarantine q "
        "JOIN ingest_runs r USING (run_id) WHERE r.started_at >= ? GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
        [since]).fetchall()
    return {"rows_quarantined": int(row[0]), "rows_read": int(row[1]), "runs": int(row[2]),
            "top_reasons": [{"reason": r, "rows": int(n)} for r, n in reasons]}


def last_order_at(ws) -> dt.datetime | None:
    return connection(ws).execute("SELECT max(ordered_at) FROM orders").fetchall()[0][0]
