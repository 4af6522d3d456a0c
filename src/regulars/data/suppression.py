"""The erasure suppression list: an erased person stays erased when the same export is loaded again.

When :func:`regulars.data.erasure.forget` erases a customer, the keyed hashes
(:mod:`regulars.data.keyed`) of every identifier they had — shop id, e-mails,
phones, anonymous web ids — go into ``erasure_suppressions``. A later load or
posted event carrying any of them is not loaded: the row is quarantined with the
reason ``erased customer`` and no content at all (file and row number only), so
nothing personal comes back.

An admin lifts a suppression explicitly (``regulars suppressions lift``, or
``DELETE /api/suppressions/{erasure_id}``), e.g. when the person comes back as a
customer and asks to be known again; the hash is then deleted and the lift is
audited. The list holds no identifier in clear and no bare hash: without the
workspace's secret nobody can tell whose identifiers it holds.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> add(ws, "e1", {"email": ["Ann@Example.com "], "shop_id": ["C1"]})
2
>>> is_suppressed(ws, "email", "ann@example.com"), is_suppressed(ws, "shop_id", "C2")
(True, False)
>>> [(s["erasure_id"], s["identifiers"]) for s in listing(ws)]
[('e1', {'email': 1, 'shop_id': 1})]
>>> lift(ws, erasure_id="e1")
2
>>> ws.close()
"""

from __future__ import annotations

from regulars.data import keyed
from regulars.data.connection import connection
from regulars.data.identity import fingerprint, normalized_hash_sql

TABLE = "erasure_suppressions"
REASON = "erased customer"
KINDS = ("shop_id", "email", "phone", "anonymous_id")
#: What a suppressed row keeps in the quarantine instead of its content.
PLACEHOLDER = '{"erased customer": "content not kept"}'


def create_statements() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (kind VARCHAR, value_hash VARCHAR, erasure_id VARCHAR, "
        "suppressed_at TIMESTAMP)",
    ]


def add(db, erasure_id: str, identifiers: dict[str, list[str]], hashed: dict[str, list[str]] | None = None) -> int:
    """Suppress identifiers written in clear (*identifiers*) or already keyed (*hashed*); return how many."""
    con = connection(db)
    hasher = keyed.for_connection(con)
    rows = set()
    for kind, values in identifiers.items():
        for v in values:
            h = fingerprint(hasher, kind, v)
            if h:
                rows.add((kind, h))
    for kind, values in (hashed or {}).items():
        rows.update((kind, h) for h in values if h)
    known = {(k, h) for k, h in con.execute(f"SELECT kind, value_hash FROM {TABLE}").fetchall()}
    new = sorted(rows - known)
    if new:
        con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, now()::TIMESTAMP)",
                        [(k, h, erasure_id) for k, h in new])
    return len(new)


def is_suppressed(db, kind: str, text: str) -> bool:
    con = connection(db)
    h = fingerprint(keyed.for_connection(con), kind, text)
    return bool(h) and bool(con.execute(
        f"SELECT count(*) FROM {TABLE} WHERE kind = ? AND value_hash = ?", [kind, h]).fetchall()[0][0])


def any_suppressed(con) -> bool:
    return bool(con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0])


def matches_sql(con, tmp: str, has: set[str]) -> str | None:
    """SQL selecting ``_file, _row`` of rows in *tmp* carrying a suppressed identifier, or None.

    *tmp* holds normalised ``email``/``phone`` and raw ``customer_id``/``anonymous_id`` columns
    (those in *has*), as the ingest pipeline and the events path do before identity resolution.
    """
    if not has or not any_suppressed(con):
        return None
    hasher = keyed.for_connection(con)
    column = {"shop_id": "customer_id", "email": "email", "phone": "phone", "anonymous_id": "anonymous_id"}
    parts = []
    for kind, col in column.items():
        if col not in has:
            continue
        value = normalized_hash_sql(kind, col, hasher) if kind in ("email", "phone") else hasher.sql(f"trim({col})")
        parts.append(f"SELECT _file, _row FROM {tmp} WHERE {col} IS NOT NULL AND {value} IN "
                     f"(SELECT value_hash FROM {TABLE} WHERE kind = '{kind}')")
    return " UNION ".join(parts) if parts else None


