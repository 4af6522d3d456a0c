"""Read source files into a staging table of text columns, numbering every row.

Everything is read as text (``VARCHAR``) so that no value is lost or guessed
before validation; each staged row keeps its file and 1-based data-row
number (the header is not counted). Rows the reader cannot split into
columns (wrong number of fields, broken quotes, invalid UTF-8, invalid JSON)
go straight to the ``_rejects`` staging table with their reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from regulars.data.ingest.options import MappingError, ParseOptions

UNIT_SEPARATOR = "\x1f"  # a byte no text export uses: lets the CSV reader return whole lines


@dataclass
class Staged:
    """What was read: the staging table, its source columns, and counts per file."""

    columns: list[str]
    rows_per_file: dict[str, int] = field(default_factory=dict)
    rejected_per_file: dict[str, int] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(self.rows_per_file.values()) + sum(self.rejected_per_file.values())


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
        "(_file VARCHAR, _row BIGINT, column_name VARCHAR, reason VARCHAR, raw VARCHAR)"
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
    for i, path in enumerate(files):
        if not Path(path).exists():
            raise MappingError(f"file not found: {path}")
        part = f"_part{i}"
        if os.path.getsize(path) == 0:
            cols = _empty_part(con, part, parse)
        elif fmt == "csv" and parse.delimiter == "whitespace":
            cols = _read_split_lines(con, part, path, parse)
        elif fmt == "csv":
            cols = _read_csv(con, part, path, parse)
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
        parts.append(part)
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS {union}")
    return staged


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


def _renumber(con, tmp: str, part: str, path: str) -> None:
    """Make *part*: the rows of *tmp* with ``_file`` and their data-row number ``_row``.

    The reader keeps good rows in file order (``rowid``); the rejected rows'
    numbers are known from the reader. Good row *g* (1-based) is data row
    ``g + j`` where *j* counts rejected rows that come before it. Without
    rejected rows *part* is a view over *tmp* (no copy of the file's rows).
    """
    first = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {tmp}").fetchall()[0][0]
    good = f"(rowid - {int(first)} + 1)"
    rejected = con.execute("SELECT count(*) FROM _rejects WHERE _file = ?", [path]).fetchall()[0][0]
    if not rejected:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {part} AS SELECT *, {lit(path)} AS _file, {good} AS _row FROM {tmp}")
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _gaps AS SELECT good_before, max(j) AS j FROM ("
        "SELECT _row - row_number() OVER (ORDER BY _row) AS good_before, "
        "row_number() OVER (ORDER BY _row) AS j FROM _rejects WHERE _file = ?) GROUP BY good_before",
        [path],
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {part}_n AS "
        f"SELECT t.* EXCLUDE (_g), {lit(path)} AS _file, t._g + coalesce(gaps.j, 0) AS _row "
        f"FROM (SELECT *, {good} AS _g FROM {tmp}) t "
        f"ASOF LEFT JOIN (SELECT good_before + 1 AS g_from, j FROM _gaps) gaps ON t._g >= gaps.g_from "
        f"ORDER BY t._g"
    )
    con.execute("DROP TABLE _gaps")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {part} AS SELECT * FROM {part}_n")


def _read_csv(con, part: str, path: str, parse: ParseOptions) -> list[str]:
    opts = [
        "all_varchar = true",
        f"header = {'true' if parse.header else 'false'}",
        "store_rejects = true",
        "rejects_table = '_rej'",
        "rejects_scan = '_rejscan'",
        f"encoding = {lit(parse.encoding)}",
        "null_padding = false",
        "sample_size = 20480",
    ]
    if parse.delimiter:
        opts.append(f"delim = {lit(parse.delimiter)}")
    if parse.quote is not None:
        opts.append(f"quote = {lit(parse.quote)}")
    if parse.names:
        opts.append("names = [" + ", ".join(lit(n) for n in parse.names) + "]")
    con.execute("DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _rejscan")
    tmp = part + "_tmp"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT * FROM read_csv({lit(path)}, {', '.join(opts)})"
        )
    except Exception as exc:  # the sniffer or the whole file failed: nothing was read
        raise MappingError(f"{path}: cannot read as CSV: {_first_line(exc)}") from exc
    header_lines = 1 if parse.header else 0
    con.execute(
        f"INSERT INTO _rejects SELECT {lit(path)}, line - {header_lines}, NULL, "
        "lower(arg_min(error_type::VARCHAR, column_idx)) || ': ' || arg_min(error_message, column_idx), "
        "to_json({'line': arg_min(csv_line, column_idx)}) FROM _rej GROUP BY line"
    )
    con.execute("DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _rejscan")
    cols = [r[0] for r in con.execute(f"DESCRIBE {tmp}").fetchall()]
    if not parse.header and not parse.names:
        # DuckDB names headerless columns column0, column1, ...; we count from 1.
        for i, c in enumerate(cols):
            con.execute(f"ALTER TABLE {tmp} RENAME COLUMN {q(c)} TO {q('_col_' + str(i + 1))}")
        for i in range(len(cols)):
            con.execute(f"ALTER TABLE {tmp} RENAME COLUMN {q('_col_' + str(i + 1))} TO {q('column' + str(i + 1))}")
        cols = [f"column{i + 1}" for i in range(len(cols))]
    _renumber(con, tmp, part, path)
    return cols


def _read_lines(con, tmp: str, path: str, encoding: str = "utf-8") -> None:
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
    _read_lines(con, tmp, path, parse.encoding)
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
        f"INSERT INTO _rejects SELECT {lit(path)}, _r, NULL, "
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
        f"INSERT INTO _rejects SELECT {lit(path)}, _r, NULL, "
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
