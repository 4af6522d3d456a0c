"""SQL that turns one cleaned text value into a canonical type (NULL when it cannot).

Each function takes the SQL of a text value ``v`` (trimmed, empty -> NULL) and returns SQL of
the typed value. The rules, in words, are in ``docs/formats.md``.

Dates and times: a value with a UTC offset (``Z``, ``+02:00``, ``-0500``; the offset must lie
between -12:00 and +14:00) is converted to UTC; a value without one is read in the file's time
zone (``[parse] timezone``, else the shop's). A **date without a time** stays on its day: in
UTC it is stored at 00:00, in another zone at midday local time (converted to UTC), which is
the same calendar day both in UTC and in the shop's zone for every zone from UTC-11 to UTC+12.
A ``DATE`` column (a birth date, a spend day) keeps the date as written.

Examples
--------
>>> import duckdb
>>> from regulars.data.ingest.options import ParseOptions
>>> paris = ParseOptions(date_format="%d/%m/%Y", timezone="Europe/Paris")
>>> duckdb.sql(f"SELECT {timestamp_sql(chr(39) + '05/07/2026' + chr(39), paris)}").fetchall()
[(datetime.datetime(2026, 7, 5, 10, 0),)]
>>> duckdb.sql(f"SELECT {timestamp_sql(chr(39) + '2026-07-05 10:00:00+25:00' + chr(39), ParseOptions())}").fetchall()
[(None,)]
>>> duckdb.sql(f"SELECT {id_sql(chr(39) + '17850.0' + chr(39))}, {id_sql(chr(39) + 'A.0' + chr(39))}").fetchall()
[('17850', 'A.0')]
"""

from __future__ import annotations

from regulars.data.ingest.money import currency_sql, expected as money_expected, money_sql
from regulars.data.ingest.options import ParseOptions
from regulars.data.ingest.readers import lit
from regulars.data.schema import MONEY

