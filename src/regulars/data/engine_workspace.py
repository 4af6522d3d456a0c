"""A workspace whose reads run on another engine: jobs that read *and* write (predict, backtest).

:class:`EngineWorkspace` wraps a :class:`~regulars.data.workspace.Workspace` and a table
provider (:class:`~regulars.data.engines.SparkTables`): every Ibis read (``table``,
``execute``, ``frame``, temporary tables) runs on the provider, so the data preparation of
``regulars predict`` and ``regulars backtest`` (snapshots, labels, BTYD summaries, lead
features) runs on Spark; everything else (writes of the results, bookkeeping queries, the
transaction) goes to the workspace. Models still fit and score on this machine from the
per-customer frames the engine returns.

The stored order totals (``customer_order_stats``) are a DuckDB-side cache: on another
engine :meth:`EngineWorkspace.order_stats` returns ``None`` and the summaries are computed
from the orders there (the same numbers, by the contract of
:mod:`regulars.data.order_stats`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import ibis
import pandas as pd


class EngineWorkspace:
    """*ws* for writing, *provider* for reading; see the module docstring."""

    def __init__(self, ws, provider, engine: str) -> None:
        self.ws = ws
        self.provider = provider
        self.engine = engine
        self.ibis = provider.ibis

    def table(self, name: str) -> ibis.Table:
        return self.provider.table(name)

    def list_tables(self) -> list[str]:
        return self.provider.list_tables()

    def execute(self, expr: ibis.Expr) -> pd.DataFrame:
        return self.provider.execute(expr)

    def count(self, name: str) -> int:
        """Rows of *name* where it is read (a lake's orders may be more than the workspace file's)."""
        if name in self.provider.list_tables():
            return int(self.provider.execute(self.provider.table(name).count()))
        return self.ws.count(name)

    def frame(self, expr: ibis.Table) -> pd.DataFrame:
        """As :meth:`Workspace.frame <regulars.data.workspace.Workspace.frame>`, the rows coming from the engine."""
        from regulars.data.workspace import Workspace

        return Workspace.frame(self, expr)  # it only uses self.ibis.to_pyarrow

    def order_stats(self, as_of) -> None:
        return None

    def temp_table(self, name: str, expr: ibis.Table) -> ibis.Table:
        """Keep *expr* as a temporary view on the engine, cached there after its first read."""
        view = self.ibis.create_view(name, expr, overwrite=True)
        self.provider.session.catalog.cacheTable(name)
        return view

    def drop_temp_table(self, name: str) -> None:
        catalog = self.provider.session.catalog
        if catalog.tableExists(name):
            catalog.uncacheTable(name)
            catalog.dropTempView(name)

    def release_memory(self) -> None:
        self.ws.release_memory()

    def __getattr__(self, name: str):
        # writes, transactions and bookkeeping (con, sql, transaction, path, ...) go to the workspace
        return getattr(self.ws, name)

    def __repr__(self) -> str:
        return f"EngineWorkspace({self.ws!r} reading on {self.engine})"


@contextlib.contextmanager
def engine_workspace(ws, engine: str | None = None) -> Iterator:
    """*ws* itself on DuckDB; on Spark an :class:`EngineWorkspace` reading from its lake or the Spark copy of its tables."""
    from regulars.data.engines import engine_name, spark_provider

    name = engine_name(engine, workspace=getattr(ws, "path", None))
    if name == "duckdb":
        yield ws
        return
    with spark_provider(ws) as provider:
        yield EngineWorkspace(ws, provider, name)
