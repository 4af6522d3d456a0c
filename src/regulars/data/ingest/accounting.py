"""The load invariant, checked inside the load's transaction: every row read is loaded or quarantined.

Per target (a canonical table a source feeds), the rows that entered it must come out as
``new + updated + unchanged + merged + rejected``: *merged* rows are folded into another row of
the same load (the lines of one order rolled up into that order). The rows reported as new or
updated must be in the table afterwards: :func:`written` counts them by scanning the table's
``_run_id`` column rather than trusting table metadata (DuckDB 2.0.0 could report rows in a
table's count that a scan did not return; see ``docs/formats.md``).

Over the whole load, with a *covering* target (one that every staged row enters):

    rows read = loaded + quarantined

where quarantined is the number of distinct rows in the rejects, loaded is the rows the
covering target kept, minus those another target rejected. Any difference rolls the load back
with :class:`LoadInvariantError`, naming the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regulars.data.ingest.readers import lit


class LoadInvariantError(RuntimeError):
    """A load did not account for every row it read; it was rolled back (nothing was written)."""


@dataclass
class TargetCount:
    """What happened to the rows that entered one target."""

    name: str
    table: str
    entered: int
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    rejected: int = 0
    covering: bool = False

    @property
    def kept(self) -> int:
        return self.new + self.updated + self.unchanged + self.merged


@dataclass
class Ledger:
    """The counts of one load, checked as it goes (see the module docstring)."""

    run_id: int
    targets: list[TargetCount] = field(default_factory=list)

    def enter(self, name: str, table: str, entered: int, covering: bool) -> TargetCount:
        count = TargetCount(name, table, entered, covering=covering)
        self.targets.append(count)
        return count

    def close_target(self, con, count: TargetCount) -> None:
        """Check one target: rows in = new + updated + unchanged + merged + rejected."""
        count.rejected = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT _file, _row FROM _rejects WHERE _target = ?)",
            [count.name],
        ).fetchall()[0][0]
        if count.entered != count.kept + count.rejected:
            raise LoadInvariantError(
                f"load rolled back, nothing was written: {count.entered:,} rows entered {count.table} but "
                f"{count.new:,} new + {count.updated:,} updated + {count.unchanged:,} unchanged + "
                f"{count.merged:,} merged + {count.rejected:,} rejected = {count.kept + count.rejected:,} "
                f"({count.entered - count.kept - count.rejected:+,} unaccounted for). This is a bug in regulars: "
                "please report it with the file's layout"
            )

    def close(self, con, rows_read: int, quarantined: int) -> int:
        """Check the whole load; return the number of rows loaded."""
        covering = [t for t in self.targets if t.covering]
        if not covering:
            raise LoadInvariantError("load rolled back: no table takes every row of this source (a preset bug)")
        cov = max(covering, key=lambda t: t.entered)
        overlap = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT _file, _row FROM _rejects WHERE _target IS DISTINCT FROM ? "
            "EXCEPT SELECT _file, _row FROM _rejects WHERE _target = ? OR _target IS NULL)",
            [cov.name, cov.name],
        ).fetchall()[0][0]
        loaded = cov.kept - overlap
        if rows_read != loaded + quarantined:
            raise LoadInvariantError(
                f"load rolled back, nothing was written: read {rows_read:,} rows but loaded {loaded:,} + "
                f"quarantined {quarantined:,} = {loaded + quarantined:,} "
                f"({rows_read - loaded - quarantined:+,} unaccounted for). This is a bug in regulars: "
                "please report it with the file's layout"
            )
        return loaded


def written(con, table: str, run_id: int) -> int:
    """Rows of *table* stamped with *run_id*, counted by reading the column (a real scan)."""
    total = con.execute(
        f"SELECT coalesce(sum(_run_id), 0) FROM {table} WHERE _run_id = {int(run_id)}"
    ).fetchall()[0][0]
    return int(total) // int(run_id)


def check_written(con, table: str, run_id: int, before: int, expected: int) -> None:
    """Fail unless *expected* more rows of *table* carry *run_id* than *before*."""
    after = written(con, table, run_id)
    if after - before != expected:
        raise LoadInvariantError(
            f"load rolled back, nothing was written: {expected:,} rows were written to {table} but "
            f"{after - before:,} are there when read back. This is a bug in regulars (or in the database "
            "engine): please report it"
        )


def reject(con, target: str, sql_from: str, column: str | None, reason_sql: str, column_sql: str | None = None) -> int:
    """Record rejects: ``INSERT INTO _rejects`` the ``_file, _row`` that *sql_from* selects, with
    the source column (*column*, or the SQL *column_sql*) and the SQL *reason_sql*."""
    col = column_sql or ("NULL" if column is None else lit(column))
    return con.execute(
        f"INSERT INTO _rejects SELECT _file, _row, {col}, {reason_sql}, NULL, {lit(target)} {sql_from}"
    ).fetchall()[0][0]
