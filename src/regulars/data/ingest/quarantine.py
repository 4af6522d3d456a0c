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
    # Most rows have one reason: no aggregation when none has several, else plain aggregates for
    # all and the joined text only where there are several.
    if con.execute("SELECT count(*) FROM _rejects").fetchall()[0][0] == n:
        con.execute("CREATE OR REPLACE TEMP TABLE _rq AS SELECT _file, _row, 1 AS n, column_name, reason, raw FROM _rejects")
    else:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _rq AS
            SELECT _file, _row, count(*) AS n, min(column_name) AS column_name, min(reason) AS reason, max(raw) AS raw
            FROM (SELECT DISTINCT _file, _row, column_name, reason, raw FROM _rejects) GROUP BY _file, _row
            """
        )
    con.execute(
        """
        UPDATE _rq SET column_name = m.column_name, reason = m.reason FROM (
            SELECT _file, _row, string_agg(DISTINCT column_name, ', ' ORDER BY column_name) AS column_name,
                   string_agg(DISTINCT reason, '; ' ORDER BY reason) AS reason
            FROM _rejects WHERE (_file, _row) IN (SELECT _file, _row FROM _rq WHERE n > 1) GROUP BY _file, _row) m
        WHERE _rq._file = m._file AND _rq._row = m._row AND _rq.n > 1
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _q AS
        SELECT {int(run_id)} AS run_id, {lit(kind)} AS kind, x._file AS file, x._row AS row_number,
               x.column_name, x.reason, raw, md5(raw::VARCHAR) AS raw_hash, parse_filename(x._file) AS file_name
        FROM (SELECT x.* EXCLUDE (raw), coalesce(x.raw::JSON, to_json({raw_struct})) AS raw
              FROM _rq x LEFT JOIN _raw r ON r._file = x._file AND r._row = x._row) x
        """
    )
    con.execute("DROP TABLE _rq")
    made = con.execute("SELECT count(*) FROM _q").fetchall()[0][0]
    earlier = con.execute("SELECT count(*) FROM quarantine WHERE kind = ?", [kind]).fetchall()[0][0]
    if earlier:  # a file loaded again: its rows already quarantined are not added twice
        con.execute(
            f"""
            DELETE FROM _q WHERE EXISTS (
                SELECT 1 FROM quarantine o WHERE o.kind = {lit(kind)} AND o.row_number = _q.row_number
                  AND o.raw_hash = _q.raw_hash AND o.reason = _q.reason AND parse_filename(o.file) = _q.file_name)
            """
        )
    fresh = con.execute("SELECT count(*) FROM _q").fetchall()[0][0]
    inserted = con.execute(
        "INSERT INTO quarantine SELECT run_id, kind, file, row_number, column_name, reason, raw, raw_hash FROM _q"
    ).fetchall()[0][0]
    stored = con.execute(
        f"SELECT count(*) FROM quarantine WHERE run_id = {int(run_id)} AND row_number IS NOT NULL"
    ).fetchall()[0][0]
    con.execute("DROP TABLE _q")
    if made != n or inserted != fresh or stored != inserted:
        raise LoadInvariantError(
            f"load rolled back, nothing was written: {n:,} rows were rejected but {made:,} were prepared for the "
            f"quarantine, {inserted:,} written of {fresh:,} new and {stored:,} read back. This is a bug in regulars: "
            "please report it"
        )
