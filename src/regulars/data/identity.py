"""Identity resolution: one customer across shop id, e-mail, phone and anonymous web ids.

Rules, applied to every load that carries customer identifiers. Identifiers
rank by strength: **shop customer id > e-mail > phone > anonymous web id**; a
weaker identifier never overrides a stronger one on the same row.

1. A shop customer id is authoritative: it becomes the customer id, unless
   it is already linked to a customer.
2. Otherwise an e-mail (both e-mail and phone are normalised by
   :mod:`regulars.data.normalize`, the same on every path) already linked to a
   customer resolves the row; within one file, an e-mail seen next to a shop id
   resolves e-mail-only rows to that id.
3. A phone resolves a row only when the row has **no e-mail**: families and
   shops share phones, so two people with different e-mails who share a phone
   stay two customers. A phone-only row goes to the phone's customer, or
   (within one file) to the one shop id the phone is seen next to.
4. Otherwise a provisional id is made from the identifier's keyed hash
   (:mod:`regulars.data.keyed`): ``e-<hash>`` for an e-mail, ``p-<hash>`` for a
   phone. Without the workspace's secret nobody can tell whose it is, so an id
   shown to a viewer is no proof that someone is a customer.
5. When a later row shows that a provisional customer is really a shop
   customer, the provisional customer is **merged** into the shop customer in
   every table: an ``e-`` customer when its e-mail appears next to the shop id,
   a phone-only ``p-`` customer when its phone does. A shared phone never
   merges a customer who has an e-mail.
6. An anonymous web id seen next to a customer identifier is linked to that
   customer, and earlier anonymous events are attributed to them.

Ids that arrive as floats (``17850.0`` from Parquet or a spreadsheet) are
read as ``17850`` before any of this (:mod:`regulars.data.ingest.values`).

Every link is stored in ``identities`` with the reason it was made (naming the
file, never the folder it was in). E-mail addresses and phone numbers are
stored there only as keyed hashes (:func:`fingerprint`).

A link's ``linked_at`` is when it became knowable: the time of the earliest row that
shows the identifier next to that customer (the row's ``occurred_at``, ``ordered_at``,
``created_at``, ...; the load time for rows without one), moved earlier when a later load
brings earlier evidence. Predictions as of a past date only attach events through links
made before it (``regulars.jobs.tables.PointInTime``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regulars.data import keyed, order_stats
from regulars.data.connection import connection
from regulars.data.ingest.readers import lit
from regulars.data.normalize import (  # noqa: F401 - the normalisation, re-exported for every path
    email_sql, normalize_email, normalize_phone, phone_key, phone_key_sql, phone_sql,
)
from regulars.data.schema import CUSTOMER_TABLES, TABLES

PROVISIONAL = ("e-", "p-")
HASHED_KINDS = ("email", "phone")
#: Time columns of the canonical tables, in the order they are looked for in a load.
_TIME_COLUMNS = tuple(dict.fromkeys(t.time_column for t in TABLES.values() if t.time_column))


def _time_column(con, tmp: str) -> str:
    """SQL for the evidence time of each row of *tmp*: its time column, else NULL."""
    columns = {r[0] for r in con.execute(f"DESCRIBE {tmp}").fetchall()}
    found = next((c for c in _TIME_COLUMNS if c in columns), None)
    return f"TRY_CAST({found} AS TIMESTAMP)" if found else "NULL"


@dataclass
class IdentityResult:
    customers_created: int = 0
    links_created: int = 0
    merges: list[tuple[str, str]] = field(default_factory=list)
    conflicts: int = 0


def normalized_hash_sql(kind: str, col: str, hasher: keyed.Keyed) -> str:
    """SQL for the stored form of an identifier held (normalised) in *col*: a keyed hash for e-mail
    and phone, the value itself otherwise."""
    if kind == "email":
        return hasher.sql(col)
    if kind == "phone":
        return hasher.sql(phone_key_sql(col))
    return col


def fingerprint(hasher: keyed.Keyed, kind: str, text: str | None) -> str | None:
    """The keyed hash of an identifier written any way (an e-mail, a phone, a shop or anonymous id).

    For e-mail and phone this is the value stored in ``identities``; ids are hashed as written
    (trimmed). None when *text* is not a valid identifier of that kind.

    >>> h = keyed.Keyed(bytes(range(32)))
    >>> fingerprint(h, "phone", "+1 (201) 555-0916") == fingerprint(h, "phone", "001 201 555 0916")
    True
    >>> fingerprint(h, "email", " Ann@Example.com ") == fingerprint(h, "email", "ann@example.com")
    True
    """
    if text is None:
        return None
    if kind == "email":
        value = normalize_email(text)
    elif kind == "phone":
        value = phone_key(normalize_phone(text))
    else:
        value = str(text).strip(" ") or None  # as DuckDB's trim() on loaded ids
    return hasher.hash(value) if value else None


def lookup_value(db, kind: str, text: str) -> str | None:
    """What ``identities.value`` holds for the identifier *text* of *kind* (for searches)."""
    con = connection(db)
    if kind in HASHED_KINDS:
        return fingerprint(keyed.for_connection(con), kind, text)
    return str(text).strip(" ") or None


def resolve(con, tmp: str, has: set[str], run_id: int, source: str, requires_customer: bool,
            weight: str | None = None) -> IdentityResult:
    """Replace ``customer_id`` in temp table *tmp* by the resolved customer id.

    *has* lists which identifier columns the source provides among
    ``customer_id`` (shop id), ``email``, ``phone`` and ``anonymous_id``.
    Rows without any identifier keep a NULL customer id (and are rejected by
    the caller when the table requires a customer). With *weight*, each row of
    *tmp* stands for that many (a column: rows with the same identifiers folded
    into one); conflicts are counted in those.
    """
    result = IdentityResult()
    hasher = keyed.for_connection(con)
    shop = "customer_id" if "customer_id" in has else "NULL"
    email_h = normalized_hash_sql("email", "email", hasher) if "email" in has else "NULL"
    phone_h = normalized_hash_sql("phone", "phone", hasher) if "phone" in has else "NULL"
    anon = "anonymous_id" if "anonymous_id" in has else "NULL"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _idn AS SELECT _file, _row, {shop}::VARCHAR AS shop, "
        f"{email_h}::VARCHAR AS email_h, {phone_h}::VARCHAR AS phone_h, {anon}::VARCHAR AS anon, "
        f"{_time_column(con, tmp)} AS _at, {weight or 1} AS _n FROM {tmp}"
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _idr AS
        WITH batch_email AS (  -- the first shop id seen with the e-mail: the one it gets linked to
            SELECT email_h, arg_min(shop, _row) AS shop FROM _idn WHERE shop IS NOT NULL AND email_h IS NOT NULL GROUP BY 1),
        batch_phone AS (
            SELECT phone_h, min(shop) AS shop FROM _idn WHERE shop IS NOT NULL AND phone_h IS NOT NULL GROUP BY 1
            HAVING count(DISTINCT shop) = 1),
        ids AS (SELECT kind, value, customer_id FROM identities)
        SELECT n.*,
            i_shop.customer_id AS via_shop, i_email.customer_id AS via_email,
            i_phone.customer_id AS via_phone, i_anon.customer_id AS via_anon,
            coalesce(
                i_shop.customer_id,
                n.shop,
                i_email.customer_id,
                (SELECT coalesce(s2.customer_id, be.shop) FROM batch_email be
                   LEFT JOIN ids s2 ON s2.kind = 'shop_id' AND s2.value = be.shop WHERE be.email_h = n.email_h),
                CASE WHEN n.email_h IS NULL THEN i_phone.customer_id END,
                CASE WHEN n.email_h IS NULL THEN
                    (SELECT coalesce(s3.customer_id, bp.shop) FROM batch_phone bp
                       LEFT JOIN ids s3 ON s3.kind = 'shop_id' AND s3.value = bp.shop WHERE bp.phone_h = n.phone_h) END,
                i_anon.customer_id,
                'e-' || left(n.email_h, 16),
                'p-' || left(n.phone_h, 16)
            ) AS cid
        FROM _idn n
        LEFT JOIN ids i_shop ON i_shop.kind = 'shop_id' AND i_shop.value = n.shop
        LEFT JOIN ids i_email ON i_email.kind = 'email' AND i_email.value = n.email_h
        LEFT JOIN ids i_phone ON i_phone.kind = 'phone' AND i_phone.value = n.phone_h
        LEFT JOIN ids i_anon ON i_anon.kind = 'anonymous_id' AND i_anon.value = n.anon
        """
    )
    # A phone-only row goes to the customer the same file shows with that phone (as a later file would).
    con.execute(
        """
        UPDATE _idr SET cid = f.cid FROM (
            SELECT phone_h, arg_min(cid, _row) AS cid FROM _idr
            WHERE phone_h IS NOT NULL AND cid IS NOT NULL AND left(cid, 2) <> 'p-' GROUP BY phone_h) f
        WHERE _idr.phone_h = f.phone_h AND _idr.email_h IS NULL AND _idr.shop IS NULL AND _idr.via_phone IS NULL
        """
    )
    # Provisional customers shown to be someone else: merge them.
    merges = con.execute(
        """
        SELECT old, min(cid) FROM (
            SELECT via_email AS old, cid FROM _idr WHERE via_email IS NOT NULL AND via_email <> cid
            UNION ALL SELECT via_phone, cid FROM _idr WHERE via_phone IS NOT NULL AND via_phone <> cid AND left(via_phone, 2) = 'p-'
            UNION ALL SELECT via_anon, cid FROM _idr WHERE via_anon IS NOT NULL AND via_anon <> cid
        ) WHERE left(old, 2) IN ('e-', 'p-') AND left(cid, 2) NOT IN ('e-', 'p-')
        GROUP BY old ORDER BY old
        """
    ).fetchall()
    result.conflicts = con.execute(
        """
        SELECT coalesce(sum(_n), 0) FROM _idr WHERE
            (via_email IS NOT NULL AND via_email <> cid AND left(via_email, 2) NOT IN ('e-', 'p-'))
         OR (via_phone IS NOT NULL AND via_phone <> cid AND left(via_phone, 2) NOT IN ('e-', 'p-'))
        """
    ).fetchall()[0][0]
    if merges:
        merge(con, merges, f"same identifier seen with customer id in {source}")
        result.merges = [(a, b) for a, b in merges]
    # New links, one per identifier, from the first row that shows it; linked at the earliest
    # row that shows it next to that customer (when it became knowable).
    before = con.execute("SELECT count(*) FROM identities").fetchall()[0][0]
    for kind, col, given in (("shop_id", "shop", "customer_id"), ("email", "email_h", "email"),
                             ("phone", "phone_h", "phone"), ("anonymous_id", "anon", "anonymous_id")):
        if given not in has:  # the column is empty: no link to make
            continue
        evidence = (f"SELECT {col} AS v, cid AS c, min(_at) AS at FROM _idr "
                    f"WHERE {col} IS NOT NULL AND cid IS NOT NULL GROUP BY 1, 2")
        con.execute(
            f"""
            INSERT INTO identities
            WITH firsts AS (
                SELECT {col} AS v, arg_min(cid, _row) AS c,
                       'first seen in ' || parse_filename(arg_min(_file, _row)) || ' row ' || min(_row)
                       || CASE WHEN {lit(kind)} <> 'shop_id' AND bool_or(shop IS NOT NULL)
                               THEN ' next to customer id ' || arg_min(shop, _row) ELSE '' END AS why
                FROM _idr
                WHERE {col} IS NOT NULL AND cid IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.kind = {lit(kind)} AND i.value = _idr.{col})
                GROUP BY {col})
            SELECT {lit(kind)}, f.v, f.c, {lit(source)}, f.why, coalesce(e.at, now())::TIMESTAMP, {run_id}
            FROM firsts f LEFT JOIN ({evidence}) e ON e.v = f.v AND e.c = f.c
            """
        )
        con.execute(
            f"""
            UPDATE identities SET linked_at = e.at FROM ({evidence}) e
            WHERE identities.kind = {lit(kind)} AND identities.value = e.v AND identities.customer_id = e.c
              AND e.at < identities.linked_at
            """
        )
    result.links_created = con.execute("SELECT count(*) FROM identities").fetchall()[0][0] - before
    con.execute(f"UPDATE {tmp} SET customer_id = r.cid FROM _idr r WHERE {tmp}._file = r._file AND {tmp}._row = r._row")
    if not requires_customer and "anonymous_id" in has:
        stitch_anonymous_events(con)
    con.execute("DROP TABLE _idn; DROP TABLE _idr")
    return result


