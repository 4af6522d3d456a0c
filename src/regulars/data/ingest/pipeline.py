"""Extract -> validate -> resolve customers -> load, as one transaction.

Every input row ends up either loaded or in ``quarantine`` with its file,
row number, raw content and reason. The whole load commits or nothing does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from regulars.data import identity, suppression
from regulars.data.ingest.convert import DERIVED_KEY_PREFIX, Target, build_typed
from regulars.data.ingest.load import upsert
from regulars.data.ingest.options import (
    IDENTITY_INPUTS,
    Mapping,
    MappingError,
    ParseOptions,
    detect_format,
)
from regulars.data.ingest.readers import unstage, lit, q, stage
from regulars.data.schema import KINDS, TABLES

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
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

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
                        f"column {src!r}; its columns are: {', '.join(columns)}"
                    )
                chosen[canon] = actual
        else:
            known = set(TABLES[table].column_names) | IDENTITY_INPUTS
            chosen = {_norm(c): c for c in columns if _norm(c) in known and _norm(c) != "_run_id"}
        exprs = {canon: q(src) for canon, src in chosen.items()}
        labels = {canon: f'column "{src}"' + ("" if _norm(src) == canon else f" ({canon})") for canon, src in chosen.items()}
        if table == "order_lines" and "line_number" not in exprs and "order_id" in exprs:
            exprs["line_number"] = f"row_number() OVER (PARTITION BY {q(chosen['order_id'])} ORDER BY _file, _row)"
            labels["line_number"] = "line number (position in the order)"
        if table == "orders" and parse.currency and "currency" not in exprs:
            exprs["currency"] = lit(parse.currency)
        _require(table, exprs, columns, mapping)
        return [Target(table, exprs, labels)]

    return Source(f"generic {fmt}", fmt, parse, targets)


def _require(table: str, exprs: dict[str, str], columns: list[str], mapping: Mapping | None) -> None:
    spec = TABLES[table]
    optional = set(spec.key) if table in DERIVED_KEY_PREFIX else set()
    if spec.customer_column:
        optional.add("customer_id")
    missing = [c.name for c in spec.columns if c.required and c.name not in exprs and c.name not in optional]
    if spec.customer_column and table not in ("events",) and not (set(exprs) & {"customer_id", "email", "phone"}):
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

    con = workspace.con
    started = time.perf_counter()
    with memory_budget(con):
        return _run(con, kind, paths, fmt, source, say, started)


@contextlib.contextmanager
def memory_budget(con):
    """Cap DuckDB's memory while loading (staging tables spill to disk beyond it), then restore it.

    The cap is ``$REGULARS_INGEST_MEMORY`` (default :data:`INGEST_MEMORY`); it only ever lowers
    the current limit.
    """
    wanted = os.environ.get("REGULARS_INGEST_MEMORY", INGEST_MEMORY)
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute("SET memory_limit = ?", [wanted])
    lowered = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    if _bytes(lowered) > _bytes(before):
        con.execute("SET memory_limit = ?", [before])
    try:
        yield
    finally:
        con.execute("SET memory_limit = ?", [before])


def _bytes(setting: str) -> float:
    number, unit = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B)\s*", setting).groups()
    scale = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    return float(number) * scale[unit]


def _run(con, kind, paths, fmt, source, say, started) -> IngestResult:
    con.execute("BEGIN TRANSACTION")
    try:
        run_id = con.execute("SELECT nextval('ingest_run_ids')").fetchall()[0][0]
        result = IngestResult(run_id=run_id, kind=kind, format=fmt, files=paths)
        say(f"reading {len(paths)} file(s)")
        staged = stage(con, paths, source.format, source.parse)
        result.rows_read = staged.rows_read
        targets = sorted(source.targets(staged.columns), key=lambda t: TABLE_ORDER.index(t.table))
        for target in targets:
            say(f"validating and loading {target.table}")
            _load_target(con, target, source, run_id, result)
        say("recording rejected rows")
        suppression.reject_erased_rows(con)
        _write_quarantine(con, kind, staged.columns, run_id, result)
        result.rows_loaded = result.rows_read - result.rows_quarantined
        result.seconds = round(time.perf_counter() - started, 3)
        con.execute(
            "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, now()::TIMESTAMP - to_microseconds(?::BIGINT), now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
            [
                run_id, kind, fmt, json.dumps(paths), int(result.seconds * 1e6), result.rows_read,
                result.rows_new, result.rows_updated, result.rows_unchanged, result.rows_quarantined,
                json.dumps({"tables": result.tables, "warnings": result.warnings,
                            "customers_created": result.customers_created}),
            ],
        )
        for t in ("_rejects", "_t", "_g"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        unstage(con)
        say("committing")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _load_target(con, target: Target, source: Source, run_id: int, result: IngestResult) -> None:
    table = target.table
    spec = TABLES[table]
    cols = list(target.exprs)
    txt_cols = [q(c + "__txt") for c in cols]
    # A source without ids: derive a stable id from the row's content and its
    # occurrence among identical rows of the same file (two identical rows are
    # two transactions; reloading the file gives the same ids).
    key = spec.key[0]
    derive = key not in cols and table in DERIVED_KEY_PREFIX and target.derive_key
    build_typed(con, target, source.parse, "_t", keep_text=derive)
    if derive:
        content = ", ".join(f"coalesce({t}, '')" for t in txt_cols)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _t AS SELECT * EXCLUDE ({', '.join(txt_cols)}), "
            f"{lit(DERIVED_KEY_PREFIX[table])} || substr(md5(concat_ws(chr(31), {content}, "
            f"row_number() OVER (PARTITION BY _file, {', '.join(txt_cols)} ORDER BY _row)::VARCHAR)), 1, 20) AS {q(key)} FROM _t"
        )
        cols.append(key)
    # an erased person stays erased: their rows (valid or not) are set aside before anything else
    suppression.drop_erased_rows(con, "_t", set(cols) & {"customer_id", "email", "phone", "anonymous_id"})
    rejected = con.execute(
        "INSERT INTO _rejects SELECT _file, _row, _column, _reason, NULL FROM _t WHERE _reason IS NOT NULL"
    ).fetchall()[0][0]
    if rejected:
        con.execute("CREATE OR REPLACE TEMP TABLE _g AS SELECT * EXCLUDE (_reason, _column) FROM _t WHERE _reason IS NULL")
        con.execute("DROP TABLE _t")
    else:  # nothing to filter out: no copy
        con.execute("ALTER TABLE _t RENAME TO _g")

    if spec.customer_column:
        has = set(cols) & {"customer_id", "email", "phone", "anonymous_id"}
        if "customer_id" not in cols:
            con.execute("ALTER TABLE _g ADD COLUMN customer_id VARCHAR")
            cols.append("customer_id")
        if has:
            res = identity.resolve(con, "_g", has, run_id, f"{table} load (run {run_id})", table != "events")
            result.customers_merged += len(res.merges)
            if res.conflicts:
                result.warnings.append(
                    f"{res.conflicts} row(s) carry an e-mail or phone already linked to a different shop customer; "
                    "they were kept apart (see `regulars doctor`)"
                )
        if table != "events":
            id_columns = " / ".join(c for c in ("customer_id", "email", "phone") if c in has) or "customer_id"
            con.execute(
                "INSERT INTO _rejects SELECT _file, _row, ?, "
                "'no customer identifier: the row has no customer id, e-mail or phone', NULL FROM _g WHERE customer_id IS NULL",
                [id_columns],
            )
            con.execute("DELETE FROM _g WHERE customer_id IS NULL")

    _reject_duplicate_keys(con, table, cols)
    if table == "order_lines":
        _check_orders_exist(con)
        result.tables.setdefault("products", {}).setdefault("stubs_created", 0)
        result.tables["products"]["stubs_created"] += _product_stubs(con, cols, run_id)
    if table == "messages" and "campaign_id" in cols:
        con.execute(
            f"INSERT INTO campaigns (campaign_id, name, channel, sent_at, _run_id) "
            f"SELECT campaign_id, campaign_id, {'any_value(channel)' if 'channel' in cols else 'NULL'}, min(occurred_at), {run_id} "
            "FROM _g g WHERE campaign_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.campaign_id = g.campaign_id) "
            "GROUP BY campaign_id"
        )
    if spec.customer_column and table != "customers":
        ident = set(cols) & {"email", "phone"}
        result.customers_created += identity.ensure_customers(con, "_g", ident, run_id)

    load_cols = [c for c in cols if c in spec.column_names]
    counts = upsert(con, table, "_g", load_cols, run_id)
    if table == "customers":
        _record_consents_from_customers(con, cols, run_id)
    if table == "consents":
        _apply_latest_consents(con)
    if table == "events" and "anonymous_id" in cols:
        identity.stitch_anonymous_events(con)
    result.tables.setdefault(table, {}).update(counts.as_dict())
    result.rows_new += counts.new
    result.rows_updated += counts.updated
    result.rows_unchanged += counts.unchanged
    con.execute("DROP TABLE _g")


def _reject_duplicate_keys(con, table: str, cols: list[str]) -> None:
    """Within one load, a key seen twice keeps its last row; earlier rows are quarantined."""
    key = [k for k in TABLES[table].key if k in cols]
    if not key:
        return
    keys = ", ".join(q(k) for k in key)
    # Equal keys hash equally: no repeated hash means no repeated key (a collision only costs the exact pass).
    if not con.execute(f"SELECT count(*) - count(DISTINCT hash({keys})) FROM _g").fetchall()[0][0]:
        return
    shown = " || ', ' || ".join(f"{lit(k + '=')} || coalesce(CAST({q(k)} AS VARCHAR), '')" for k in key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _dups AS
        SELECT _file, _row, {shown} AS k,
               last_value(_file || ' row ' || _row) OVER w AS winner,
               row_number() OVER w AS pos, count(*) OVER (PARTITION BY {keys}) AS n
        FROM _g WINDOW w AS (PARTITION BY {keys} ORDER BY _file, _row ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        """
    )
    con.execute(
        f"INSERT INTO _rejects SELECT _file, _row, {lit(key[0])}, "
        "'duplicate key ' || k || ': a later row (' || winner || ') was loaded instead', NULL "
        "FROM _dups WHERE n > 1 AND pos < n"
    )
    con.execute("DELETE FROM _g USING _dups d WHERE _g._file = d._file AND _g._row = d._row AND d.n > 1 AND d.pos < d.n")
    con.execute("DROP TABLE _dups")


