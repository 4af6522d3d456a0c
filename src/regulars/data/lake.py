"""A lake workspace: the workspace's tables as Parquet in a warehouse folder, written by Spark.

:func:`promote` copies a DuckDB workspace into a *warehouse* folder::

    warehouse/
      _regulars_lake.json            the manifest: schema version, tables, columns, row counts, months
      orders/month=2024-05/part-….parquet    orders, order_lines, events and messages: one folder per
      orders/_SUCCESS                        month (UTC) of their moment (order lines: their order's)
      customers/part-….parquet               every other table: unpartitioned
      …

Each table is written by Spark (``DataFrame.write.partitionBy("month").parquet``), so it goes
through Spark's file commit protocol: tasks write to ``_temporary`` and the job commits them
(``_SUCCESS``) or leaves nothing. The whole lake is first written to a staging folder beside the
warehouse; the rows of every table are counted in the lake and compared with the workspace, and
only then does the staging folder replace the warehouse (two renames). A failure at any step
removes the staging folder and leaves the previous lake as it was.

The tables are path-based (Spark's in-memory catalog, no metastore): opening a lake registers
them on the session (:mod:`regulars.data.lake_read`). Workspace secrets (API keys, the workspace
secret, webhook subscriptions) and settings (which may hold credentials) are not copied.

Examples
--------
>>> print(month_sql("orders"))
strftime("ordered_at", '%Y-%m')
>>> month_sql("customers") is None
True
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from regulars.data.schema import TABLES
from regulars.data.spark_config import EngineError, read_settings_file, settings_path

__all__ = ["LAKE_ENV", "LakeError", "MANIFEST", "PARTITIONED", "Promotion", "lake_location", "lake_tables_to_copy",
           "month_sql", "promote", "read_manifest"]

MANIFEST = "_regulars_lake.json"
LAKE_ENV = "REGULARS_LAKE"
LAKE_FORMAT = 1
#: Tables Spark writes at the same time (each is a small job; the scheduler interleaves them).
WRITERS = 4

#: Partitioned tables and the moment whose month (UTC) names their folder.
PARTITIONED = {"orders": "ordered_at", "order_lines": "ordered_at", "events": "occurred_at",
               "messages": "occurred_at"}

#: Results the dashboard and the API read, copied when the workspace has them.
OUTPUTS = ("segment_definitions", "segment_versions", "segment_memberships", "segment_sizes", "segment_history",
           "customer_predictions", "prediction_runs", "lead_scores", "recommendations", "next_actions")


class LakeError(EngineError):
    """The lake cannot be written or read; the message says what to fix."""


def month_sql(table: str, prefix: str = "") -> str | None:
    """The DuckDB expression of a partitioned table's month (``YYYY-MM``), ``None`` for the others."""
    column = PARTITIONED.get(table)
    return None if column is None else f"strftime({prefix}\"{column}\", '%Y-%m')"


def lake_tables_to_copy(existing: list[str]) -> list[str]:
    """The tables a promotion copies: every canonical table, the schema version and the stored results."""
    wanted = [*TABLES, "schema_version", *OUTPUTS]
    return [t for t in wanted if t in set(existing)]


def lake_location(workspace=None, env=None) -> Path | None:
    """The lake a workspace reads on Spark: ``$REGULARS_LAKE``, else ``lake`` in the settings file, else none."""
    env = os.environ if env is None else env
    value = env.get(LAKE_ENV)
    if not value and (workspace is not None or env.get("REGULARS_SETTINGS")):
        value = read_settings_file(settings_path(workspace, env)).get("lake")
    return Path(value).expanduser().resolve() if value else None


def read_manifest(warehouse) -> dict:
    """The lake's manifest; :class:`LakeError` when *warehouse* is not a lake."""
    path = Path(warehouse) / MANIFEST
    if not path.is_file():
        raise LakeError(f"{warehouse} is not a lake workspace (no {MANIFEST}); make one with "
                        "`regulars lake promote WAREHOUSE`")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != LAKE_FORMAT:
        raise LakeError(f"{path}: lake format {manifest.get('format')!r} is not {LAKE_FORMAT}; promote again")
    return manifest


@dataclass
class Promotion:
    """What :func:`promote` wrote: the warehouse, the manifest, and the seconds each step took."""

    warehouse: Path
    manifest: dict
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(t["rows"] for t in self.manifest["tables"].values())


def _columns(con, table: str) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                       "AND table_schema = 'main' ORDER BY ordinal_position", [table]).fetchall()


def _export_sql(table: str, columns: list[tuple[str, str]]) -> str:
    """The rows of *table* as Spark can read them (JSON as text), with their ``month`` when partitioned."""
    cols = ", ".join(f't."{c}"::VARCHAR AS "{c}"' if t.upper() == "JSON" else f't."{c}"' for c, t in columns)
    if table == "order_lines":  # an order line's month is its order's
        return (f"SELECT {cols}, {month_sql(table, 'o.')} AS month FROM order_lines t LEFT JOIN "
                "(SELECT order_id, min(ordered_at) AS ordered_at FROM orders GROUP BY order_id) o "
                "ON t.order_id = o.order_id")
    month = month_sql(table, "t.")
    return f'SELECT {cols}{", " + month + " AS month" if month else ""} FROM "{table}" t'


