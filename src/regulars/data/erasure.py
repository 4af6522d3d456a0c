"""Right of access and right to erasure.

``export_customer`` returns everything held about one customer;
``forget`` deletes the customer from every table that references them —
canonical, derived (any table with a ``customer_id`` column, so tables added
later are covered without changes here), their order lines, their anonymous
web events, and quarantined raw rows that carry their identifiers — in one
transaction, and records an audit row that holds no PII.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid

from regulars.data import order_stats
from regulars.data.identity import customer_tables
from regulars.data.ingest.readers import q


class CustomerNotFound(LookupError):
    """No customer matches the reference given."""


def resolve_customer(con, ref: str) -> str:
    """The customer id for *ref*: a customer id, a shop id, an e-mail or a phone number."""
    ref = ref.strip()
    hit = con.execute("SELECT customer_id FROM customers WHERE customer_id = ?", [ref]).fetchall()
    if hit:
        return hit[0][0]
    candidates = [("shop_id", ref)]
    if "@" in ref:
        candidates.append(("email", hashlib.sha256(ref.lower().encode()).hexdigest()))
    digits = "".join(ch for ch in ref if ch.isdigit() or ch == "+")
    if len([c for c in digits if c.isdigit()]) >= 6:
        candidates.append(("phone", hashlib.sha256(digits.encode()).hexdigest()))
    for kind, value in candidates:
        hit = con.execute(
            "SELECT customer_id FROM identities WHERE kind = ? AND value = ?", [kind, value]
        ).fetchall()
        if hit:
            return hit[0][0]
    raise CustomerNotFound(
        f"no customer matches {ref!r} (tried customer id, shop id, e-mail and phone); "
        "search with `regulars sql \"SELECT customer_id FROM customers WHERE ...\"`"
    )


def _jsonable(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def _rows(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [{n: _jsonable(v) for n, v in zip(names, row)} for row in cur.fetchall()]


def export_customer(workspace, ref: str) -> dict:
    """Everything held about one customer, table by table (right of access).

    E-mail addresses and phone numbers appear as stored: in ``customers`` in
    clear, in ``identities`` as hashes.
    """
    con = workspace.con
    cid = resolve_customer(con, ref)
    out: dict = {"customer_id": cid, "exported_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(), "tables": {}}
    for table in customer_tables(con):
        rows = _rows(con, f"SELECT * FROM {q(table)} WHERE customer_id = ?", [cid])
        if rows:
            out["tables"][table] = rows
    lines = _rows(
        con,
        "SELECT l.* FROM order_lines l JOIN orders o USING (order_id) WHERE o.customer_id = ? ORDER BY order_id, line_number",
        [cid],
    )
    if lines:
        out["tables"]["order_lines"] = lines
    return out


def _identifier_values(con, cid: str) -> dict[str, list[str]]:
    row = con.execute("SELECT email, phone FROM customers WHERE customer_id = ?", [cid]).fetchall()
    email, phone = (row[0] if row else (None, None))
    shop_ids = [r[0] for r in con.execute(
        "SELECT value FROM identities WHERE customer_id = ? AND kind = 'shop_id'", [cid]).fetchall()]
    anon = [r[0] for r in con.execute(
        "SELECT value FROM identities WHERE customer_id = ? AND kind = 'anonymous_id'", [cid]).fetchall()]
    return {
        "anywhere": [v for v in (email, phone) if v],
        "id_columns": sorted(set(shop_ids + [cid])),
        "anonymous": anon,
    }


def forget(workspace, ref: str, requested_by: str = "cli") -> dict:
    """Erase a customer from every table, in one transaction; return the audit record.

    Returns
    -------
    dict
        ``erasure_id``, ``subject_hash`` (sha256 of the customer id) and
        ``rows_deleted`` per table. No PII.
    """
    con = workspace.con
    cid = resolve_customer(con, ref)
    deleted: dict[str, int] = {}

    def delete(table: str, where: str, params: list) -> None:
        n = con.execute(f"SELECT count(*) FROM {q(table)} WHERE {where}", params).fetchall()[0][0]
        if n:
            con.execute(f"DELETE FROM {q(table)} WHERE {where}", params)
            deleted[table] = deleted.get(table, 0) + n

    with workspace.transaction():
        ids = _identifier_values(con, cid)
        delete("order_lines", "order_id IN (SELECT order_id FROM orders WHERE customer_id = ?)", [cid])
        if ids["anonymous"]:
            marks = ", ".join("?" for _ in ids["anonymous"])
            delete("events", f"anonymous_id IN ({marks})", ids["anonymous"])
        # Rejected rows keep raw text: drop those that carry this customer's identifiers.
        values = ids["anywhere"]
        if values:
            marks = ", ".join("?" for _ in values)
            delete(
                "quarantine",
                f"EXISTS (SELECT 1 FROM unnest(json_extract_string(raw, '$.*')) AS v(x) WHERE lower(x) IN ({marks}))",
                [v.lower() for v in values],
            )
        id_marks = ", ".join("?" for _ in ids["id_columns"])
        delete(
            "quarantine",
            "EXISTS (SELECT 1 FROM unnest(json_keys(raw)) AS k(name) "
            "WHERE (lower(k.name) LIKE '%customer%' OR lower(k.name) LIKE '%user%') "
            f"AND json_extract_string(raw, '$.\"' || replace(k.name, '\"', '\\\"') || '\"') IN ({id_marks}))",
            ids["id_columns"],
        )
        for table in customer_tables(con):
            delete(table, "customer_id = ?", [cid])
        order_stats.mark_current(con)  # the customer's totals went with the rest
        record = {
            "erasure_id": uuid.uuid4().hex,
            "subject_hash": hashlib.sha256(cid.encode()).hexdigest(),
            "rows_deleted": deleted,
        }
        con.execute(
            "INSERT INTO erasures VALUES (?, now()::TIMESTAMP, ?, ?, ?)",
            [record["erasure_id"], record["subject_hash"], json.dumps(deleted), requested_by],
        )
    con.execute("CHECKPOINT")
    return record
