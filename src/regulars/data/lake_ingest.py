"""``regulars ingest … --engine spark``: load files into a lake workspace on Spark, all or nothing.

Where each check runs:

- **on the executors, per slice of the file** (:mod:`regulars.data.lake_ingest_rows`, the DuckDB
  ingest's own code on an in-memory workspace): splitting lines into columns (the reader's reasons),
  typed values and their reasons, required columns, dates, amounts, identifiers, range rules, stable
  ids for rows whose key is empty, refunds and cancellations with their dates, the quarantine row
  (raw row, hash, reasons joined);
- **as Spark joins and aggregations over the whole load and the lake**: a key repeated within the
  load (the last row wins, earlier ones are quarantined, as the DuckDB ingest does), customer ids
  resolved through the lake's ``identities`` (a merged customer's old id), messages without a
  customer, stub rows for new customers (and campaigns of messages), unchanged rows (kept with their
  run), columns the file lacks (kept from the stored row), quarantine rows already in the lake.

Nothing proportional to the file's rows reaches the driver: only counts, the months touched and
the file's first lines. See :func:`ingest_into_lake` for the write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from regulars.data.ingest.accounting import LoadInvariantError
from regulars.data.ingest.pipeline import IngestResult
from regulars.data.ingest.options import IDENTITY_INPUTS, MappingError, detect_format
from regulars.data.lake import LakeError, read_manifest
from regulars.data.lake_commit import staging_folder, swap_in
from regulars.data.lake_ingest_rows import PartitionPlan, validate_rows
from regulars.data.schema import KINDS, TABLES

__all__ = ["LakeIngest", "SPARK_KINDS", "check_lake_counts", "ingest_into_lake", "plan_file"]

#: Kinds a Spark ingest loads (month-partitioned tables); others load on DuckDB, then `regulars lake promote`.
SPARK_KINDS = ("orders", "events", "messages")
#: Lines of a file the driver reads to settle its layout and columns.
SAMPLE_LINES = 200
ON_DUCKDB = "load it into the workspace (`regulars ingest` without --engine spark), then `regulars lake promote`"


@dataclass
class LakeIngest(IngestResult):
    """What a Spark ingest did: the DuckDB ingest's numbers, and the months it rewrote."""

    months_rewritten: list[str] = field(default_factory=list)


def check_lake_counts(read: int, loaded: int, quarantined: int, before: int, replaced: int, after: int) -> None:
    """The load's invariants: rows read = loaded + quarantined, and the rewritten months hold
    their rows before - replaced + loaded. :class:`LoadInvariantError` otherwise (nothing is swapped in).

    >>> check_lake_counts(read=10, loaded=9, quarantined=1, before=100, replaced=4, after=105)
    >>> check_lake_counts(read=10, loaded=8, quarantined=1, before=100, replaced=4, after=104)
    Traceback (most recent call last):
    ...
    regulars.data.ingest.accounting.LoadInvariantError: load rolled back, the lake was not changed: read 10 rows but loaded 8 + quarantined 1 = 9 (+1 unaccounted for). This is a bug in regulars: please report it with the file's layout (a quoted value that spans lines? load such a file on DuckDB)
    """
    if read != loaded + quarantined:
        raise LoadInvariantError(
            f"load rolled back, the lake was not changed: read {read:,} rows but loaded {loaded:,} + quarantined "
            f"{quarantined:,} = {loaded + quarantined:,} ({read - loaded - quarantined:+,} unaccounted for). This is a "
            "bug in regulars: please report it with the file's layout (a quoted value that spans lines? load such "
            "a file on DuckDB)")
    if after != before - replaced + loaded:
        raise LoadInvariantError(
            f"load rolled back, the lake was not changed: the months rewritten held {before:,} rows, {replaced:,} "
            f"were replaced and {loaded:,} loaded, but {after:,} were written (expected "
            f"{before - replaced + loaded:,}). This is a bug in regulars: please report it")


def _head(path: str) -> list[str]:
    lines = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if line:
                    lines.append(line)
                if len(lines) > SAMPLE_LINES:
                    break
    except UnicodeDecodeError:
        raise MappingError(f"{path} is not UTF-8 text: the Spark ingest reads UTF-8 only; {ON_DUCKDB}") from None
    if not lines:
        raise MappingError(f"{path} is empty")
    lines[0] = lines[0].lstrip("\ufeff")
    return lines


