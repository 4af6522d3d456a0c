"""Reads about customers: the searchable list and the rows of each 360-profile section.

:mod:`regulars.reports.customers` turns these rows into pages and profiles (masking, the
timeline); everything that asks the database is here.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("customers", [{"customer_id": "c1", "first_name": "Ann"}])
>>> total, items = search(ws, text="c1", personal=False)
>>> total, items[0]["customer_id"], items[0]["orders"]
(1, 'c1', None)
>>> customer_exists(ws, "c1"), recent_customer_ids(ws, 5)
(True, ['c1'])
>>> ws.close()
"""

from __future__ import annotations

import json

import pandas as pd

from regulars.data.connection import connection
from regulars.data.identity import lookup_value, normalize_email
from regulars.data.purchases import counted_sql, net_sql, purchase_sql
from regulars.data.rows import json_rows, jsonable

_PURCHASE, _COUNTED = purchase_sql(), counted_sql()

#: How the list can be sorted.
SORTS = {
    "last_order": "last_order_at DESC NULLS LAST, customer_id",
    "revenue": "revenue DESC NULLS LAST, customer_id",
    "orders": "orders DESC, customer_id",
    "created": "created_at DESC NULLS LAST, customer_id",
    "id": "customer_id",
}

_IN = "customer_id IN (SELECT unnest(?::VARCHAR[]))"


