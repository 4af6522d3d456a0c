"""The facts the anomaly checks read, and the flags they write.

Tables (created by the migration that calls :func:`create_statements`):

``anomaly_flags``
    one row per flag of a run: entity (order, customer, session) and its id, the customer, the
    kind, a 0..1 score, the reason in words, and when the same flag was first raised.
``anomaly_runs``
    one row per run: counts per kind, which checks ran and which the data could not support.
``demo_truth_anomalies``
    the demo shop only: the anomalies planted on purpose.

Examples
--------
>>> [s.split("(")[0].split()[-1] for s in create_statements()]
['anomaly_flags', 'anomaly_runs', 'demo_truth_anomalies']
"""

from __future__ import annotations

import json

import pandas as pd

from regulars.data.inserts import insert

from regulars.data.schema import EXCLUDED_STATUSES
from regulars.data.connection import connection

FLAGS = (
    ("run_id", "VARCHAR"), ("entity", "VARCHAR"), ("entity_id", "VARCHAR"), ("customer_id", "VARCHAR"),
    ("kind", "VARCHAR"), ("score", "DOUBLE"), ("reason", "VARCHAR"), ("first_flagged_at", "TIMESTAMP"),
    ("flagged_at", "TIMESTAMP"),
)
RUNS = (("run_id", "VARCHAR"), ("finished_at", "TIMESTAMP"), ("counts", "JSON"), ("checks", "JSON"),
        ("seconds", "DOUBLE"))
TRUTH = (("entity", "VARCHAR"), ("entity_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("kind", "VARCHAR"))
_EXCLUDED = ", ".join(f"'{s}'" for s in EXCLUDED_STATUSES)


def _create(name: str, columns) -> str:
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(f'{c} {t}' for c, t in columns)})"


def create_statements() -> list[str]:
    return [_create("anomaly_flags", FLAGS), _create("anomaly_runs", RUNS), _create("demo_truth_anomalies", TRUTH)]


# -- facts -----------------------------------------------------------------------------------------
def order_facts(ws) -> pd.DataFrame:
    """Sale orders (positive total, not cancelled) with their largest line quantity."""
    return ws.sql(
        "SELECT o.order_id, o.customer_id, o.total::DOUBLE AS total, o.currency, l.max_quantity "
        "FROM orders o LEFT JOIN (SELECT order_id, max(quantity) AS max_quantity FROM order_lines GROUP BY 1) l "
        f"USING (order_id) WHERE o.total > 0 AND lower(coalesce(o.status, '')) NOT IN ({_EXCLUDED})")


def return_facts(ws) -> pd.DataFrame:
    """Per customer: sale orders, and how many were refunded or returned (status or a refunded amount)."""
    return ws.sql(
        "SELECT customer_id, count(*) AS orders, count(*) FILTER (WHERE coalesce(refunded, 0) > 0 "
        "OR lower(coalesce(status, '')) IN ('refunded', 'returned', 'partially_refunded')) AS returned "
        f"FROM orders WHERE total > 0 AND customer_id IS NOT NULL AND lower(coalesce(status, '')) NOT IN ({_EXCLUDED}) "
        "GROUP BY 1")


def code_facts(ws) -> pd.DataFrame:
    """Orders per customer and discount code (codes upper-cased and trimmed)."""
    return ws.sql(
        "SELECT customer_id, upper(trim(discount_code)) AS code, count(*) AS uses FROM orders "
        "WHERE discount_code IS NOT NULL AND trim(discount_code) <> '' AND customer_id IS NOT NULL GROUP BY 1, 2")


def identity_facts(ws) -> pd.DataFrame:
    """Customers with more than one e-mail address or phone number linked."""
    return ws.sql(
        "SELECT customer_id, count(*) FILTER (WHERE kind = 'email') AS emails, "
        "count(*) FILTER (WHERE kind = 'phone') AS phones FROM identities GROUP BY 1 "
        "HAVING count(*) FILTER (WHERE kind = 'email') > 1 OR count(*) FILTER (WHERE kind = 'phone') > 1")


def session_facts(ws, min_events: int = 50) -> pd.DataFrame:
    """Sessions with at least *min_events* events: their length in seconds, median gap between events
    and cart additions (only long sessions are read: the bot rule needs 100 events)."""
    return ws.sql(
        "WITH long AS (SELECT session_id FROM events WHERE session_id IS NOT NULL GROUP BY 1 HAVING count(*) >= ?), "
        "e AS (SELECT e.session_id, e.customer_id, e.event_type, e.occurred_at, epoch(e.occurred_at) - "
        "epoch(lag(e.occurred_at) OVER (PARTITION BY e.session_id ORDER BY e.occurred_at, e.event_id)) AS gap "
        "FROM events e JOIN long USING (session_id)) "
        "SELECT session_id, any_value(customer_id) AS customer_id, count(*) AS events, "
        "epoch(max(occurred_at)) - epoch(min(occurred_at)) AS seconds, median(gap) AS median_gap, "
        "count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts FROM e GROUP BY 1", [int(min_events)])


def has_rows(ws, table: str) -> bool:
    return bool(connection(ws).execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)").fetchall()[0][0])


# -- flags -------------------------------------------------------------------------------------------
def previous_flags(ws) -> pd.DataFrame:
    """The latest run's flags (entity, entity_id, kind, first_flagged_at)."""
    return ws.sql("SELECT entity, entity_id, kind, first_flagged_at FROM anomaly_flags WHERE run_id = "
                  "(SELECT run_id FROM anomaly_runs ORDER BY finished_at DESC, run_id DESC LIMIT 1)")


def write_run(ws, flags: pd.DataFrame, run: dict) -> None:
    """Replace the stored flags with this run's and record the run, in one transaction."""
    run = {**run, "counts": json.dumps(run["counts"]), "checks": json.dumps(run["checks"])}
    con = connection(ws)
    with ws.transaction():
        con.execute("DELETE FROM anomaly_flags")
        insert(con, "anomaly_flags", FLAGS, flags)
        con.execute("INSERT INTO anomaly_runs VALUES (?, ?, ?, ?, ?)",
                    [run["run_id"], run["finished_at"], run["counts"], run["checks"], run["seconds"]])


def latest_run(ws) -> dict | None:
    df = ws.sql("SELECT * FROM anomaly_runs ORDER BY finished_at DESC, run_id DESC LIMIT 1")
    if df.empty:
        return None
    run = df.iloc[0].to_dict()
    for k in ("counts", "checks"):
        run[k] = json.loads(run[k]) if isinstance(run[k], str) else run[k]
    return run


def read_flags(ws, kind: str | None = None, entity: str | None = None) -> pd.DataFrame:
    """Stored flags, highest score first."""
    where, params = [], []
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if entity:
        where.append("entity = ?")
        params.append(entity)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return ws.sql(f"SELECT * FROM anomaly_flags {clause} ORDER BY score DESC, entity, entity_id, kind", params)


def write_truth(ws, frame: pd.DataFrame) -> int:
    """Replace ``demo_truth_anomalies`` with *frame* (the demo generator's planted anomalies)."""
    con = connection(ws)
    with ws.transaction():
        con.execute("DELETE FROM demo_truth_anomalies")
        insert(con, "demo_truth_anomalies", TRUTH, frame)
    return ws.count("demo_truth_anomalies")


def read_truth(ws) -> pd.DataFrame:
    return ws.sql("SELECT * FROM demo_truth_anomalies")
