"""The executor side of a Spark ingest (:mod:`regulars.data.lake_ingest`): one partition of a file's lines,
validated by the same code as the DuckDB ingest.

Each Spark task gets a slice of the file's lines, each with its data-row number in the whole file
(blank lines are not counted, as the DuckDB reader does not count them). The task writes the header
and its lines to a scratch CSV file, opens an in-memory workspace (the same schema as a workspace
file) and runs the DuckDB ingest's own steps on it: :func:`~regulars.data.ingest.readers.stage`
(rows the reader cannot split are rejected with its reason), the typed conversion with its reasons
and stable ids (:func:`~regulars.data.ingest.targets.typed`, :func:`~regulars.data.ingest.targets.split_rejects`),
refunds and cancellations (:func:`~regulars.data.ingest.orders.prepare`) and the quarantine rows
(:func:`~regulars.data.ingest.quarantine.write`, raw row and hash included). No rule is written twice.

A task yields Arrow batches of one schema (:func:`output_columns`), ``_what`` saying what a row is:
``row`` (a valid row: ``_file``, ``_row``, ``_raw``, the row as JSON for a row later found to repeat a
key, and the typed columns), ``quarantine`` (a rejected row: ``q_file``, ``q_row_number``,
``q_column_name``, ``q_reason``, ``q_raw``, ``q_raw_hash``) or ``warning`` (a value dropped from a valid
row, :mod:`regulars.data.ingest.fieldwarnings`: ``_file``, ``_row``, ``q_column_name``, ``q_reason``,
``w_value``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from regulars.data.ingest.readers import lit, q

__all__ = ["PartitionPlan", "QUARANTINE_COLUMNS", "output_columns", "validate_batches"]

#: The quarantine columns a task yields for a rejected row (the lake's ``quarantine`` less ``run_id``, ``kind``).
QUARANTINE_COLUMNS = ("q_file", "q_row_number", "q_column_name", "q_reason", "q_raw", "q_raw_hash")


@dataclass
class PartitionPlan:
    """What every task needs to validate its lines (small, shipped to the executors)."""

    kind: str
    path: str                       # the file, as the quarantine names it
    header: str                     # the file's header line
    target: object                  # regulars.data.ingest.convert.Target
    parse: object                   # regulars.data.ingest.options.ParseOptions (delimiter etc. settled)
    columns: list[str]              # the file's columns
    exported_at: object             # the file's modification time (UTC, naive)
    typed_columns: list[str] = field(default_factory=list)  # the lake table's columns the file provides


def output_columns(plan: PartitionPlan) -> list[str]:
    """The columns a task yields, in order."""
    return ["_what", "_file", "_row", "_raw", *plan.typed_columns, *QUARANTINE_COLUMNS, "w_value"]


def _raw_json_sql(columns: list[str]) -> str:
    from regulars.data.ingest.quarantine import MAX_RAW

    struct = "{" + ", ".join(f"{lit(c)}: left(r.{q(c)}, {MAX_RAW})" for c in columns) + "}" if columns else "{}"
    return f"to_json({struct})::VARCHAR"


def validate_rows(con, plan: PartitionPlan, numbers, lines: list[str], scratch: str):
    """Validate one slice of lines (*numbers*: their data-row numbers in the file) in the in-memory workspace *con*.

    Returns an Arrow table of :func:`output_columns` and the table's columns the rows provide
    (the file's, and those the load derives such as ``refunded_at``).
    """
    from regulars.data.ingest import fieldwarnings, orders, quarantine
    from regulars.data.ingest.accounting import Ledger
    from regulars.data.ingest.readers import stage
    from regulars.data.ingest.targets import LoadContext, split_rejects, typed

    import pyarrow as pa

    chunk = os.path.join(scratch, "part.csv")
    with open(chunk, "w", encoding="utf-8", newline="") as out:
        out.write(plan.header + "\n")
        out.write("\n".join(lines))
        out.write("\n")
    stage(con, [chunk], "csv", plan.parse)
    # the slice's row k is the file's row numbers[k-1]: name the file and its rows as the whole file does
    rowmap = pa.table({"_local": pa.array(range(1, len(lines) + 1), pa.int64()), "_global": pa.array(numbers, pa.int64())})
    con.register("_rowmap_arrow", rowmap)
    con.execute("CREATE TEMP TABLE _rowmap AS SELECT * FROM _rowmap_arrow")
    con.unregister("_rowmap_arrow")
    con.execute(f"CREATE TEMP TABLE _raw_rows AS SELECT r.* REPLACE ({lit(plan.path)} AS _file, m._global AS _row) "
                "FROM _raw r JOIN _rowmap m ON m._local = r._row")
    con.execute(f"UPDATE _rejects SET _file = {lit(plan.path)}, _row = m._global FROM _rowmap m WHERE m._local = _rejects._row")
    con.execute("DROP VIEW _raw")
    con.execute("CREATE TEMP VIEW _raw AS SELECT * FROM _raw_rows")
    ctx = LoadContext(con, 0, plan.kind, plan.parse, Ledger(0), _Result())
    fieldwarnings.create(con)
    name = plan.target.table
    cols = typed(ctx, plan.target, name)
    split_rejects(con, name)
    if plan.target.table == "orders":
        con.execute("CREATE OR REPLACE TEMP TABLE _exported (_file VARCHAR, exported_at TIMESTAMP)")
        con.execute("INSERT INTO _exported VALUES (?, ?)", [plan.path, plan.exported_at])
        cols = orders.prepare(con, cols)
    fieldwarnings.write(con, 0, plan.kind)  # the values dropped from rows not rejected here
    rejected = quarantine.rejected(con)
    quarantine.write(con, plan.kind, plan.columns, 0, rejected)
    raw = _raw_json_sql(plan.columns)
    typed_cols = ", ".join(f"g.{q(c)}" if c in cols else f"NULL AS {q(c)}" for c in plan.typed_columns)
    nulls_q = ", ".join(f"NULL AS {q(c)}" for c in QUARANTINE_COLUMNS)
    nulls_t = ", ".join(f"NULL AS {q(c)}" for c in plan.typed_columns)
    good = (f"SELECT 'row' AS _what, g._file, g._row, {raw} AS _raw, {typed_cols}, {nulls_q}, NULL AS w_value "
            "FROM _g g JOIN _raw r ON r._file = g._file AND r._row = g._row")
    bad = (f"SELECT 'quarantine', x.file, x.row_number, NULL, {nulls_t}, x.file, x.row_number, x.column_name, "
           "x.reason, x.raw::VARCHAR, x.raw_hash, NULL FROM quarantine x")
    warned = (f"SELECT 'warning', w.file, w.row_number, NULL, {nulls_t}, NULL, NULL, w.column_name, w.reason, NULL, "
              "NULL, w.value FROM ingest_warnings w")
    return con.sql(f"{good} UNION ALL {bad} UNION ALL {warned}").to_arrow_table(), cols


class _Result:
    """The per-load counters the ingest steps add to (only warnings and timings matter in a task)."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.timings: dict[str, float] = {}
        self.tables: dict = {}


def validate_batches(batches, plan: PartitionPlan, arrow_schema):
    """``mapInArrow`` body: Arrow batches of ``(_row, value)`` lines in, validated rows out."""
    from regulars import Workspace

    import pyarrow as pa

    batches = list(batches)
    if not batches or not sum(b.num_rows for b in batches):
        return
    table = pa.Table.from_batches(batches)
    numbers, lines = table.column("_row").combine_chunks(), table.column("value").to_pylist()
    scratch = tempfile.mkdtemp(prefix="regulars-lake-ingest-")
    ws = Workspace(":memory:")
    try:
        table, _ = validate_rows(ws._con, plan, numbers, lines, scratch)
        yield from table.rename_columns(arrow_schema.names).cast(arrow_schema).to_batches()
    finally:
        ws.close()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
