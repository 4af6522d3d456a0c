"""Stored report results: what a read command or a page computed, kept until the data changes.

A result is stored under its report name and parameters together with the
**data version** it was computed from (:func:`data_version`): a digest of every
table a report may read — row count and highest row id of each, and the whole
content of the small ones (settings, definitions), where an edit changes no
count. A stored result is used only while the workspace's data version is the
same; any load, erasure, segment refresh, prediction run or settings change moves
the version, and the next reader recomputes. Bookkeeping tables that change
without changing any report (sign-ins, the audit log, API keys, these results)
are left out of the version.

The payload is the encoded report (:mod:`regulars.data.report_codec`): JSON and
Parquet, never pickle, so opening a workspace someone sent you runs no code.
An erasure deletes every stored result (:func:`clear`), as they may list the person.

>>> import duckdb
>>> con = duckdb.connect()
>>> for s in create_statements():
...     _ = con.execute(s)
>>> _ = con.execute("CREATE TABLE orders (order_id VARCHAR)")
>>> v1 = data_version(con)
>>> save(con, "kpis", {"by": None}, v1, b"{}", None)
>>> load(con, "kpis", {"by": None}, v1)[0]
b'{}'
>>> _ = con.execute("INSERT INTO orders VALUES ('O1')")
>>> load(con, "kpis", {"by": None}, data_version(con)) is None
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from regulars.data.schema import TABLES
from regulars.data.connection import connection

TABLE = "report_results"

#: Tables whose changes never change a stored report: reading them into the version would only throw results
#: away. Besides sign-ins and keys, the activation runner's own state (its cursors, and the schedules whose
#: next run time it moves after each job; ``regulars serve`` installs the built-in ones at start) is read by
#: the runner and the Activation page only, and that page is never stored.
BOOKKEEPING = frozenset({TABLE, "audit_log", "sessions", "api_keys", "schema_version", "workspace_secret",
                         "activation_watermarks", "activation_schedules"})
#: At most this many results are kept (the most recent): options are open-ended (any date, any filter).
KEEP = 500
#: Tables up to this many rows are digested whole (an edit in place changes no count).
SMALL = 5_000
#: What a report on the shop's own data reads (``reads="inputs"``): the canonical tables and the
#: shop settings (time zone, currency), not what jobs derive from them — so a later prediction or
#: segment refresh does not throw away a stored funnel or forecast.
INPUTS = frozenset({*TABLES, "app_settings", "privacy_settings", "customer_order_stats",
                    "customer_order_stats_source", "event_daily"})


def create_statements() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (report VARCHAR, params VARCHAR, data_version VARCHAR, "
        "as_of DATE, computed_at TIMESTAMP, payload BLOB, PRIMARY KEY (report, params))",
    ]


def _params(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def data_version(con, reads: str = "all", ignore: frozenset[str] | tuple = ()) -> str:
    """A digest that changes whenever a table a report may read changes (see the module docstring).

    *reads* is ``"all"`` (every table but bookkeeping) or ``"inputs"`` (:data:`INPUTS` only); *ignore*
    names more tables left out, e.g. what the report itself writes (the fairness audit's own tables),
    which would otherwise make every result it stores out of date at once.
    """
    con = connection(con)
    if reads not in ("all", "inputs"):
        raise ValueError(f"reads={reads!r}: use 'all' or 'inputs'")
    skip = BOOKKEEPING | frozenset(ignore)
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database() "
        "ORDER BY 1").fetchall() if r[0] not in skip and (reads == "all" or r[0] in INPUTS)]
    if not tables:
        return "empty"
    # the workspace's own tables, named in full: a lake workspace's read views shadow some with the lake's results
    db = con.execute("SELECT current_database()").fetchall()[0][0].replace('"', '""')
    counts = con.execute(" UNION ALL ".join(
        f"SELECT '{t}', count(*), max(rowid) FROM \"{db}\".main.\"{t}\"" for t in tables)).fetchall()
    small = [t for t, n, _ in counts if n <= SMALL and n]
    digests = con.execute(" UNION ALL ".join(
        f"SELECT '{t}', sum(hash(t))::VARCHAR FROM \"{db}\".main.\"{t}\" AS t" for t in small)
    ).fetchall() if small else []
    text = json.dumps([sorted(map(list, counts)), sorted(map(list, digests))], default=str)
    return reads[0] + hashlib.sha256(text.encode()).hexdigest()[:31]


def load(con, report: str, params: dict, version: str) -> tuple[bytes, dt.datetime, dt.date | None] | None:
    """(payload, computed_at, as_of) stored for *report* at data *version*, or None."""
    con = connection(con)
    if not _exists(con):
        return None
    rows = con.execute(f"SELECT payload, computed_at, as_of FROM {TABLE} WHERE report = ? AND params = ? "
                       "AND data_version = ?", [report, _params(params), version]).fetchall()
    return (bytes(rows[0][0]), rows[0][1], rows[0][2]) if rows else None


def save(con, report: str, params: dict, version: str, payload: bytes, as_of: dt.date | None) -> None:
    """Store *payload* for *report* at data *version* (replacing the one stored before)."""
    con = connection(con)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    key = _params(params)
    con.execute(f"DELETE FROM {TABLE} WHERE (report = ? AND params = ?) OR (report = ? AND data_version <> ?)",
                [report, key, report, version])  # results of older data are never read again
    con.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)", [report, key, version, as_of, now, payload])
    con.execute(f"DELETE FROM {TABLE} WHERE rowid NOT IN (SELECT rowid FROM {TABLE} ORDER BY computed_at DESC "
                f"LIMIT {KEEP})")


def clear(con) -> None:
    """Forget every stored result (an erasure: they may list the erased person)."""
    con = connection(con)
    if _exists(con):
        con.execute(f"DELETE FROM {TABLE}")


def _exists(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ? "
                            "AND database_name = current_database()", [TABLE]).fetchall()[0][0])


def save_to_files(items: list[tuple]) -> int:
    """Store ``(path, report, params, version, payload, as_of)`` items, each in its workspace file.

    Best effort: a file another process holds (or that is gone) is skipped; the
    result is simply computed again next time. Returns how many were stored.
    """
    from regulars.data.workspace import Workspace, WorkspaceError

    saved = 0
    by_path: dict = {}
    for item in items:
        by_path.setdefault(str(item[0]), []).append(item[1:])
    for path, rows in by_path.items():
        try:
            ws = Workspace(path)
        except (WorkspaceError, OSError):
            continue
        try:
            with ws.transaction():
                for report, params, version, payload, as_of in rows:
                    save(connection(ws), report, params, version, payload, as_of)
            saved += len(rows)
        except Exception as exc:  # noqa: BLE001 - never fail a read command over its cache
            if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
                raise
        finally:
            ws.close()
    return saved
