"""Load one target (one canonical table a source feeds): validate, resolve customers, write, account.

:func:`load_target` runs, for one :class:`~regulars.data.ingest.convert.Target`, every step
between the staged text and the canonical table: typed conversion with reasons and field
warnings, stable ids for rows without one, identity resolution, guest orders, duplicate keys,
orders that order lines need, product and campaign stubs, refunds and cancellations with their
dates, the upsert itself (read back to check it), and the target's line in the load's ledger.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field

from regulars.data import identity, suppression
from regulars.data.ingest import fieldwarnings, orders
from regulars.data.ingest.accounting import Ledger, TargetCount, check_written, reject, written
from regulars.data.ingest.convert import DERIVED_KEY_PREFIX, Target, build_typed
from regulars.data.ingest.load import upsert
from regulars.data.ingest.options import ParseOptions
from regulars.data.ingest.readers import lit, q
from regulars.data.schema import TABLES


@dataclass
class LoadContext:
    """What every target of one load shares."""

    con: object
    run_id: int
    kind: str
    parse: ParseOptions
    ledger: Ledger
    result: object  # IngestResult
    names: dict[str, int] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str):
        """Add the time spent in the block to ``result.timings[name]`` (seconds)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            timings = self.result.timings
            timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - start, 3)

    def name(self, table: str) -> str:
        n = self.names[table] = self.names.get(table, 0) + 1
        return table if n == 1 else f"{table}#{n}"


#: The reason a row that needs a customer has none (also given by the Spark ingest, :mod:`regulars.data.lake_ingest`).
NO_CUSTOMER = "no customer identifier: the row has no customer id, e-mail or phone"


def load_target(ctx: LoadContext, target: Target) -> None:
    """Validate and load one target (see the module docstring)."""
    from regulars.data.ingest import rollup

    if rollup.is_rollup(target):
        rollup.load(ctx, target)
        return
    con, table = ctx.con, target.table
    if table == "customers":  # data minimisation: personal columns the shop chose not to keep never land
        from regulars.data.privacy_store import minimise

        exprs, dropped = minimise(con, target.exprs)
        if dropped:
            target = dataclasses.replace(target, exprs=exprs,
                                         labels={k: v for k, v in target.labels.items() if k in exprs})
            ctx.result.warnings.append(f"not kept (data minimisation setting): {', '.join(dropped)}")
    spec = TABLES[table]
    name = ctx.name(table)
    with ctx.phase("validate"):
        cols = typed(ctx, target, name)
        count = ctx.ledger.enter(name, table, con.execute("SELECT count(*) FROM _t").fetchall()[0][0],
                                 covering=target.where is None)
        split_rejects(con, name)
    if spec.customer_column:
        with ctx.phase("customers"):
            cols = resolve_customers(ctx, name, table, cols)
    with ctx.phase("validate"):
        reject_duplicate_keys(ctx, name, table, cols)
    if table == "order_lines":
        with ctx.phase("validate"):
            check_orders_exist(con, name)
        with ctx.phase("write"):
            ctx.result.tables.setdefault("products", {}).setdefault("stubs_created", 0)
            ctx.result.tables["products"]["stubs_created"] += product_stubs(con, cols, ctx.run_id)
    if table == "messages" and "campaign_id" in cols:
        with ctx.phase("write"):
            con.execute(
                f"INSERT INTO campaigns (campaign_id, name, channel, sent_at, _run_id) "
                f"SELECT campaign_id, campaign_id, {'any_value(channel)' if 'channel' in cols else 'NULL'}, min(occurred_at), "
                f"{ctx.run_id} FROM _g g WHERE campaign_id IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM campaigns c WHERE c.campaign_id = g.campaign_id) GROUP BY campaign_id"
            )
    if table == "orders":
        with ctx.phase("validate"):
            cols = orders.prepare(con, cols)
    if spec.customer_column:
        with ctx.phase("customers"):
            if table != "customers":
                ident = set(cols) & {"email", "phone"}
                ctx.result.customers_created += identity.ensure_customers(con, "_g", ident, ctx.run_id)
            fieldwarnings.attach_customers(con, "_g")
    with ctx.phase("write"):
        write(ctx, table, "_g", cols, count)
        if table == "customers":
            record_consents_from_customers(con, cols, ctx.run_id)
        if table == "consents":
            apply_latest_consents(con)
        if table == "events" and "anonymous_id" in cols:
            identity.stitch_anonymous_events(con)
        con.execute("DROP TABLE _g")
    with ctx.phase("invariant"):
        ctx.ledger.close_target(con, count)


