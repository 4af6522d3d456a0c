"""Read source files into a staging table of text columns, numbering every row.

Everything is read as text (``VARCHAR``) so that no value is lost or guessed
before validation; each staged row keeps its file and 1-based data-row
number (the header is not counted). Rows the reader cannot split into
columns (wrong number of fields, broken quotes, text that is not in the file's
encoding, invalid JSON) go straight to the ``_rejects`` staging table with their
reason. CSV files are looked at first (:mod:`regulars.data.ingest.csvfile`): a
clean one goes straight to DuckDB's fast reader, a messy one is rewritten row
by row into clean CSV first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from regulars.data.ingest import csvfile
from regulars.data.ingest.options import MappingError, ParseOptions

UNIT_SEPARATOR = "\x1f"  # a byte no text export uses: lets the CSV reader return whole lines


@dataclass
class Staged:
    """What was read: the staging table, its source columns, and counts per file."""

    columns: list[str]
    rows_per_file: dict[str, int] = field(default_factory=dict)
    rejected_per_file: dict[str, int] = field(default_factory=dict)
    layouts: dict[str, csvfile.CsvLayout] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _scratch: str | None = None

    @property
    def rows_read(self) -> int:
        return sum(self.rows_per_file.values()) + sum(self.rejected_per_file.values())

    @property
    def decimal(self) -> str | None:
        """The decimal separator the CSV files suggest (``,`` when every one is semicolon-separated)."""
        guesses = {layout.decimal for layout in self.layouts.values()}
        return guesses.pop() if len(guesses) == 1 else None

    def duplicated(self) -> dict[str, list[int]]:
        """Column name -> positions, for names a file's header repeats."""
        out: dict[str, list[int]] = {}
        for layout in self.layouts.values():
            out.update(layout.duplicates)
        return out

    def scratch(self) -> str:
        """A folder for files rewritten while staging (removed by :meth:`cleanup`)."""
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="regulars-ingest-")
        return self._scratch

    def cleanup(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def q(name: str) -> str:
    """Quote an identifier for DuckDB SQL.

    >>> print(q('Lineitem quantity'))
    "Lineitem quantity"
    """
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal for DuckDB SQL.

    >>> lit("O'Brien")
    "'O''Brien'"
    """
    return "'" + str(value).replace("'", "''") + "'"


def _create_rejects(con) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _rejects "
        "(_file VARCHAR, _row BIGINT, column_name VARCHAR, reason VARCHAR, raw VARCHAR, _target VARCHAR)"
    )


def stage(con, files: list[str], fmt: str, parse: ParseOptions) -> Staged:
    """Read *files* (all of one format) into the temp table ``_raw``.

    ``_raw`` has one VARCHAR column per source column plus ``_file`` and
    ``_row``; unreadable rows land in ``_rejects``.
    """
    _create_rejects(con)
    unstage(con)
    staged = Staged(columns=[])
    parts = []
    try:
        for i, path in enumerate(files):
            parts.append(_stage_one(con, staged, i, path, fmt, parse))
    finally:
        staged.cleanup()  # rewritten files are in DuckDB's temp tables by now
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS {union}")
    return staged


def _stage_one(con, staged: Staged, i: int, path: str, fmt: str, parse: ParseOptions) -> str:
    if not Path(path).exists():
        raise MappingError(f"file not found: {path}")
    part = f"_part{i}"
    if os.path.getsize(path) == 0:
        cols = _empty_part(con, part, parse)
    elif fmt == "csv" and parse.delimiter == "whitespace":
        cols = _read_split_lines(con, part, path, parse)
    elif fmt == "csv":
        cols = _read_csv(con, part, path, parse, staged)
    elif fmt == "jsonl":
        cols = _read_jsonl(con, part, path)
    elif fmt == "parquet":
        cols = _read_parquet(con, part, path)
    else:
        raise MappingError(f"unknown format {fmt!r}; use csv, parquet or jsonl")
    staged.rows_per_file[path] = con.execute(f"SELECT count(*) FROM {part}").fetchall()[0][0]
    staged.rejected_per_file[path] = con.execute(
        "SELECT count(*) FROM _rejects WHERE _file = ?", [path]
    ).fetchall()[0][0]
    for c in cols:
        if c not in staged.columns:
            staged.columns.append(c)
    return part


def unstage(con) -> None:
    """Drop the staging view ``_raw`` and the per-file objects behind it."""
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND (view_name = '_raw' OR view_name LIKE '\\_part%' ESCAPE '\\')"
    ).fetchall()
    for (name,) in views:
        con.execute(f"DROP VIEW {q(name)}")
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND (table_name = '_raw' OR table_name LIKE '\\_part%' ESCAPE '\\')"
    ).fetchall()
    for (name,) in tables:
        con.execute(f"DROP TABLE {q(name)}")


def _empty_part(con, part: str, parse: ParseOptions) -> list[str]:
    cols = list(parse.names or [])
    defs = ", ".join(f"{q(c)} VARCHAR" for c in cols)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {part} ({defs}{', ' if defs else ''}_file VARCHAR, _row BIGINT)"
    )
    return cols


def _read_csv(con, part: str, path: str, parse: ParseOptions, staged: Staged) -> list[str]:
    """A CSV file: straight into DuckDB when it is clean, else through :func:`csvfile.rewrite`.

    Good rows keep their data-row number: the fast path numbers them by position (DuckDB keeps
    a file's order when it copies it into a table with insertion order preserved); the rewrite
    writes each row's number beside it.
    """
    layout = csvfile.inspect(path, parse)
    staged.layouts[path] = layout
    for w in layout.warnings:
        if w not in staged.warnings:
            staged.warnings.append(w)
    if not layout.columns:
        return _empty_part(con, part, parse)
    tmp = part + "_tmp"
    if not layout.rewrite:
        try:
            _read_clean(con, tmp, path, layout)
        except Exception as exc:  # DuckDB's reader stopped at a row: read the file row by row instead
            if not _is_reader_error(exc):
                raise
            layout.rewrite, layout.why_rewrite = True, _first_line(exc)
    if not layout.rewrite:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {part} AS SELECT *, {lit(path)} AS _file, "
                    f"rowid - (SELECT coalesce(min(rowid), 0) FROM {tmp}) + 1 AS _row FROM {tmp}")
        return list(layout.columns)
    clean = os.path.join(staged.scratch(), f"{part}.csv")
    bad = os.path.join(staged.scratch(), f"{part}_rejects.csv")
    csvfile.rewrite(layout, clean, bad)
    columns = {"_row": "BIGINT", **{c: "VARCHAR" for c in layout.columns}}
    # the rewrite ends every row with LF; a value may hold a lone CR, so the line ending is stated
    quoted = ("delim = ',', quote = '\"', escape = '\"', auto_detect = false, header = false, strict_mode = true, "
              "new_line = '\\n'")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT * FROM read_csv({lit(clean)}, {quoted}, "
        f"columns = {_struct(columns)}, max_line_size = {MAX_LINE})"
    )
    con.execute(
        f"INSERT INTO _rejects (_file, _row, column_name, reason, raw) SELECT {lit(path)}, _row, NULL, reason, to_json({{'line': raw}})::VARCHAR "
        f"FROM read_csv({lit(bad)}, {quoted}, columns = {{'_row': 'BIGINT', 'reason': 'VARCHAR', 'raw': 'VARCHAR'}}, "
        f"max_line_size = {MAX_LINE})"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {part} AS SELECT * EXCLUDE (_row), {lit(path)} AS _file, _row FROM {tmp}")
    os.remove(clean)
    os.remove(bad)
    return list(layout.columns)


#: Longest physical line DuckDB's reader accepts (bytes); longer rows go through the rewrite.
MAX_LINE = 32 * 1024 * 1024


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"{lit(c)}: {lit(t)}" for c, t in columns.items()) + "}"


def _read_clean(con, tmp: str, path: str, layout: csvfile.CsvLayout) -> None:
    """DuckDB's parallel reader with the dialect settled by :func:`csvfile.inspect` (no sniffing),
    strict: a row it cannot read stops it (the caller then rewrites the file)."""
    opts = [
        "auto_detect = false",
        f"header = {'true' if layout.header else 'false'}",
        f"columns = {_struct({c: 'VARCHAR' for c in layout.columns})}",
        f"delim = {lit(layout.delimiter)}",
        f"quote = {lit(layout.quote)}",
        f"escape = {lit(layout.quote)}",
        "encoding = 'utf-8'",
        "null_padding = false",
        "strict_mode = true",
        f"max_line_size = {MAX_LINE}",
    ]
    with file_order(con):  # row numbers come from the order kept
        con.execute(f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT * FROM read_csv({lit(path)}, {', '.join(opts)})")


@contextlib.contextmanager
def file_order(con):
    """Keep a file's row order when copying it into a table (``rowid`` then numbers the rows),
    whatever the connection's setting (a load turns it off; see the pipeline)."""
    before = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET SESSION preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET SESSION preserve_insertion_order = {'true' if before else 'false'}")


def _is_reader_error(exc: BaseException) -> bool:
    import duckdb

    if isinstance(exc, (duckdb.OutOfMemoryException, duckdb.InterruptException)):
        return False
    return isinstance(exc, duckdb.Error)


def _read_lines(con, tmp: str, path: str, encoding: str = "utf-8") -> None:
    with file_order(con):
        _read_lines_in_order(con, tmp, path, encoding)


def _read_lines_in_order(con, tmp: str, path: str, encoding: str) -> None:
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT line FROM read_csv({lit(path)}, "
        f"columns = {{'line': 'VARCHAR'}}, delim = chr(31), quote = '', escape = '', header = false, "
        f"encoding = {lit(encoding)}, strict_mode = false)"
    )
    con.execute(f"ALTER TABLE {tmp} RENAME TO {tmp}_r")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT line, rowid - (SELECT min(rowid) FROM {tmp}_r) + 1 AS _line FROM {tmp}_r")
    con.execute(f"DROP TABLE {tmp}_r")


def _read_split_lines(con, part: str, path: str, parse: ParseOptions) -> list[str]:
    """Whitespace-delimited text (runs of spaces or tabs), e.g. fixed-width-looking exports.

    Data-row numbers count the non-blank lines after the header.
    """
    tmp = part + "_lines"
    _read_lines(con, tmp, path, parse.encoding or "utf-8")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {tmp}_f AS SELECT line, "
        f"regexp_split_to_array(trim(line, E' \\t\\r'), '[ \\t]+') AS f, "
        f"row_number() OVER (ORDER BY _line) - {1 if parse.header else 0} AS _r "
        f"FROM {tmp} WHERE trim(line, E' \\t\\r') <> ''"
    )
    con.execute(f"DROP TABLE {tmp}")
    header = []
    if parse.header:
        first = con.execute(f"SELECT f FROM {tmp}_f WHERE _r = 0").fetchall()
        header = list(first[0][0]) if first else []
    if parse.names:
        cols = list(parse.names)
    elif parse.header:
        cols = header
    else:
        width = con.execute(f"SELECT coalesce(mode(len(f)), 0) FROM {tmp}_f").fetchall()[0][0]
        cols = [f"column{i + 1}" for i in range(width)]
    n = len(cols)
    con.execute(
        f"INSERT INTO _rejects (_file, _row, column_name, reason, raw) SELECT {lit(path)}, _r, NULL, "
        f"'expected {n} fields separated by whitespace, found ' || len(f), to_json({{'line': line}}) "
        f"FROM {tmp}_f WHERE _r > 0 AND len(f) <> {n}"
    )
    select = ", ".join(f"f[{i + 1}] AS {q(c)}" for i, c in enumerate(cols))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {part} AS SELECT {select}, {lit(path)} AS _file, _r AS _row "
        f"FROM {tmp}_f WHERE _r > 0 AND len(f) = {n} ORDER BY _r"
    )
    con.execute(f"DROP TABLE {tmp}_f")
    return cols


