"""Neutralise spreadsheet formulas in exported CSV cells (CSV / formula injection).

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be run as a formula
when the file is opened in a spreadsheet; such a cell gets a leading ``'`` (OWASP's advice). A
plain number (``+4915112345678``, ``-12.5``) is left alone: it cannot run anything, and an E.164
phone number must keep its ``+``.

This is the one function activation exports use; a shared helper for every CSV the product writes
can replace it without touching the callers.

>>> [safe_cell(v) for v in ("=HYPERLINK(1)", "+49 151 1234", "+4915112345678", "@SUM(A1)", "Ann", None)]
["'=HYPERLINK(1)", "'+49 151 1234", '+4915112345678', "'@SUM(A1)", 'Ann', '']
"""

from __future__ import annotations

import re

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def safe_cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_TRIGGERS) and not _NUMBER.match(text):
        return "'" + text
    return text
