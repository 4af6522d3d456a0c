"""Tables laid out for the terminal: every column as wide as its values, pages of columns when too wide.

A table wider than the terminal is not squeezed (Rich would fold 24 columns into 1-2 characters
each): its columns are split into parts that fit, the first column (the row's name: a month, a
customer, a metric) repeated in each, and a note says so. A value longer than half the terminal
is cut in the middle (``…``), and a note says that ``--format csv`` or ``json`` shows it whole.

Examples
--------
>>> import pandas as pd
>>> from rich.console import Console
>>> frame = pd.DataFrame({"month": ["2025-01"], **{f"metric {i}": [1234.5] for i in range(12)}})
>>> out = Console(width=80, record=True, file=open(os.devnull, "w"))
>>> print_table(out, [[str(v) for v in frame.iloc[0]]], list(frame.columns), title="KPIs")
2
>>> max(len(line) for line in out.export_text().splitlines()) <= 80
True
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

_BORDER = 1  # the table's left edge; each column adds its padding (2) and its right border (1)


def cell_width(text: str) -> int:
    """Characters a value needs on one line."""
    return max((len(line) for line in text.splitlines()), default=0)


def header_width(name: str) -> int:
    """The narrowest a header may get: its longest word (Rich wraps headers between words)."""
    return max((len(word) for word in name.split()), default=1)


def column_pages(widths: list[int], width: int) -> list[list[int]]:
    """Split columns into parts that fit *width*; the first column starts every part.

    Examples
    --------
    >>> column_pages([10, 10, 10, 10], 80)
    [[0, 1, 2, 3]]
    >>> column_pages([10, 30, 30, 30], 80)
    [[0, 1, 2], [0, 3]]
    """
    cost = [w + 3 for w in widths]
    if _BORDER + sum(cost) <= width or len(widths) == 1:
        return [list(range(len(widths)))]
    pages, current, used = [], [0], _BORDER + cost[0]
    for i in range(1, len(widths)):
        if used + cost[i] > width and len(current) > 1:
            pages.append(current)
            current, used = [0], _BORDER + cost[0]
        current.append(i)
        used += cost[i]
    pages.append(current)
    return pages


def print_table(console: Console, rows: list[list[str]], columns: list[str], title: str | None = None) -> int:
    """Print *rows* (already formatted) under *columns*, laid out for *console*'s width; return the parts printed."""
    width = console.width
    longest = max(12, min(40, (width - 7) // 2))
    cut = False
    shown = []
    for row in rows:
        out = []
        for value in row:
            value = " ".join(value.split()) if "\n" in value else value
            if len(value) > longest:  # keep both ends: a file's name, an id's tail
                head = (longest - 1) // 2
                value, cut = value[:head] + "…" + value[-(longest - 1 - head):], True
            out.append(value)
        shown.append(out)
    columns = [str(name).replace("_", " ") for name in columns]  # headers wrap between words, not inside
    widths = [max([header_width(str(name))] + [cell_width(r[i]) for r in shown]) for i, name in enumerate(columns)]
    pages = column_pages(widths, width)
    for n, page in enumerate(pages, start=1):
        label = title
        if len(pages) > 1:
            first, last = page[1] if len(page) > 1 else page[0], page[-1]
            part = f"part {n} of {len(pages)}: columns {first + 1}–{last + 1} of {len(columns)}"
            label = f"{title} ({part})" if title else part
        table = Table(title=label, show_lines=False)
        for i in page:
            table.add_column(columns[i], width=widths[i])  # as wide as its values; the header may wrap
        for row in shown:
            table.add_row(*[row[i] for i in page])
        console.print(table)
    if len(pages) > 1:
        console.print(f"[dim]wider than this terminal ({width} columns): shown in {len(pages)} parts with "
                      f"{columns[0]!s} repeated; --format csv gives every column in one file[/]")
    if cut:
        console.print("[dim]long values are cut (…); --format csv or --format json shows them whole[/]")
    return len(pages)
