"""Engines: where feature and segment expressions run (DuckDB by default, or local Spark).

A *table provider* is any object with ``.table(name) -> ibis.Table`` and
``.execute(expr) -> pandas.DataFrame``. The :class:`~regulars.data.workspace.Workspace`
is the DuckDB one; :func:`spark_tables` gives the same tables on a local PySpark
session, so one Ibis expression runs on both.

The Spark session is local (``local[2]``), in UTC, with shuffle partitions equal
to the cores, no UI, and Spark 4's ANSI mode left on (our expressions guard
divisions with ``nullif`` and cast dates before differencing, so they are ANSI-safe).
The workspace tables are exported to Parquet in a temporary folder and registered
as views; the folder is removed when the ``with`` block ends.

Examples
--------
>>> engine_name(None, env={})
'duckdb'
>>> engine_name("Spark")
'spark'
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping

import ibis
import pandas as pd

from regulars.data.schema import TABLES

ENGINES = ("duckdb", "spark")
ENV_VAR = "REGULARS_ENGINE"

#: Spark settings for a laptop-sized local session.
SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "2g",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


class EngineError(Exception):
    """The engine asked for is unknown or cannot start; the message says what to do."""


def engine_name(engine: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The engine to use: *engine*, else ``$REGULARS_ENGINE``, else ``duckdb``."""
    env = os.environ if env is None else env
    name = (engine or env.get(ENV_VAR) or "duckdb").strip().lower()
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    return name


_SESSION = None


def spark_session(cores: int = 2):
    """The process's local Spark session (created once, reused)."""
    global _SESSION
    if _SESSION is not None and _SESSION.sparkContext._jsc is not None:
        return _SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EngineError("the Spark engine needs PySpark: pip install 'regulars[spark]'") from exc
    os.environ.setdefault("PYSPARK_PYTHON", shutil.which("python3") or "python3")
    builder = SparkSession.builder.master(f"local[{cores}]").appName("regulars")
    builder = builder.config("spark.sql.shuffle.partitions", str(cores))
    builder = builder.config("spark.default.parallelism", str(cores))
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # pragma: no cover - depends on Java
        raise EngineError(f"cannot start Spark (is Java 17 installed and on PATH?): {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    _SESSION = session
    return session


class SparkTables:
    """The workspace's tables as Ibis tables on a local Spark session (a table provider)."""

    def __init__(self, con, folder: str, names: list[str], timezone: str = "UTC") -> None:
        self.ibis = con
        self.folder = folder
        self.names = names
        self.timezone = timezone  # the workspace's shop time zone

    def table(self, name: str) -> ibis.Table:
        if name not in self.names:
            raise EngineError(f"no table {name!r} on the Spark engine; known: {', '.join(sorted(self.names))}")
        return self.ibis.table(name)

    def list_tables(self) -> list[str]:
        return list(self.names)

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
def spark_tables(ws, tables: list[str] | None = None, cores: int = 2) -> Iterator[SparkTables]:
    """The workspace's tables on local Spark, for the length of a ``with`` block.

    Parameters
    ----------
    ws : Workspace
        The DuckDB workspace to copy from.
    tables : list of str, optional
        Which tables to export (default: every canonical table plus any derived
        table in the workspace).
    cores : int
        Local cores (``local[cores]``, and as many shuffle partitions).
    """
    session = spark_session(cores)
    con = ibis.pyspark.connect(session)
    existing = set(ws.list_tables())
    names = [t for t in (tables or sorted(set(TABLES) | existing)) if t in existing and t != "schema_version"]
    folder = tempfile.mkdtemp(prefix="regulars-spark-")
    try:
        for name in names:
            path = os.path.join(folder, f"{name}.parquet")
            _export(ws, name, path)
            con.read_parquet(path, table_name=name)
        yield SparkTables(con, folder, names, ws.timezone)
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                session.catalog.dropTempView(name)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def open_engine(ws, engine: str | None = None) -> Iterator:
    """A table provider for *engine*: the workspace itself (DuckDB) or its Spark copy."""
    if engine_name(engine) == "spark":
        with spark_tables(ws) as provider:
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
    if provider is ws:
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
