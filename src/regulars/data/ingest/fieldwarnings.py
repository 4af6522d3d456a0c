"""Field-level warnings: a value a load dropped from a row it still loaded.

:func:`collect` copies the warnings a target's conversion raised (:class:`FieldWarning`) into the
temp table ``_warns``; :func:`attach_customers` notes the customer each warned row resolved to;
:func:`write` stores, in ``ingest_warnings``, the warnings of rows that were loaded (a row that
was quarantined anyway is explained by its quarantine reason). Loading the same file again adds
no warning that is already there.
"""

from __future__ import annotations

from regulars.data.ingest.convert import FieldWarning
from regulars.data.ingest.readers import lit


def create(con) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _warns (_file VARCHAR, _row BIGINT, column_name VARCHAR, value VARCHAR, "
        "reason VARCHAR, customer_id VARCHAR)"
    )


def collect(con, table: str, warnings: list[FieldWarning]) -> None:
    """Copy the field warnings of temp table *table* (rows that are otherwise valid) into ``_warns``."""
    if not warnings:
        return
    counts = con.execute(
        f"SELECT {', '.join(f'count({w.sql})' for w in warnings)} FROM {table} WHERE _reason IS NULL"
    ).fetchall()[0]
    for w, n in zip(warnings, counts):
        if n:
            con.execute(
                f"INSERT INTO _warns SELECT _file, _row, {lit(w.label)}, left({w.text}, 500), {w.sql}, NULL "
                f"FROM {table} WHERE _reason IS NULL AND {w.sql} IS NOT NULL"
            )


def attach_customers(con, table: str) -> None:
    """Note on each warning the customer its row resolved to (erasure and merges follow it)."""
    con.execute(
        f"UPDATE _warns SET customer_id = g.customer_id FROM {table} g "
        "WHERE _warns._file = g._file AND _warns._row = g._row AND _warns.customer_id IS NULL"
    )


def write(con, run_id: int, kind: str) -> int:
    """Store the warnings of loaded rows in ``ingest_warnings``; return how many were new."""
    return con.execute(
        f"""
        INSERT INTO ingest_warnings
        SELECT {int(run_id)}, {lit(kind)}, w._file, w._row, w.column_name, w.value, w.reason, w.customer_id
        FROM _warns w
        WHERE NOT EXISTS (SELECT 1 FROM _rejects r WHERE r._file = w._file AND r._row = w._row)
          AND NOT EXISTS (SELECT 1 FROM ingest_warnings o
                          WHERE o.kind = {lit(kind)} AND o.row_number = w._row AND o.column_name = w.column_name
                            AND o.value IS NOT DISTINCT FROM w.value AND o.reason = w.reason
                            AND parse_filename(o.file) = parse_filename(w._file))
        """
    ).fetchall()[0][0]


def count(con) -> int:
    """Warnings of rows that were loaded, in this load."""
    return con.execute(
        "SELECT count(*) FROM _warns w WHERE NOT EXISTS "
        "(SELECT 1 FROM _rejects r WHERE r._file = w._file AND r._row = w._row)"
    ).fetchall()[0][0]
