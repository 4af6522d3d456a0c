"""Upgrade a workspace made before keyed hashes (the privacy migration): no bare SHA-256 of personal data is left.

Before, e-mail and phone links in ``identities`` held ``sha256(value)``, provisional
customers were ``e-``/``p-`` + the first 16 characters of that hash (anyone could
hash a guessed e-mail and find out whether that person is a customer), the erasure
audit kept ``sha256(customer id)`` and the audit log ``sha256:`` of exported
customer ids. This upgrade, run once in the migration's transaction:

1. re-derives phone links under the new normalisation where the customer's stored
   phone proves the old value (``+1...`` and ``001...`` now share one key), then
   turns every e-mail/phone link into its keyed hash (``HMAC(secret, old sha256)``,
   exactly what a new load computes);
2. gives every provisional customer a new id from its link's keyed hash (or from
   a keyed hash of the old id), in every table that holds customer ids, and in the
   text of link reasons ("merged from e-…");
3. two links that now hold the same identifier: the earliest is kept; a provisional
   customer behind a later one is merged into the earlier one's customer;
4. drops the reversible hash from past erasure audit records and replaces the
   ``sha256:`` targets of the audit log by keyed ones;
5. keeps only the file name where link reasons and consent sources named a file with its folder.

Phone links the customer's stored phone cannot prove (a second phone) keep the old
normalisation; such a phone written with ``+`` or ``00`` in a new file creates a new
link.
"""

from __future__ import annotations

import re

from regulars.data import keyed
from regulars.data.identity import PROVISIONAL, customer_tables, merge
from regulars.data.normalize import phone_key_sql

_OLD_ID = re.compile(r"\b[ep]-[0-9a-f]{16}\b")


def upgrade(con) -> None:
    """Run the whole upgrade on *con* (inside the caller's transaction)."""
    hasher = keyed.for_connection(con)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _rekey AS
        SELECT i.kind, i.value AS old_value, i.customer_id,
               {hasher.sql_of_sha256("coalesce(p.proved, i.value)")} AS new_value
        FROM identities i
        LEFT JOIN (SELECT customer_id, phone, sha256({phone_key_sql('phone')}) AS proved FROM customers
                   WHERE phone IS NOT NULL) p
          ON i.kind = 'phone' AND p.customer_id = i.customer_id AND i.value = sha256(p.phone)
        WHERE i.kind IN ('email', 'phone')
        """
    )
    _new_ids(con, hasher)
    con.execute(
        "UPDATE identities SET value = r.new_value FROM _rekey r "
        "WHERE identities.kind = r.kind AND identities.value = r.old_value AND identities.customer_id = r.customer_id"
    )
    con.execute("DROP TABLE _rekey")
    _apply_ids(con)
    _dedupe_links(con)
    con.execute("UPDATE erasures SET subject_hash = NULL WHERE subject_hash IS NOT NULL")
    # file names only, never the folders of the machine that loaded them
    con.execute("UPDATE identities SET reason = regexp_replace(reason, '^first seen in [^;]*[/\\\\]', 'first seen in ') "
                "WHERE regexp_matches(reason, '^first seen in [^;]*[/\\\\]')")
    con.execute("UPDATE consents SET source = 'customers file ' || parse_filename(substr(source, 16)) "
                "WHERE source LIKE 'customers file %' AND regexp_matches(source, '[/\\\\]')")
    if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'audit_log'").fetchall()[0][0]:
        con.execute(
            f"UPDATE audit_log SET target = 'hmac:' || {hasher.sql_of_sha256('substr(target, 8)')} "
            "WHERE target LIKE 'sha256:%'"
        )


def _new_ids(con, hasher: keyed.Keyed) -> None:
    """``_idmap(old, new)``: every provisional id found in a customer table, and its keyed replacement."""
    tables = customer_tables(con)
    found = " UNION ".join(
        f'SELECT DISTINCT customer_id AS old FROM "{t}" WHERE left(customer_id, 2) IN (\'e-\', \'p-\')'
        for t in tables)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _idmap AS
        WITH ids AS ({found}),
        linked AS (
            SELECT ids.old, arg_min(r.new_value, r.old_value) AS value
            FROM ids JOIN _rekey r
              ON r.kind = CASE left(ids.old, 2) WHEN 'e-' THEN 'email' ELSE 'phone' END
             AND left(r.old_value, 16) = substr(ids.old, 3)
            GROUP BY ids.old)
        SELECT ids.old, left(ids.old, 2) || left(coalesce(linked.value, {hasher.sql('ids.old')}), 16) AS new
        FROM ids LEFT JOIN linked USING (old)
        """
    )


def _apply_ids(con) -> None:
    if not con.execute("SELECT count(*) FROM _idmap").fetchall()[0][0]:
        con.execute("DROP TABLE _idmap")
        return
    for table in customer_tables(con):
        con.execute(f'UPDATE "{table}" SET customer_id = m.new FROM _idmap m WHERE "{table}".customer_id = m.old')
    mapping = dict(con.execute("SELECT old, new FROM _idmap").fetchall())
    rows = con.execute(
        "SELECT kind, value, reason FROM identities WHERE regexp_matches(reason, '\\b[ep]-[0-9a-f]{16}\\b')"
    ).fetchall()
    for kind, value, reason in rows:
        new_reason = _OLD_ID.sub(lambda m: mapping.get(m.group(), m.group()), reason)
        if new_reason != reason:
            con.execute("UPDATE identities SET reason = ? WHERE kind = ? AND value = ? AND reason = ?",
                        [new_reason, kind, value, reason])
    con.execute("DROP TABLE _idmap")


def _dedupe_links(con) -> None:
    dupes = con.execute(
        """
        SELECT kind, value, list(customer_id ORDER BY linked_at, customer_id) AS owners
        FROM identities GROUP BY kind, value HAVING count(*) > 1
        """
    ).fetchall()
    merges = []
    for kind, value, owners in dupes:
        keep = owners[0]
        con.execute("DELETE FROM identities WHERE kind = ? AND value = ? AND customer_id <> ?", [kind, value, keep])
        if con.execute("SELECT count(*) FROM identities WHERE kind = ? AND value = ?", [kind, value]).fetchall()[0][0] > 1:
            con.execute(  # the same link twice for one customer: keep one row
                "DELETE FROM identities WHERE rowid IN (SELECT rowid FROM identities WHERE kind = ? AND value = ? "
                "ORDER BY linked_at OFFSET 1)", [kind, value])
        merges += [(o, keep) for o in dict.fromkeys(owners[1:]) if o != keep and o[:2] in PROVISIONAL]
    if merges:
        merge(con, sorted(set(merges)), "the same identifier after the upgrade to keyed hashes")
