"""What is in the workspace and how it got there: ingest runs, quarantined rows, table sizes.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> ingest_runs(ws).total, quarantine(ws).total
(0, 0)
>>> workspace_overview(ws)["tables"]["customers"]
0
>>> ws.close()
"""

from __future__ import annotations

import json
import re

from regulars.data.schema import KINDS, TABLES
from regulars.reports.customers import MASK, Page, _rows, jsonable

#: Bookkeeping tables not listed in the overview.
HIDDEN = {"schema_version", "api_keys", "sessions", "audit_log", "app_settings"}


def ingest_runs(ws, *, kind: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Ingest runs, newest first, with their per-table counts and warnings."""
    limit, offset = max(1, min(int(limit), 500)), max(0, int(offset))
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    total = ws.con.execute(f"SELECT count(*) FROM ingest_runs {where}", params).fetchall()[0][0]
    items = _rows(ws.con, f"""
        SELECT run_id, kind, format, files::VARCHAR AS files, started_at, finished_at, rows_read, rows_new,
               rows_updated, rows_unchanged, rows_quarantined, summary::VARCHAR AS summary
        FROM ingest_runs {where} ORDER BY run_id DESC LIMIT ? OFFSET ?""", params + [limit, offset])
    for it in items:
        for col in ("files", "summary"):
            try:
                it[col] = json.loads(it[col]) if it[col] else None
            except ValueError:
                pass
        # Uploaded files live in a temporary folder: show their names only.
        if isinstance(it["files"], list):
            it["files"] = [str(f).replace("\\", "/").rsplit("/", 1)[-1] for f in it["files"]]
    return Page(total, limit, offset, items)


def quarantine(
    ws, *, run_id: int | None = None, kind: str | None = None, limit: int = 50, offset: int = 0,
    include_pii: bool = True,
) -> Page:
    """Rejected rows with file, row number, column and reason.

    The raw row is personal data (it may hold e-mails and names): it is
    masked unless *include_pii*.
    """
    limit, offset = max(1, min(int(limit), 100_000)), max(0, int(offset))
    clause, params = _by_run_and_kind(run_id, kind)
    total = ws.con.execute(f"SELECT count(*) FROM quarantine {clause}", params).fetchall()[0][0]
    items = _rows(ws.con, f"""
        SELECT run_id, (SELECT r.started_at FROM ingest_runs r WHERE r.run_id = quarantine.run_id) AS loaded_at,
               kind, file, row_number, column_name, reason, raw::VARCHAR AS raw FROM quarantine {clause}
        ORDER BY run_id DESC, file, row_number LIMIT ? OFFSET ?""", params + [limit, offset])
    by_reason = ws.con.execute(
        f"SELECT reason, count(*) FROM quarantine {clause} GROUP BY 1 ORDER BY 2 DESC LIMIT 10", params
    ).fetchall()
    for it in items:
        it["file"] = str(it["file"] or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not include_pii:
            it["reason"] = hide_values(it["reason"])
        if include_pii and it["raw"]:
            try:
                it["raw"] = json.loads(it["raw"])
            except ValueError:
                pass
        elif it["raw"] is not None:
            it["raw"] = MASK
    notes = [f"{n:,} row(s): {reason if include_pii else hide_values(reason)}" for reason, n in by_reason]
    return Page(total, limit, offset, items, notes)


def field_warnings(
    ws, *, run_id: int | None = None, kind: str | None = None, limit: int = 50, offset: int = 0,
    include_pii: bool = True,
) -> Page:
    """Values a load dropped from rows it kept (file, row, column, value, reason), newest run first.

    The value may be personal data (a malformed e-mail): it is masked unless *include_pii*.
    """
    limit, offset = max(1, min(int(limit), 100_000)), max(0, int(offset))
    clause, params = _by_run_and_kind(run_id, kind)
    total = ws.con.execute(f"SELECT count(*) FROM ingest_warnings {clause}", params).fetchall()[0][0]
    items = _rows(ws.con, f"""
        SELECT run_id, kind, file, row_number, column_name, value, reason FROM ingest_warnings {clause}
        ORDER BY run_id DESC, file, row_number, column_name LIMIT ? OFFSET ?""", params + [limit, offset])
    by_column = ws.con.execute(
        f"SELECT column_name, count(*) FROM ingest_warnings {clause} GROUP BY 1 ORDER BY 2 DESC LIMIT 10", params
    ).fetchall()
    for it in items:
        it["file"] = str(it["file"] or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not include_pii:
            it["value"] = MASK
            it["reason"] = hide_values(it["reason"])
    notes = [f"{n:,} value(s) dropped from {col}" for col, n in by_column]
    return Page(total, limit, offset, items, notes)


def _by_run_and_kind(run_id: int | None, kind: str | None) -> tuple[str, list]:
    """A ``WHERE`` clause (or nothing) and its parameters for an optional run and kind."""
    where, params = [], []
    if run_id is not None:
        where.append("run_id = ?")
        params.append(int(run_id))
    if kind:
        where.append("kind = ?")
        params.append(kind)
    return ("WHERE " + " AND ".join(where)) if where else "", params


_QUOTED = re.compile(r'columns? "[^"]*"|"[^"]*"')


def hide_values(reason: str | None) -> str | None:
    """A rejection reason without the rejected value (which may be an e-mail or a name).

    >>> hide_values('column "email": cannot read "ann@@x.org" as an e-mail address')
    'column "email": cannot read "…" as an e-mail address'
    >>> hide_values('column "id": an identifier cannot hold a control character (NUL, newline or tab) in "C3?"')
    'column "id": an identifier cannot hold a control character (NUL, newline or tab) in "…"'
    """
    if not reason:
        return reason
    return _QUOTED.sub(lambda m: m.group(0) if m.group(0).startswith("column") else '"…"', reason)


def workspace_overview(ws) -> dict:
    """Row counts of every canonical and derived table, schema version and latest runs."""
    present = {r[0] for r in ws.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database() "
        "AND NOT temporary").fetchall()}
    tables = {}
    for name in list(TABLES) + sorted(present - set(TABLES) - HIDDEN):
        if name in present and not name.startswith("_"):
            tables[name] = ws.con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
    version = ws.con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]
    last = _rows(ws.con, "SELECT max(finished_at) AS last_ingest FROM ingest_runs")[0]["last_ingest"]
    return jsonable({
        "path_name": ws.path.name,
        "schema_version": version,
        "tables": tables,
        "last_ingest_at": last,
        "kinds": list(KINDS),
    })
