"""The shop's privacy settings: which sensitive attributes models may use, what personal data is kept at
ingest, how long raw web events are kept; and the log of retention runs.

Tables (created by the migration that calls :func:`create_statements`):

``privacy_settings``
    one row per change of a setting (name, JSON value, when, by whom); the latest value counts.
``retention_runs``
    one row per retention run: the cut-off, events aggregated and deleted, seconds.
``event_daily``
    what is kept of web events older than the retention limit: counts per day, customer (or
    anonymous id), event type and traffic source.

Examples
--------
>>> DEFAULTS["sensitive_inputs"], DEFAULTS["event_retention_months"]
([], None)
"""

from __future__ import annotations

import datetime as dt
import json

from regulars.data.connection import connection

#: setting -> default value
DEFAULTS: dict[str, object] = {
    # sensitive attributes the shop allows models to use (none by default)
    "sensitive_inputs": [],
    # personal columns of customers dropped at ingest (none by default; e.g. ["birth_date", "postal_code"])
    "drop_columns": [],
    # raw web events older than this many months are aggregated per day and deleted (None: kept)
    "event_retention_months": None,
}


def create_statements() -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS privacy_settings (name VARCHAR, value JSON, updated_at TIMESTAMP, updated_by VARCHAR)",
        "CREATE TABLE IF NOT EXISTS retention_runs (run_at TIMESTAMP, cutoff TIMESTAMP, months INTEGER, "
        "events_aggregated BIGINT, events_deleted BIGINT, daily_rows BIGINT, seconds DOUBLE)",
        "CREATE TABLE IF NOT EXISTS event_daily (day DATE, customer_id VARCHAR, anonymous_id VARCHAR, "
        "event_type VARCHAR, traffic_source VARCHAR, events BIGINT)",
    ]


#: Personal columns of ``customers`` the shop may choose not to keep at ingest. E-mail and phone are
#: not among them: they identify the customer across files (and are stored hashed in identities).
DROPPABLE = ("first_name", "last_name", "postal_code", "birth_date", "city")


def get(con, name: str | None = None):
    """One setting (or all of them as a dict): the latest stored value, else the default."""
    con = connection(con)
    rows = dict(con.execute("SELECT name, arg_max(value, updated_at)::VARCHAR FROM privacy_settings GROUP BY name")
                .fetchall())
    values = {k: json.loads(rows[k]) if k in rows else v for k, v in DEFAULTS.items()}
    return values if name is None else values[name]


def put(con, name: str, value, updated_by: str = "cli") -> dict[str, int]:
    """Store a setting (checked first with :func:`regulars.privacy.settings.validate`). Choosing to drop
    columns also erases the values already held; returns how many were erased per column."""
    con = connection(con)
    if name not in DEFAULTS:
        raise ValueError(f"unknown privacy setting {name!r}; known: {', '.join(DEFAULTS)}")
    if name == "drop_columns" and any(c not in DROPPABLE for c in value):
        raise ValueError(f"only {', '.join(DROPPABLE)} may be dropped")
    con.execute("INSERT INTO privacy_settings VALUES (?, ?, ?, ?)",
                [name, json.dumps(value), dt.datetime.now(dt.UTC).replace(tzinfo=None), updated_by])
    erased = {}
    if name == "drop_columns":
        for col in value:
            erased[col] = con.execute(f"UPDATE customers SET {col} = NULL WHERE {col} IS NOT NULL").fetchall()[0][0]
    return erased


