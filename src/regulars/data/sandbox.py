"""Read-only SQL for people: ``regulars sql`` (and any route that ever takes SQL) runs through here.

Two locks, each enough on its own for the worst cases:

1. **the statement is parsed** by DuckDB (never matched as text): exactly one statement,
   of type ``SELECT`` (which is also what ``WITH``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``,
   ``VALUES`` and ``FROM t`` parse to) or ``EXPLAIN`` of such a statement. ``COPY``,
   ``EXPORT``, ``ATTACH``, ``SET``, ``PRAGMA``, ``CALL``, ``INSTALL``/``LOAD`` and every
   write are refused before anything runs; so are the dynamic-SQL table functions
   (``query``, ``query_table``) and the workspace's secret (:mod:`regulars.data.keyed`);
2. **the connection cannot do harm**: an in-memory database to which the workspace is
   attached ``READ_ONLY``, then ``enable_external_access = false`` (no file or network
   access: ``read_csv``/``read_text``/``glob`` of any path, ``COPY … TO``, ``ATTACH``,
   extension installs all fail), extension autoloading off, and
   ``lock_configuration = true`` (no ``SET`` can undo any of it).

Examples
--------
>>> check("select 1 as one")
'select 1 as one'
>>> try:
...     check("COPY (SELECT 1) TO 'out.csv'")
... except SqlRefused as exc:
...     print(exc)
only a read-only query can run here (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE); this is a COPY statement
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from regulars.data import keyed, migrations, shop

ALLOWED = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)
FORBIDDEN_FUNCTIONS = {"query", "query_table"}
FORBIDDEN_TABLES = {keyed.TABLE}
MEMORY_LIMIT = "4GB"
_EXPLAIN = re.compile(r"^\s*explain\s+(analy[sz]e\s+)?(\([^)]*\)\s*)?", re.IGNORECASE)


class SqlRefused(ValueError):
    """The SQL is not a single read-only query; the message says why."""


class SqlFailed(ValueError):
    """The query was allowed but failed (a wrong name, a type error); the message says why."""


def _parse(query: str) -> list:
    try:
        return duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise SqlRefused(f"cannot parse the query: {str(exc).splitlines()[0]}") from None


def _walk(node) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _check_tree(con, select: str) -> None:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [select]).fetchall()[0][0])
    if tree.get("error"):
        raise SqlRefused(f"cannot parse the query: {tree.get('error_message', 'unknown error')}")
    for node in _walk(tree):
        name = str(node.get("function_name", "")).lower()
        if name in FORBIDDEN_FUNCTIONS:
            raise SqlRefused(f"{name}() runs SQL given as text and is not allowed here; write the query itself")
        if str(node.get("table_name", "")).lower() in FORBIDDEN_TABLES:
            raise SqlRefused(f"the table {node['table_name']} holds the workspace's secret and cannot be read")


def check(query: str) -> str:
    """The statement to run, or :class:`SqlRefused` when *query* is not one read-only query."""
    statements = _parse(query)
    if len(statements) != 1:
        raise SqlRefused(f"give exactly one query (found {len(statements)} statements)")
    st = statements[0]
    if st.type not in ALLOWED:
        kind = st.type.name.replace("_", " ")
        raise SqlRefused("only a read-only query can run here (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE); "
                         f"this is a {kind} statement")
    select = st.query
    if st.type == duckdb.StatementType.EXPLAIN:
        inner = _parse(_EXPLAIN.sub("", select, count=1))
        if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
            raise SqlRefused("EXPLAIN works on a query (SELECT, WITH, ...) only")
        select = inner[0].query
    with contextlib.closing(duckdb.connect(":memory:")) as con:
        _check_tree(con, select)
    return st.query


@contextlib.contextmanager
def connect(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that can only read the workspace at *path* (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no workspace at {path}")
    con = duckdb.connect(":memory:", config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "allow_community_extensions": False, "allow_unsigned_extensions": False,
    })
    try:
        name = path.stem or "workspace"
        quoted = '"' + name.replace('"', '""') + '"'
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"ATTACH {literal} AS {quoted} (READ_ONLY)")
        con.execute(f"USE {quoted}")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()


def schema_is_current(con) -> bool:
    return migrations.current_version(con) >= migrations.LATEST


def run(path: str | Path, query: str) -> pd.DataFrame:
    """Run one read-only *query* on the workspace at *path* and return the result.

    Raises :class:`SqlRefused` for anything but a query, ``duckdb.Error`` when it fails.
    """
    statement = check(query)
    with connect(path) as con:
        return con.execute(statement).df()


def query(workspace, text: str, *, with_time_zone: bool = False):
    """Run one read-only query for a person on the workspace file *workspace* (a path, or None for
    the default) and return its result (with ``with_time_zone``: the result and the shop's time
    zone, to print its moments in).

    Every failure is an exception whose message says what to do: :class:`SqlRefused` (not a
    read-only query), :class:`SqlFailed` (the query failed; the tables are listed),
    :class:`~regulars.data.workspace.WorkspaceError` (no workspace, an old schema, or another
    process writing).
    """
    from regulars.data.workspace import WorkspaceError, resolve_path

    path = resolve_path(workspace)
    statement = check(text)
    try:
        with connect(path) as con:
            if not schema_is_current(con):
                raise WorkspaceError(f"workspace {path} has an older schema; open it once for writing "
                                     "(e.g. `regulars doctor`)")
            tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
            try:
                frame = con.execute(statement).df()
            except duckdb.Error as exc:
                raise SqlFailed(f"{str(exc).splitlines()[0]} (queries are read-only and cannot touch files; "
                                f"tables: {', '.join(t for t in tables if t not in FORBIDDEN_TABLES)})") from None
            return (frame, shop.timezone(con)) if with_time_zone else frame
    except FileNotFoundError:
        raise WorkspaceError(f"no workspace at {path}; create one with `regulars demo` or `regulars ingest ...`") from None
    except duckdb.IOException as exc:
        raise WorkspaceError(f"cannot open workspace {path}: {str(exc).splitlines()[0]}. Another regulars process "
                             "may be writing to it; wait for it to finish or use a copy.") from None