def _write_table(session, source: str, target: str, partitioned: bool) -> dict:
    """Write one exported table into the lake through Spark's commit protocol; its Spark schema."""
    frame = session.read.parquet(source)
    writer = frame.write.mode("errorifexists")
    (writer.partitionBy("month") if partitioned else writer).parquet(target)
    return json.loads(frame.schema.json())


def _count(target: str) -> int:
    """The rows Spark committed under *target*, from the Parquet footers of its data files."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in Path(target).rglob("*.parquet") if not f.name.startswith("."))


def _months(target: Path) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in target.glob("month=*") if p.is_dir())


def _replace(staging: Path, warehouse: Path) -> None:
    """Put *staging* where *warehouse* is; the old lake is removed only once the new one is in place."""
    old = None
    if warehouse.exists():
        old = warehouse.with_name(f".{warehouse.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(warehouse, old)
    try:
        os.rename(staging, warehouse)
    except OSError:
        if old is not None:
            os.rename(old, warehouse)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_target(warehouse: Path) -> None:
    if warehouse.is_file():
        raise LakeError(f"{warehouse} is a file; give a folder for the lake")
    if warehouse.is_dir() and any(warehouse.iterdir()) and not (warehouse / MANIFEST).is_file():
        raise LakeError(f"{warehouse} holds files that are not a lake; give an empty or new folder "
                        "(a promotion replaces the whole folder)")
    if (warehouse / MANIFEST).is_file():
        ingested = json.loads((warehouse / MANIFEST).read_text()).get("last_ingest")
        if ingested:
            raise LakeError(f"{warehouse} has had files loaded into it on Spark (`regulars ingest --engine spark`, "
                            f"last run {ingested['run_id']} at {ingested['at']}) that the workspace does not hold: "
                            "promoting would lose them. Promote into another folder, or delete this one first if "
                            "you mean to replace it")


def promote(ws, warehouse, session=None, progress=None) -> Promotion:
    """Copy the workspace *ws* into the lake at *warehouse* (replacing the lake there, all or nothing).

    Parameters
    ----------
    ws : Workspace
        The DuckDB workspace to promote.
    warehouse : path
        The lake folder (created; an existing lake there is replaced only when the new one is complete).
        On a cluster it must be a folder every executor can write and read (a shared mount).
    session : SparkSession, optional
        Default: the session of the workspace's Spark settings (:mod:`regulars.data.spark_config`).
    progress : callable, optional
        Called with the step being done.
    """
    say = progress or (lambda _s: None)
    warehouse = Path(warehouse).expanduser().resolve()
    _check_target(warehouse)
    if session is None:
        from regulars.data.engines import spark_session
        from regulars.data.spark_config import spark_settings

        session = spark_session(None, spark_settings(getattr(ws, "path", None)))
    con = ws._con
    tables = lake_tables_to_copy([r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE'").fetchall()])
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    staging = warehouse.with_name(f".{warehouse.name}.staging-{uuid.uuid4().hex[:8]}")
    exports = staging / "_export"
    exports.mkdir(parents=True)
    timings: dict[str, float] = {}
    manifest = {"format": LAKE_FORMAT, "storage": "parquet", "catalog": "path-based (Spark in-memory catalog)",
                "workspace": str(Path(ws.path).resolve()) if getattr(ws, "path", None) else "",
                "schema_version": ws.schema_version,
                "promoted_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "tables": {}}
    try:
        exported = {}
        for name in tables:  # one DuckDB connection: one table at a time
            say(f"exporting {name}")
            columns = _columns(con, name)
            rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
            source = exports / f"{name}.parquet"
            con.execute(f"COPY ({_export_sql(name, columns)}) TO '{source}' (FORMAT parquet)")
            exported[name] = (columns, rows, source)

        def write(name: str) -> tuple[dict, float]:
            start = time.perf_counter()
            columns, rows, source = exported[name]
            target = staging / name
            partitioned = name in PARTITIONED
            schema = _write_table(session, str(source), str(target), partitioned)
            written = _count(str(target))
            if written != rows:
                raise LakeError(f"{name}: {rows:,} row(s) in the workspace but {written:,} in the lake; "
                                "nothing was changed, try again")
            return {"rows": rows, "partitioned_by": "month" if partitioned else None,
                    "month_of": PARTITIONED.get(name), "months": _months(target) if partitioned else [],
                    "columns": [[c, t] for c, t in columns], "spark_schema": schema}, time.perf_counter() - start

        entries = {}
        with ThreadPoolExecutor(WRITERS) as pool:  # Spark runs the small jobs side by side
            futures = {pool.submit(write, name): name for name in tables}
            try:
                for future in as_completed(futures):
                    entries[futures[future]], timings[futures[future]] = future.result()
                    say(f"written {futures[future]} ({len(entries)} of {len(tables)} tables)")
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        manifest["tables"] = {name: entries[name] for name in tables}
        shutil.rmtree(exports)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        say("replacing the previous lake")
        _replace(staging, warehouse)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Promotion(warehouse, manifest, timings)