def search(db, *, text: str | None = None, personal: bool = True, member_of: str | None = None,
           sort: str = "last_order", limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
    """``(total, rows)`` of customers with their order totals, optionally found by *text*.

    *text* matches a customer id (exact or part); with *personal* also an e-mail (exact or part,
    or through an identity) or a name. *member_of* keeps the current members of that segment id.
    """
    con = connection(db)
    where, params = [], []
    if text:
        like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds = ["c.customer_id = ?", "lower(c.customer_id) LIKE ? ESCAPE '\\'"]
        params += [text, like]
        if personal:
            conds += [
                "c.email = ?", "c.email LIKE ? ESCAPE '\\'",
                "lower(concat_ws(' ', c.first_name, c.last_name)) LIKE ? ESCAPE '\\'",
                "c.customer_id IN (SELECT customer_id FROM identities WHERE kind = 'email' AND value = ?)",
            ]
            params += [normalize_email(text) or text.lower(), like, like, lookup_value(con, "email", text)]
        where.append("(" + " OR ".join(conds) + ")")
    if member_of is not None:
        where.append("c.customer_id IN (SELECT customer_id FROM segment_memberships WHERE segment_id = ?)")
        params.append(member_of)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    total = con.execute(f"SELECT count(*) FROM customers c {clause}", params).fetchall()[0][0]
    items = json_rows(
        con,
        f"""
        WITH page AS MATERIALIZED (
            SELECT c.customer_id, c.email, c.phone, c.first_name, c.last_name, c.city, c.country,
                   c.acquisition_channel, c.created_at, c.accepts_email, c.accepts_sms, c.accepts_personalization,
                   o.orders, o.revenue, o.first_order_at, o.last_order_at
            FROM customers c
            LEFT JOIN (SELECT customer_id, count(*) FILTER (WHERE {purchase_sql()}) AS orders,
                              sum({net_sql()}) AS revenue,
                              min(ordered_at) FILTER (WHERE {purchase_sql()}) AS first_order_at,
                              max(ordered_at) FILTER (WHERE {purchase_sql()}) AS last_order_at
                       FROM orders WHERE {counted_sql()} GROUP BY customer_id) o USING (customer_id)
            {clause}
        )
        SELECT * FROM page ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?
        """,
        params + [limit, offset],
    )
    return total, items


def customer_exists(db, customer_id: str) -> bool:
    return bool(connection(db).execute("SELECT count(*) FROM customers WHERE customer_id = ?",
                                       [customer_id]).fetchall()[0][0])


def order_facts(db, customer_id: str) -> dict:
    """A customer's purchases (:mod:`regulars.data.purchases`): ``orders``, ``first_order_at``,
    ``last_order_at``, ``revenue`` (net of refunds and returns); None for what is unknown."""
    df = connection(db).execute(
        f"""SELECT count(*) FILTER (WHERE {purchase_sql()}) AS orders,
                   min(ordered_at) FILTER (WHERE {purchase_sql()}) AS first_order_at,
                   max(ordered_at) FILTER (WHERE {purchase_sql()}) AS last_order_at,
                   sum({net_sql()})::DOUBLE AS revenue
            FROM orders WHERE customer_id = ? AND {counted_sql()}""", [customer_id]).df()
    return {k: (None if pd.isna(v) else v) for k, v in df.iloc[0].to_dict().items()}


def recent_customer_ids(db, limit: int) -> list[str]:
    """Ids of the most recently active customers (latest order, else newest account) first."""
    return [r[0] for r in connection(db).execute(
        "SELECT c.customer_id FROM customers c LEFT JOIN "
        "(SELECT customer_id, max(ordered_at) AS t FROM orders GROUP BY 1) o USING (customer_id) "
        "ORDER BY o.t DESC NULLS LAST, c.created_at DESC NULLS LAST, c.customer_id LIMIT ?", [limit]).fetchall()]


def _grouped(con, sql: str, params: list) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in json_rows(con, sql, params):
        out.setdefault(r.pop("customer_id"), []).append(r)
    return out


def profile_rows(db, ids: list[str], *, orders_limit: int, events_limit: int, messages_limit: int) -> dict | None:
    """The rows of every profile section for *ids* (one query per section), or None when none exist.

    Keys: ``customers`` (id -> row), ``identities``, ``consents``, ``orders`` (latest, newest
    first), ``events``, ``messages``, ``tickets``, ``reviews``, ``surveys``,
    ``segments_current``, ``segments_history`` (id -> rows), ``lines`` (order id -> rows),
    ``summaries`` (id -> order totals), ``event_counts`` (id -> type -> n), ``message_stats``
    (id -> ``by_type``/``last``) and ``predictions`` (id -> latest row).
    """
    con = connection(db)
    p = [ids]
    customers = {r["customer_id"]: r for r in json_rows(con, f"SELECT * EXCLUDE (_run_id) FROM customers WHERE {_IN}", p)}
    if not customers:
        return None
    out: dict = {"customers": customers}
    out["identities"] = _grouped(con, f"SELECT customer_id, kind, value, source, reason, linked_at FROM identities "
                                 f"WHERE {_IN} ORDER BY customer_id, linked_at, kind", p)
    out["consents"] = _grouped(con, f"SELECT customer_id, purpose, is_granted, recorded_at, source, "
                               "coalesce(from_load, false) AS from_load FROM consents "
                               f"WHERE {_IN} ORDER BY customer_id, recorded_at DESC", p)
    out["summaries"] = {r.pop("customer_id"): r for r in json_rows(con, f"""
        SELECT customer_id, count(*) FILTER (WHERE {_PURCHASE}) AS orders,
               count(*) FILTER (WHERE {_COUNTED} AND total < 0) AS returns,
               coalesce(sum({net_sql()}) FILTER (WHERE {_COUNTED}), 0) AS revenue,
               avg(total) FILTER (WHERE {_PURCHASE}) AS aov,
               min(ordered_at) FILTER (WHERE {_PURCHASE}) AS first_order_at,
               max(ordered_at) FILTER (WHERE {_PURCHASE}) AS last_order_at
        FROM orders WHERE {_IN} GROUP BY customer_id""", p)}
    out["orders"] = _grouped(con, f"""
        SELECT * EXCLUDE (_run_id) FROM orders WHERE {_IN}
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at DESC, order_id) <= ?
        ORDER BY customer_id, ordered_at DESC, order_id""", [ids, orders_limit])
    lines: dict[str, list[dict]] = {}
    if out["orders"]:
        for r in json_rows(con, f"""
                SELECT l.* EXCLUDE (_run_id) FROM order_lines l
                WHERE l.order_id IN (SELECT order_id FROM orders WHERE {_IN}) ORDER BY l.order_id, l.line_number""", p):
            lines.setdefault(r.pop("order_id"), []).append(r)
    out["lines"] = lines
    out["events"] = _grouped(con, f"""
        SELECT * EXCLUDE (_run_id, properties), properties::VARCHAR AS properties FROM events WHERE {_IN}
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY occurred_at DESC, event_id) <= ?
        ORDER BY customer_id, occurred_at DESC, event_id""", [ids, events_limit])
    event_counts: dict[str, dict] = {}
    for cid, et, n in con.execute(f"SELECT customer_id, event_type, count(*) FROM events WHERE {_IN} GROUP BY ALL "
                                  "ORDER BY customer_id, 3 DESC, 2", p).fetchall():
        event_counts.setdefault(cid, {})[et] = n
    out["event_counts"] = event_counts
    out["messages"] = _grouped(con, f"""
        SELECT m.* EXCLUDE (_run_id), c.name AS campaign FROM messages m LEFT JOIN campaigns c USING (campaign_id)
        WHERE m.{_IN}
        QUALIFY row_number() OVER (PARTITION BY m.customer_id ORDER BY m.occurred_at DESC, m.message_id) <= ?
        ORDER BY m.customer_id, m.occurred_at DESC, m.message_id""", [ids, messages_limit])
    message_stats: dict[str, dict] = {}
    for cid, et, n, last in con.execute(f"SELECT customer_id, event_type, count(*), max(occurred_at) FROM messages "
                                         f"WHERE {_IN} GROUP BY ALL ORDER BY customer_id, 3 DESC, 2", p).fetchall():
        st = message_stats.setdefault(cid, {"by_type": {}, "last": {}})
        st["by_type"][et] = n
        st["last"][et] = jsonable(last)
    out["message_stats"] = message_stats
    for name, order in (("tickets", "opened_at"), ("reviews", "created_at"), ("surveys", "answered_at")):
        out[name] = _grouped(con, f"SELECT * EXCLUDE (_run_id) FROM {name} WHERE {_IN} ORDER BY customer_id, {order} DESC", p)
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
    ).fetchall()}
    out["segments_current"], out["segments_history"] = _segment_rows(con, present, ids)
    out["predictions"] = _prediction_rows(con, present, ids)
    return out


