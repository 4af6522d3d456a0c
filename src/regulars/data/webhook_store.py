"""Webhook subscriptions, the delivery outbox, the attempt log, and the runner's watermarks.

A delivery is written (``pending``) in the same transaction as whatever caused it, then
delivered by the runner outside any transaction; each HTTP attempt is logged. After
``max_attempts`` failures it is ``dead`` (the dead-letter list) until someone retries it.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> sub = add_subscription(ws, "crm", "http://127.0.0.1:9/hook", "s3cret", ["ingest.finished"], {}, 5, "cli")
>>> [s["name"] for s in subscriptions_for(ws, "ingest.finished")]
['crm']
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
import secrets

import pyarrow as pa

from regulars.data.connection import connection
from regulars.data.activation_schema import insert_new, records, where

DELIVERY_ARROW = pa.schema([
    ("delivery_id", pa.string()), ("subscription_id", pa.string()), ("topic", pa.string()),
    ("customer_id", pa.string()), ("payload", pa.string()), ("next_attempt_at", pa.timestamp("us")),
    ("created_at", pa.timestamp("us")),
])
SUB_COLUMNS = "subscription_id, name, url, secret, topics::VARCHAR AS topics, filters::VARCHAR AS filters, " \
              "max_attempts, is_active, created_at, created_by"


_records = records


def _sub(row: dict) -> dict:
    row["topics"] = json.loads(row["topics"] or "[]")
    row["filters"] = json.loads(row["filters"] or "{}")
    return row


def add_subscription(ws, name: str, url: str, secret: str | None, topics: list[str], filters: dict,
                     max_attempts: int, by: str) -> dict:
    sid = secrets.token_hex(6)
    secret = secret or "whsec_" + secrets.token_urlsafe(24)
    connection(ws).execute("INSERT INTO webhook_subscriptions VALUES (?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
                   [sid, name, url, secret, json.dumps(sorted(topics)), json.dumps(filters), int(max_attempts),
                    dt.datetime.now(dt.UTC).replace(tzinfo=None), by])
    return get_subscription(ws, sid)


def get_subscription(ws, subscription_id: str) -> dict | None:
    rows = _records(connection(ws).execute(f"SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE subscription_id = ? "
                                   "OR name = ? ORDER BY subscription_id = ? DESC LIMIT 1",
                                   [subscription_id, subscription_id, subscription_id]))
    return _sub(rows[0]) if rows else None


def list_subscriptions(ws, include_inactive: bool = False) -> list[dict]:
    where = "" if include_inactive else "WHERE is_active"
    return [_sub(r) for r in _records(connection(ws).execute(
        f"SELECT {SUB_COLUMNS} FROM webhook_subscriptions {where} ORDER BY created_at, subscription_id"))]


def deactivate_subscription(ws, subscription_id: str) -> None:
    connection(ws).execute("UPDATE webhook_subscriptions SET is_active = FALSE WHERE subscription_id = ?", [subscription_id])


def subscriptions_for(ws, topic: str) -> list[dict]:
    return [s for s in list_subscriptions(ws) if topic in s["topics"] or "*" in s["topics"]]


def enqueue(ws, rows: list[dict]) -> int:
    """Add deliveries (``delivery_id`` is the idempotency key: the same id twice is one delivery)."""
    return insert_new(ws, "webhook_deliveries", rows, DELIVERY_ARROW,
                      "delivery_id, subscription_id, topic, customer_id, payload, 'pending', 0, next_attempt_at, "
                      "created_at, NULL, NULL, NULL, NULL, NULL")


def due_deliveries(ws, now: dt.datetime, limit: int = 500) -> list[dict]:
    """Pending deliveries whose next attempt is due, with their subscription's URL and secret."""
    return _records(connection(ws).execute(
        "SELECT d.delivery_id, d.subscription_id, d.topic, d.payload, d.attempts, d.created_at, s.url, s.secret, "
        "s.max_attempts FROM webhook_deliveries d JOIN webhook_subscriptions s USING (subscription_id) "
        "WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND s.is_active "
        "ORDER BY d.next_attempt_at, d.created_at, d.delivery_id LIMIT ?", [now, int(limit)]))


def record_attempts(ws, results: list[dict]) -> None:
    """Log attempts and move each delivery on: ``{delivery_id, attempt, at, status_code, error, latency_ms,
    outcome: delivered|retry|dead, next_attempt_at}``."""
    if not results:
        return
    con = connection(ws)
    con.executemany("INSERT INTO webhook_attempts VALUES (?, ?, ?, ?, ?, ?)",
                    [(r["delivery_id"], r["attempt"], r["at"], r["status_code"], r["error"], r["latency_ms"])
                     for r in results])
    for r in results:
        status = {"delivered": "delivered", "retry": "pending", "dead": "dead"}[r["outcome"]]
        con.execute("UPDATE webhook_deliveries SET status = ?, attempts = ?, last_attempt_at = ?, last_status = ?, "
                    "last_error = ?, latency_ms = ?, next_attempt_at = ?, "
                    "delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END WHERE delivery_id = ?",
                    [status, r["attempt"], r["at"], r["status_code"], r["error"], r["latency_ms"],
                     r.get("next_attempt_at"), status, r["at"], r["delivery_id"]])


