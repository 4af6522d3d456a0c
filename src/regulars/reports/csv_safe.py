"""CSV a person may open in a spreadsheet: no cell can be read as a formula (CSV injection).

A cell such as ``=HYPERLINK("http://evil", "click")``, ``=cmd|' /C calc'!A0`` or
``@SUM(1+1)`` — typed by a customer into a form, or planted in a posted event — runs
as a formula when the file is opened in Excel, LibreOffice or Google Sheets. Following
the OWASP guidance on CSV injection, every *text* cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return (or their full-width forms) gets a leading
apostrophe, which spreadsheets show as text and do not evaluate; numbers stay numbers
(``-12.5`` as a number is not a formula). Every CSV that regulars writes for people —
``--format csv`` on the command line, ``format=csv`` on the API — goes through here.

>>> [safe_cell(v) for v in ("=1+1", "@SUM(A1)", "-x", "+33 6 12", "\\tx", "ann", -12.5, None)]
["'=1+1", "'@SUM(A1)", "'-x", "'+33 6 12", "'\\tx", 'ann', -12.5, None]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: RFC 4180 line ends: with them the csv module also quotes a cell holding a lone carriage return.
LINE_END = "\r\n"


def safe_cell(value):
    """*value*, with a leading apostrophe when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of *df* whose text cells are :func:`safe_cell`-ed (numeric columns untouched)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out


def write_csv(rows: Iterable[dict], columns: list[str]) -> str:
    """CSV text of *rows* (dicts) with these *columns*, every cell made safe; missing values empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=LINE_END)
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow([safe_cell("" if row.get(c) is None else row.get(c)) for c in columns])
    return out.getvalue()
