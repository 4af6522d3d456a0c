"""Reading a lake workspace (:mod:`regulars.data.lake`): on Spark for the analyses, on DuckDB for the dashboard.

:func:`lake_tables` registers the lake's tables on the Spark session (read with the schema the
manifest recorded, without the ``month`` folder column) and gives a table provider like
:func:`regulars.data.engines.spark_tables`, so the same Ibis expressions run on the lake. With
``$REGULARS_LAKE`` or ``lake = "…"`` in the settings file, every ``--engine spark`` command reads
the lake instead of copying the workspace (:func:`regulars.data.engines.open_engine`).

:func:`attach_lake` makes the lake's tables DuckDB views (``read_parquet`` with Hive
partitioning, every column cast back to its workspace type), so DuckDB reads what Spark wrote.

The lake is a copy made at ``promote`` time: it is refused when the workspace's schema is newer
than the lake's, or when a customer was erased from the workspace since (the lake still holds their
rows); data loaded into the workspace since then reaches the lake with the next promote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ibis

from regulars.data.engines import SparkTables, spark_session
from regulars.data.lake import LakeError, read_manifest
from regulars.data.spark_config import SparkSettings, spark_settings

__all__ = ["LakeTables", "attach_lake", "duckdb_lake", "erasures_since_promotion", "lake_tables"]

#: Spark views of the lake's tables are named with this prefix (they never hide a workspace copy's views).
VIEW_PREFIX = "regulars_lake_"


class LakeTables(SparkTables):
    """The lake's tables as Ibis tables on a Spark session (a table provider).

    ``folder`` is a scratch folder (scoring writes its predictions there), never the lake itself.
    """

    def __init__(self, con, folder: str, names: list[str], lake: Path, manifest: dict, **kwargs) -> None:
        super().__init__(con, folder, names, **kwargs)
        self.lake = lake
        self.manifest = manifest

    def table(self, name: str) -> ibis.Table:
        if name not in self.names:
            raise LakeError(f"no table {name!r} in the lake {self.lake}; known: {', '.join(sorted(self.names))}")
        return self.ibis.table(VIEW_PREFIX + name)

    def __repr__(self) -> str:
        return f"LakeTables({self.lake}, {len(self.names)} tables)"


def _check_current(manifest: dict, ws) -> None:
    """Refuse a lake older than the workspace's schema, or one that still holds a customer erased since."""
    version = getattr(ws, "schema_version", None)
    if version is not None and manifest["schema_version"] < version:
        raise LakeError(f"the lake was promoted from schema version {manifest['schema_version']} and the workspace "
                        f"is at {version}; run `regulars lake promote` again")
    if ws is not None and "erasures" in ws.list_tables():
        erased = erasures_since_promotion(manifest, ws.count("erasures"))
        if erased > 0:
            raise LakeError(f"{erased} customer erasure(s) since the lake was promoted: the lake still holds their "
                            "rows; run `regulars lake promote` again")


def erasures_since_promotion(manifest: dict, erasures_now: int) -> int:
    """How many erasures the workspace recorded after the lake was promoted: the lake (and every result
    computed from it) may still hold those people.

    >>> erasures_since_promotion({"tables": {"erasures": {"rows": 2}}}, 3)
    1
    >>> erasures_since_promotion({"tables": {}}, 3)  # promoted from a workspace without the table
    0
    """
    if "erasures" not in manifest["tables"]:
        return 0
    return max(0, int(erasures_now) - int(manifest["tables"]["erasures"]["rows"]))