#: Naive formats tried after DuckDB's ISO-8601 cast (unambiguous ones only:
#: 03/04/2024 could be March or April, so it needs an explicit date_format).
DEFAULT_NAIVE_FORMATS = ["%Y%m%d", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M"]
OFFSET_FORMATS = ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M %z"]
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%T", "%X", "%c", "%p", "%f", "%z", "%Z")

TRUE_WORDS = ("true", "t", "yes", "y", "1", "subscribed", "opted_in", "granted", "accepted", "confirmed")
FALSE_WORDS = ("false", "f", "no", "n", "0", "unsubscribed", "not_subscribed", "opted_out", "denied", "never_subscribed", "declined", "pending")

#: A trailing UTC offset: sign, hours, minutes.
_OFFSET = "([+-])([0-9]{2}):?([0-9]{2})$"

EXPECTED = {
    "TIMESTAMP": "a date/time such as 2024-03-01 14:30:00, with a UTC offset between -12:00 and +14:00 if any "
                 "(or set [parse] date_format)",
    "DATE": "a date such as 2024-03-01 (or set [parse] date_format)",
    "INTEGER": "a whole number",
    "BIGINT": "a whole number",
    "DOUBLE": "a number",
    "BOOLEAN": "yes/no (true/false, 1/0)",
    "JSON": "JSON",
}


def expected(type_: str, parse: ParseOptions) -> str:
    """What a value of *type_* should look like, for a rejection reason."""
    return money_expected(parse) if type_ == MONEY else EXPECTED.get(type_, type_)


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(lit(i) for i in items) + "]"


def _formats(parse: ParseOptions) -> list[str] | None:
    if not parse.date_format:
        return None
    return parse.date_format if isinstance(parse.date_format, list) else [parse.date_format]


def _offset_ok(v: str) -> str:
    hours = f"try_cast(regexp_extract({v}, '{_OFFSET}', 2) AS INTEGER)"
    minutes = f"try_cast(regexp_extract({v}, '{_OFFSET}', 3) AS INTEGER)"
    sign = f"regexp_extract({v}, '{_OFFSET}', 1)"
    return (f"(NOT regexp_matches({v}, '{_OFFSET}') OR ({minutes} < 60 AND "
            f"(({sign} = '+' AND {hours} <= 14) OR ({sign} = '-' AND {hours} <= 12))))")


def _strptime_offset(v: str, formats: list[str]) -> str:
    # One try_strptime per format: DuckDB's list form with %z accepts impossible
    # days (2024-02-30 -> 2024-03-01) instead of failing.
    return "coalesce(" + ", ".join(f"try_strptime({v}, {lit(f)})" for f in formats) + ")"


def naive_sql(v: str, parse: ParseOptions) -> str:
    """SQL: text *v* as a naive ``TIMESTAMP`` as written (no zone applied; NULL when unreadable)."""
    formats = _formats(parse)
    if formats:
        return f"try_strptime({v}, {_sql_list(formats)})::TIMESTAMP"
    return f"coalesce(try_cast({v} AS TIMESTAMP), try_strptime({v}, {_sql_list(DEFAULT_NAIVE_FORMATS)}))"


def _date_only(v: str, parse: ParseOptions) -> str:
    formats = _formats(parse)
    if formats:
        return "true" if not any(d in f for f in formats for d in _TIME_DIRECTIVES) else \
            "false" if all(any(d in f for d in _TIME_DIRECTIVES) for f in formats) else f"NOT contains({v}, ':')"
    return f"NOT contains({v}, ':')"


def _localize(naive: str, v: str, parse: ParseOptions) -> str:
    zone = parse.timezone or "UTC"
    if zone.upper() in ("UTC", "Z", "GMT"):
        return naive
    noon = f"CASE WHEN {_date_only(v, parse)} THEN {naive} + INTERVAL 12 HOUR ELSE {naive} END"
    return f"timezone('UTC', timezone({lit(zone)}, {noon}))"


def timestamp_sql(v: str, parse: ParseOptions) -> str:
    """SQL turning text *v* into a naive UTC ``TIMESTAMP`` (NULL when unreadable; see the module)."""
    formats = _formats(parse)
    if formats and any("%z" in f or "%Z" in f for f in formats):
        return f"CASE WHEN {_offset_ok(v)} THEN timezone('UTC', {_strptime_offset(v, formats)}::TIMESTAMPTZ) END"
    local = _localize(naive_sql(v, parse), v, parse)
    if formats:
        return local
    with_offset = (
        f"coalesce(timezone('UTC', try_cast({v} AS TIMESTAMPTZ)), "
        f"timezone('UTC', {_strptime_offset(v, OFFSET_FORMATS)}::TIMESTAMPTZ))"
    )
    return (
        f"CASE WHEN regexp_matches({v}, '([zZ]|[+-][0-9]{{2}}:?[0-9]{{2}})$') AND length({v}) > 10 "
        f"THEN CASE WHEN {_offset_ok(v)} THEN {with_offset} END ELSE {local} END"
    )


def date_sql(v: str, parse: ParseOptions) -> str:
    """SQL turning text *v* into a ``DATE`` as written (an offset, if any, is ignored)."""
    bare = f"regexp_replace({v}, '([zZ]|[+-][0-9]{{2}}:?[0-9]{{2}})$', '')" if not _formats(parse) else v
    return f"CAST({naive_sql(bare, parse)} AS DATE)"


def id_sql(v: str) -> str:
    """SQL for an identifier: a whole number written as a float (``17850.0``) loses its ``.0``."""
    return (f"CASE WHEN contains({v}, '.') AND regexp_full_match({v}, '-?[0-9]+\\.0+') "
            f"THEN regexp_replace({v}, '\\.0+$', '') ELSE {v} END")


def has_control_sql(v: str) -> str:
    """SQL: true when text *v* holds a control character (NUL, newline, tab ...)."""
    return f"regexp_matches({v}, '[\\x00-\\x1f\\x7f]')"


def typed_sql(v: str, type_: str, parse: ParseOptions) -> str:
    """SQL converting cleaned text *v* to a canonical column type."""
    if type_ == "TIMESTAMP":
        return timestamp_sql(v, parse)
    if type_ == "DATE":
        return date_sql(v, parse)
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


def currency_value_sql(v: str) -> str:
    """SQL: an ISO 4217 code, upper-cased (``usd`` -> ``USD``), NULL for anything else."""
    return currency_sql(v)