def typed(ctx: LoadContext, target: Target, name: str) -> list[str]:
    """Build ``_t`` (typed rows with reasons); derive stable ids for rows without one."""
    con, table = ctx.con, target.table
    spec = TABLES[table]
    cols = list(target.exprs)
    key = spec.key[0]
    derivable = table in DERIVED_KEY_PREFIX and target.derive_key
    derive = derivable and key not in cols
    warns = build_typed(con, target, ctx.parse, "_t", keep_text=derive)
    if derivable and not derive and con.execute(
            f"SELECT count(*) FROM _t WHERE {q(key)} IS NULL AND _reason IS NULL").fetchall()[0][0]:
        # the file has an id column, empty on some rows: those rows get a derived id too
        warns = build_typed(con, target, ctx.parse, "_t", keep_text=True)
        fieldwarnings.collect(con, "_t", warns)
        _derive_key(con, table, key, [q(c + "__txt") for c in cols], only_missing=True)
        return cols
    fieldwarnings.collect(con, "_t", warns)
    if derive:
        _derive_key(con, table, key, [q(c + "__txt") for c in cols], only_missing=False)
        cols.append(key)
    # an erased person stays erased: their rows (valid or not) are set aside before anything else;
    # the pipeline quarantines them (without content) before the load is counted
    suppression.drop_erased_rows(con, "_t", set(cols) & {"customer_id", "email", "phone", "anonymous_id"})
    return cols


def _derive_key(con, table: str, key: str, txt_cols: list[str], only_missing: bool) -> None:
    """A stable id from the row's content and its occurrence among identical rows of the same file
    (two identical rows are two transactions; reloading the file gives the same ids)."""
    content = ", ".join(f"coalesce({t}, '')" for t in txt_cols)
    derived = (f"{lit(DERIVED_KEY_PREFIX[table])} || substr(md5(concat_ws(chr(31), {content}, "
               f"row_number() OVER (PARTITION BY _file, {', '.join(txt_cols)} ORDER BY _row)::VARCHAR)), 1, 20)")
    value = f"coalesce({q(key)}, {derived})" if only_missing else derived
    keep = f"* EXCLUDE ({', '.join(txt_cols)}{', ' + q(key) if only_missing else ''})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _t AS SELECT {keep}, {value} AS {q(key)} FROM _t")


def split_rejects(con, name: str) -> int:
    """Move the rows of ``_t`` with a reason to ``_rejects``; the rest become ``_g``."""
    rejected = reject(con, name, "FROM _t WHERE _reason IS NOT NULL", None, "_reason", column_sql="_column")
    keep = "* EXCLUDE (_reason, _column" + "".join(
        f", {c}" for c in _warning_columns(con, "_t")) + ")"
    if rejected or keep != "* EXCLUDE (_reason, _column)":
        con.execute(f"CREATE OR REPLACE TEMP TABLE _g AS SELECT {keep} FROM _t WHERE _reason IS NULL")
        con.execute("DROP TABLE _t")
    else:  # nothing to filter out: no copy
        con.execute("ALTER TABLE _t RENAME TO _g")
    return rejected


def _warning_columns(con, table: str) -> list[str]:
    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    return [c for c in cols if (c.startswith("_w") and c[2:].isdigit()) or c.endswith("__txt")]


def resolve_customers(ctx: LoadContext, name: str, table: str, cols: list[str]) -> list[str]:
    """Resolve ``customer_id`` from the identifiers; reject rows without one (orders: guests)."""
    con = ctx.con
    has = set(cols) & {"customer_id", "email", "phone", "anonymous_id"}
    if "customer_id" not in cols:
        con.execute("ALTER TABLE _g ADD COLUMN customer_id VARCHAR")
        cols = cols + ["customer_id"]
    if has:
        res = identity.resolve(con, "_g", has, ctx.run_id, f"{table} load (run {ctx.run_id})", table != "events")
        ctx.result.customers_merged += len(res.merges)
        if res.conflicts:
            ctx.result.warnings.append(
                f"{res.conflicts} row(s) carry an e-mail or phone already linked to a different customer; "
                "they were kept apart (see `regulars doctor`)"
            )
    if table == "orders":
        guests = orders.guest_count(con)
        if guests:
            ctx.result.guest_orders += guests
            if not has:
                ctx.result.warnings.append(
                    "the file names no customer (no customer id, e-mail or phone column is mapped): every order "
                    "loaded as a guest order, counted in shop totals but not in customer analyses"
                )
    elif table != "events":
        id_columns = " / ".join(c for c in ("customer_id", "email", "phone") if c in has) or "customer_id"
        reject(con, name, "FROM _g WHERE customer_id IS NULL", id_columns, lit(NO_CUSTOMER))
        con.execute("DELETE FROM _g WHERE customer_id IS NULL")
    return cols