def _segment_rows(con, present: set[str], ids: list[str]) -> tuple[dict, dict]:
    current: dict[str, list] = {}
    history: dict[str, list] = {}
    if not {"segment_memberships", "segment_definitions", "segment_refreshes", "segment_history"} <= present:
        return current, history
    for r in json_rows(con, """
            SELECT m.customer_id, m.segment_id, coalesce(d.name, m.segment_id) AS name, d.kind, d.description,
                   m.version, m.since_as_of, m.since_as_of AS since, r.refreshed_at AS since_refreshed_at
            FROM segment_memberships m LEFT JOIN segment_definitions d USING (segment_id)
            LEFT JOIN segment_refreshes r ON r.refresh_id = m.since_refresh
            WHERE m.customer_id IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY m.customer_id, d.kind = 'rule' DESC, m.segment_id""", [ids]):
        cid = r.pop("customer_id")
        r["family"] = r["segment_id"].split(":", 1)[0] if ":" in r["segment_id"] else "rule"
        current.setdefault(cid, []).append(r)
    for r in json_rows(con, """
            SELECT h.customer_id, h.segment_id, coalesce(d.name, h.segment_id) AS name, h.change, h.as_of,
                   r.refreshed_at, h.refresh_id, r.engine
            FROM segment_history h LEFT JOIN segment_definitions d USING (segment_id)
            LEFT JOIN segment_refreshes r USING (refresh_id)
            WHERE h.customer_id IN (SELECT unnest(?::VARCHAR[]))
            QUALIFY row_number() OVER (PARTITION BY h.customer_id ORDER BY h.refresh_id DESC, h.change, h.segment_id) <= 200
            ORDER BY h.customer_id, h.refresh_id DESC, h.change, h.segment_id""", [ids]):
        history.setdefault(r.pop("customer_id"), []).append(r)
    return current, history


def _prediction_rows(con, present: set[str], ids: list[str]) -> dict[str, dict]:
    if "customer_predictions" not in present:
        return {}
    out = {}
    for row in json_rows(con, """
            SELECT * FROM customer_predictions WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))
            QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY as_of DESC, created_at DESC) = 1""", [ids]):
        for col in ("churn_reasons", "propensity_reasons", "model_versions"):
            if isinstance(row.get(col), str):
                try:
                    row[col] = json.loads(row[col])
                except ValueError:
                    pass
        out[row.pop("customer_id")] = row
    return out