def plan_file(kind: str, path: str, fmt: str | None, mapping, timezone: str, columns_of_table: list[str]
              ) -> tuple[PartitionPlan, list[str]]:
    """How the executors read *path*: layout, columns and target settled from its first lines.

    Returns the plan and the lake table's columns the file provides. :class:`MappingError` with what
    to do for a file the Spark ingest does not read (another format, a preset, identifiers other than
    the customer id, no key column).
    """
    import duckdb

    from regulars.data.ingest.pipeline import check_duplicate_columns, effective_parse, generic_source
    from regulars.data.ingest.readers import stage
    from regulars.data.presets import PRESETS, detect_preset

    if kind not in SPARK_KINDS:
        raise MappingError(f"the Spark ingest loads {', '.join(SPARK_KINDS)}; for {kind}, {ON_DUCKDB}")
    fmt = fmt or (mapping.format if mapping else None) or detect_format(path)
    if fmt in PRESETS or (not mapping and detect_preset(path, kind) is not None):
        raise MappingError(f"{path}: the Spark ingest does not read preset exports yet; {ON_DUCKDB}")
    if fmt != "csv":
        raise MappingError(f"{path}: the Spark ingest reads CSV files; for {fmt}, {ON_DUCKDB}")
    lines = _head(path)
    source = generic_source(kind, "csv", mapping)
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"regulars-plan-{os.getpid()}-{time.monotonic_ns()}"
    scratch.mkdir()
    con = duckdb.connect()
    try:
        sample = scratch / Path(path).name  # messages about the layout name the user's file
        sample.write_text("\n".join(lines) + "\n", encoding="utf-8")
        staged = stage(con, [str(sample)], "csv", source.parse)
        layout = next(iter(staged.layouts.values()), None)
        if not source.parse.header:
            raise MappingError(f"{path}: the Spark ingest needs a header line; {ON_DUCKDB}")
        parse = effective_parse(source.parse, staged, timezone)
        if layout is not None:
            parse = dataclasses.replace(parse, delimiter=layout.delimiter, quote=layout.quote, encoding="utf-8")
        targets = source.targets(staged.columns)
        check_duplicate_columns(targets, staged)
    finally:
        con.close()
    table = KINDS[kind]
    if len(targets) != 1 or targets[0].table != table or targets[0].foreign:
        raise MappingError(f"{path}: this file feeds several tables; {ON_DUCKDB}")
    target = targets[0]
    others = sorted(set(target.exprs) & (IDENTITY_INPUTS - {"customer_id"}))
    if others:
        raise MappingError(f"{path}: the Spark ingest resolves customers by customer id only, and this file "
                           f"identifies them by {', '.join(others)}; {ON_DUCKDB}")
    key = TABLES[table].key[0]
    if key not in target.exprs:
        raise MappingError(f"{path}: the Spark ingest needs the file's {key} column (without one, ids are made "
                           f"from each row's content and its repeats in the whole file); {ON_DUCKDB}")
    exported = dt.datetime.fromtimestamp(os.path.getmtime(path), dt.UTC).replace(tzinfo=None)
    plan = PartitionPlan(kind, path, lines[0], target, parse, staged.columns, exported,
                         [c for c in columns_of_table if c != "_run_id"])
    from regulars import Workspace

    ws = Workspace(":memory:")  # the first lines through the executors' code: early errors, provided columns
    try:
        _, cols = validate_rows(ws._con, plan, list(range(1, len(lines))), lines[1:], str(scratch))
    finally:
        ws.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return plan, [c for c in columns_of_table if c in cols and c != "_run_id"]


def ingest_into_lake(lake, kind: str, files: list[str], *, format: str | None = None, mapping=None,
                     timezone: str = "UTC", session=None, workspace=None, progress=None) -> LakeIngest:
    """Load *files* of one *kind* into the lake at *lake* on Spark, all or nothing.

    The rows are read and validated on the executors (see the module docstring); the month
    partitions the load touches (those of its rows, and those that held a key it replaces) are
    written whole to a staging folder through Spark's commit protocol, the counts are checked
    (:func:`check_lake_counts`), and only then are they swapped in with the new quarantine rows, the
    run's ``ingest_runs`` row, new customers and the manifest (:func:`regulars.data.lake_commit.swap_in`).
    Other months are not touched.
    """
    from regulars.data.lake_ingest_spark import SparkLoad

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    lake = Path(lake).expanduser().resolve()
    manifest = read_manifest(lake)
    table = KINDS.get(kind)
    if kind not in SPARK_KINDS:
        raise MappingError(f"the Spark ingest loads {', '.join(SPARK_KINDS)}; for {kind}, {ON_DUCKDB}")
    if manifest["tables"].get("erasures", {}).get("rows"):
        raise LakeError(f"customers were erased in the workspace this lake came from: the Spark ingest cannot yet keep "
                        f"their rows out; {ON_DUCKDB}")
    paths = [str(f) for f in files]  # named as given, as the DuckDB ingest does
    for p in paths:
        if not Path(p).is_file():
            raise MappingError(f"file not found: {p}")
    columns = [c for c, _ in manifest["tables"][table]["columns"]]
    say(f"reading the first lines of {len(paths)} file(s)")
    plans = [plan_file(kind, p, format, mapping, timezone, columns) for p in paths]
    provided = [c for c in columns if any(c in prov for _, prov in plans)]
    if session is None:
        from regulars.data.engines import spark_session
        from regulars.data.spark_config import spark_settings

        session = spark_session(None, spark_settings(workspace))
    staging = staging_folder(lake)
    try:
        load = SparkLoad(session, lake, manifest, kind, table, [p for p, _ in plans], provided, staging, say)
        result = load.run(format or "csv")
        check_lake_counts(result.rows_read, result.rows_loaded, result.rows_quarantined, load.before, load.replaced,
                          load.after)
        result.seconds = round(time.perf_counter() - started, 3)
        say("swapping the new months into the lake")
        swap_in(lake, staging, {table: load.months}, load.appended, load.new_manifest(result))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result

