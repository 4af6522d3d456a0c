"""Turn staged text into typed canonical columns, with a reason for every value that fails.

Each conversion is a SQL expression over a cleaned text value ``v``
(trimmed, empty -> NULL). A value that is present but cannot be converted
produces a reason naming the source column, the value and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regulars.data.ingest.options import ParseOptions
from regulars.data.ingest.readers import lit, q
from regulars.data.normalize import email_sql, phone_sql
from regulars.data.schema import MONEY, TABLES

#: Naive formats tried after DuckDB's ISO-8601 cast (unambiguous ones only:
#: 03/04/2024 could be March or April, so it needs an explicit date_format).
DEFAULT_NAIVE_FORMATS = ["%Y%m%d", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M"]
OFFSET_FORMATS = ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M %z"]

TRUE_WORDS = ("true", "t", "yes", "y", "1", "subscribed", "opted_in", "granted", "accepted", "confirmed")
FALSE_WORDS = ("false", "f", "no", "n", "0", "unsubscribed", "not_subscribed", "opted_out", "denied", "never_subscribed", "declined", "pending")

EXPECTED = {
    "TIMESTAMP": "a date/time such as 2024-03-01 14:30:00 (or set [parse] date_format)",
    "DATE": "a date such as 2024-03-01 (or set [parse] date_format)",
    MONEY: "an amount such as 12.50",
    "INTEGER": "a whole number",
    "BIGINT": "a whole number",
    "DOUBLE": "a number",
    "BOOLEAN": "yes/no (true/false, 1/0)",
    "JSON": "JSON",
}


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(lit(i) for i in items) + "]"


def timestamp_sql(v: str, parse: ParseOptions) -> str:
    """SQL turning text *v* into a naive UTC ``TIMESTAMP`` (NULL when unreadable).

    Values with an explicit offset (``Z``, ``+02:00``, ``-0500``) are converted
    to UTC; values without one are read in ``parse.timezone``.
    """
    if parse.date_format:
        formats = parse.date_format if isinstance(parse.date_format, list) else [parse.date_format]
        if any("%z" in f or "%Z" in f for f in formats):
            return f"timezone('UTC', {_strptime_offset(v, formats)}::TIMESTAMPTZ)"
        naive = f"try_strptime({v}, {_sql_list(formats)})::TIMESTAMP"
        return _localize(naive, parse)
    naive = f"coalesce(try_cast({v} AS TIMESTAMP), try_strptime({v}, {_sql_list(DEFAULT_NAIVE_FORMATS)}))"
    with_offset = (
        f"coalesce(timezone('UTC', try_cast({v} AS TIMESTAMPTZ)), "
        f"timezone('UTC', {_strptime_offset(v, OFFSET_FORMATS)}::TIMESTAMPTZ))"
    )
    return (
        f"CASE WHEN regexp_matches({v}, '([zZ]|[+-][0-9]{{2}}:?[0-9]{{2}})$') AND length({v}) > 10 "
        f"THEN {with_offset} ELSE {_localize(naive, parse)} END"
    )


def _strptime_offset(v: str, formats: list[str]) -> str:
    # One try_strptime per format: DuckDB's list form with %z accepts impossible
    # days (2024-02-30 -> 2024-03-01) instead of failing.
    return "coalesce(" + ", ".join(f"try_strptime({v}, {lit(f)})" for f in formats) + ")"


def _localize(naive: str, parse: ParseOptions) -> str:
    if (parse.timezone or "UTC").upper() in ("UTC", "Z", "GMT"):
        return naive
    return f"timezone('UTC', timezone({lit(parse.timezone)}, {naive}))"


def money_sql(v: str, parse: ParseOptions) -> str:
    """SQL turning text like ``€1.234,50`` or ``$1,234.50`` into DECIMAL(18,2).

    Thousands separators must group digits by three (``1,234,567.50``); anything
    else, such as ``12,3,4``, gives NULL so that the row is quarantined rather
    than loaded with a guessed amount.
    """
    group, point = (".", ",") if parse.decimal == "," else (",", ".")
    g, p = _regex_char(group), _regex_char(point)
    well_formed = f"^[+-]?([0-9]{{1,3}}({g}[0-9]{{3}})+|[0-9]*)({p}[0-9]+)?$"
    stripped = f"regexp_replace({v}, '[^0-9.,+-]', '', 'g')"
    plain = f"replace({stripped}, '{group}', '')"
    if point == ",":
        plain = f"replace({plain}, ',', '.')"
    parsed = f"CASE WHEN regexp_full_match({stripped}, '{well_formed}') THEN try_cast(nullif({plain}, '') AS {MONEY}) END"
    return parsed if point == "," else f"coalesce(try_cast({v} AS {MONEY}), {parsed})"


def _regex_char(c: str) -> str:
    return "\\." if c == "." else c


def typed_sql(v: str, type_: str, parse: ParseOptions) -> str:
    """SQL converting cleaned text *v* to a canonical column type."""
    if type_ == "TIMESTAMP":
        return timestamp_sql(v, parse)
    if type_ == "DATE":
        return f"({timestamp_sql(v, parse)})::DATE"
    if type_ == MONEY:
        return money_sql(v, parse)
    if type_ in ("INTEGER", "BIGINT"):
        whole = f"try_cast({v} AS DOUBLE)"
        # try_cast('1.5' AS INTEGER) rounds to 2: text with a point or exponent must be a whole number
        return (
            f"CASE WHEN NOT (contains({v}, '.') OR contains({v}, 'e') OR contains({v}, 'E')) THEN try_cast({v} AS {type_}) "
            f"WHEN {whole} = round({whole}) THEN try_cast({whole} AS {type_}) END"
        )
    if type_ == "DOUBLE":
        return f"try_cast({v} AS DOUBLE)"
    if type_ == "BOOLEAN":
        return (
            f"CASE WHEN lower({v}) IN {tuple(TRUE_WORDS)} THEN true "
            f"WHEN lower({v}) IN {tuple(FALSE_WORDS)} THEN false END"
        )
    if type_ == "JSON":
        return f"CASE WHEN json_valid({v}) THEN {v}::JSON ELSE to_json({v}) END"
    return v


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

    def label(self, col: str) -> str:
        return self.labels.get(col, col)


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
    "order_lines": [("unit_price < 0", "unit_price", "negative unit price (record a return as a negative quantity)")],
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


def column_type(table: str, col: str) -> str:
    if col in ("email", "phone", "anonymous_id") and col not in TABLES[table].column_names:
        return "VARCHAR"
    return TABLES[table].column(col).type


def build_typed(con, target: Target, parse: ParseOptions, out: str, keep_text: bool = False) -> None:
    """Create temp table *out*: typed canonical columns, ``_file``, ``_row``, ``_reason``, ``_column``.

    With *keep_text*, also each column's cleaned source text as ``<column>__txt``.
    """
    table = TABLES[target.table]
    cols = list(target.exprs)
    text = ", ".join(f"nullif(trim(CAST({e} AS VARCHAR)), '') AS {q(c + '__txt')}" for c, e in target.exprs.items())
    where = f" WHERE {target.where}" if target.where else ""
    typed = []
    for c in cols:
        v = q(c + "__txt")
        t = column_type(target.table, c)
        expr = typed_sql(v, t, parse)
        if c == "email":
            expr = email_sql(v)
        elif c == "phone":
            expr = phone_sql(v)
        typed.append(f"{expr} AS {q(c)}")
    checks: list[tuple[str, str]] = []  # (sql producing reason or NULL, source label)
    for c in cols:
        t = column_type(target.table, c)
        v = q(c + "__txt")
        label = target.label(c)
        if t != "VARCHAR" or c in ("email", "phone"):
            what = {"email": "an e-mail address", "phone": "a phone number"}.get(c) or EXPECTED.get(t, t)
            checks.append(
                (f"CASE WHEN {v} IS NOT NULL AND {q(c)} IS NULL THEN {lit(label + ': cannot read ')} || "
                 f"'\"' || left({v}, 60) || '\"' || {lit(' as ' + what)} END", label)
            )
        # A missing customer id may still be resolved from an e-mail or phone;
        # a missing derivable key is made from the row (see the pipeline).
        derivable = c == "customer_id" or (c in table.key and target.table in DERIVED_KEY_PREFIX)
        required = c in table.column_names and table.column(c).required and not derivable
        if required:
            checks.append((f"CASE WHEN {v} IS NULL THEN {lit(label + ' is required but empty')} END", label))
        if t in ("TIMESTAMP", "DATE"):
            earliest = EARLIEST_BY_COLUMN.get(c, EARLIEST)
            checks.append(
                (f"CASE WHEN {q(c)} < DATE '{earliest}' THEN {lit(label + ': date before ' + earliest)} "
                 f"WHEN {q(c)} > now()::TIMESTAMP + INTERVAL 2 DAY THEN {lit(label + ': date in the future')} END", label)
            )
    for cond, col, reason in RANGE_CHECKS.get(target.table, []) + target.checks:
        needed = [c for c in cols if c in cond]
        if col in cols and needed:
            checks.append((f"CASE WHEN {cond} THEN {lit(target.label(col) + ': ' + reason)} END", target.label(col)))
    reason_cols = ", ".join(f"{sql} AS _r{i}" for i, (sql, _) in enumerate(checks))
    reasons = ", ".join(f"_r{i}" for i in range(len(checks)))
    first_col = " ".join(f"WHEN _r{i} IS NOT NULL THEN {lit(lbl)}" for i, (_, lbl) in enumerate(checks))
    reason_expr = f"nullif(concat_ws('; ', {reasons}), '')" if checks else "NULL::VARCHAR"
    column_expr = f"CASE {first_col} END" if checks else "NULL::VARCHAR"
    txt_cols = ", ".join(q(c + "__txt") for c in cols)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {out} AS "
        f"SELECT _file, _row, {', '.join(q(c) for c in cols)}, {txt_cols + ', ' if keep_text else ''}"
        f"{reason_expr} AS _reason, {column_expr} AS _column FROM ("
        f"  SELECT *{', ' if reason_cols else ''}{reason_cols} FROM ("
        f"    SELECT _file, _row, {txt_cols}, {', '.join(typed)} FROM ("
        f"      SELECT _file, _row, {text} FROM _raw{where})))"
    )
