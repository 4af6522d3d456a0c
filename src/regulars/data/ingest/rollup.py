"""Line-level files become orders: one row per item (order id, date, customer, product, quantity,
unit price) rolled up into the order it belongs to.

Used by ``regulars ingest order-lines FILE --mapping M.toml`` when the mapping names the order's
fields (at least ``ordered_at``; usually also ``customer_id``, ``email`` or ``phone``). For each
order id:

- ``total`` = Σ quantity × unit price − Σ line discount + shipping + tax (the order-level columns
  that are mapped, taken from the order's first line), unless the file maps the order's own
  ``total``; ``subtotal`` = Σ quantity × unit price;
- ``ordered_at`` = the earliest line's; the other order fields (status, currency, channel ...) come
  from the order's first line;
- one customer per order: an order whose lines name two different customers is quarantined whole,
  with the reason; lines without any identifier make a **guest** order;
- an order is loaded whole or not at all: when one of its lines is rejected, its other lines are
  quarantined too ("the whole order is kept out"), so no order is counted with part of its lines;
- **credit notes**: an order id starting with ``[parse] cancellation_prefix`` (``C`` in many
  retail exports) is a credit note: its quantities are negative (made so if written positive),
  so it becomes a dated return (an order with a negative total) of its customer, reducing net
  revenue on its own date. Negative quantities on an ordinary order reduce that order's total.

Every line counts in the load's invariant: it is loaded as a line, and its order is new,
updated, unchanged or has the line *merged* into it (the order's first line counts as the
order, the others as merged).
"""

from __future__ import annotations

from regulars.data import identity
from regulars.data.ingest import fieldwarnings, orders
from regulars.data.ingest.accounting import reject
from regulars.data.ingest.convert import Target
from regulars.data.ingest.readers import lit, q
from regulars.data.schema import MAX_AMOUNT, TABLES

#: Order-level columns an order-lines mapping may name (besides the identity inputs).
ORDER_FIELDS = ("customer_id", "ordered_at", "status", "currency", "shipping", "tax", "total", "refunded",
                "refunded_at", "cancelled_at", "channel", "location", "discount_code")
IDENTIFIERS = ("customer_id", "email", "phone")


def is_rollup(target: Target) -> bool:
    """An order-lines target that names its orders' fields (at least ``ordered_at``)."""
    return target.table == "order_lines" and target.foreign.get("ordered_at") == "orders"


