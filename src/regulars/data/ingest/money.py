"""Amounts and currency codes: parsed by the rules ``[parse]`` states, never scavenged.

An amount is, after trimming: an optional sign (``-`` or ``+``), an optional currency mark
(a symbol such as ``$ € £ ¥`` or an ISO 4217 code such as ``EUR``, before or after the number,
with or without a space), and a number written with the file's decimal separator and,
optionally, thousands separators that group digits by three (``1,234,567.50``). With
``negative_parentheses = true``, accounting parentheses mean minus: ``(12.50)`` is ``-12.50``.
Anything else (``1e308``, ``0x10``, ``N/A 3``, ``abc7def``, ``12,3,4``, two signs, two currency
marks) is not an amount, and an amount beyond ±:data:`~regulars.data.schema.MAX_AMOUNT` is
refused: the row is quarantined with the value and the reason. Amounts are stored as
``DECIMAL(18,2)`` (more decimals are rounded to the cent).

Examples
--------
>>> import duckdb
>>> from regulars.data.ingest.options import ParseOptions
>>> def read(text, **opts):
...     return duckdb.sql(f"SELECT {money_sql(repr(text), ParseOptions(**opts))}").fetchall()[0][0]
>>> [str(read(t)) for t in ("12.50", "-$1,234.50", "EUR 3", "1,234")]
['12.50', '-1234.50', '3.00', '1234.00']
>>> [read(t) for t in ("1e308", "(10.00)", "0x10", "N/A 3", "abc7def", "12,3,4", "--5")]
[None, None, None, None, None, None, None]
>>> str(read("(10.00)", negative_parentheses=True)), str(read("1.234,5 €", decimal=","))
('-10.00', '1234.50')
>>> read("9999999999999999.99") is None
True
>>> currency_code(" usd "), currency_code("<b>X</b>")
('USD', None)
"""

from __future__ import annotations

from regulars.data.ingest.options import ParseOptions
from regulars.data.schema import MAX_AMOUNT, MONEY

