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

from regulars.data import admin_queries
from regulars.data.rows import jsonable
from regulars.data.schema import KINDS
from regulars.reports.customers import MASK, Page

#: Bookkeeping tables not listed in the overview.
HIDDEN = {"schema_version", "api_keys", "sessions", "audit_log", "app_settings"}


def ingest_runs(ws, *, kind: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Ingest runs, newest first, with their per-table counts and warnings."""
    limit, offset = max(1, min(int(limit), 500)), max(0, int(offset))
    total, items = admin_queries.ingest_run_rows(ws, kind=kind, limit=limit, offset=offset)
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
    total, items, by_reason = admin_queries.quarantine_rows(ws, run_id=run_id, kind=kind, limit=limit, offset=offset)
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
    total, items, by_column = admin_queries.field_warning_rows(ws, run_id=run_id, kind=kind, limit=limit, offset=offset)
    for it in items:
        it["file"] = str(it["file"] or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not include_pii:
            it["value"] = MASK
            it["reason"] = hide_values(it["reason"])
    notes = [f"{n:,} value(s) dropped from {col}" for col, n in by_column]
    return Page(total, limit, offset, items, notes)


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
    tables = admin_queries.table_counts(ws, HIDDEN)
    version = admin_queries.schema_version(ws)
    last = admin_queries.last_ingest_at(ws)
    return jsonable({
        "path_name": ws.path.name,
        "schema_version": version,
        "tables": tables,
        "last_ingest_at": last,
        "kinds": list(KINDS),
    })
