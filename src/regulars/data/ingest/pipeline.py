"""Extract -> validate -> resolve customers -> load, as one transaction.

Every input row ends up either loaded or in ``quarantine`` with its file,
row number, raw content and reason, and the load checks it before it commits
(:mod:`regulars.data.ingest.accounting`): rows read = loaded + quarantined.
The whole load commits or nothing does.

DuckDB 2.0.0 loses the rows of an ``INSERT`` of a row group or more (122,880
rows) into a table that an earlier, empty ``INSERT ... SELECT`` of the same
transaction touched, when insertion order is preserved (it counts them but
scans return none; fixed in DuckDB 2.0.1). A load runs with insertion order
off, which avoids that code path, and turns it back on only where a file's
order numbers its rows (:mod:`regulars.data.ingest.readers`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from regulars.data import shop, suppression
from regulars.data.ingest import fieldwarnings, orders, quarantine
from regulars.data.ingest.accounting import Ledger, LoadInvariantError
from regulars.data.ingest.convert import DERIVED_KEY_PREFIX, Target
from regulars.data.ingest.options import (
    IDENTITY_INPUTS,
    Mapping,
    MappingError,
    ParseOptions,
    detect_format,
)
from regulars.data.ingest.readers import Staged, lit, q, stage, unstage
from regulars.data.ingest.rollup import ORDER_FIELDS
from regulars.data.ingest.targets import LoadContext, load_target
from regulars.data.schema import KINDS, TABLES

__all__ = ["IngestResult", "LoadInvariantError", "MappingError", "Source", "generic_source", "ingest"]

Progress = Callable[[str], None]

#: Load order when one source feeds several tables (parents first).
#: DuckDB memory limit while loading: a 10M-line file loads at ~1M rows/s within it (benchmarks/ingest_bench.py).
INGEST_MEMORY = "3GB"

TABLE_ORDER = [
    "customers", "products", "campaigns", "orders", "order_lines", "events", "messages",
    "tickets", "reviews", "surveys", "consents", "marketing_spend",
]


@dataclass
class IngestResult:
    """What a load did, in numbers (``--json`` prints this)."""

    run_id: int
    kind: str
    format: str
    files: list[str]
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_new: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    customers_created: int = 0
    customers_merged: int = 0
    guest_orders: int = 0
    field_warnings: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: seconds by phase: read, validate, customers, rollup, write, invariant, quarantine, commit
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Source:
    """How one kind of file is read and which canonical tables it feeds."""

    name: str
    format: str
    parse: ParseOptions
    targets: Callable[[list[str]], list[Target]]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


#: Common names of canonical columns in real exports, recognised without a mapping.
ALIASES = {"customers": {"consent_at": ("accepts_marketing_updated_at", "accepts_email_marketing_updated_at",
                                        "email_marketing_consent_updated_at", "consent_date", "consent_updated_at",
                                        "opt_in_date", "optin_date", "opted_in_at", "subscribed_at")}}


def generic_source(kind: str, fmt: str, mapping: Mapping | None) -> Source:
    """A source for a canonical file, or any file described by a mapping."""
    table = KINDS[kind]
    parse = mapping.parse if mapping else ParseOptions()
    if mapping:
        mapping.check_columns(table)

    def targets(columns: list[str]) -> list[Target]:
        by_norm = {_norm(c): c for c in columns}
        if mapping and mapping.columns:
            chosen = {}
            for canon, src in mapping.columns.items():
                actual = src if src in columns else by_norm.get(_norm(src))
                if actual is None:
                    raise MappingError(
                        f"{mapping.path or 'mapping'}: [columns] {canon} = {src!r}, but the file has no "
                        f"column {src!r}; its columns are: {', '.join(columns)}{_delimiter_hint(columns)}"
                    )
                chosen[canon] = actual
        else:
            known = set(TABLES[table].column_names) | IDENTITY_INPUTS
            if table == "order_lines":
                known |= set(ORDER_FIELDS)
            chosen = {_norm(c): c for c in columns if _norm(c) in known and _norm(c) != "_run_id"}
            for canon, names in ALIASES.get(table, {}).items():
                found = [c for c in columns if _norm(c) in names]
                if canon not in chosen and found:
                    chosen[canon] = found[0]
        exprs = {canon: q(src) for canon, src in chosen.items()}
        labels = {canon: f'column "{src}"' + ("" if _norm(src) == canon else f" ({canon})") for canon, src in chosen.items()}
        if table == "order_lines" and "line_number" not in exprs and "order_id" in exprs:
            exprs["line_number"] = f"row_number() OVER (PARTITION BY {q(chosen['order_id'])} ORDER BY _file, _row)"
            labels["line_number"] = "line number (position in the order)"
        if table == "orders" and parse.currency and "currency" not in exprs:
            exprs["currency"] = lit(parse.currency)
        _require(table, exprs, columns, mapping)
        foreign = {}
        if table == "order_lines" and "ordered_at" in exprs:  # the lines name their orders: roll them up
            foreign = {c: "orders" for c in exprs if c in ORDER_FIELDS or c in IDENTITY_INPUTS}
            if parse.currency and "currency" not in exprs:
                exprs["currency"] = lit(parse.currency)
                foreign["currency"] = "orders"
        return [Target(table, exprs, labels, foreign=foreign)]

    return Source(f"generic {fmt}", fmt, parse, targets)


def _delimiter_hint(columns: list[str]) -> str:
    """A hint when a file read as one column looks separated by another character."""
    if len(columns) != 1:
        return ""
    for d, name in ((",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if d in columns[0]:
            shown = "\\t" if d == "\t" else d
            return f' (the file looks {name}-separated: set [parse] delimiter = "{shown}")'
    return ""


def _require(table: str, exprs: dict[str, str], columns: list[str], mapping: Mapping | None) -> None:
    spec = TABLES[table]
    optional = set(spec.key) if table in DERIVED_KEY_PREFIX else set()
    if spec.customer_column:
        optional.add("customer_id")
    missing = [c.name for c in spec.columns if c.required and c.name not in exprs and c.name not in optional]
    # Orders without any customer column are guest orders (a till that records no customer).
    if spec.customer_column and table not in ("events", "orders") and not (set(exprs) & {"customer_id", "email", "phone"}):
        missing.append("customer_id (or email, or phone)")
    if missing:
        how = (
            f"add them to [columns] in {mapping.path}" if mapping and mapping.path
            else "write a mapping file with a [columns] table (canonical = \"your column\") and pass --mapping"
        )
        raise MappingError(
            f"{table} need {', '.join(missing)}; the file has columns: {', '.join(columns) or '(none)'}; {how}"
        )


def ingest(
    workspace,
    kind: str,
    files: list[str | Path],
    *,
    format: str | None = None,
    mapping: Mapping | str | Path | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Load *files* of one *kind* into the workspace, all or nothing.

    Parameters
    ----------
    workspace : regulars.Workspace
    kind : str
        One of :data:`regulars.data.schema.KINDS` (``orders``, ``customers`` ...).
    files : list of paths
        Files of one format; several files are loaded in one transaction.
    format : str, optional
        ``csv``, ``parquet``, ``jsonl`` or a preset name (``shopify``,
        ``woocommerce``, ``klaviyo``, ``mailchimp``, ``ga4``). Default: from
        the mapping, else detected from the file's columns and extension.
    mapping : Mapping or path, optional
        Column mapping and parse options (see :mod:`regulars.data.ingest.options`).

    Returns
    -------
    IngestResult
    """
    from regulars.data.presets import PRESETS, detect_preset

    say = progress or (lambda _msg: None)
    if kind not in KINDS:
        raise MappingError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if not files:
        raise MappingError("no files given")
    paths = [str(f) for f in files]
    for p in paths:
        if not Path(p).is_file():
            raise MappingError(f"file not found: {p}")
    if isinstance(mapping, (str, Path)):
        mapping = Mapping.from_file(mapping)
    if mapping and mapping.kind and mapping.kind != kind:
        raise MappingError(f"{mapping.path}: this mapping is for kind {mapping.kind!r}, not {kind!r}")
    fmt = format or (mapping.format if mapping else None)
    if fmt in PRESETS:
        source = PRESETS[fmt].source(kind)
    else:
        fmt = fmt or detect_format(paths[0])
        source = None
        if not mapping:
            preset = detect_preset(paths[0], kind)
            if preset is not None:
                source = preset.source(kind)
                fmt = preset.name
        if source is None:
            source = generic_source(kind, fmt, mapping)

    con = workspace._con
    started = time.perf_counter()
    with memory_budget(con):
        return _run(con, kind, paths, fmt, source, say, started)


