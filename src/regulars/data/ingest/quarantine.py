"""Write a load's rejected rows to ``quarantine``: file, row number, column, reason, raw row.

A row rejected for several reasons (or by several tables) is one quarantine row with the
reasons joined. Loading the same file again adds no row that is already there (same file name,
row number, raw content and reason). The number written is checked against what was rejected.
"""

from __future__ import annotations

from regulars.data.ingest.accounting import LoadInvariantError
from regulars.data.ingest.readers import lit, q

#: Longest raw row kept (characters).
MAX_RAW = 20_000


def rejected(con) -> int:
    """Distinct rejected rows of this load (a real count over ``_rejects``)."""
    return con.execute("SELECT count(*) FROM (SELECT DISTINCT _file, _row FROM _rejects)").fetchall()[0][0]


def write(con, kind: str, columns: list[str], run_id: int, n: int) -> None:
    """Store the *n* rejected rows of this load in ``quarantine``."""
    if not n:
        return
    raw_struct = "{" + ", ".join(f"{lit(c)}: left(r.{q(c)}, {MAX_RAW})" for c in columns) + "}" if columns else "{}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _q AS
        WITH one AS (SELECT DISTINCT _file, _row, column_name, reason, raw FROM _rejects),
        grouped AS (
            SELECT _file, _row, string_agg(DISTINCT column_name, ', ' ORDER BY column_name) AS column_name,
                   string_agg(reason, '; ' ORDER BY reason) AS reason, max(raw) AS raw
            FROM one GROUP BY _file, _row)
        SELECT {int(run_id)} AS run_id, {lit(kind)} AS kind, x._file AS file, x._row AS row_number,
               x.column_name, x.reason, coalesce(x.raw, to_json({raw_struct})::VARCHAR) AS raw
        FROM grouped x LEFT JOIN _raw r ON r._file = x._file AND r._row = x._row
        """
    )
    made = con.execute("SELECT count(*) FROM _q").fetchall()[0][0]
    present = con.execute(
        """
        SELECT count(*) FROM _q WHERE EXISTS (
            SELECT 1 FROM quarantine o WHERE o.kind = _q.kind AND o.row_number = _q.row_number
              AND o.raw_hash = md5(_q.raw) AND parse_filename(o.file) = parse_filename(_q.file)
              AND o.reason = _q.reason)
        """
    ).fetchall()[0][0]
    inserted = con.execute(
        """
        INSERT INTO quarantine
        SELECT run_id, kind, file, row_number, column_name, reason, raw::JSON, md5(raw) FROM _q
        WHERE NOT EXISTS (
            SELECT 1 FROM quarantine o WHERE o.kind = _q.kind AND o.row_number = _q.row_number
              AND o.raw_hash = md5(_q.raw) AND parse_filename(o.file) = parse_filename(_q.file)
              AND o.reason = _q.reason)
        """
    ).fetchall()[0][0]
    stored = con.execute(
        f"SELECT count(*) FROM quarantine WHERE run_id = {int(run_id)} AND row_number IS NOT NULL"
    ).fetchall()[0][0]
    con.execute("DROP TABLE _q")
    if made != n or inserted + present != n or stored != inserted:
        raise LoadInvariantError(
            f"load rolled back, nothing was written: {n:,} rows were rejected but {inserted:,} were written to the "
            f"quarantine and {present:,} were there already ({made:,} prepared, {stored:,} read back). This is a "
            "bug in regulars: please report it"
        )