#: Active ISO 4217 currency codes.
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG
XOF XPF YER ZAR ZMW ZWG
""".split())

#: Currency symbols accepted next to an amount (besides the codes).
SYMBOLS = ("$", "€", "£", "¥", "₹", "₩", "₽", "₺", "₪", "₫", "₱", "฿", "₴", "₦", "R$", "kr", "zł", "Kč", "Fr.", "CHF")


def currency_code(text: str | None) -> str | None:
    """The ISO 4217 code in *text* (trimmed, any case), else None."""
    if text is None:
        return None
    code = str(text).strip().upper()
    return code if code in ISO_4217 else None


def currency_sql(v: str) -> str:
    """SQL: the upper-cased ISO 4217 code in text *v*, NULL when it is not one."""
    codes = ", ".join(f"'{c}'" for c in sorted(ISO_4217))
    return f"CASE WHEN upper(trim({v})) IN ({codes}) THEN upper(trim({v})) END"


def _re(c: str) -> str:
    return "".join("\\" + ch if ch in ".$()[]{}|*+?^\\" else ch for ch in c)


def amount_pattern(parse: ParseOptions) -> str:
    """The RE2 pattern of an amount under *parse* (groups: open, sign, mark, sign, number, mark, close)."""
    point = _re(parse.point)
    group = parse.group
    grp = "[ \u00a0\u202f]" if group == " " else _re(group)
    grouped = f"[0-9]{{1,3}}(?:{grp}[0-9]{{3}})+" if group else None
    whole = f"(?:{grouped}|[0-9]+)" if grouped else "[0-9]+"
    number = f"(?:{whole}(?:{point}[0-9]+)?|{point}[0-9]+)"
    symbols = "|".join(_re(s) for s in sorted(SYMBOLS, key=len, reverse=True))
    mark = f"(?:{symbols}|[A-Za-z]{{3}})"  # a three-letter mark must be an ISO 4217 code (checked apart)
    return (f"^(\\()?\\s*([+-])?\\s*({mark})?\\s*([+-])?\\s*({number})\\s*({mark})?\\s*(\\))?$")


def money_sql(v: str, parse: ParseOptions) -> str:
    """SQL turning text *v* into ``DECIMAL(18,2)``: NULL when it is not an amount (see the module)."""
    return in_range_sql(parsed_sql(v, parse))


def in_range_sql(parsed: str) -> str:
    """SQL: the parsed amount *parsed* (``DECIMAL(38,4)``) as ``DECIMAL(18,2)``, NULL beyond the range.

    Narrowed to ``DECIMAL(18,4)`` first (it fits within the range): rounding to the cent from a
    64-bit decimal is the same and several times cheaper than from a 128-bit one.
    """
    return f"CASE WHEN abs({parsed}) <= {MAX_AMOUNT} THEN CAST(CAST({parsed} AS DECIMAL(18,4)) AS {MONEY}) END"


def parsed_sql(v: str, parse: ParseOptions) -> str:
    """SQL: the number text *v* states under *parse*, as ``DECIMAL(38,4)`` (no range check;
    NULL when it is not an amount). Plain numbers take a fast path; the rest one regex.

    The regex's groups are used inside a lambda over a one-element list so that the regex is
    written once: repeated, DuckDB would compute it for every row, plain ones included.
    """
    plain = "^[+-]?[0-9]+(\\.[0-9]+)?$" if parse.point == "." else "^[+-]?[0-9]+(,[0-9]+)?$"
    pattern = amount_pattern(parse).replace("'", "''")
    parts = f"regexp_extract({v}, '{pattern}', ['open', 's1', 'm1', 's2', 'num', 'm2', 'close'])"

    def p(name: str) -> str:
        return f"p.{name}"

    digits = p("num")
    if parse.group == " ":
        digits = f"regexp_replace({digits}, '[ \u00a0\u202f]', '', 'g')"
    elif parse.group:
        digits = f"replace({digits}, '{parse.group}', '')"
    if parse.point != ".":
        digits = f"replace({digits}, '{parse.point}', '.')"
    codes = ", ".join(f"'{c}'" for c in sorted(ISO_4217))

    def real_mark(name: str) -> str:
        return f"({p(name)} = '' OR NOT regexp_full_match({p(name)}, '[A-Za-z]{{3}}') OR upper({p(name)}) IN ({codes}))"

    valid = (
        f"({p('num')} <> '' AND {real_mark('m1')} AND {real_mark('m2')} AND "
        f"({p('open')} = '') = ({p('close')} = '') AND ({p('s1')} = '' OR {p('s2')} = '') "
        f"AND ({p('m1')} = '' OR {p('m2')} = '') AND NOT ({p('open')} <> '' AND ({p('s1')} <> '' OR {p('s2')} <> ''))"
        + ("" if parse.negative_parentheses else f" AND {p('open')} = ''") + ")"
    )
    negative = f"({p('s1')} = '-' OR {p('s2')} = '-' OR {p('open')} = '(')"
    value = f"CASE WHEN {negative} THEN -1 ELSE 1 END * try_cast({digits} AS DECIMAL(38,4))"
    slow = f"list_transform([{parts}], lambda p: CASE WHEN {valid} THEN {value} END)[1]"
    fast_text = v if parse.point == "." else f"replace({v}, ',', '.')"
    return (f"CASE WHEN regexp_full_match({v}, '{plain}') THEN try_cast({fast_text} AS DECIMAL(38,4)) "
            f"ELSE {slow} END")


def expected(parse: ParseOptions) -> str:
    """The reason's words for what an amount should look like under *parse* (no semicolon: reasons
    of one row are joined with "; ")."""
    point, group = parse.point, parse.group
    example = f"1{group}234{point}50" if group else f"1234{point}50"
    how = f'decimal "{point}", thousands ' + (f'"{group}"' if group else "none")
    neg = "" if parse.negative_parentheses else ", or negative_parentheses = true for (12.50)"
    return (f"an amount such as {example} or -12{point}50 ({how}), at most {MAX_AMOUNT:,} either way "
            f"(set [parse] decimal, thousands{neg})")