def ensure_customers(con, tmp: str, has: set[str], run_id: int) -> int:
    """Create minimal customer rows for resolved ids not yet in ``customers``.

    E-mail and phone from the row fill empty fields of the customer (the
    ``customers`` table is the one place that holds them).
    """
    email = "email" if "email" in has else "NULL"
    phone = "phone" if "phone" in has else "NULL"
    before = con.execute("SELECT count(*) FROM customers").fetchall()[0][0]
    con.execute(
        f"""
        INSERT INTO customers (customer_id, email, phone, _run_id)
        SELECT customer_id, {f'arg_min({email}, _row)' if email != 'NULL' else 'NULL'},
               {f'arg_min({phone}, _row)' if phone != 'NULL' else 'NULL'}, {run_id}
        FROM {tmp} t WHERE customer_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = t.customer_id)
        GROUP BY customer_id
        """
    )
    if "email" in has or "phone" in has:
        con.execute(
            f"""
            UPDATE customers SET email = coalesce(customers.email, s.email), phone = coalesce(customers.phone, s.phone)
            FROM (SELECT customer_id, max({email}) AS email, max({phone}) AS phone FROM {tmp} GROUP BY 1) s
            WHERE customers.customer_id = s.customer_id
              AND ((customers.email IS NULL AND s.email IS NOT NULL) OR (customers.phone IS NULL AND s.phone IS NOT NULL))
            """
        )
    return con.execute("SELECT count(*) FROM customers").fetchall()[0][0] - before


