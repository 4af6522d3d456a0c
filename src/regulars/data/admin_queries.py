"""Reads about the workspace itself: ingest runs, quarantined rows, table sizes, schema version.

:mod:`regulars.reports.data_admin` shapes these for people (file names only, values hidden
from viewers); the queries are here.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> ingest_run_rows(ws), quarantine_rows(ws)[:2]
((0, []), (0, []))
>>> table_counts(ws, hidden=set())["customers"]
0
>>> ws.close()
"""

from __future__ import annotations

import pandas as pd

from regulars.data.connection import connection
from regulars.data.rows import json_rows
from regulars.data.schema import TABLES


def _where(filters: dict) -> tuple[str, list]:
    conds = [f"{column} = ?" for column, value in filters.items() if value is not None]
    params = [value for value in filters.values() if value is not None]
    return ("WHERE " + " AND ".join(conds)) if conds else "", params


def ingest_run_rows(db, *, kind: str | None = None, limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
    """``(total, rows)`` of ingest runs, newest first (``files`` and ``summary`` as JSON text)."""
    con = connection(db)
    where, params = _where({"kind": kind or None})
    total = con.execute(f"SELECT count(*) FROM ingest_runs {where}", params).fetchall()[0][0]
    items = json_rows(con, f"""
        SELECT run_id, kind, format, files::VARCHAR AS files, started_at, finished_at, rows_read, rows_new,
               rows_updated, rows_unchanged, rows_quarantined, summary::VARCHAR AS summary
        FROM ingest_runs {where} ORDER BY run_id DESC LIMIT ? OFFSET ?""", params + [limit, offset])
    return total, items


def quarantine_rows(db, *, run_id: int | None = None, kind: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[int, list[dict], list[tuple[str, int]]]:
    """``(total, rows, top reasons with their counts)`` of quarantined rows (``raw`` as JSON text)."""
    con = connection(db)
    where, params = _where({"run_id": None if run_id is None else int(run_id), "kind": kind or None})
    total = con.execute(f"SELECT count(*) FROM quarantine {where}", params).fetchall()[0][0]
    items = json_rows(con, f"""
        SELECT run_id, (SELECT r.started_at FROM ingest_runs r WHERE r.run_id = quarantine.run_id) AS loaded_at,
               kind, file, row_number, column_name, reason, raw::VARCHAR AS raw FROM quarantine {where}
        ORDER BY run_id DESC, file, row_number LIMIT ? OFFSET ?""", params + [limit, offset])
    by_reason = con.execute(
        f"SELECT reason, count(*) FROM quarantine {where} GROUP BY 1 ORDER BY 2 DESC LIMIT 10", params
    ).fetchall()
    return total, items, by_reason


def field_warning_rows(db, *, run_id: int | None = None, kind: str | None = None, limit: int = 50,
                       offset: int = 0) -> tuple[int, list[dict], list[tuple[str, int]]]:
    """``(total, rows, top columns with their counts)`` of values loads dropped from rows they kept."""
    con = connection(db)
    where, params = _where({"run_id": None if run_id is None else int(run_id), "kind": kind or None})
    total = con.execute(f"SELECT count(*) FROM ingest_warnings {where}", params).fetchall()[0][0]
    items = json_rows(con, f"""
        SELECT run_id, kind, file, row_number, column_name, value, reason FROM ingest_warnings {where}
        ORDER BY run_id DESC, file, row_number, column_name LIMIT ? OFFSET ?""", params + [limit, offset])
    by_column = con.execute(
        f"SELECT column_name, count(*) FROM ingest_warnings {where} GROUP BY 1 ORDER BY 2 DESC LIMIT 10", params
    ).fetchall()
    return total, items, by_column


def quarantine_frame(db, run_id: int | None = None) -> pd.DataFrame:
    """Every quarantined row (of one run), oldest run first: for the command line."""
    where, params = _where({"run_id": run_id})
    return connection(db).execute(
        f"SELECT run_id, kind, file, row_number, column_name, reason, raw::VARCHAR AS raw FROM quarantine {where} "
        "ORDER BY run_id, file, row_number", params).df()


def ingest_runs_frame(db, limit: int) -> pd.DataFrame:
    """The latest ingest runs with their counts, newest first: for the command line."""
    return connection(db).execute(
        "SELECT run_id, kind, format, files, started_at, rows_read, rows_new, rows_updated, rows_unchanged, "
        "rows_quarantined FROM ingest_runs ORDER BY run_id DESC LIMIT ?", [limit]).df()


def table_counts(db, hidden: set[str]) -> dict[str, int]:
    """Rows of every canonical table, then of every other stored table not in *hidden* (nor ``_*``)."""
    con = connection(db)
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database() "
        "AND NOT temporary").fetchall()}
    counts = {}
    for name in list(TABLES) + sorted(present - set(TABLES) - hidden):
        if name in present and not name.startswith("_"):
            counts[name] = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
    return counts


def schema_version(db) -> int:
    return connection(db).execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def last_ingest_at(db):
    """When the latest ingest run finished (ISO text), or None."""
    return json_rows(connection(db), "SELECT max(finished_at) AS last_ingest FROM ingest_runs")[0]["last_ingest"]
