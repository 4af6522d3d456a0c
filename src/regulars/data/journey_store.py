"""Journeys, enrollments and the send log: every SQL statement the journey runner needs.

Functions take a :class:`~regulars.data.workspace.Workspace` (or a read view) and run
inside the caller's transaction when there is one. Timestamps are naive UTC.
See :mod:`regulars.data.activation_schema` for the tables.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> save_journey(ws, "j1", "J one", "id = 'j1'", "custom", "cli")
1
>>> get_journey(ws, "j1")["status"]
'draft'
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from regulars.data.connection import connection
from regulars.data.activation_schema import insert_new, records, where
from regulars.data.purchases import counted_sql, net_sql, purchase_sql

JOURNEY_COLUMNS = ("journey_id", "name", "version", "definition", "status", "approved_version", "approved_by",
                   "approved_at", "source", "created_at", "updated_at", "watermarks")
ENROLLMENT_ARROW = pa.schema([
    ("enrollment_id", pa.string()), ("journey_id", pa.string()), ("version", pa.int32()), ("customer_id", pa.string()),
    ("arm", pa.string()), ("trigger_key", pa.string()), ("entered_at", pa.timestamp("us")),
    ("enrolled_at", pa.timestamp("us")), ("status", pa.string()), ("next_step", pa.int32()),
    ("next_due_at", pa.timestamp("us")), ("context", pa.string()),
])
SEND_ARROW = pa.schema([
    ("send_key", pa.string()), ("enrollment_id", pa.string()), ("journey_id", pa.string()),
    ("customer_id", pa.string()), ("step", pa.int32()), ("step_name", pa.string()), ("channel", pa.string()),
    ("status", pa.string()), ("reason", pa.string()), ("due_at", pa.timestamp("us")),
    ("decided_at", pa.timestamp("us")), ("sent_at", pa.timestamp("us")), ("batch_id", pa.int64()),
    ("seq", pa.int64()), ("detail", pa.string()),
])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_records = records


# -- journeys -------------------------------------------------------------------------------
def save_journey(ws, journey_id: str, name: str, definition: str, source: str, by: str) -> int:
    """Store a definition as the journey's next version (a new journey starts at 1); it is a draft
    again until an admin approves this version. Returns the version."""
    con, now = connection(ws), _now()
    rows = con.execute("SELECT version, definition FROM journeys WHERE journey_id = ?", [journey_id]).fetchall()
    if rows and rows[0][1] == definition:
        return rows[0][0]
    version = rows[0][0] + 1 if rows else 1
    if rows:
        con.execute("UPDATE journeys SET name = ?, version = ?, definition = ?, status = 'draft', updated_at = ? "
                    "WHERE journey_id = ?", [name, version, definition, now, journey_id])
    else:
        con.execute("INSERT INTO journeys VALUES (?, ?, 1, ?, 'draft', NULL, NULL, NULL, ?, ?, ?, '{}')",
                    [journey_id, name, definition, source, now, now])
    con.execute("INSERT INTO journey_versions VALUES (?, ?, ?, ?, ?)", [journey_id, version, definition, now, by])
    return version


def set_status(ws, journey_id: str, status: str, by: str) -> dict:
    """``approved`` (the current version), ``paused`` or ``draft``."""
    now = _now()
    if status == "approved":
        connection(ws).execute("UPDATE journeys SET status = 'approved', approved_version = version, approved_by = ?, "
                       "approved_at = ?, updated_at = ? WHERE journey_id = ?", [by, now, now, journey_id])
    else:
        connection(ws).execute("UPDATE journeys SET status = ?, updated_at = ? WHERE journey_id = ?", [status, now, journey_id])
    return get_journey(ws, journey_id)


def get_journey(ws, journey_id: str) -> dict | None:
    rows = _records(connection(ws).execute(f"SELECT {', '.join(JOURNEY_COLUMNS)} FROM journeys WHERE journey_id = ?",
                                   [journey_id]))
    if not rows:
        return None
    row = rows[0]
    row["watermarks"] = json.loads(row["watermarks"] or "{}")
    return row


def list_journeys(ws) -> list[dict]:
    rows = _records(connection(ws).execute(f"SELECT {', '.join(JOURNEY_COLUMNS)} FROM journeys ORDER BY journey_id"))
    for r in rows:
        r["watermarks"] = json.loads(r["watermarks"] or "{}")
    return rows


def running_journeys(ws) -> list[dict]:
    """Journeys an admin approved in their current version."""
    return [j for j in list_journeys(ws) if j["status"] == "approved" and j["approved_version"] == j["version"]]


def set_watermarks(ws, journey_id: str, watermarks: dict) -> None:
    connection(ws).execute("UPDATE journeys SET watermarks = ? WHERE journey_id = ?",
                   [json.dumps(watermarks, default=str), journey_id])


# -- trigger candidates ----------------------------------------------------------------------
_NO_RECENT_ENTRY = ("NOT EXISTS (SELECT 1 FROM journey_enrollments j WHERE j.journey_id = $journey "
                    "AND j.customer_id = c.customer_id AND j.entered_at > c.entered_at - to_microseconds($reentry))")
def _candidates(ws, inner: str, params: dict, journey_id: str, reentry: dt.timedelta, extra: str = "") -> list[dict]:
    sql = (f"SELECT * FROM ({inner}) c WHERE c.customer_id IS NOT NULL AND {_NO_RECENT_ENTRY}{extra} "
           "ORDER BY c.entered_at, c.customer_id")
    return _records(connection(ws).execute(sql, {**params, "journey": journey_id,
                                         "reentry": int(reentry.total_seconds() * 1_000_000)}))


def event_candidates(ws, journey_id: str, event_type: str, since: dt.datetime, until: dt.datetime,
                     reentry: dt.timedelta, without_purchase: bool, customer_ids: list[str] | None = None) -> list[dict]:
    """Per customer, the first *event_type* event in ``(since, until]`` — with *without_purchase*, the first one
    not followed by an order or a purchase event — unless they entered the journey recently."""
    scope = " AND customer_id IN (SELECT unnest($ids::VARCHAR[]))" if customer_ids is not None else ""
    params = {"etype": event_type, "since": since, "until": until}
    if customer_ids is not None:
        params["ids"] = list(customer_ids)
    later = ""
    if without_purchase:
        later = (", bought AS (SELECT customer_id, max(t) AS t FROM ("
                 f"SELECT customer_id, ordered_at AS t FROM orders WHERE {purchase_sql()} AND customer_id IN "
                 "(SELECT customer_id FROM ev) "
                 "UNION ALL SELECT customer_id, occurred_at FROM events WHERE event_type = 'purchase' "
                 "AND customer_id IN (SELECT customer_id FROM ev)) GROUP BY 1)")
    inner = (f"WITH ev AS (SELECT customer_id, event_id, occurred_at, product_id FROM events WHERE event_type = $etype "
             f"AND occurred_at > $since AND occurred_at <= $until AND customer_id IS NOT NULL{scope}){later} "
             "SELECT ev.customer_id, arg_min(ev.event_id, (ev.occurred_at, ev.event_id)) AS trigger_key, "
             "min(ev.occurred_at) AS entered_at, arg_min(ev.product_id, (ev.occurred_at, ev.event_id)) AS product_id "
             + ("FROM ev LEFT JOIN bought b USING (customer_id) WHERE b.t IS NULL OR b.t <= ev.occurred_at "
                if without_purchase else "FROM ev ") + "GROUP BY ev.customer_id")
    return _candidates(ws, inner, params, journey_id, reentry)


def order_candidates(ws, journey_id: str, since: dt.datetime, until: dt.datetime, reentry: dt.timedelta,
                     first_only: bool) -> list[dict]:
    """Customers with an order in ``(since, until]`` (the first such; with *first_only*, only their first order ever)."""
    first = ("AND NOT EXISTS (SELECT 1 FROM orders e WHERE e.customer_id = o.customer_id AND e.ordered_at < o.ordered_at "
             f"AND {purchase_sql('e')})" if first_only else "")
    inner = ("SELECT customer_id, arg_min(order_id, (ordered_at, order_id)) AS trigger_key, min(ordered_at) AS entered_at, "
             "arg_min(order_id, (ordered_at, order_id)) AS order_id FROM orders o "
             f"WHERE o.ordered_at > $since AND o.ordered_at <= $until AND {purchase_sql('o')} {first} GROUP BY customer_id")
    return _candidates(ws, inner, {"since": since, "until": until}, journey_id, reentry)


def signup_candidates(ws, journey_id: str, since: dt.datetime, until: dt.datetime, reentry: dt.timedelta) -> list[dict]:
    inner = ("SELECT customer_id, 'signup' AS trigger_key, created_at AS entered_at FROM customers "
             "WHERE created_at > $since AND created_at <= $until")
    return _candidates(ws, inner, {"since": since, "until": until}, journey_id, reentry)


def segment_candidates(ws, journey_id: str, segment_id: str, after_refresh: int, reentry: dt.timedelta,
                       max_age_start: dt.datetime) -> tuple[list[dict], int]:
    """Customers who entered *segment_id* in refreshes after *after_refresh* (recent ones only); the last refresh id."""
    last = connection(ws).execute("SELECT coalesce(max(refresh_id), 0) FROM segment_refreshes").fetchall()[0][0]
    inner = ("SELECT h.customer_id, 'refresh-' || h.refresh_id AS trigger_key, r.refreshed_at AS entered_at "
             "FROM segment_history h JOIN segment_refreshes r USING (refresh_id) WHERE h.segment_id = $segment "
             "AND h.change = 'entered' AND h.refresh_id > $after AND h.refresh_id <= $last AND r.refreshed_at > $oldest")
    rows = _candidates(ws, inner, {"segment": segment_id, "after": after_refresh, "last": last,
                                   "oldest": max_age_start}, journey_id, reentry)
    return rows, last


def birthday_candidates(ws, journey_id: str, month: int, day: int, entered_at: dt.datetime,
                        reentry: dt.timedelta) -> list[dict]:
    inner = ("SELECT customer_id, 'birthday-' || year($at) AS trigger_key, $at AS entered_at FROM customers "
             "WHERE month(birth_date) = $m AND day(birth_date) = $d")
    return _candidates(ws, inner, {"m": month, "d": day, "at": entered_at}, journey_id, reentry)


def replenishment_candidates(ws, journey_id: str, due: dt.date, entered_at: dt.datetime,
                             reentry: dt.timedelta) -> list[dict]:
    """Customers whose replenishment (latest predictions) falls due on *due*."""
    inner = ("SELECT customer_id, 'replenish-' || $due AS trigger_key, $at AS entered_at, "
             "string_agg(coalesce(product_name, product_id), ', ' ORDER BY product_id) AS due_products "
             "FROM replenishments WHERE as_of = (SELECT max(as_of) FROM replenishments) AND due_date = $due "
             "GROUP BY customer_id")
    return _candidates(ws, inner, {"due": due, "at": entered_at}, journey_id, reentry)


def insert_enrollments(ws, rows: list[dict]) -> int:
    """Insert enrollments (ignoring ones already there); returns how many were new."""
    return insert_new(ws, "journey_enrollments", rows, ENROLLMENT_ARROW,
                      "enrollment_id, journey_id, version, customer_id, arm, trigger_key, entered_at, enrolled_at, "
                      "status, next_step, next_due_at, NULL, NULL, context::JSON")


# -- due steps ---------------------------------------------------------------------------------
def due_enrollments(ws, now: dt.datetime, journey_ids: list[str], limit: int,
                    waiting: list[str] | None = None) -> list[dict]:
    """Active enrollments of *journey_ids* whose next step is due, with what the step checks need:
    consent, purchases since entry, orders and net spend, latest CLV and churn risk, segments, and the
    e-mail/SMS steps sent to the customer in the last 7 days (for frequency caps). Steps listed in *waiting*
    (``"<journey id>:<step index>"``, e.g. e-mail steps while no mail server is set) are left for later."""
    if not journey_ids:
        return []
    sql = """
    WITH due AS (
        SELECT * FROM journey_enrollments WHERE status = 'active' AND next_due_at <= $now
        AND journey_id IN (SELECT unnest($journeys::VARCHAR[]))
        AND journey_id || ':' || next_step NOT IN (SELECT unnest($waiting::VARCHAR[]))
        ORDER BY next_due_at, enrollment_id LIMIT $limit),
    ids AS (SELECT DISTINCT customer_id FROM due),
    bought AS (
        SELECT d.enrollment_id, max(o.ordered_at) AS last_purchase FROM due d JOIN orders o
        ON o.customer_id = d.customer_id AND o.ordered_at > d.entered_at AND {purchase_o} GROUP BY 1
        UNION ALL
        SELECT d.enrollment_id, max(e.occurred_at) FROM due d JOIN events e ON e.customer_id = d.customer_id
        AND e.event_type = 'purchase' AND e.occurred_at > d.entered_at GROUP BY 1),
    totals AS (
        SELECT customer_id, count(*) FILTER (WHERE {purchase}) AS orders, sum({net}) AS revenue
        FROM orders WHERE customer_id IN (SELECT customer_id FROM ids) AND {counted} GROUP BY 1),
    preds AS (
        SELECT customer_id, clv, churn_risk FROM customer_predictions
        WHERE as_of = (SELECT max(as_of) FROM customer_predictions) AND customer_id IN (SELECT customer_id FROM ids)),
    segs AS (
        SELECT customer_id, list(segment_id ORDER BY segment_id) AS segments FROM segment_memberships
        WHERE customer_id IN (SELECT customer_id FROM ids) GROUP BY 1),
    recent AS (
        SELECT customer_id, list(coalesce(sent_at, decided_at) ORDER BY coalesce(sent_at, decided_at)) AS recent_messages
        FROM journey_sends WHERE customer_id IN (SELECT customer_id FROM ids) AND channel IN ('email', 'sms')
        AND status IN ('claimed', 'sent', 'queued') AND decided_at > $now - INTERVAL 7 DAY GROUP BY 1)
    SELECT d.enrollment_id, d.journey_id, d.version, d.customer_id, d.arm, d.trigger_key, d.entered_at,
           d.next_step, d.next_due_at, d.context::VARCHAR AS context,
           c.email IS NOT NULL AND c.email <> '' AS has_email, c.phone IS NOT NULL AND c.phone <> '' AS has_phone,
           c.accepts_email, c.accepts_sms, c.accepts_personalization,
           (SELECT max(last_purchase) FROM bought b WHERE b.enrollment_id = d.enrollment_id) AS purchased_at,
           coalesce(t.orders, 0) AS orders, coalesce(t.revenue, 0)::DOUBLE AS revenue, p.clv, p.churn_risk,
           coalesce(s.segments, []) AS segments, coalesce(r.recent_messages, []) AS recent_messages
    FROM due d LEFT JOIN customers c USING (customer_id) LEFT JOIN totals t USING (customer_id)
    LEFT JOIN preds p USING (customer_id) LEFT JOIN segs s USING (customer_id) LEFT JOIN recent r USING (customer_id)
    ORDER BY d.next_due_at, d.enrollment_id
    """
    sql = (sql.replace("{purchase_o}", purchase_sql("o")).replace("{purchase}", purchase_sql())
           .replace("{net}", net_sql()).replace("{counted}", counted_sql()))
    return _records(connection(ws).execute(sql, {"now": now, "journeys": list(journey_ids), "limit": int(limit),
                                         "waiting": list(waiting or [])}))


def count_due(ws, now: dt.datetime, steps: list[str]) -> int:
    """Active enrollments due now whose next step is one of *steps* (``"<journey id>:<step index>"``)."""
    if not steps:
        return 0
    return connection(ws).execute("SELECT count(*) FROM journey_enrollments WHERE status = 'active' AND next_due_at <= ? "
                          "AND journey_id || ':' || next_step IN (SELECT unnest(?::VARCHAR[]))",
                          [now, list(steps)]).fetchall()[0][0]


def next_batch_id(ws) -> int:
    return connection(ws).execute("SELECT nextval('activation_batch_ids')").fetchall()[0][0]


def insert_sends(ws, rows: list[dict]) -> int:
    """Write send-log rows (before anything is sent); a key already logged is left as it is."""
    return insert_new(ws, "journey_sends", rows, SEND_ARROW, "* REPLACE (detail::JSON AS detail)")


def advance_enrollments(ws, updates: list[dict]) -> None:
    """Apply ``{enrollment_id, status, next_step, next_due_at, ended_at, end_reason}`` to enrollments."""
    if not updates:
        return
    con = connection(ws)
    schema = pa.schema([("enrollment_id", pa.string()), ("status", pa.string()), ("next_step", pa.int32()),
                        ("next_due_at", pa.timestamp("us")), ("ended_at", pa.timestamp("us")),
                        ("end_reason", pa.string())])
    con.register("_adv_arrow", pa.Table.from_pylist(updates, schema=schema))
    try:
        con.execute("UPDATE journey_enrollments e SET status = a.status, next_step = a.next_step, "
                    "next_due_at = a.next_due_at, ended_at = a.ended_at, end_reason = a.end_reason "
                    "FROM _adv_arrow a WHERE e.enrollment_id = a.enrollment_id")
    finally:
        con.unregister("_adv_arrow")


def add_to_audience(ws, audience_id: str, customer_ids: list[str], source: str, now: dt.datetime) -> None:
    connection(ws).execute("INSERT INTO audience_members SELECT ?, c, ?, ? FROM (SELECT unnest(?::VARCHAR[]) AS c) "
                   "WHERE c NOT IN (SELECT customer_id FROM audience_members WHERE audience_id = ?)",
                   [audience_id, now, source, list(customer_ids), audience_id])


# -- the e-mail outbox -------------------------------------------------------------------------
def claimed_emails(ws, limit: int = 100_000) -> list[dict]:
    """E-mail steps written to the log but not yet handed to the mail server, in the order they were claimed."""
    return _records(connection(ws).execute(
        "SELECT s.send_key, s.enrollment_id, s.journey_id, s.customer_id, s.step, s.batch_id, s.seq, s.due_at, "
        "e.version, e.context::VARCHAR AS context FROM journey_sends s JOIN journey_enrollments e USING (enrollment_id) "
        "WHERE s.status = 'claimed' AND s.channel = 'email' ORDER BY s.batch_id, s.seq LIMIT ?", [int(limit)]))


def set_send_outcomes(ws, outcomes: list[tuple[str, str, str | None, dt.datetime | None]]) -> None:
    """``(send_key, status, reason, sent_at)`` for sends still ``claimed`` or ``queued`` (a final outcome, or
    ``claimed`` again with the reason it will be tried again)."""
    if not outcomes:
        return
    con = connection(ws)
    schema = pa.schema([("send_key", pa.string()), ("status", pa.string()), ("reason", pa.string()),
                        ("sent_at", pa.timestamp("us"))])
    con.register("_outcomes", pa.Table.from_pylist(
        [{"send_key": k, "status": s, "reason": r, "sent_at": t} for k, s, r, t in outcomes], schema=schema))
    try:
        con.execute("UPDATE journey_sends j SET status = o.status, reason = coalesce(o.reason, j.reason), "
                    "sent_at = o.sent_at FROM _outcomes o WHERE j.send_key = o.send_key "
                    "AND j.status IN ('claimed', 'queued')")
    finally:
        con.unregister("_outcomes")


# -- content -----------------------------------------------------------------------------------
def message_facts(ws, customer_ids: list[str]) -> dict[str, dict]:
    """Name, e-mail and phone of customers about to get a message."""
    rows = _records(connection(ws).execute(
        "SELECT customer_id, email, phone, first_name, last_name, accepts_email, accepts_sms FROM customers "
        "WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [list(customer_ids)]))
    return {r["customer_id"]: r for r in rows}


def product_names(ws, product_ids: list[str]) -> dict[str, str]:
    rows = connection(ws).execute("SELECT product_id, coalesce(name, product_id) FROM products "
                          "WHERE product_id IN (SELECT unnest(?::VARCHAR[]))", [list(product_ids)]).fetchall()
    return dict(rows)


def recent_buyers(ws, product_ids: list[str], since: dt.datetime) -> dict[str, int]:
    """How many customers bought each product since *since* (for social proof)."""
    rows = connection(ws).execute(
        "SELECT l.product_id, count(DISTINCT o.customer_id) FROM order_lines l JOIN orders o USING (order_id) "
        "WHERE o.ordered_at >= ? AND l.product_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",
        [since, list(product_ids)]).fetchall()
    return dict(rows)


def best_sellers(ws, since: dt.datetime, n: int = 3) -> list[tuple[str, int]]:
    """The products bought by the most customers since *since*: (name, customers)."""
    return [tuple(r) for r in connection(ws).execute(
        "SELECT coalesce(p.name, l.product_name, l.product_id) AS name, count(DISTINCT o.customer_id) AS buyers "
        "FROM order_lines l JOIN orders o USING (order_id) LEFT JOIN products p USING (product_id) "
        "WHERE o.ordered_at >= ? AND l.quantity > 0 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?", [since, n]).fetchall()]


def order_product_names(ws, order_ids: list[str]) -> dict[str, str]:
    rows = connection(ws).execute(
        "SELECT l.order_id, string_agg(DISTINCT coalesce(p.name, l.product_name, l.product_id), ', ') "
        "FROM order_lines l LEFT JOIN products p USING (product_id) "
        "WHERE l.order_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1", [list(order_ids)]).fetchall()
    return dict(rows)


# -- reading the log ------------------------------------------------------------------------------
def send_log(ws, journey_id: str | None = None, customer_id: str | None = None, status: str | None = None,
             limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
    cond, params = where(journey_id=journey_id, customer_id=customer_id, status=status)
    total = connection(ws).execute(f"SELECT count(*) FROM journey_sends WHERE {cond}", params).fetchall()[0][0]
    rows = _records(connection(ws).execute(
        f"SELECT send_key, journey_id, customer_id, step, step_name, channel, status, reason, due_at, decided_at, "
        f"sent_at FROM journey_sends WHERE {cond} ORDER BY decided_at DESC, send_key LIMIT ? OFFSET ?",
        params + [int(limit), int(offset)]))
    return total, rows


def send_counts(ws, journey_id: str) -> list[dict]:
    """Per step, channel and status: how many."""
    return _records(connection(ws).execute(
        "SELECT step, step_name, channel, status, count(*) AS n FROM journey_sends WHERE journey_id = ? "
        "GROUP BY ALL ORDER BY step, status", [journey_id]))


def enrollment_outcomes(ws, journey_id: str, window_days: float, now: dt.datetime) -> list[dict]:
    """Per enrollment: arm, entry, whether the customer ordered within the conversion window and the
    net revenue of those orders (both arms alike)."""
    return _records(connection(ws).execute(
        "SELECT e.enrollment_id, e.arm, e.entered_at, e.status, "
        f"count(o.order_id) FILTER (WHERE {purchase_sql('o')}) > 0 AS converted, "
        f"coalesce(sum({net_sql('o')}), 0)::DOUBLE AS revenue "
        "FROM journey_enrollments e LEFT JOIN orders o ON o.customer_id = e.customer_id AND o.ordered_at > e.entered_at "
        "AND o.ordered_at <= least(e.entered_at + to_microseconds(?), ?) "
        f"AND {counted_sql('o')} WHERE e.journey_id = ? GROUP BY ALL ORDER BY e.entered_at",
        [int(window_days * 86400 * 1_000_000), now, journey_id]))


def enrollment_counts(ws) -> dict[str, dict]:
    rows = _records(connection(ws).execute(
        "SELECT journey_id, count(*) AS enrolled, count(*) FILTER (WHERE arm = 'holdout') AS holdout, "
        "count(*) FILTER (WHERE status = 'active') AS active FROM journey_enrollments GROUP BY 1"))
    return {r["journey_id"]: r for r in rows}
