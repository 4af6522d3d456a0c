r"""One normalisation of e-mail addresses and phone numbers, in Python and in SQL.

Every path that meets an e-mail or a phone — a loaded file (:mod:`regulars.data.ingest.convert`),
an event posted to the API (:mod:`regulars.data.realtime`), a search, an erasure request
(:mod:`regulars.data.erasure`) — uses these functions, so the same person written two ways
is the same identifier, and the Python and SQL forms agree character for character
(``tests/data/test_normalize.py`` checks it on random text).

- **e-mail**: spaces, tabs, line breaks and no-break spaces around it removed, lower-cased
  (one character at a time, as DuckDB's ``lower`` does), and it must look like
  ``local@domain.tld``.
- **phone**: a ``(0)`` trunk marker dropped, every character but ASCII digits dropped, an
  international ``00`` prefix read like ``+``; at least 6 digits. The stored form keeps a
  leading ``+`` when the number was written internationally (``+1 (201) 555-0916`` ->
  ``+12015550916``); the *key* compared and hashed is the digits without it
  (``0012015550916``, ``+1 201 555 0916`` and ``1-201-555-0916`` all have key
  ``12015550916``). A national number (``(201) 555-0916``) has another key: without a
  country there is no safe way to tell.

>>> normalize_email("  Ann.Lee@Example.COM\t"), normalize_email("ann@@example.com")
('ann.lee@example.com', None)
>>> normalize_phone("+1 (201) 555-0916"), normalize_phone("0044 (0)20 7946 0958"), normalize_phone("12 34")
('+12015550916', '+442079460958', None)
>>> phone_key("+12015550916") == phone_key(normalize_phone("1-201-555-0916")) == "12015550916"
True
"""

from __future__ import annotations

import re

#: Characters trimmed around an identifier: spaces, tabs, line breaks, no-break space.
TRIM = " \t\n\r\f\v\u00a0"
EMAIL_PATTERN = r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$"
MIN_PHONE_DIGITS = 6

_EMAIL = re.compile(EMAIL_PATTERN)
_NOT_DIGIT = re.compile(r"[^0-9]")


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _lower(text: str) -> str:
    # Per character (DuckDB's simple case mapping): no final-sigma rule, and 'İ' becomes 'i'.
    return "".join("i" if ch == "\u0130" else ch.lower() for ch in text)


def normalize_email(text) -> str | None:
    """The stored form of an e-mail address, or None when *text* is not one."""
    if text is None:
        return None
    value = _lower(str(text).strip(TRIM))
    return value if _EMAIL.match(value) else None


def email_sql(expr: str) -> str:
    """SQL for :func:`normalize_email` of a VARCHAR expression."""
    v = f"lower(trim({expr}, {_sql_text(TRIM)}))"
    return f"CASE WHEN regexp_full_match({v}, {_sql_text(EMAIL_PATTERN)}) THEN {v} END"


def normalize_phone(text) -> str | None:
    """The stored form of a phone number (``+`` and digits, or digits), or None with too few digits."""
    if text is None:
        return None
    value = str(text).strip(TRIM).replace("(0)", "")
    digits = _NOT_DIGIT.sub("", value)
    key = digits[2:] if digits.startswith("00") else digits
    if len(key) < MIN_PHONE_DIGITS:
        return None
    return ("+" + key) if value.startswith("+") or digits.startswith("00") else key


def phone_sql(expr: str) -> str:
    """SQL for :func:`normalize_phone` of a VARCHAR expression."""
    v = f"replace(trim({expr}, {_sql_text(TRIM)}), '(0)', '')"
    digits = f"regexp_replace({v}, '[^0-9]', '', 'g')"
    key = f"regexp_replace({digits}, '^00', '')"
    plus = f"CASE WHEN starts_with({v}, '+') OR starts_with({digits}, '00') THEN '+' ELSE '' END"
    return f"CASE WHEN length({key}) >= {MIN_PHONE_DIGITS} THEN {plus} || {key} END"


def phone_key(stored: str | None) -> str | None:
    """The digits compared and hashed for a stored phone (also for phones stored by older versions)."""
    if stored is None:
        return None
    digits = _NOT_DIGIT.sub("", stored)
    return digits[2:] if digits.startswith("00") else digits


def phone_key_sql(expr: str) -> str:
    """SQL for :func:`phone_key`."""
    return f"regexp_replace(regexp_replace({expr}, '[^0-9]', '', 'g'), '^00', '')"