def stitch_anonymous_events(con) -> None:
    """Attribute anonymous events to the customer their anonymous id is now linked to."""
    con.execute(
        """
        UPDATE events SET customer_id = i.customer_id
        FROM identities i
        WHERE events.customer_id IS NULL AND i.kind = 'anonymous_id' AND i.value = events.anonymous_id
        """
    )


def merge(con, pairs: list[tuple[str, str]], why: str) -> None:
    """Merge each customer ``old`` into ``new`` in every table, keeping the link history."""
    con.execute("CREATE OR REPLACE TEMP TABLE _merges (old VARCHAR, new VARCHAR)")
    con.executemany("INSERT INTO _merges VALUES (?, ?)", pairs)
    cols = [c for c in TABLES["customers"].column_names if c not in ("customer_id", "_run_id")]
    fill = ", ".join(f"{c} = coalesce(customers.{c}, o.{c})" for c in cols)
    con.execute(
        f"UPDATE customers SET {fill} FROM customers o JOIN _merges m ON o.customer_id = m.old "
        "WHERE customers.customer_id = m.new"
    )
    con.execute(
        "UPDATE customers SET customer_id = m.new FROM _merges m WHERE customers.customer_id = m.old "
        "AND NOT EXISTS (SELECT 1 FROM customers c2 WHERE c2.customer_id = m.new)"
    )
    con.execute("DELETE FROM customers WHERE customer_id IN (SELECT old FROM _merges)")
    for table in CUSTOMER_TABLES:
        if table in ("customers", "identities"):
            continue
        con.execute(f"UPDATE {table} SET customer_id = m.new FROM _merges m WHERE {table}.customer_id = m.old")
    _move_history(con)
    # Derived tables (segments, predictions, ...) are recomputed from the canonical ones; the merged
    # customer's rows under the old id would be stale and may collide with the new id's keys.
    for table in sorted(set(customer_tables(con)) - set(CUSTOMER_TABLES) - set(HISTORY_TABLES)):
        con.execute(f'DELETE FROM "{table}" WHERE customer_id IN (SELECT old FROM _merges)')
    order_stats.refresh(con, "SELECT new AS customer_id FROM _merges")
    con.execute(
        f"UPDATE identities SET customer_id = m.new, reason = reason || '; merged from ' || m.old || ': ' || {lit(why)} "
        "FROM _merges m WHERE identities.customer_id = m.old"
    )
    con.execute("DROP TABLE _merges")


