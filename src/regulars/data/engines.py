"""Engines: where feature and segment expressions run (DuckDB by default, or Spark).

A *table provider* is any object with ``.table(name) -> ibis.Table`` and
``.execute(expr) -> pandas.DataFrame``. The :class:`~regulars.data.workspace.Workspace`
is the DuckDB one; :func:`spark_tables` gives the same tables on a Spark session,
so one Ibis expression runs on both.

The engine is ``--engine``, else ``$REGULARS_ENGINE``, else the ``engine`` key of the
settings file (:mod:`regulars.data.spark_config`), else DuckDB. Where Spark runs
(``local[2]`` on a laptop, or a cluster's master with executor sizes) is configured
in :mod:`regulars.data.spark_config`; the session itself is made by
:mod:`regulars.data.spark_session`. The workspace tables are exported to Parquet in a
staging folder (a temporary folder, or under the ``staging`` setting: on a cluster it
must be a folder every executor can read) and registered as views; the folder is
removed when the ``with`` block ends.

Examples
--------
>>> engine_name(None, env={})
'duckdb'
>>> engine_name("Spark")
'spark'
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping

import ibis
import pandas as pd

from regulars.data.schema import TABLES
from regulars.data.spark_config import EngineError, SparkSettings, engine_from_file, settings_path, spark_settings
from regulars.data.spark_session import SPARK_CONF, session_for

__all__ = ["ENGINES", "ENV_VAR", "SPARK_CONF", "EngineError", "SparkTables", "drop_temp", "duckdb_description",
           "engine_name", "materialize", "open_engine", "spark_provider", "spark_session",
           "spark_tables"]

ENGINES = ("duckdb", "spark")
ENV_VAR = "REGULARS_ENGINE"


def engine_name(engine: str | None = None, env: Mapping[str, str] | None = None, workspace=None) -> str:
    """The engine to use: *engine*, else ``$REGULARS_ENGINE``, else the settings file's ``engine``, else ``duckdb``.

    *workspace* (a path) locates the settings file (``regulars.toml`` beside it, or ``$REGULARS_SETTINGS``).
    """
    env = os.environ if env is None else env
    chosen = engine or env.get(ENV_VAR)
    if not chosen and (workspace is not None or env.get("REGULARS_SETTINGS")):
        chosen = engine_from_file(settings_path(workspace, env))
    name = (chosen or "duckdb").strip().lower()
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    return name


def duckdb_description(ws) -> str:
    """Where DuckDB runs, in words."""
    import duckdb

    return f"DuckDB {duckdb.__version__} on this machine, in the regulars process, file {ws.path}"


def spark_session(cores: int | None = None, settings: SparkSettings | None = None):
    """The process's Spark session for *settings* (default: from the environment; ``local[cores]`` if given)."""
    settings = settings or spark_settings(path=None)
    if cores is not None:
        settings = dataclasses.replace(settings, master=f"local[{cores}]")
    return session_for(settings)


class SparkTables:
    """The workspace's tables as Ibis tables on a Spark session (a table provider)."""

    def __init__(self, con, folder: str, names: list[str], timezone: str = "UTC", session=None,
                 settings_con=None) -> None:
        self.ibis = con
        self.folder = folder
        self.names = names
        self.timezone = timezone  # the workspace's shop time zone
        self.session = session
        self.settings_con = settings_con  # the workspace's DuckDB connection: the shop's settings (currency, rates)

    def table(self, name: str) -> ibis.Table:
        if name not in self.names:
            raise EngineError(f"no table {name!r} on the Spark engine; known: {', '.join(sorted(self.names))}")
        return self.ibis.table(name)

    def list_tables(self) -> list[str]:
        return list(self.names)

    def status(self):
        """What the session is connected to (:class:`regulars.data.spark_session.SparkStatus`)."""
        from regulars.data.spark_session import status

        return status(self.session)

    def execute(self, expr: ibis.Expr) -> pd.DataFrame:
        """Run an Ibis expression on Spark and return a DataFrame."""
        return self.ibis.execute(expr)

    def __repr__(self) -> str:
        return f"SparkTables({len(self.names)} tables)"


