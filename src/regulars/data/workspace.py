"""The workspace: one DuckDB file per shop, the only place connections are opened.

Examples
--------
>>> import tempfile, os
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> from regulars.data import migrations
>>> ws.schema_version == migrations.LATEST
True
>>> ws.table("orders").count().execute()
0
>>> ws.close()
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from regulars.data import migrations, order_stats, scrub, shop
from regulars.data.schema import TABLES

from regulars.data.location import DEFAULT_PATH, ENV_VAR  # noqa: F401 - light module: the CLI's options need them


class WorkspaceError(Exception):
    """A workspace cannot be opened or used as asked; the message says what to do."""


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The workspace file: *path*, else ``$REGULARS_WORKSPACE``, else ``./regulars.duckdb``."""
    return Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)


class Workspace:
    """A shop's data: canonical tables in one DuckDB file, exposed as Ibis tables.

    Parameters
    ----------
    path : str or Path, optional
        The ``.duckdb`` file. Created (with the schema) if missing, unless
        ``read_only``. Defaults to ``$REGULARS_WORKSPACE`` or ``./regulars.duckdb``.
    read_only : bool
        Open without write access (several readers may share the file).
    memory_limit : str, optional
        DuckDB memory limit, e.g. ``"4GB"``; larger work spills to disk.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> None:
        self.path = resolve_path(path)
        self.read_only = read_only
        self._ibis = None
        if read_only and not self.path.exists():
            raise WorkspaceError(
                f"no workspace at {self.path}; create one with `regulars demo` or "
                f"`regulars ingest ...`, or point --workspace / ${ENV_VAR} at yours"
            )
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.memory_limit = memory_limit
        config = {"memory_limit": memory_limit} if memory_limit else {}
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            raise WorkspaceError(
                f"cannot open workspace {self.path}: {exc}. Another regulars process may "
                "be writing to it; wait for it to finish or use a copy."
            ) from exc
        # DuckDB draws its own progress bar on stdout for queries over 2 s, which would corrupt
        # `--format csv` output piped to a file; the CLI shows its own progress on stderr
        self._con.execute("SET enable_progress_bar = false")
        if not read_only:
            migrations.migrate(self._con)
            scrub.discard_leftover(self.path)
            if scrub.pending(self._con):  # an erasure whose file rewrite was interrupted
                scrub.rewrite(self)
        elif migrations.current_version(self._con) < migrations.LATEST:
            raise WorkspaceError(
                f"workspace {self.path} has an older schema; open it once for writing "
                "(any `regulars` command that writes, e.g. `regulars doctor`) to upgrade it"
            )

    @property
    def ibis(self):
        """The Ibis backend over this connection, made on first use (importing Ibis takes a while)."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self._con)
        return self._ibis

    @ibis.setter
    def ibis(self, backend) -> None:
        self._ibis = backend

    # -- reading -----------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return migrations.current_version(self._con)

    def table(self, name: str) -> ibis.Table:
        """A canonical (or derived) table as an Ibis table expression."""
        if name not in TABLES and name not in self.list_tables():
            raise WorkspaceError(f"no table {name!r}; known tables: {', '.join(sorted(TABLES))}")
        return self.ibis.table(name)

    @property
    def timezone(self) -> str:
        """The shop's time zone (:mod:`regulars.data.shop`): reports group days and months by it."""
        return shop.timezone(self._con)

    def order_stats(self, as_of: dt.date) -> ibis.Table | None:
        """The stored per-customer order totals (:mod:`regulars.data.order_stats`), or ``None``
        when orders on or after *as_of* exist (the totals would include them)."""
        return self.ibis.table(order_stats.TABLE) if order_stats.covers(self._con, as_of) else None

    def release_memory(self) -> None:
        """Hand DuckDB's cached table blocks back to the system between phases of a long job.

        DuckDB keeps blocks it has read (and its allocator keeps freed memory) up to the
        memory limit; a job that next works in pandas would hold both. Lowering the limit for a
        moment evicts what is not in use; nothing is lost (blocks are re-read when needed).
        """
        limit = self.memory_limit or self._con.execute(
            "SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchall()[0][0]
        try:
            self._con.execute("SET memory_limit = '16MB'")
        except duckdb.Error:
            pass  # something is pinned: evicted what could be
        finally:
            self._con.execute(f"SET memory_limit = '{limit}'")

    def temp_table(self, name: str, expr: ibis.Table) -> ibis.Table:
        """Materialise *expr* once as a temporary table (private to this connection, dropped by
        :meth:`drop_temp_table` or on close) and return it, for an input read several times."""
        return self.ibis.create_table(name, expr, temp=True, overwrite=True)

    def drop_temp_table(self, name: str) -> None:
        self.ibis.drop_table(name, force=True)

    def list_tables(self) -> list[str]:
        return [r[0] for r in self._con.execute("SHOW TABLES").fetchall()]

    def execute(self, expr: ibis.Expr) -> pd.DataFrame:
        """Run an Ibis expression on this workspace and return a DataFrame."""
        return self.ibis.execute(expr)

    def arrow(self, expr: ibis.Expr):
        """Run an Ibis expression on this workspace and return a pyarrow Table."""
        return self.ibis.to_pyarrow(expr)

    def frame(self, expr: ibis.Table) -> pd.DataFrame:
        """Run a table expression and return a DataFrame for numeric work, converted column-wise.

        :meth:`execute` turns every column holding a null into Python objects (seconds per
        million rows); here each column converts in Arrow instead: decimals become float64,
        booleans and integers with nulls become float64 (null is NaN), dates datetime64.
        Strings stay strings.

        Examples
        --------
        >>> import tempfile, os, ibis
        >>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
        >>> t = ibis.memtable({"x": [1, None], "ok": [True, None]})
        >>> ws.frame(t.mutate(m=ibis.literal(1.5).cast("decimal(18,2)"))).dtypes.astype(str).tolist()
        ['float64', 'float64', 'float64']
        >>> ws.close()
        """
        import pyarrow as pa

        table = self.ibis.to_pyarrow(expr)
        columns = []
        for col in table.columns:
            if pa.types.is_decimal(col.type) or (pa.types.is_boolean(col.type) and col.null_count):
                col = col.cast(pa.float64())
            columns.append(col)
        table = pa.table(columns, names=table.column_names)
        return table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True)

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        """Run SQL and return a DataFrame (writes are allowed unless read-only)."""
        return self._con.execute(query, params or []).df()

    def count(self, table: str) -> int:
        return self._con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]

    # -- writing -----------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator["Workspace"]:
        """All-or-nothing: commit when the block ends, roll back on any error.

        Yields the workspace itself: pass it to the data-layer functions that write.
        """
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def insert_rows(self, table: str, rows: list[dict] | pd.DataFrame) -> int:
        """Append *rows* to *table* as given (columns by name, values cast to the column types).

        For examples, tests and notebooks that need a few rows in place: nothing is validated,
        resolved or quarantined — real files go through :func:`regulars.data.ingest.ingest`.
        Rows written to ``orders`` refresh the stored order totals of their customers, as every
        writer of ``orders`` must (:mod:`regulars.data.order_stats`).

        Examples
        --------
        >>> import tempfile, os
        >>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
        >>> ws.insert_rows("orders", [{"order_id": "o1", "customer_id": "c1", "ordered_at": "2024-01-01", "total": 9.5}])
        1
        >>> ws.sql("SELECT total, ordered_at FROM orders").values.tolist()
        [[9.5, Timestamp('2024-01-01 00:00:00')]]
        >>> ws.close()
        """
        import pandas as pd
        import pyarrow as pa

        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(rows)
        if frame.empty:
            return 0
        types = dict(self._con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = 'main'", [table]).fetchall())
        if not types:
            raise WorkspaceError(f"no table {table!r}")
        unknown = [c for c in frame.columns if c not in types]
        if unknown:
            raise WorkspaceError(f"table {table!r} has no column(s) {', '.join(map(str, unknown))}")
        view = f"_insert_rows_{table}"
        self._con.register(view, pa.Table.from_pandas(frame, preserve_index=False))
        try:
            cols = ", ".join(f'"{c}"' for c in frame.columns)
            casts = ", ".join(f'CAST("{c}" AS {types[c]})' for c in frame.columns)
            with self.transaction():
                self._con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {casts} FROM "{view}"')
                if table == "orders" and "customer_id" in frame.columns:
                    order_stats.refresh(self._con, f'SELECT customer_id FROM "{view}"')
        finally:
            self._con.unregister(view)
        return len(frame)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"