def reject_duplicate_keys(ctx: LoadContext, name: str, table: str, cols: list[str]) -> None:
    """Within one load, a key seen twice keeps its last row; earlier rows are quarantined."""
    con = ctx.con
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
    n = reject(con, name, "FROM _dups WHERE n > 1 AND pos < n", key[0],
               "'duplicate key ' || k || ': a later row (' || winner || ') was loaded instead'")
    con.execute("DELETE FROM _g USING _dups d WHERE _g._file = d._file AND _g._row = d._row AND d.n > 1 AND d.pos < d.n")
    con.execute("DROP TABLE _dups")
    if table == "orders" and n:
        ctx.result.warnings.append(
            f"{n:,} row(s) repeat an order id already on another row and were quarantined as duplicates. If the file "
            "has one row per item (order lines), load it with `regulars ingest order-lines FILE --mapping M.toml` "
            "instead: each order's lines then add up to its total (see docs/formats.md)"
        )


def check_orders_exist(con, name: str) -> None:
    missing = con.execute("SELECT count(*) FROM _g g ANTI JOIN orders o ON o.order_id = g.order_id").fetchall()[0][0]
    if not missing:
        return
    reject(con, name, "FROM _g g WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = g.order_id)", "order_id",
           "'order ' || order_id || ' is not loaded: load the orders file first (or its row was rejected, "
           "see the quarantine)'")
    con.execute("DELETE FROM _g WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = _g.order_id)")


def product_stubs(con, cols: list[str], run_id: int, src: str = "_g") -> int:
    """Products named by order lines but missing from ``products`` get a row from the line."""
    if "product_id" not in cols:
        return 0
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _new_products AS SELECT DISTINCT product_id FROM {src} "
        "WHERE product_id IS NOT NULL EXCEPT SELECT product_id FROM products"
    )
    n = con.execute("SELECT count(*) FROM _new_products").fetchall()[0][0]
    if n:
        pick = {c: (f"arg_max({c}, _row)" if c in cols else "NULL") for c in ("sku", "product_name", "category", "unit_price")}
        con.execute(
            f"INSERT INTO products (product_id, sku, name, category, price, is_active, _run_id) "
            f"SELECT product_id, {pick['sku']}, {pick['product_name']}, {pick['category']}, {pick['unit_price']}, true, {run_id} "
            f"FROM {src} g SEMI JOIN _new_products n USING (product_id) GROUP BY product_id"
        )
    con.execute("DROP TABLE _new_products")
    return n


def write(ctx: LoadContext, table: str, src: str, cols: list[str], count: TargetCount, merged: int = 0) -> None:
    """Upsert *src* into *table*, check the written rows are there, and record the counts."""
    spec = TABLES[table]
    load_cols = [c for c in cols if c in spec.column_names]
    with ctx.phase("invariant"):
        before = written(ctx.con, table, ctx.run_id)
    counts = upsert(ctx.con, table, src, load_cols, ctx.run_id)
    with ctx.phase("invariant"):
        check_written(ctx.con, table, ctx.run_id, before, counts.new + counts.updated)
    count.new, count.updated, count.unchanged, count.merged = counts.new, counts.updated, counts.unchanged, merged
    shown = counts.as_dict()
    if merged:
        shown["merged"] = merged
    for k, v in shown.items():
        ctx.result.tables.setdefault(table, {})[k] = ctx.result.tables.get(table, {}).get(k, 0) + v
    ctx.result.rows_new += counts.new
    ctx.result.rows_updated += counts.updated
    ctx.result.rows_unchanged += counts.unchanged


PURPOSES = {"accepts_email": "email", "accepts_sms": "sms", "accepts_personalization": "personalization"}


def record_consents_from_customers(con, cols: list[str], run_id: int) -> None:
    """A customers file states consent: keep it in the consent history when it changed.

    The decision is dated by the file's consent date (``consent_at``) when it has one; otherwise
    by the load, and ``from_load`` says so (the customer decided at some unknown earlier time).
    """
    dated = "consent_at" in cols
    at = "coalesce(g.consent_at, now()::TIMESTAMP)" if dated else "now()::TIMESTAMP"
    from_load = "g.consent_at IS NULL" if dated else "true"
    for col, purpose in PURPOSES.items():
        if col not in cols:
            continue
        con.execute(
            f"""
            INSERT INTO consents (customer_id, purpose, is_granted, recorded_at, source, _run_id, from_load)
            SELECT g.customer_id, {lit(purpose)}, g.{col}, {at}, 'customers file ' || parse_filename(g._file),
                   {run_id}, {from_load}
            FROM _g g
            WHERE g.{col} IS NOT NULL AND g.{col} IS DISTINCT FROM (
                SELECT arg_max(c.is_granted, c.recorded_at) FROM consents c
                WHERE c.customer_id = g.customer_id AND c.purpose = {lit(purpose)})
            """
        )


def apply_latest_consents(con) -> None:
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