def _export(ws, name: str, path: str) -> None:
    cols = []
    for col, typ in ws._con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [name]
    ).fetchall():
        # JSON becomes text: Spark has no JSON type.
        cols.append(f'"{col}"::VARCHAR AS "{col}"' if typ.upper() == "JSON" else f'"{col}"')
    ws._con.execute(f"COPY (SELECT {', '.join(cols)} FROM \"{name}\") TO '{path}' (FORMAT parquet)")


@contextlib.contextmanager
def spark_tables(ws, tables: list[str] | None = None, cores: int | None = None,
                 settings: SparkSettings | None = None) -> Iterator[SparkTables]:
    """The workspace's tables on Spark, for the length of a ``with`` block.

    Parameters
    ----------
    ws : Workspace
        The DuckDB workspace to copy from.
    tables : list of str, optional
        Which tables to export (default: every canonical table plus any derived
        table in the workspace).
    cores : int, optional
        Run on this machine with ``local[cores]`` (and as many shuffle partitions),
        whatever the settings say.
    settings : SparkSettings, optional
        Where Spark runs; default: the environment and the settings file beside the workspace.
    """
    settings = settings or spark_settings(getattr(ws, "path", None))
    session = spark_session(cores, settings)
    con = ibis.pyspark.connect(session)
    existing = set(ws.list_tables())
    names = [t for t in (tables or sorted(set(TABLES) | existing)) if t in existing and t != "schema_version"]
    if settings.staging:
        os.makedirs(settings.staging, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="regulars-spark-", dir=settings.staging)
    try:
        for name in names:
            path = os.path.join(folder, f"{name}.parquet")
            _export(ws, name, path)
            con.read_parquet(path, table_name=name)
        yield SparkTables(con, folder, names, getattr(ws, "timezone", "UTC"), session, getattr(ws, "_con", None))
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                session.catalog.dropTempView(name)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def spark_provider(ws) -> Iterator[SparkTables]:
    """The tables Spark commands read: the workspace's lake when one is set (``$REGULARS_LAKE`` or ``lake``
    in the settings file, :mod:`regulars.data.lake_read`), else a Parquet copy of the workspace."""
    from regulars.data.lake import lake_location

    lake = lake_location(getattr(ws, "path", None))
    if lake is None:
        with spark_tables(ws) as provider:
            yield provider
        return
    from regulars.data.lake_read import lake_tables

    with lake_tables(lake, ws) as provider:
        yield provider


@contextlib.contextmanager
def open_engine(ws, engine: str | None = None) -> Iterator:
    """A table provider for *engine*: the workspace itself (DuckDB), or on Spark its lake or its copy."""
    if engine_name(engine, workspace=getattr(ws, "path", None)) == "spark":
        with spark_provider(ws) as provider:
            yield provider
    else:
        yield ws


def materialize(ws, provider, expr: ibis.Expr, name: str) -> int:
    """Store the result of *expr* (run on *provider*) as a temporary DuckDB table *name* of *ws*.

    On DuckDB the expression runs inside the workspace (no copy through Python); on Spark
    its result comes back as Arrow. Returns the number of rows.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"bad temporary table name {name!r}")
    if provider is ws or getattr(provider, "ibis", None) is ws.ibis:  # a view over the workspace runs in it too
        sql = ws.ibis.compile(expr)
        ws._con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
    else:
        arrow = provider.ibis.to_pyarrow(expr)
        view = f"_arrow_{name}"
        ws._con.register(view, arrow)
        try:
            ws._con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * FROM "{view}"')
        finally:
            ws._con.unregister(view)
    return ws._con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]


def drop_temp(ws, *names: str) -> None:
    """Drop temporary tables made by :func:`materialize`."""
    for name in names:
        ws._con.execute(f'DROP TABLE IF EXISTS temp."{name}"')