def _check_orders_exist(con) -> None:
    missing = con.execute("SELECT count(*) FROM _g g ANTI JOIN orders o ON o.order_id = g.order_id").fetchall()[0][0]
    if not missing:
        return
    con.execute(
        "INSERT INTO _rejects SELECT _file, _row, 'order_id', "
        "'order ' || order_id || ' is not loaded: load the orders file first (or its row was rejected, see the quarantine)', NULL "
        "FROM _g g WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = g.order_id)"
    )
    con.execute("DELETE FROM _g WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = _g.order_id)")


def _product_stubs(con, cols: list[str], run_id: int) -> int:
    """Products named by order lines but missing from ``products`` get a row from the line."""
    if "product_id" not in cols:
        return 0
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _new_products AS SELECT DISTINCT product_id FROM _g "
        "WHERE product_id IS NOT NULL EXCEPT SELECT product_id FROM products"
    )
    n = con.execute("SELECT count(*) FROM _new_products").fetchall()[0][0]
    if n:
        pick = {c: (f"arg_max({c}, _row)" if c in cols else "NULL") for c in ("sku", "product_name", "category", "unit_price")}
        con.execute(
            f"INSERT INTO products (product_id, sku, name, category, price, is_active, _run_id) "
            f"SELECT product_id, {pick['sku']}, {pick['product_name']}, {pick['category']}, {pick['unit_price']}, true, {run_id} "
            "FROM _g g SEMI JOIN _new_products n USING (product_id) GROUP BY product_id"
        )
    con.execute("DROP TABLE _new_products")
    return n