def quarantine_events(con, tmp: str, has: set[str], run_id: int) -> int:
    """Posted events of erased people: quarantined without content and removed from *tmp*; how many."""
    sql = matches_sql(con, tmp, has)
    if sql is None:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE _suppressed AS {sql}")
    n = con.execute("SELECT count(*) FROM _suppressed").fetchall()[0][0]
    if n:
        con.execute(
            f"INSERT INTO quarantine SELECT {int(run_id)}, 'events', _file, _row, NULL, '{REASON}', "
            f"'{PLACEHOLDER}'::JSON, md5('{PLACEHOLDER}') FROM _suppressed")
        con.execute(f"DELETE FROM {tmp} WHERE (_file, _row) IN (SELECT _file, _row FROM _suppressed)")
    con.execute("DROP TABLE _suppressed")
    return n


def drop_erased_rows(con, tmp: str, has: set[str]) -> int:
    """During a load: rows of *tmp* carrying a suppressed identifier (or flagged by an earlier target of the
    same file) are remembered in ``_erased`` and removed; :func:`reject_erased_rows` quarantines them."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS _erased (_file VARCHAR, _row BIGINT)")
    sql = matches_sql(con, tmp, has)
    if sql is not None:
        con.execute(f"INSERT INTO _erased SELECT * FROM ({sql}) EXCEPT SELECT _file, _row FROM _erased")
    if not con.execute("SELECT count(*) FROM _erased").fetchall()[0][0]:
        return 0
    n = con.execute(f"SELECT count(*) FROM {tmp} WHERE (_file, _row) IN (SELECT _file, _row FROM _erased)").fetchall()[0][0]
    if n:
        con.execute(f"DELETE FROM {tmp} WHERE (_file, _row) IN (SELECT _file, _row FROM _erased)")
    return n


def reject_erased_rows(con) -> None:
    """Before the quarantine is written: an erased person's rows — also lines the reader could not split,
    whose raw text holds a suppressed identifier — get one reason and no content."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = '_erased'").fetchall()[0][0]:
        return
    if any_suppressed(con):
        from regulars.data.erasure_scan import json_values_sql, token_matches_sql

        hasher = keyed.for_connection(con)
        kinds = {k: f"SELECT value_hash FROM {TABLE} WHERE kind = '{k}'" for k in KINDS}
        lines = token_matches_sql(
            json_values_sql("_rejects", "raw", where="s.raw IS NOT NULL"), hasher, kinds["email"], kinds["phone"],
            f"{hasher.sql('t')} IN ({kinds['shop_id']} UNION ALL {kinds['anonymous_id']})")
        con.execute(f"INSERT INTO _erased SELECT _file, _row FROM _rejects WHERE rowid IN ({lines}) "
                    "EXCEPT SELECT _file, _row FROM _erased")
    con.execute("DELETE FROM _rejects WHERE (_file, _row) IN (SELECT _file, _row FROM _erased)")
    con.execute(f"INSERT INTO _rejects (_file, _row, column_name, reason, raw) "
                f"SELECT _file, _row, NULL, '{REASON}', '{PLACEHOLDER}' FROM _erased")
    con.execute("DROP TABLE _erased")


def listing(db) -> list[dict]:
    """Each erasure still suppressed: when, and how many identifiers of each kind (never the hashes)."""
    con = connection(db)
    out: dict[str, dict] = {}
    for eid, kind, n, at in con.execute(
            f"SELECT erasure_id, kind, count(*), min(suppressed_at) FROM {TABLE} GROUP BY ALL ORDER BY 4, 1, 2"
    ).fetchall():
        item = out.setdefault(eid, {"erasure_id": eid, "suppressed_at": at, "identifiers": {}})
        item["identifiers"][kind] = n
    return list(out.values())


def lift(db, *, erasure_id: str | None = None, kind: str | None = None, text: str | None = None) -> int:
    """Delete suppressions: all of one erasure, or the one matching an identifier; return how many."""
    con = connection(db)
    if erasure_id is not None:
        return _delete(con, "erasure_id = ?", [erasure_id])
    if kind is None or text is None:
        raise ValueError("lift needs an erasure id, or an identifier and its kind")
    h = fingerprint(keyed.for_connection(con), kind, text)
    return _delete(con, "kind = ? AND value_hash = ?", [kind, h]) if h else 0


def _delete(con, where: str, params: list) -> int:
    n = con.execute(f"SELECT count(*) FROM {TABLE} WHERE {where}", params).fetchall()[0][0]
    if n:
        con.execute(f"DELETE FROM {TABLE} WHERE {where}", params)
    return n
