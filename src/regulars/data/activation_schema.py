"""Tables of the activation layer (journeys, sends, webhooks, audiences, schedules, alerts).

Created by one migration (:func:`create_statements`). Grain and keys:

``journeys``
    one row per journey: its current TOML definition and version, and whether an admin
    approved that version (``status``: draft | approved | paused). A journey only runs when
    ``status = 'approved'`` and ``approved_version = version``.
``journey_versions``
    every saved definition (nothing is overwritten).
``journey_enrollments``
    one row per customer entering a journey (key ``enrollment_id``, a hash of journey,
    customer and what triggered it): the arm (treatment | holdout), when they entered,
    the next step and when it is due, and how it ended (completed, converted, exited).
``journey_sends``
    the send log, one row per step decided for an enrollment (key ``send_key``, the
    idempotency key): written *before* anything leaves, then updated with the outcome
    (sent, skipped with the reason, failed, withheld for the holdout, queued for a webhook, claimed
    while being handed to the mail server).
``webhook_subscriptions`` / ``webhook_deliveries`` / ``webhook_attempts``
    who wants which topics; one row per message to deliver (key ``delivery_id``, sent as
    the idempotency key); one row per HTTP attempt (the delivery log).
``audience_members``
    named lists built by journeys (e.g. a retargeting audience), exportable like segments.
``activation_schedules`` / ``activation_job_runs``
    scheduled reports, exports and alert checks (cron in the shop's time zone) and each run.
``alert_log``
    one row per alert condition and day it fired (key ``(alert_key, day)``: at most once a day).
``activation_watermarks``
    how far the runner has read other tables (segment refreshes, ingest runs, predictions).

Holdout assignments are logged in the experiments store (``experiment_assignments``, one
experiment ``journey-<id>`` per journey, source ``journey``). Every table holding a ``customer_id`` is reached by erasure and identity merges
automatically (:func:`regulars.data.identity.customer_tables`).

>>> any("journey_sends" in s for s in create_statements())
True
"""

from __future__ import annotations

from regulars.data.connection import connection


def create_statements() -> list[str]:
    """``CREATE ... IF NOT EXISTS`` for every activation table (one migration)."""
    return [
        "CREATE TABLE IF NOT EXISTS journeys (journey_id VARCHAR PRIMARY KEY, name VARCHAR, version INTEGER, "
        "definition VARCHAR, status VARCHAR, approved_version INTEGER, approved_by VARCHAR, approved_at TIMESTAMP, "
        "source VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP, watermarks JSON)",
        "CREATE TABLE IF NOT EXISTS journey_versions (journey_id VARCHAR, version INTEGER, definition VARCHAR, "
        "created_at TIMESTAMP, created_by VARCHAR)",
        "CREATE TABLE IF NOT EXISTS journey_enrollments (enrollment_id VARCHAR PRIMARY KEY, journey_id VARCHAR, "
        "version INTEGER, customer_id VARCHAR, arm VARCHAR, trigger_key VARCHAR, entered_at TIMESTAMP, "
        "enrolled_at TIMESTAMP, status VARCHAR, next_step INTEGER, next_due_at TIMESTAMP, ended_at TIMESTAMP, "
        "end_reason VARCHAR, context JSON)",
        "CREATE TABLE IF NOT EXISTS journey_sends (send_key VARCHAR PRIMARY KEY, enrollment_id VARCHAR, "
        "journey_id VARCHAR, customer_id VARCHAR, step INTEGER, step_name VARCHAR, channel VARCHAR, status VARCHAR, "
        "reason VARCHAR, due_at TIMESTAMP, decided_at TIMESTAMP, sent_at TIMESTAMP, batch_id BIGINT, seq BIGINT, "
        "detail JSON)",
        "CREATE TABLE IF NOT EXISTS webhook_subscriptions (subscription_id VARCHAR PRIMARY KEY, name VARCHAR, "
        "url VARCHAR, secret VARCHAR, topics JSON, filters JSON, max_attempts INTEGER, is_active BOOLEAN, "
        "created_at TIMESTAMP, created_by VARCHAR)",
        "CREATE TABLE IF NOT EXISTS webhook_deliveries (delivery_id VARCHAR PRIMARY KEY, subscription_id VARCHAR, "
        "topic VARCHAR, customer_id VARCHAR, payload VARCHAR, status VARCHAR, attempts INTEGER, "
        "next_attempt_at TIMESTAMP, created_at TIMESTAMP, last_attempt_at TIMESTAMP, delivered_at TIMESTAMP, "
        "last_status INTEGER, last_error VARCHAR, latency_ms DOUBLE)",
        "CREATE TABLE IF NOT EXISTS webhook_attempts (delivery_id VARCHAR, attempt INTEGER, attempted_at TIMESTAMP, "
        "status_code INTEGER, error VARCHAR, latency_ms DOUBLE)",
        "CREATE TABLE IF NOT EXISTS audience_members (audience_id VARCHAR, customer_id VARCHAR, added_at TIMESTAMP, "
        "source VARCHAR)",
        "CREATE TABLE IF NOT EXISTS activation_schedules (schedule_id VARCHAR PRIMARY KEY, kind VARCHAR, "
        "cron VARCHAR, config JSON, is_active BOOLEAN, created_at TIMESTAMP, last_run_at TIMESTAMP, "
        "next_run_at TIMESTAMP)",
        "CREATE TABLE IF NOT EXISTS activation_job_runs (run_id BIGINT, schedule_id VARCHAR, kind VARCHAR, "
        "started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, detail JSON, error VARCHAR)",
        "CREATE TABLE IF NOT EXISTS alert_log (alert_key VARCHAR, day DATE, fired_at TIMESTAMP, value DOUBLE, "
        "threshold DOUBLE, message VARCHAR, PRIMARY KEY (alert_key, day))",
        "CREATE TABLE IF NOT EXISTS activation_watermarks (name VARCHAR PRIMARY KEY, value JSON, "
        "updated_at TIMESTAMP)",
        "CREATE SEQUENCE IF NOT EXISTS activation_batch_ids START 1",
        "CREATE SEQUENCE IF NOT EXISTS activation_job_run_ids START 1",
    ]


# -- helpers the activation stores share ------------------------------------------------------------
def records(cursor) -> list[dict]:
    """Every row of an executed statement as a dict."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def insert_new(ws, table: str, rows: list[dict], schema, select: str = "*") -> int:
    """Insert *rows* (through Arrow, typed by *schema*) as ``INSERT INTO table SELECT <select>``, skipping
    keys already there; returns how many rows were new."""
    if not rows:
        return 0
    import pyarrow as pa

    con = connection(ws)
    name = f"_new_{table}"
    con.register(name, pa.Table.from_pylist(rows, schema=schema))
    try:
        before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        con.execute(f"INSERT INTO {table} SELECT {select} FROM {name} ON CONFLICT DO NOTHING")
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before
    finally:
        con.unregister(name)


def where(prefix: str = "", **equal) -> tuple[str, list]:
    """``col = ?`` conditions for the given non-empty values, and their parameters.

    >>> where("d.", status="dead", topic=None)
    ('TRUE AND d.status = ?', ['dead'])
    """
    conds, params = ["TRUE"], []
    for col, value in equal.items():
        if value not in (None, ""):
            conds.append(f"{prefix}{col} = ?")
            params.append(value)
    return " AND ".join(conds), params
