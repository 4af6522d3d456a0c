"""Right of access and right to erasure.

``export_customer`` returns everything held about one customer; ``forget`` erases them:

1. **every row that carries the person** (:mod:`regulars.data.erasure_scan`): their rows in
   every table with a ``customer_id`` column (canonical and derived, so tables added later
   are covered), their order lines, the events of their anonymous web ids, the provisional
   customers made from one of their e-mails or phones (however written), quarantined raw
   text holding any of their identifiers (ragged lines, bad JSON, padded e-mails, formatted
   phones), events deferred while an upload ran; mentions of their e-mails and phones in
   other rows' free text become ``[erased]``;
2. **it sticks**: the keyed hashes of their identifiers go to the suppression list
   (:mod:`regulars.data.suppression`), so re-loading the same export does not bring them back;
3. **an audit record** (``erasures``) says when, by whom and how many rows per table — no
   identifier and no hash of one;
4. **no bytes are left in the file**: the workspace file is rewritten with the live data
   only and swapped in atomically (:mod:`regulars.data.scrub`).

Steps 1–3 are one transaction.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

from regulars.data.connection import connection
from regulars.data import erasure_scan, fastlane, keyed, order_stats, report_store, scrub, suppression
from regulars.data.identity import customer_tables, lookup_value, normalize_email, normalize_phone
from regulars.data.ingest.readers import q


class CustomerNotFound(LookupError):
    """No customer matches the reference given."""


def resolve_customer(db, ref: str) -> str:
    """The customer id for *ref*: a customer id, a shop id, an e-mail or a phone number (written any way)."""
    con = connection(db)
    ref = ref.strip()
    hit = con.execute("SELECT customer_id FROM customers WHERE customer_id = ?", [ref]).fetchall()
    if hit:
        return hit[0][0]
    candidates = [("shop_id", ref)]
    if normalize_email(ref):
        candidates.append(("email", ref))
    elif "@" not in ref and normalize_phone(ref) and sum(ch.isdigit() for ch in ref) >= 6:
        candidates.append(("phone", ref))
    for kind, text in candidates:
        hit = con.execute(
            "SELECT customer_id FROM identities WHERE kind = ? AND value = ?", [kind, lookup_value(con, kind, text)]
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
    clear, in ``identities`` as keyed hashes.
    """
    con = workspace._con
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


def forget(workspace, ref: str, requested_by: str = "cli", rewrite: bool = True) -> dict:
    """Erase a customer everywhere, in one transaction, then rewrite the file; return the audit record.

    Parameters
    ----------
    workspace : Workspace
        Written to; with *rewrite* its connection is replaced (no other cursor of it may be open).
    ref : customer id, shop id, e-mail or phone
    rewrite : rewrite the workspace file so that no deleted bytes remain (leave False only when the
        caller rewrites it later, e.g. after several erasures)

    Returns
    -------
    dict
        ``erasure_id``, ``rows_deleted`` per table, ``customers_erased`` (the customer and provisional
        customers with their identifiers), ``identifiers_suppressed``, ``text_redacted`` (rows per table
        whose free text mentioned them) and ``sharing_customers``: other shop customers with one of
        their e-mails or phones, not erased (erase them too if they are the same person). No PII.
    """
    con = workspace._con
    cid = resolve_customer(con, ref)
    deleted: dict[str, int] = {}

    def delete(table: str, where: str, params: list) -> None:
        n = con.execute(f"SELECT count(*) FROM {q(table)} WHERE {where}", params).fetchall()[0][0]
        if n:
            con.execute(f"DELETE FROM {q(table)} WHERE {where}", params)
            deleted[table] = deleted.get(table, 0) + n

    erasure_id = uuid.uuid4().hex
    with workspace.transaction():
        hasher = keyed.for_connection(con)
        person = erasure_scan.gather(con, hasher, cid, ref)
        ids = sorted(person.customer_ids)
        in_ids = "IN (SELECT unnest(?::VARCHAR[]))"
        delete("order_lines", f"order_id IN (SELECT order_id FROM orders WHERE customer_id {in_ids})", [ids])
        if person.anonymous_ids:
            delete("events", f"anonymous_id {in_ids}", [sorted(person.anonymous_ids)])
        for table, column in (("quarantine", "raw"), (fastlane.TABLE, "event")):
            matches = erasure_scan.raw_matches_sql(person, hasher, table, column)
            delete(table, f"rowid IN ({matches})", [])
        for table in customer_tables(con):
            delete(table, f"customer_id {in_ids}", [ids])
        redacted = erasure_scan.redact_mentions(con, person)
        order_stats.mark_current(con)  # the customers' totals went with the rest
        report_store.clear(con)  # stored results may list the person
        suppressed = suppression.add(
            con, erasure_id,
            {"email": sorted(person.emails), "phone": sorted(person.phones), "shop_id": sorted(person.shop_ids),
             "anonymous_id": sorted(person.anonymous_ids)},
            hashed={"email": sorted(person.email_hashes), "phone": sorted(person.phone_hashes)})
        con.execute(
            "INSERT INTO erasures (erasure_id, erased_at, subject_hash, rows_deleted, requested_by) "
            "VALUES (?, now()::TIMESTAMP, NULL, ?, ?)",
            [erasure_id, json.dumps(deleted), requested_by],
        )
    if rewrite:
        scrub.rewrite(workspace)
    return {"erasure_id": erasure_id, "rows_deleted": deleted, "customers_erased": len(ids),
            "identifiers_suppressed": suppressed, "text_redacted": redacted, "sharing_customers": person.sharing}