def minimise(con, exprs: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The customers columns to load, without those the shop chose not to keep; and the dropped ones."""
    con = connection(con)
    drop = [c for c in get(con, "drop_columns") if c in exprs]
    return {k: v for k, v in exprs.items() if k not in drop}, drop


def personal_data_held(con) -> list[dict]:
    """What personal data the workspace holds: per personal column, how many values, and whether the
    shop drops it at ingest; free text; raw web events and the retention limit."""
    con = connection(con)
    from regulars.data.schema import PII_COLUMNS

    dropped = set(get(con, "drop_columns"))
    out = []
    for table, cols in PII_COLUMNS.items():
        for col in cols:
            n = con.execute(f"SELECT count({col}) FROM {table}").fetchall()[0][0]
            out.append({"table": table, "column": col, "values": int(n), "kept_at_ingest": col not in dropped})
    months = get(con, "event_retention_months")
    row = con.execute("SELECT count(*), min(occurred_at) FROM events").fetchall()[0]
    out.append({"table": "events", "column": "(raw web events)", "values": int(row[0]), "kept_at_ingest": True,
                "oldest": str(row[1])[:10] if row[1] else None,
                "retention": f"{months} months" if months else "kept until deleted"})
    return out


# -- consent ----------------------------------------------------------------------------------------
_LATEST_PERSONALISATION = (
    "SELECT customer_id, arg_max(is_granted, recorded_at) AS granted FROM consents "
    "WHERE lower(purpose) IN ('personalization', 'personalisation') GROUP BY 1")


def refused_personalisation(con) -> set[str]:
    """Customers whose current personalisation consent is refused: their latest decision in
    ``consents``, else ``customers.accepts_personalization`` (never stated = allowed)."""
    con = connection(con)
    rows = con.execute(
        f"WITH latest AS ({_LATEST_PERSONALISATION}) "
        "SELECT c.customer_id FROM customers c LEFT JOIN latest l USING (customer_id) "
        "WHERE coalesce(l.granted, c.accepts_personalization, true) = false").fetchall()
    return {r[0] for r in rows}


def withdraw_personalisation(con, customer_ids, columns, mode: str) -> dict[str, int]:
    """Empty the personalised *columns* of *customer_ids*' predictions (``data_mode`` set to *mode*),
    drop their lead scores and reminders and turn their stored next best actions into "do nothing", at once."""
    con = connection(con)
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    present = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'customer_predictions'").fetchall()}
    sets = ", ".join(f"{c} = NULL" for c in columns if c in present)
    marks = ", ".join("?" for _ in ids)
    changed = con.execute(f"UPDATE customer_predictions SET {sets}, data_mode = ? "
                          f"WHERE customer_id IN ({marks}) AND data_mode IS DISTINCT FROM ?",
                          [mode, *ids, mode]).fetchall()
    out = {"customer_predictions": changed[0][0] if changed else 0}
    for table in ("lead_scores", "replenishments"):
        out[table] = con.execute(f"DELETE FROM {table} WHERE customer_id IN ({marks})", ids).fetchall()[0][0]
    out["next_actions"] = con.execute(
        "UPDATE next_actions SET action = 'do_nothing', channel = 'none', expected_value = 0, p_response = NULL, "
        "uplift = NULL, uplift_source = NULL, value = NULL, cost = 0, product_id = NULL, assumption = NULL, "
        "reason = ? WHERE customer_id IN (" + marks + ") AND action <> 'do_nothing' "
        "AND as_of = (SELECT max(as_of) FROM next_actions)",
        [WITHDRAWN_ACTION, *ids]).fetchall()[0][0]
    return out


#: The reason a stored next best action gets when its customer refuses personalisation between two runs.
WITHDRAWN_ACTION = ("Do nothing until the next run: this customer refused personalisation after this "
                    "action was chosen from their personal scores.")


def unrecorded_consent_events(con, customer_ids) -> list[tuple]:
    """``(customer_id, occurred_at, properties)`` of *customer_ids*' ``consent`` events not yet recorded
    in ``consents``, oldest first."""
    con = connection(con)
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return con.execute(
        "SELECT e.customer_id, e.occurred_at, e.properties::VARCHAR FROM events e WHERE e.customer_id IN "
        f"({marks}) AND lower(e.event_type) IN ('consent', 'consent_change') AND NOT EXISTS (SELECT 1 FROM consents c "
        "WHERE c.customer_id = e.customer_id AND c.recorded_at = e.occurred_at AND c.source = 'event') "
        "ORDER BY e.occurred_at", ids).fetchall()


def record_consent(con, customer_id: str, purpose: str, column: str, granted: bool, at) -> None:
    """A consent decision from an event: a ``consents`` row and the customer's current flag."""
    con = connection(con)
    con.execute("INSERT INTO consents (customer_id, purpose, is_granted, recorded_at, source) "
                "VALUES (?, ?, ?, ?, 'event')", [customer_id, purpose, granted, at])
    con.execute(f"UPDATE customers SET {column} = ? WHERE customer_id = ?", [granted, customer_id])


# -- retention ---------------------------------------------------------------------------------------
def retention_preview(con, cutoff: dt.datetime) -> dict:
    """What a retention run at *cutoff* would do: raw events before it, and the daily rows they make."""
    con = connection(con)
    row = con.execute("SELECT count(*), min(occurred_at) FROM events WHERE occurred_at < ?", [cutoff]).fetchall()[0]
    return {"events": int(row[0]), "oldest": row[1]}


def apply_retention(ws, cutoff: dt.datetime, months: int, started: float) -> dict:
    """Aggregate raw events before *cutoff* into ``event_daily`` and delete them, log the run: one transaction."""
    import time

    con = connection(ws)
    with ws.transaction():
        aggregated = con.execute("SELECT count(*) FROM events WHERE occurred_at < ?", [cutoff]).fetchall()[0][0]
        daily = con.execute(
            "INSERT INTO event_daily SELECT occurred_at::DATE, customer_id, anonymous_id, event_type, traffic_source, "
            "count(*) FROM events WHERE occurred_at < ? GROUP BY ALL", [cutoff]).fetchall()[0][0]
        deleted = con.execute("DELETE FROM events WHERE occurred_at < ?", [cutoff]).fetchall()[0][0]
        if deleted != aggregated:  # nothing is lost: every deleted event is counted in event_daily
            raise RuntimeError(f"retention: {aggregated} events aggregated but {deleted} deleted; nothing was changed")
        seconds = round(time.perf_counter() - started, 3)
        con.execute("INSERT INTO retention_runs VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
                    [cutoff, months, int(aggregated), int(deleted), int(daily), seconds])
    return {"cutoff": cutoff, "months": months, "events_aggregated": int(aggregated), "events_deleted": int(deleted),
            "daily_rows": int(daily), "seconds": seconds}


def retention_runs(con, limit: int = 10) -> list[dict]:
    con = connection(con)
    cols = ("run_at", "cutoff", "months", "events_aggregated", "events_deleted", "daily_rows", "seconds")
    rows = con.execute("SELECT * FROM retention_runs ORDER BY run_at DESC LIMIT ?", [limit]).fetchall()
    return [dict(zip(cols, r)) for r in rows]