@contextlib.contextmanager
def lake_tables(lake, ws=None, settings: SparkSettings | None = None, cores: int | None = None
                ) -> Iterator[LakeTables]:
    """The lake's tables on Spark, for the length of a ``with`` block.

    Parameters
    ----------
    lake : path
        The lake folder made by :func:`regulars.data.lake.promote`.
    ws : Workspace, optional
        The workspace it was promoted from: its time zone and settings (currency, rates) apply,
        and its schema must not be newer than the lake's.
    settings, cores : as :func:`regulars.data.engines.spark_tables`.
    """
    lake = Path(lake).expanduser().resolve()
    manifest = read_manifest(lake)
    _check_current(manifest, ws)
    settings = settings or spark_settings(getattr(ws, "path", None))
    session = spark_session(cores, settings)
    from pyspark.sql.types import StructType
    names = [n for n in manifest["tables"] if n != "schema_version"]
    for name in names:
        spec = manifest["tables"][name]
        frame = session.read.schema(StructType.fromJson(spec["spark_schema"])).parquet(str(lake / name))
        if spec["partitioned_by"]:
            frame = frame.drop(spec["partitioned_by"])
        frame.createOrReplaceTempView(VIEW_PREFIX + name)
    if settings.staging:
        os.makedirs(settings.staging, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="regulars-lake-", dir=settings.staging)
    try:
        yield LakeTables(ibis.pyspark.connect(session), scratch, names, lake, manifest,
                         timezone=getattr(ws, "timezone", "UTC"), session=session,
                         settings_con=getattr(ws, "_con", None))
    finally:
        for name in names:
            with contextlib.suppress(Exception):
                session.catalog.dropTempView(VIEW_PREFIX + name)
        shutil.rmtree(scratch, ignore_errors=True)


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def attach_lake(con, lake, schema: str = "main") -> list[str]:
    """Make the lake's tables views of the DuckDB connection *con* in *schema*; returns their names.

    Each view has the workspace's columns and types (JSON back from text, decimals kept); the
    month folders are read with Hive partitioning and the ``month`` column is left out.
    """
    lake = Path(lake).expanduser().resolve()
    manifest = read_manifest(lake)
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    for name, spec in manifest["tables"].items():
        cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in spec["columns"])
        if spec["rows"] == 0:  # Spark writes no data file for an empty partitioned table
            source = f"(SELECT {', '.join(f'NULL AS {chr(34)}{c}{chr(34)}' for c, _ in spec['columns'])} WHERE false)"
        elif spec["partitioned_by"]:
            source = f"read_parquet({_quoted(lake / name / '*' / '*.parquet')}, hive_partitioning = true)"
        else:
            source = f"read_parquet({_quoted(lake / name / '*.parquet')})"
        con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{name}" AS SELECT {cols} FROM {source}')
    return list(manifest["tables"])


class _DuckLake:
    """The lake's tables as Ibis tables on an in-memory DuckDB (a table provider)."""

    def __init__(self, con, names: list[str], timezone: str, settings_con) -> None:
        self._con = con
        self.ibis = ibis.duckdb.from_connection(con)
        self.names = names
        self.timezone = timezone
        self.settings_con = settings_con

    def table(self, name: str) -> ibis.Table:
        if name not in self.names:
            raise LakeError(f"no table {name!r} in the lake; known: {', '.join(sorted(self.names))}")
        return self.ibis.table(name)

    def list_tables(self) -> list[str]:
        return list(self.names)

    def execute(self, expr: ibis.Expr):
        return self.ibis.execute(expr)

    def sql(self, query: str, params: list | None = None):
        """A SQL query over the lake's views, as a DataFrame."""
        return self._con.execute(query, params or []).df()


@contextlib.contextmanager
def duckdb_lake(lake, ws=None) -> Iterator[_DuckLake]:
    """The lake's tables read by DuckDB (in memory, nothing copied), for the length of a ``with`` block.

    *ws*, the workspace it was promoted from, is checked as in :func:`lake_tables`.
    """
    import duckdb

    _check_current(read_manifest(Path(lake).expanduser().resolve()), ws)
    con = duckdb.connect()
    try:
        names = attach_lake(con, lake)
        yield _DuckLake(con, [n for n in names if n != "schema_version"], getattr(ws, "timezone", "UTC"),
                        getattr(ws, "_con", None))
    finally:
        con.close()
