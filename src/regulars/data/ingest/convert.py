"""Turn staged text into typed canonical columns, with a reason for every value that fails.

Each conversion (:mod:`regulars.data.ingest.values`) is a SQL expression over a cleaned text
value (trimmed, empty -> NULL). What happens to a value that is present but wrong depends on the
column:

- a **required** column, an **identifier** (``*_id``: a control character such as NUL or a
  newline makes it unreadable) or an **amount** (money decides revenue): the row is rejected and
  quarantined with a reason naming the source column, the value and what was expected;
- any other **optional** column (an e-mail, a phone, a birth date, a CSAT score, a currency
  code ...): the value is dropped, the row loads without it, and the problem is recorded as a
  field-level warning (``regulars quarantine --warnings``).

Identifiers written as floats (``17850.0``) lose the ``.0``; currency codes are upper-cased
ISO 4217 codes; statuses are lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regulars.data.ingest.money import in_range_sql
from regulars.data.ingest.money import parsed_sql as parsed_money
from regulars.data.ingest.options import ParseOptions
from regulars.data.ingest.readers import lit, q
from regulars.data.ingest.values import (
    currency_value_sql,
    expected,
    has_control_sql,
    id_sql,
    typed_sql,
)
from regulars.data.normalize import email_sql, phone_sql
from regulars.data.schema import MAX_AMOUNT, MAX_QUANTITY, MONEY, TABLES


@dataclass
class Target:
    """One canonical table fed by a source: column expressions over the staging table.

    ``exprs`` maps canonical column -> SQL text expression over ``_raw``;
    ``labels`` names where each came from (for error messages); ``where``
    selects the staged rows that feed this table; ``checks`` are extra
    ``(sql_that_is_true_when_bad, column, reason)`` rules on typed columns.
    """

    table: str
    exprs: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    where: str | None = None
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    derive_key: bool = True
    #: Columns that belong to another table (an order-lines file naming its orders' fields):
    #: column -> that table.
    foreign: dict[str, str] = field(default_factory=dict)

    def label(self, col: str) -> str:
        return self.labels.get(col, col)

    def spec(self, col: str):
        """The canonical table that defines *col*."""
        return TABLES[self.foreign.get(col, self.table)]


#: Which key columns may be derived from the row's content when a source has none.
DERIVED_KEY_PREFIX = {
    "orders": "o-",
    "events": "v-",
    "messages": "m-",
    "tickets": "t-",
    "reviews": "r-",
    "surveys": "s-",
    "campaigns": "c-",
}

#: Built-in range rules: (sql true when bad, column, reason).
RANGE_CHECKS: dict[str, list[tuple[str, str, str]]] = {
    "order_lines": [
        ("unit_price < 0", "unit_price", "negative unit price (record a return as a negative quantity)"),
        (f"abs(quantity) > {MAX_QUANTITY}", "quantity", f"quantity beyond {MAX_QUANTITY:,} either way"),
    ],
    "reviews": [("rating NOT BETWEEN 1 AND 5", "rating", "rating must be 1..5")],
    "tickets": [
        ("csat NOT BETWEEN 1 AND 5", "csat", "csat must be 1..5"),
        ("closed_at < opened_at", "closed_at", "closed before it was opened"),
    ],
    "surveys": [
        ("survey = 'nps' AND score NOT BETWEEN 0 AND 10", "score", "an NPS score must be 0..10"),
        ("survey = 'csat' AND score NOT BETWEEN 1 AND 5", "score", "a CSAT score must be 1..5"),
    ],
    "marketing_spend": [("amount < 0", "amount", "negative spend")],
    "products": [("price < 0", "price", "negative price")],
    "consents": [("purpose NOT IN ('email', 'sms', 'personalization')", "purpose", "purpose must be email, sms or personalization")],
}

EARLIEST = "1970-01-01"
#: Columns whose dates are legitimately older than EARLIEST (people born before 1970).
EARLIEST_BY_COLUMN = {"birth_date": "1900-01-01"}


def column_type(target: Target, col: str) -> str:
    spec = target.spec(col)
    if col in ("email", "phone", "anonymous_id") and col not in spec.column_names:
        return "VARCHAR"
    return spec.column(col).type


def _is_required(target: Target, col: str) -> bool:
    if col in target.foreign and col != "ordered_at":
        return False  # an order's fields on its lines: often only on the first line
    spec = target.spec(col)
    # A missing customer id may still be resolved from an e-mail or phone (or the order is a
    # guest's); a missing derivable key is made from the row (see the pipeline).
    derivable = col == "customer_id" or (col in spec.key and spec.name in DERIVED_KEY_PREFIX)
    return col in spec.column_names and spec.column(col).required and not derivable


def _is_identifier(col: str) -> bool:
    return col.endswith("_id")


@dataclass(frozen=True)
class FieldWarning:
    """A check whose failure drops one value (column *column*) instead of the row."""

    sql: str       # SQL column holding the reason, NULL when the value was fine
    column: str    # canonical column
    label: str     # source label for the user
    text: str      # SQL column of the source text


def cleaned_sql(v: str) -> str:
    """SQL: text *v* trimmed of spaces, empty -> NULL.

    ``trim`` copies every value; plain ASCII text without a space at either end (nearly all of
    it) is kept as it is, which gives the same result (of the ASCII characters ``trim`` removes
    only the space).

    >>> import duckdb
    >>> duckdb.sql(f"SELECT {cleaned_sql('x')} FROM (VALUES (' a '), ('b'), (''), ('  '), ('\u00a0c\u3000')) t(x)").fetchall()
    [('a',), ('b',), (None,), (None,), ('c',)]
    """
    return (f"CASE WHEN strlen({v}) = length({v}) AND NOT starts_with({v}, ' ') AND NOT ends_with({v}, ' ') "
            f"THEN nullif({v}, '') ELSE nullif(trim({v}), '') END")


def build_typed(con, target: Target, parse: ParseOptions, out: str, keep_text: bool = False) -> list[FieldWarning]:
    """Create temp table *out*: typed canonical columns, ``_file``, ``_row``, ``_reason``, ``_column``
    and one ``_w<i>`` column per field warning (returned).

    A row with a ``_reason`` is to be rejected; a ``_w<i>`` reason means the value of that column
    was dropped (set to NULL) and the row is kept. With *keep_text*, also each column's cleaned
    source text as ``<column>__txt``.
    """
    cols = list(target.exprs)
    text = ", ".join(f"{cleaned_sql(f'CAST({e} AS VARCHAR)')} AS {q(c + '__txt')}" for c, e in target.exprs.items())
    where = f" WHERE {target.where}" if target.where else ""
    parsed, typed = [], []
    for c in cols:
        v = q(c + "__txt")
        t = column_type(target, c)
        if t == MONEY:
            parsed.append(f"{parsed_money(v, parse)} AS {q('_mx_' + c)}")
            mx = q("_mx_" + c)
            expr = in_range_sql(mx)
        elif c == "email":
            expr = email_sql(v)
        elif c == "phone":
            expr = phone_sql(v)
        elif c == "currency":
            expr = currency_value_sql(v)
        elif c == "status":
            expr = f"lower({v})"
        elif t == "VARCHAR" and _is_identifier(c):
            expr = id_sql(v)
        else:
            expr = typed_sql(v, t, parse)
        typed.append(f"{expr} AS {q(c)}")
    # One test per row for control characters in any identifier (they are rare): each identifier
    # is looked at on its own only in the rows that have one.
    ids = [q(c + "__txt") for c in cols if column_type(target, c) == "VARCHAR" and _is_identifier(c)]
    if ids:
        typed.append(f"coalesce({has_control_sql('concat(' + ', '.join(ids) + ')')}, false) AS _ctl")

    rejects: list[tuple[str, str]] = []        # (sql producing reason or NULL, source label)
    warns: list[tuple[str, str, str]] = []     # (sql producing reason or NULL, column, source label)

    def problem(c: str, sql: str, label: str, hard: bool) -> None:
        (rejects.append((sql, label)) if hard else warns.append((sql, c, label)))

    for c in cols:
        t = column_type(target, c)
        v = q(c + "__txt")
        label = target.label(c)
        required = _is_required(target, c)
        hard = required or t == MONEY or (t == "VARCHAR" and _is_identifier(c))
        if t == MONEY:
            problem(c, f"CASE WHEN {v} IS NOT NULL AND {q('_mx_' + c)} IS NULL THEN {lit(label + ': cannot read ')} || "
                       f"'\"' || left({v}, 60) || '\"' || {lit(' as ' + expected(t, parse))} "
                       f"WHEN abs({q('_mx_' + c)}) > {MAX_AMOUNT} THEN {lit(label + ': ')} || '\"' || left({v}, 60) || "
                       f"'\"' || {lit(f' is beyond the largest amount accepted ({MAX_AMOUNT:,} either way)')} END",
                    label, True)
        elif t != "VARCHAR" or c in ("email", "phone", "currency"):
            what = {"email": "an e-mail address", "phone": "a phone number",
                    "currency": "an ISO 4217 currency code such as EUR or USD"}.get(c) or expected(t, parse)
            problem(c, f"CASE WHEN {v} IS NOT NULL AND {q(c)} IS NULL THEN {lit(label + ': cannot read ')} || "
                       f"'\"' || left({v}, 60) || '\"' || {lit(' as ' + what)} END", label, hard)
        elif _is_identifier(c):
            problem(c, f"CASE WHEN _ctl AND {has_control_sql(v)} THEN {lit(label + ': an identifier cannot hold a control character')} "
                       f"|| ' (NUL, newline or tab) in \"' || left(regexp_replace({v}, '[\\x00-\\x1f\\x7f]', '?', 'g'), 60) "
                       "|| '\"' END", label, True)
        if required:
            problem(c, f"CASE WHEN {v} IS NULL THEN {lit(label + ' is required but empty')} END", label, True)
        if t in ("TIMESTAMP", "DATE"):
            earliest = EARLIEST_BY_COLUMN.get(c, EARLIEST)
            problem(c, f"CASE WHEN {q(c)} < DATE '{earliest}' THEN {lit(label + ': date before ' + earliest)} "
                       f"WHEN {q(c)} > now()::TIMESTAMP + INTERVAL 2 DAY THEN {lit(label + ': date in the future')} END",
                    label, hard)
    for cond, col, reason in RANGE_CHECKS.get(target.table, []) + target.checks:
        needed = [c for c in cols if c in cond]
        if col in cols and needed:
            hard = _is_required(target, col) or column_type(target, col) == MONEY
            problem(col, f"CASE WHEN {cond} THEN {lit(target.label(col) + ': ' + reason)} END", target.label(col), hard)

    reason_cols = [f"{sql} AS _r{i}" for i, (sql, _) in enumerate(rejects)]
    reason_cols += [f"{sql} AS _w{i}" for i, (sql, _, _) in enumerate(warns)]
    reasons = ", ".join(f"_r{i}" for i in range(len(rejects)))
    first_col = " ".join(f"WHEN _r{i} IS NOT NULL THEN {lit(lbl)}" for i, (_, lbl) in enumerate(rejects))
    # nearly every row has no reason: joining the reasons only where one is there
    reason_expr = (f"CASE WHEN coalesce({reasons}) IS NOT NULL THEN nullif(concat_ws('; ', {reasons}), '') END"
                   if rejects else "NULL::VARCHAR")
    column_expr = f"CASE {first_col} END" if rejects else "NULL::VARCHAR"
    dropped: dict[str, list[str]] = {}
    for i, (_, c, _) in enumerate(warns):
        dropped.setdefault(c, []).append(f"_w{i}")
    finals = [
        (f"CASE WHEN {' AND '.join(w + ' IS NULL' for w in dropped[c])} THEN {q(c)} END AS {q(c)}" if c in dropped else q(c))
        for c in cols
    ]
    txt_cols = ", ".join(q(c + "__txt") for c in cols)
    keep_txt = txt_cols + ", " if keep_text or warns else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {out} AS "
        f"SELECT _file, _row, {', '.join(finals)}, {keep_txt}"
        f"{reason_expr} AS _reason, {column_expr} AS _column"
        + "".join(f", _w{i}" for i in range(len(warns)))
        + " FROM ("
        f"  SELECT *{', ' if reason_cols else ''}{', '.join(reason_cols)} FROM ("
        f"    SELECT *, {', '.join(typed)} FROM ("
        f"      SELECT *{', ' if parsed else ''}{', '.join(parsed)} FROM ("
        f"        SELECT _file, _row, {text} FROM _raw{where}))))"
    )
    return [FieldWarning(f"_w{i}", c, lbl, q(c + "__txt")) for i, (_, c, lbl) in enumerate(warns)]

