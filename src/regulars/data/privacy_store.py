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


def get(con, name: str | None = None):
    """One setting (or all of them as a dict): the latest stored value, else the default."""
    rows = dict(con.execute("SELECT name, arg_max(value, updated_at)::VARCHAR FROM privacy_settings GROUP BY name")
                .fetchall())
    values = {k: json.loads(rows[k]) if k in rows else v for k, v in DEFAULTS.items()}
    return values if name is None else values[name]


def put(con, name: str, value, updated_by: str = "cli") -> None:
    if name not in DEFAULTS:
        raise ValueError(f"unknown privacy setting {name!r}; known: {', '.join(DEFAULTS)}")
    con.execute("INSERT INTO privacy_settings VALUES (?, ?, ?, ?)",
                [name, json.dumps(value), dt.datetime.now(dt.UTC).replace(tzinfo=None), updated_by])