@contextlib.contextmanager
def memory_budget(con):
    """Cap DuckDB's memory while loading (staging tables spill to disk beyond it), then restore it.

    The cap is ``$REGULARS_INGEST_MEMORY`` (default :data:`INGEST_MEMORY`); it only ever lowers
    the current limit. Insertion order is off for the load's connection (see the module docstring;
    it also lowers memory).
    """
    wanted = os.environ.get("REGULARS_INGEST_MEMORY", INGEST_MEMORY)
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    bar = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0]
    con.execute("SET memory_limit = ?", [wanted])
    lowered = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    if _bytes(lowered) > _bytes(before):
        con.execute("SET memory_limit = ?", [before])
    con.execute("SET SESSION preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # the caller shows its own progress
    try:
        yield
    finally:
        con.execute("SET memory_limit = ?", [before])
        con.execute(f"SET SESSION preserve_insertion_order = {'true' if order else 'false'}")
        con.execute(f"SET enable_progress_bar = {'true' if bar else 'false'}")


def _bytes(setting: str) -> float:
    number, unit = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B)\s*", setting).groups()
    scale = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    return float(number) * scale[unit]


def effective_parse(parse: ParseOptions, staged: Staged, shop_timezone: str) -> ParseOptions:
    """*parse* with what it leaves open settled: the time zone (the shop's) and the decimal
    separator (``,`` in semicolon-separated files)."""
    return dataclasses.replace(
        parse,
        timezone=parse.timezone or shop_timezone,
        decimal=parse.decimal or staged.decimal,
    )


