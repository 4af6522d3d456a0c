"""Helpers the vendor presets share: header layouts, column lookup and SQL snippets.

A vendor export comes in a few spellings (``Order Number`` or ``order_number``,
``Accepts Marketing`` or ``Accepts Email Marketing``). A :class:`Layout` lists,
for one kind of file, groups of alternative header names; a file matches when
every group has at least one name in the header. Names are compared after
normalisation (case, spaces and punctuation ignored).

Examples
--------
>>> h = Header(["Order Number", "Billing Email", "_file", "_row"])
>>> h.find("Order ID", "order number")
'Order Number'
>>> print(h.col("Billing Email"))
"Billing Email"
>>> h.col("Nope") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from regulars.data.ingest.options import MappingError
from regulars.data.ingest.readers import lit, q
from regulars.data.presets import Preset


def norm(name: str) -> str:
    """Header name as compared: lower case, runs of non-alphanumerics -> ``_``.

    >>> norm(" Email (Billing) "), norm("Lineitem  SKU")
    ('email_billing', 'lineitem_sku')
    """
    return re.sub(r"[^a-z0-9$]+", "_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class Layout:
    """One kind of file a preset recognises: a kind and its required header groups."""

    kind: str
    title: str
    groups: tuple[tuple[str, ...], ...]

    def matches(self, columns) -> bool:
        have = {norm(c) for c in columns}
        return all(any(norm(n) in have for n in group) for group in self.groups)


@dataclass(frozen=True)
class HeaderPreset(Preset):
    """A preset recognised by :class:`Layout` s rather than one exact set of names.

    ``signature`` keeps the primary layout's first names (for display); matching
    uses ``layouts``. A file matching a layout of another kind is still claimed
    by this preset, so that its builder can say which command loads it instead
    of the generic loader failing with a less helpful message.
    """

    layouts: tuple[Layout, ...] = field(default=())

    def matches(self, columns: set[str]) -> bool:
        return self.layout(columns) is not None

    def layout(self, columns) -> Layout | None:
        for layout in self.layouts:
            if layout.matches(columns):
                return layout
        return None

    def check_kind(self, kind: str, columns: list[str]) -> None:
        """Fail clearly when the file is this vendor's export of another kind."""
        found = self.layout(columns)
        if found is not None and found.kind != kind:
            raise MappingError(
                f"this file looks like a {found.title}, which holds {found.kind}, not {kind}: "
                f"load it with `regulars ingest {found.kind}`"
            )


def signature_of(layout: Layout) -> frozenset[str]:
    return frozenset(group[0] for group in layout.groups)


class Header:
    """The staged file's columns, looked up by any of several spellings."""

    def __init__(self, columns: list[str], title: str = "this preset"):
        self.columns = [c for c in columns if c not in ("_file", "_row")]
        self.title = title
        self._by_norm: dict[str, str] = {}
        for c in self.columns:
            self._by_norm.setdefault(norm(c), c)

    def find(self, *names: str) -> str | None:
        """The file's spelling of the first of *names* it has, else None."""
        for n in names:
            if n in self.columns:
                return n
            hit = self._by_norm.get(norm(n))
            if hit is not None:
                return hit
        return None

    def col(self, *names: str) -> str | None:
        """``q(column)`` for the first of *names* present, else None."""
        found = self.find(*names)
        return q(found) if found is not None else None

    def label(self, *names: str) -> str:
        found = self.find(*names)
        return f'column "{found if found is not None else names[0]}"'

    def need(self, *names: str) -> str:
        """Like :meth:`col` but fails with a message naming the missing column."""
        found = self.col(*names)
        if found is None:
            alts = " or ".join(f'"{n}"' for n in names)
            raise MappingError(
                f"the {self.title} preset needs a column {alts}; the file has columns: "
                f"{', '.join(self.columns) or '(none)'}"
            )
        return found


def blank(expr: str) -> str:
    """SQL: the trimmed text, NULL when empty."""
    return f"nullif(trim(CAST({expr} AS VARCHAR)), '')"


def unquote_id(expr: str) -> str:
    """SQL: strip the leading apostrophe spreadsheet-safe exports put before ids and phones."""
    return f"nullif(ltrim(trim({expr}), {lit(chr(39))}), '')"


def first_row_per(key: str, across_files: bool = False, prefer: str | None = None) -> str:
    """SQL ``where``: the first staged row of each *key* (per file, or across all files).

    Rows whose key is empty are not selected. With *prefer* (an SQL condition),
    the first row where it holds is taken, if the key has one.
    """
    part = blank(key) if across_files else f"_file, {blank(key)}"
    order = f"({prefer}) IS NOT TRUE, _file, _row" if prefer else "_file, _row"
    return (
        f"({blank(key)} IS NOT NULL AND (_file, _row) IN (SELECT _file, _row FROM ("
        f"SELECT _file, _row, row_number() OVER (PARTITION BY {part} ORDER BY {order}) AS _n "
        f"FROM _raw WHERE {blank(key)} IS NOT NULL) WHERE _n = 1))"
    )


def line_number(order_key: str) -> str:
    """SQL: 1-based position of the row among its order's rows in the same file."""
    return f"row_number() OVER (PARTITION BY _file, {blank(order_key)} ORDER BY _row)"


def name_id(prefix: str, expr: str) -> str:
    """SQL: a stable id from a name (``prefix`` + 16 hex of md5 of the trimmed, lower-cased name).

    >>> import duckdb
    >>> duckdb.sql("SELECT " + name_id("n-", "'  Mug '") + " = " + name_id("n-", "'mug'")).fetchall()
    [(True,)]
    """
    return f"CASE WHEN {blank(expr)} IS NOT NULL THEN {lit(prefix)} || left(md5(lower({blank(expr)})), 16) END"


def case_map(expr: str, mapping: dict[str, str], default: str | None = None) -> str:
    """SQL: map lower-cased, trimmed text through *mapping*; otherwise *default* SQL (or the text).

    >>> import duckdb
    >>> duckdb.sql("SELECT " + case_map("' Open '", {"open": "opened"})).fetchall()
    [('opened',)]
    """
    v = f"lower({blank(expr)})"
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v_)}" for k, v_ in mapping.items())
    return f"CASE {v} {whens} ELSE {default if default is not None else v} END"


def sql_in(expr: str, values) -> str:
    """SQL: *expr* IN a list of string literals.

    >>> sql_in("x", ["a"])
    "(x) IN ('a')"
    """
    return f"({expr}) IN ({', '.join(lit(v) for v in values)})"


def positive(expr: str) -> str:
    """SQL: text of an amount with a leading minus sign removed (exports disagree on the sign of refunds)."""
    return f"regexp_replace(trim({expr}), '^-', '')"


def snake(expr: str) -> str:
    """SQL: lower_snake_case of a text value (``Dropped Email`` -> ``dropped_email``)."""
    return f"trim(regexp_replace(lower({blank(expr)}), '[^a-z0-9]+', '_', 'g'), '_')"


def exprs_and_labels(pairs: dict[str, tuple[str | None, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``canonical -> (sql or None, label)`` into exprs and labels, dropping absent columns.

    A column the file does not have is left out (rather than mapped to NULL)
    so that loading this file never erases what another source wrote there.
    """
    exprs = {k: e for k, (e, _) in pairs.items() if e is not None}
    labels = {k: lbl for k, (e, lbl) in pairs.items() if e is not None}
    return exprs, labels