#: Records of what happened to a customer (experiment arms, journey enrolments and sends, audience
#: adds, webhook deliveries, segment entries and exits): they follow a merge to the surviving id,
#: because they cannot be recomputed; losing them would let a journey message the person again or
#: drop them from an experiment's analysis. Per experiment the person keeps their first arm.
HISTORY_TABLES = ("experiment_assignments", "journey_enrollments", "journey_sends", "audience_members",
                  "webhook_deliveries", "segment_history")


def _move_history(con) -> None:
    present = set(customer_tables(con))
    if "experiment_assignments" in present:
        con.execute(
            "DELETE FROM experiment_assignments a USING ("
            "  SELECT experiment_id, customer_id, assigned_at, recorded_at, row_number() OVER ("
            "    PARTITION BY experiment_id, coalesce(m.new, x.customer_id) ORDER BY assigned_at, recorded_at, arm) AS k "
            "  FROM experiment_assignments x LEFT JOIN _merges m ON x.customer_id = m.old "
            "  WHERE x.customer_id IN (SELECT old FROM _merges UNION SELECT new FROM _merges)) d "
            "WHERE d.k > 1 AND a.experiment_id = d.experiment_id AND a.customer_id = d.customer_id "
            "AND a.assigned_at IS NOT DISTINCT FROM d.assigned_at AND a.recorded_at IS NOT DISTINCT FROM d.recorded_at")
    for table in HISTORY_TABLES:
        if table in present:
            con.execute(f'UPDATE "{table}" SET customer_id = m.new FROM _merges m WHERE "{table}".customer_id = m.old')


def customer_tables(con) -> list[str]:
    """Every base table with a ``customer_id`` column, canonical and derived, in the main schema."""
    rows = con.execute(
        "SELECT DISTINCT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
        "WHERE c.column_name = 'customer_id' AND t.table_type = 'BASE TABLE' "
        "AND t.table_schema = 'main' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def explain(con, customer_id: str) -> list[dict]:
    """The identifiers linked to a customer and why (hashes, never raw e-mails)."""
    rows = con.execute(
        "SELECT kind, value, source, reason, linked_at FROM identities WHERE customer_id = ? ORDER BY linked_at, kind",
        [customer_id],
    ).fetchall()
    return [dict(zip(("kind", "value", "source", "reason", "linked_at"), r)) for r in rows]