def _read_jsonl(con, part: str, path: str) -> list[str]:
    """JSON lines: one object per line; top-level keys become columns (nested values as JSON text)."""
    tmp = part + "_lines"
    _read_lines(con, tmp, path)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {tmp}_n AS SELECT line, row_number() OVER (ORDER BY _line) AS _r, "
        "CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END AS _ok "
        f"FROM {tmp} WHERE trim(line) <> ''"
    )
    con.execute(f"DROP TABLE {tmp}")
    con.execute(
        f"INSERT INTO _rejects (_file, _row, column_name, reason, raw) SELECT {lit(path)}, _r, NULL, "
        "CASE WHEN json_valid(line) THEN 'each line must hold one JSON object' ELSE 'not valid JSON' END, "
        f"to_json({{'line': line}}) FROM {tmp}_n WHERE NOT _ok"
    )
    keys = con.execute(
        f"SELECT k FROM (SELECT unnest(json_keys(line)) AS k, min(_r) AS first FROM {tmp}_n "
        "WHERE _ok GROUP BY k) ORDER BY first, k"
    ).fetchall()
    cols = [k[0] for k in keys]
    select = ", ".join(
        f"CASE WHEN json_type(line, {lit(_json_path(c))}) IN ('OBJECT', 'ARRAY') "
        f"THEN json_extract(line, {lit(_json_path(c))})::VARCHAR "
        f"ELSE json_extract_string(line, {lit(_json_path(c))}) END AS {q(c)}"
        for c in cols
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {part} AS SELECT {select}{', ' if select else ''}{lit(path)} AS _file, _r AS _row "
        f"FROM {tmp}_n WHERE _ok ORDER BY _r"
    )
    con.execute(f"DROP TABLE {tmp}_n")
    return cols


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', '\\"') + '"'


def _read_parquet(con, part: str, path: str) -> list[str]:
    try:
        desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(path)})").fetchall()
    except Exception as exc:
        raise MappingError(f"{path}: cannot read as Parquet: {_first_line(exc)}") from exc
    cols = [r[0] for r in desc]
    select = ", ".join(
        f"CASE WHEN {q(c)} IS NULL THEN NULL ELSE "
        + (f"to_json({q(c)})::VARCHAR" if r[1].endswith("]") or r[1].startswith(("STRUCT", "MAP")) else f"CAST({q(c)} AS VARCHAR)")
        + f" END AS {q(c)}"
        for c, r in zip(cols, desc)
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {part} AS SELECT {select}, {lit(path)} AS _file, file_row_number + 1 AS _row "
        f"FROM read_parquet({lit(path)}, file_row_number = true) ORDER BY file_row_number"
    )
    return cols


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