def deliveries(ws, status: str | None = None, topic: str | None = None, limit: int = 50,
               offset: int = 0) -> tuple[int, list[dict]]:
    cond, params = where("d.", status=status, topic=topic)
    total = connection(ws).execute(f"SELECT count(*) FROM webhook_deliveries d WHERE {cond}", params).fetchall()[0][0]
    rows = _records(connection(ws).execute(
        "SELECT d.delivery_id, s.name AS subscription, s.url, d.topic, d.status, d.attempts, d.created_at, "
        "d.last_attempt_at, d.delivered_at, d.last_status, d.last_error, d.latency_ms, d.next_attempt_at "
        f"FROM webhook_deliveries d LEFT JOIN webhook_subscriptions s USING (subscription_id) WHERE {cond} "
        "ORDER BY d.created_at DESC, d.delivery_id LIMIT ? OFFSET ?", params + [int(limit), int(offset)]))
    return total, rows


def attempts(ws, delivery_id: str) -> list[dict]:
    return _records(connection(ws).execute("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt",
                                   [delivery_id]))


def retry(ws, delivery_id: str, now: dt.datetime) -> bool:
    """Put a dead (or pending) delivery back in the queue now, with a fresh attempt budget."""
    rows = connection(ws).execute("SELECT status FROM webhook_deliveries WHERE delivery_id = ?", [delivery_id]).fetchall()
    if not rows or rows[0][0] == "delivered":
        return False
    connection(ws).execute("UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? "
                   "WHERE delivery_id = ?", [now, delivery_id])
    return True


def delivery_statuses(ws, delivery_ids: list[str]) -> dict[str, str]:
    return dict(connection(ws).execute("SELECT delivery_id, status FROM webhook_deliveries "
                               "WHERE delivery_id IN (SELECT unnest(?::VARCHAR[]))", [list(delivery_ids)]).fetchall())


def settled_step_deliveries(ws) -> list[tuple[str, str, dt.datetime | None, str | None]]:
    """Journey steps handed to webhooks (send log ``queued``, deliveries ``<send_key>.<subscription>``) whose
    deliveries are all settled: ``delivered`` when one got through, else ``dead``."""
    return [tuple(r) for r in connection(ws).execute(
        "SELECT s.send_key, CASE WHEN bool_or(d.status = 'delivered') THEN 'delivered' ELSE 'dead' END, "
        "max(d.delivered_at), any_value(d.last_error) FROM journey_sends s "
        "JOIN webhook_deliveries d ON split_part(d.delivery_id, '.', 1) = s.send_key WHERE s.status = 'queued' "
        "GROUP BY s.send_key HAVING bool_or(d.status = 'delivered') OR bool_and(d.status = 'dead')").fetchall()]


# -- watermarks and topic sources ------------------------------------------------------------------
def get_watermark(ws, name: str, default=None):
    rows = connection(ws).execute("SELECT value::VARCHAR FROM activation_watermarks WHERE name = ?", [name]).fetchall()
    return json.loads(rows[0][0]) if rows else default


def set_watermark(ws, name: str, value) -> None:
    connection(ws).execute("INSERT OR REPLACE INTO activation_watermarks VALUES (?, ?, ?)",
                   [name, json.dumps(value, default=str), dt.datetime.now(dt.UTC).replace(tzinfo=None)])


def latest_refresh_id(ws) -> int:
    return connection(ws).execute("SELECT coalesce(max(refresh_id), 0) FROM segment_refreshes").fetchall()[0][0]


def segment_changes(ws, after_refresh: int, until_refresh: int) -> list[dict]:
    """Entries and exits recorded after *after_refresh*: one row per refresh, segment and change with the ids."""
    return _records(connection(ws).execute(
        "SELECT h.refresh_id, h.segment_id, h.change, list(h.customer_id ORDER BY h.customer_id) AS customers, "
        "any_value(r.as_of) AS as_of FROM segment_history h JOIN segment_refreshes r USING (refresh_id) "
        "WHERE h.refresh_id > ? AND h.refresh_id <= ? GROUP BY ALL ORDER BY 1, 2, 3", [after_refresh, until_refresh]))


def prediction_dates(ws) -> list[dt.date]:
    return [r[0] for r in connection(ws).execute(
        "SELECT DISTINCT as_of FROM customer_predictions ORDER BY as_of DESC LIMIT 2").fetchall()]


def churn_crossings(ws, before: dt.date | None, after: dt.date, threshold: float) -> list[dict]:
    """Customers whose churn risk reached *threshold* at *after* while below it at *before* (or new)."""
    return _records(connection(ws).execute(
        "SELECT a.customer_id, a.churn_risk, b.churn_risk AS previous_risk FROM customer_predictions a "
        "LEFT JOIN customer_predictions b ON b.customer_id = a.customer_id AND b.as_of = ? "
        "WHERE a.as_of = ? AND a.churn_risk >= ? AND (b.churn_risk IS NULL OR b.churn_risk < ?) "
        "ORDER BY a.customer_id", [before, after, threshold, threshold]))


def finished_ingest_runs(ws, after_run: int) -> list[dict]:
    """File loads finished after run *after_run* (events posted to the API are not a load)."""
    return _records(connection(ws).execute(
        "SELECT run_id, kind, format, started_at, finished_at, rows_read, rows_new, rows_updated, rows_unchanged, "
        "rows_quarantined FROM ingest_runs WHERE run_id > ? AND finished_at IS NOT NULL "
        "AND coalesce(format, '') <> 'api' ORDER BY run_id", [after_run]))