PURPOSES = {"accepts_email": "email", "accepts_sms": "sms", "accepts_personalization": "personalization"}


def _record_consents_from_customers(con, cols: list[str], run_id: int) -> None:
    """A customers file states consent: keep it in the consent history when it changed."""
    for col, purpose in PURPOSES.items():
        if col not in cols:
            continue
        con.execute(
            f"""
            INSERT INTO consents
            SELECT g.customer_id, {lit(purpose)}, g.{col}, now()::TIMESTAMP, 'customers file ' || parse_filename(g._file), {run_id}
            FROM _g g
            WHERE g.{col} IS NOT NULL AND g.{col} IS DISTINCT FROM (
                SELECT arg_max(c.is_granted, c.recorded_at) FROM consents c
                WHERE c.customer_id = g.customer_id AND c.purpose = {lit(purpose)})
            """
        )


def _apply_latest_consents(con) -> None:
    """The customers table holds the current consent per purpose: the latest decision."""
    for col, purpose in PURPOSES.items():
        con.execute(
            f"""
            UPDATE customers SET {col} = l.is_granted
            FROM (SELECT customer_id, arg_max(is_granted, recorded_at) AS is_granted FROM consents
                  WHERE purpose = {lit(purpose)} GROUP BY 1) l
            WHERE customers.customer_id = l.customer_id AND customers.{col} IS DISTINCT FROM l.is_granted
            """
        )


def _write_quarantine(con, kind: str, columns: list[str], run_id: int, result: IngestResult) -> None:
    n = con.execute("SELECT count(*) FROM (SELECT DISTINCT _file, _row FROM _rejects)").fetchall()[0][0]
    result.rows_quarantined = n
    if not n:
        return
    raw_struct = "{" + ", ".join(f"{lit(c)}: r.{q(c)}" for c in columns) + "}" if columns else "{}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _q AS
        SELECT {run_id} AS run_id, {lit(kind)} AS kind, x._file AS file, x._row AS row_number,
               x.column_name, x.reason, coalesce(x.raw, to_json({raw_struct})::VARCHAR) AS raw
        FROM (SELECT _file, _row, string_agg(DISTINCT column_name, ', ' ORDER BY column_name) AS column_name,
                     string_agg(DISTINCT reason, '; ' ORDER BY reason) AS reason, max(raw) AS raw
              FROM _rejects GROUP BY _file, _row) x
        LEFT JOIN _raw r ON r._file = x._file AND r._row = x._row
        """
    )
    con.execute(
        """
        INSERT INTO quarantine
        SELECT run_id, kind, file, row_number, column_name, reason, raw::JSON, md5(raw) FROM _q
        WHERE NOT EXISTS (
            SELECT 1 FROM quarantine o WHERE o.kind = _q.kind AND o.row_number = _q.row_number
              AND o.raw_hash = md5(_q.raw) AND parse_filename(o.file) = parse_filename(_q.file)
              AND o.reason = _q.reason)
        """
    )
    con.execute("DROP TABLE _q")