def load(ctx, target: Target) -> None:
    """Load the lines of *target* and the orders they make (see the module docstring)."""
    from regulars.data.ingest.targets import product_stubs, reject_duplicate_keys, split_rejects, typed, write

    con = ctx.con
    name = ctx.name("order_lines")
    with ctx.phase("validate"):
        cols = typed(ctx, target, name)
        lines = ctx.ledger.enter(name, "order_lines", con.execute("SELECT count(*) FROM _t").fetchall()[0][0], True)
        con.execute("CREATE OR REPLACE TEMP TABLE _bad_orders AS SELECT DISTINCT order_id, min(_row) AS first_bad "
                    "FROM _t WHERE _reason IS NOT NULL AND order_id IS NOT NULL GROUP BY order_id")
        split_rejects(con, name)
        prefix = ctx.parse.cancellation_prefix
        if prefix:
            con.execute(f"UPDATE _g SET quantity = -abs(quantity) WHERE starts_with(order_id, {lit(prefix)}) "
                        "AND quantity > 0")
        reject_duplicate_keys(ctx, name, "order_lines", cols)
    with ctx.phase("rollup"):
        _keep_orders_whole(con, name, "_bad_orders", "has a line that could not be loaded (row {first_bad}): the "
                           "whole order is kept out so that it is not counted with part of its lines")
    has = [c for c in IDENTIFIERS if c in cols]
    with ctx.phase("rollup"):
        _aggregate(con, cols, has, ctx.result.files)
    with ctx.phase("customers"):
        _customers(ctx, name, has)
    with ctx.phase("rollup"):
        _finish(con, has)
        _keep_orders_whole(con, name, "_big_orders", f"adds up to more than {MAX_AMOUNT:,} either way, the largest "
                           "amount accepted: the whole order is kept out", table="_og")
        order_cols = ["order_id", "customer_id", "ordered_at", "subtotal", "total"] + [
            c for c in ORDER_FIELDS if c in cols and c not in ("customer_id", "ordered_at", "total")]
        order_cols = orders.prepare(con, order_cols, table="_og")
    with ctx.phase("customers"):
        ident = {c for c in ("email", "phone") if c in cols}
        ctx.result.customers_created += identity.ensure_customers(con, "_og", ident, ctx.run_id)
        if con.execute("SELECT count(*) FROM _warns WHERE customer_id IS NULL").fetchall()[0][0]:
            con.execute(
                "UPDATE _warns SET customer_id = o.customer_id FROM _g g JOIN _og o USING (order_id) "
                "WHERE _warns._file = g._file AND _warns._row = g._row AND _warns.customer_id IS NULL"
            )
    with ctx.phase("write orders"):  # the orders made, written like an orders file's rows
        kept = con.execute("SELECT count(*) FROM _g").fetchall()[0][0]
        n_orders = con.execute("SELECT count(*) FROM _og").fetchall()[0][0]
        made = ctx.ledger.enter(f"{name}:orders", "orders", kept, covering=False)
        write(ctx, "orders", "_og", order_cols, made, merged=kept - n_orders)
        ctx.result.guest_orders += orders.guest_count(con, "_og")
    with ctx.phase("write"):
        ctx.result.tables.setdefault("products", {}).setdefault("stubs_created", 0)
        ctx.result.tables["products"]["stubs_created"] += product_stubs(con, cols, ctx.run_id)
        line_cols = [c for c in cols if c in TABLES["order_lines"].column_names]
        write(ctx, "order_lines", "_g", line_cols, lines)
        for t in ("_g", "_og", "_ot", "_oi", "_om", "_bad_orders", "_big_orders"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    with ctx.phase("invariant"):
        ctx.ledger.close_target(con, made)
        ctx.ledger.close_target(con, lines)


def _keep_orders_whole(con, name: str, bad: str, why: str, table: str | None = None) -> None:
    """Reject the remaining lines of the orders listed in temp table *bad* (``order_id`` ...);
    also delete those orders from temp table *table* when given."""
    if not con.execute(f"SELECT count(*) FROM {bad}").fetchall()[0][0]:
        return
    reason = "'order ' || g.order_id || ' " + why.replace("'", "''").replace("{first_bad}", "' || b.first_bad || '") + "'"
    reject(con, name, f"FROM _g g JOIN {bad} b USING (order_id)", "order_id", reason)
    con.execute(f"DELETE FROM _g WHERE order_id IN (SELECT order_id FROM {bad})")
    if table:
        con.execute(f"DELETE FROM {table} WHERE order_id IN (SELECT order_id FROM {bad})")


def _aggregate(con, cols: list[str], has: list[str], files: list[str]) -> None:
    """``_og``: one row per order from its lines (see the module docstring), in one pass over the
    lines, with what identity resolution needs: the order's identifiers (``_i_<column>``) when all
    its lines that name someone name them alike, else ``_mixed``; ``_big``: beyond the amounts accepted.

    Each aggregate is computed once in the inner query and combined outside it. A line's value
    (quantity × unit price) stays a 64-bit decimal: quantities up to ``MAX_QUANTITY`` times prices
    up to ``MAX_AMOUNT`` fit in DECIMAL(18,2), and only the order's sum needs 128 bits."""
    first = {c: f"arg_min({q(c)}, _row)" for c in ORDER_FIELDS if c in cols and c not in ("customer_id", "ordered_at")}
    inner = ["order_id", "min(ordered_at) AS ordered_at",
             "sum(CAST(quantity * unit_price AS DECIMAL(18,2))) AS _subtotal", "min(_row) AS _row"]
    computed = "_subtotal"
    if "discount" in cols:
        inner.append("sum(coalesce(discount, 0)) AS _discount")
        computed += " - _discount"
    computed += "".join(f" + coalesce({q(c)}, 0)" for c in ("shipping", "tax") if c in first)
    order_total = f"coalesce({q('total')}, {computed})" if "total" in first else computed
    first.pop("total", None)
    inner += [f"{expr} AS {q(c)}" for c, expr in first.items()]
    if "total" in cols:
        inner.append(f"arg_min({q('total')}, _row) AS {q('total')}")
    inner += [f"arg_min({q(c)}, _row) AS {q(c)}" for c in ("email", "phone") if c in cols and c not in first]
    one_file = lit(files[0]) if len(files) == 1 else None  # no text to compare on every line
    inner.append("arg_min(_file, _row) AS _file" if one_file is None else f"{one_file} AS _file")
    outer = ["order_id", "ordered_at", "_subtotal", f"{order_total} AS _total", "_file", "_row"]
    outer += [q(c) for c in first] + [q(c) for c in ("email", "phone") if c in cols and c not in first]
    if has:
        named = " OR ".join(f"{q(c)} IS NOT NULL" for c in has)
        inner.append(f"count({q(has[0])}) AS _named" if len(has) == 1 else f"count(*) FILTER ({named}) AS _named")
        for c in has:
            inner += [f"min({q(c)}) AS {q('_min_' + c)}", f"max({q(c)}) AS {q('_max_' + c)}"]
            if len(has) > 1:
                inner.append(f"count({q(c)}) AS {q('_n_' + c)}")
        # alike: every column is either empty on all the lines that name someone, or one value on all of them
        mixed = " OR ".join(
            ("" if len(has) == 1 else f"{q('_n_' + c)} NOT IN (0, _named) OR ")
            + f"coalesce({q('_min_' + c)} <> {q('_max_' + c)}, false)" for c in has)
        # _ifr: the first line that names someone (file, row), a real line: one per set of identifiers
        inner.append(f"min(_row) FILTER ({named}) AS _first_named" if one_file
                     else f"min({{'f': _file, 'r': _row}}) FILTER ({named}) AS _ifr")
        outer += [f"({mixed}) AS _mixed", "_named",
                  f"{{'f': {one_file}, 'r': _first_named}} AS _ifr" if one_file else "_ifr"]
        outer += [f"CASE WHEN NOT ({mixed}) THEN {q('_min_' + c)} END AS {q('_i_' + c)}" for c in has]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _og AS
        SELECT * EXCLUDE (_subtotal, _total),
               CASE WHEN abs(_subtotal) <= {MAX_AMOUNT} THEN CAST(_subtotal AS DECIMAL(18,2)) END AS subtotal,
               CASE WHEN abs(_total) <= {MAX_AMOUNT} THEN CAST(_total AS DECIMAL(18,2)) END AS total,
               coalesce(abs(_total) > {MAX_AMOUNT} OR abs(_subtotal) > {MAX_AMOUNT}, false) AS _big
        FROM (SELECT {', '.join(outer)}
              FROM (SELECT {', '.join(inner)} FROM _g GROUP BY order_id))
        """
    )


def _customers(ctx, name: str, has: list[str]) -> None:
    """One customer per order: resolve the identifiers of the orders (each distinct set once);
    orders naming two customers are quarantined whole; orders without any identifier are guests.

    ``_ot`` holds each distinct set of identifiers with its customer, ``_om`` the customer of
    orders whose lines name people differently."""
    con = ctx.con
    con.execute("CREATE OR REPLACE TEMP TABLE _bad_orders (order_id VARCHAR, first_bad VARCHAR)")
    if not has:
        ctx.result.warnings.append(
            "the file names no customer (no customer id, e-mail or phone column is mapped): every order "
            "loaded as a guest order, counted in shop totals but not in customer analyses"
        )
        return
    ids = ", ".join(q(c) for c in has)
    named = " OR ".join(f"{q(c)} IS NOT NULL" for c in has)
    # orders whose lines name people differently: one row per order and set of identifiers
    mixed = con.execute("SELECT count(*) FROM _og WHERE _mixed").fetchall()[0][0]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _oi AS SELECT order_id, {ids}, min({{'f': _file, 'r': _row}}) AS _fr "
                f"FROM _g WHERE {'order_id IN (SELECT order_id FROM _og WHERE _mixed)' if mixed else 'false'} "
                f"GROUP BY order_id, {ids}")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ot AS
        SELECT {', '.join(f'{q(c)} AS {q("_i_" + c)}' for c in has)}, {ids},
               {'' if 'customer_id' in has else 'NULL::VARCHAR AS customer_id, '}
               min(_fr).f AS _file, min(_fr).r AS _row, count(*) AS _n
        FROM (SELECT {', '.join(f'{q("_i_" + c)} AS {q(c)}' for c in has)}, _ifr AS _fr
              FROM _og WHERE NOT _mixed AND _named > 0
              UNION ALL SELECT {ids}, _fr FROM _oi WHERE {named})
        GROUP BY {ids}
        """
    )
    res = identity.resolve(con, "_ot", set(has), ctx.run_id, f"order lines load (run {ctx.run_id})", True, weight="_n")
    ctx.result.customers_merged += len(res.merges)
    if res.conflicts:
        ctx.result.warnings.append(
            f"{res.conflicts} order(s) carry an e-mail or phone already linked to a different customer; "
            "they were kept apart (see `regulars doctor`)"
        )
    same = " AND ".join(f"t.{q('_i_' + c)} IS NOT DISTINCT FROM i.{q(c)}" for c in has)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _om AS
        SELECT i.order_id, max(t.customer_id) AS customer_id, count(DISTINCT t.customer_id) AS n,
               string_agg(DISTINCT t.customer_id, ', ' ORDER BY t.customer_id) AS customers
        FROM _oi i LEFT JOIN _ot t ON {same} GROUP BY i.order_id
        """
    )
    con.execute("INSERT INTO _bad_orders SELECT order_id, customers FROM _om WHERE n > 1")
    con.execute("DROP TABLE _oi")
    _keep_orders_whole(con, name, "_bad_orders", "names more than one customer ({first_bad}): an order belongs to "
                       "one customer, so the whole order is kept out", table="_og")


def _finish(con, has: list[str]) -> None:
    """``_og`` with each order's customer; ``_big_orders``: the orders whose amounts are beyond the
    largest accepted."""
    if has:
        same = " AND ".join(f"t.{q('_i_' + c)} IS NOT DISTINCT FROM o.{q('_i_' + c)}" for c in has)
        helpers = ", ".join(["_mixed", "_named", "_ifr"] + [q("_i_" + c) for c in has])
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _og AS
            SELECT o.* EXCLUDE ({helpers}), coalesce(t.customer_id, m.customer_id) AS customer_id
            FROM _og o LEFT JOIN _ot t ON {same}
            LEFT JOIN (SELECT order_id, customer_id FROM _om) m ON m.order_id = o.order_id
            """
        )
    else:
        con.execute("ALTER TABLE _og ADD COLUMN customer_id VARCHAR")
    con.execute("CREATE OR REPLACE TEMP TABLE _big_orders AS SELECT order_id, NULL AS first_bad FROM _og WHERE _big")
    for t in ("_ot", "_om"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