def check_duplicate_columns(targets: list[Target], staged: Staged) -> None:
    """A column name the file's header repeats cannot be used: which one was meant?"""
    for name, positions in staged.duplicated().items():
        used = [t.table for t in targets if any(q(name) in e for e in t.exprs.values())]
        if used:
            where = ", ".join(str(p) for p in positions)
            raise MappingError(
                f'the file has {len(positions)} columns named "{name}" (columns {where}) and {used[0]} would use it: '
                f'rename them in the file, or map the one you mean by its position, "{name} (2)" for the second, '
                "in a mapping's [columns]"
            )


def _run(con, kind, paths, fmt, source, say, started) -> IngestResult:
    # Files are read into temp tables before the transaction: DuckDB aborts a transaction at the
    # first failed statement, and the fast CSV reader is allowed to fail (the file is then
    # rewritten row by row). Temp tables never reach the workspace file.
    say(f"reading {len(paths)} file(s)")
    t0 = time.perf_counter()
    try:
        staged = stage(con, paths, source.format, source.parse)
    except BaseException:
        _drop_staging(con)
        raise
    read_seconds = round(time.perf_counter() - t0, 3)
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = con.execute("SELECT nextval('ingest_run_ids')").fetchall()[0][0]
        result = IngestResult(run_id=run_id, kind=kind, format=fmt, files=paths)
        result.timings["read"] = read_seconds
        result.rows_read = staged.rows_read
        result.warnings.extend(staged.warnings)
        parse = effective_parse(source.parse, staged, shop.timezone(con))
        targets = sorted(source.targets(staged.columns), key=lambda t: TABLE_ORDER.index(t.table))
        check_duplicate_columns(targets, staged)
        ledger = Ledger(run_id)
        ctx = LoadContext(con, run_id, kind, parse, ledger, result)
        fieldwarnings.create(con)
        orders.exported_at_table(con, paths)
        for target in targets:
            say(f"validating and loading {target.table}")
            load_target(ctx, target)
        say("recording rejected rows")
        with ctx.phase("invariant"):
            suppression.reject_erased_rows(con)  # an erased person's rows: one reason, no content
            result.rows_quarantined = quarantine.rejected(con)
            result.rows_loaded = ledger.close(con, result.rows_read, result.rows_quarantined)
        with ctx.phase("quarantine"):
            quarantine.write(con, kind, staged.columns, run_id, result.rows_quarantined)
            result.field_warnings = fieldwarnings.count(con)
            fieldwarnings.write(con, run_id, kind)
        if result.field_warnings:
            result.warnings.append(
                f"{result.field_warnings:,} value(s) could not be read and were left out of rows that loaded "
                f"(a junk phone, a malformed e-mail ...): see `regulars quarantine --warnings --run {run_id}`"
            )
        shop.settle(con, timezone=source.parse.timezone, currency=_currency(con, kind))
        result.seconds = round(time.perf_counter() - started, 3)
        # the clock, not DuckDB's now(): inside a transaction now() is the moment it began
        finished_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        con.execute(
            "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id, kind, fmt, json.dumps(paths), finished_at - dt.timedelta(seconds=result.seconds),
                finished_at, result.rows_read,
                result.rows_new, result.rows_updated, result.rows_unchanged, result.rows_quarantined,
                json.dumps({"tables": result.tables, "warnings": result.warnings,
                            "customers_created": result.customers_created, "rows_loaded": result.rows_loaded,
                            "guest_orders": result.guest_orders, "field_warnings": result.field_warnings,
                            "timings": result.timings}),
            ],
        )
        say("committing")
        with ctx.phase("commit"):
            con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        staged.cleanup()
        _drop_staging(con)
    return result


def _drop_staging(con) -> None:
    for t in ("_rejects", "_t", "_g", "_warns", "_exported", "_erased"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    unstage(con)


def _currency(con, kind: str) -> str | None:
    """The most common currency of the orders, for the shop's currency setting."""
    if kind not in ("orders", "order-lines"):
        return None
    rows = con.execute("SELECT currency FROM orders WHERE currency IS NOT NULL GROUP BY 1 "
                       "ORDER BY count(*) DESC, 1 LIMIT 1").fetchall()
    return rows[0][0] if rows else None
