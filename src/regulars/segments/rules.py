"""Rule segments: readable rules over mart columns, parsed safely into Ibis filters.

Why this module is long: the rule language is one tokenizer, parser, type checker and Ibis compiler;
each step is small, and the error messages (with positions and suggestions) need all of them.

A rule is a small boolean language over the columns of the customer features mart
(``docs/features.md``)::

    orders >= 3 and days_since_last_order > 60 and category_share_coffee > 0.5
    region in ['north', 'east'] and not accepts_email
    (aov > 50 or revenue >= 500) and acquisition_channel != 'paid_search'
    last_order_date < '2024-01-01' and mean_csat is not null

- ``and``, ``or``, ``not`` and parentheses (``not`` binds tightest, then ``and``, then ``or``);
- comparisons ``= == != <> < <= > >=`` between a column and a number, a ``'string'`` (or
  ``"string"``), ``true``/``false``, or another column; dates are written as
  ``'YYYY-MM-DD'`` strings;
- ``column in [v1, v2, ...]``, ``column not in [...]``, ``column is null``, ``column is not null``;
- a boolean column on its own (``accepts_email``);
- ``today``, optionally ``+`` or ``-`` a number of days, for a date (``next_order_date < today + 7``):
  the as-of date of the table (its ``as_of`` column), else the current date.

Keywords are case-insensitive. A comparison with a missing value (null) is false, and so is
its ``not``: ``not (aov > 50)`` does not select customers without orders.

Limits, checked when a rule is saved (so a saved rule can always run): at most
:data:`MAX_RULE_LENGTH` characters, :data:`MAX_DEPTH` levels of parentheses and ``not``,
:data:`MAX_CONDITIONS` conditions, and numbers within ±:data:`MAX_NUMBER`.

The rule is tokenised and parsed by the small recursive-descent parser below; nothing is
ever passed to ``eval``. Errors say where: position, the rule with a caret under the bad
token, and the closest known column names.

Examples
--------
>>> cols = {"orders": "int64", "region": "string", "accepts_email": "boolean"}
>>> print(parse("orders >= 3 and region in ['north', 'east']", cols))
((orders >= 3) and (region in ['north', 'east']))
>>> try:
...     parse("ordrs >= 3", cols)
... except RuleError as e:
...     print(e)
unknown column 'ordrs' (did you mean 'orders'?) at position 1
  ordrs >= 3
  ^^^^^
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import operator
import re
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

__all__ = ["RuleError", "compile_rule", "parse", "rule_columns", "validate"]

KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false", "today"}
COMPARISONS = {"=": operator.eq, "==": operator.eq, "!=": operator.ne, "<>": operator.ne,
               "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
MAX_RULE_LENGTH = 4000
MAX_DEPTH = 32
MAX_CONDITIONS = 200
#: Largest magnitude of a number in a rule (a quadrillion: above any count, amount or day count).
MAX_NUMBER = 10**15

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<>|<=|>=|=|<|>)
  | (?P<sign>[+-])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()\[\],])
""", re.VERBOSE)


class RuleError(ValueError):
    """A rule that cannot be parsed or does not fit the mart; ``str()`` shows where."""

    def __init__(self, message: str, rule: str, position: int, length: int = 1) -> None:
        self.message, self.rule, self.position, self.length = message, rule, position, max(1, length)
        super().__init__(str(self))

    def __str__(self) -> str:
        line = self.rule.replace("\n", " ")
        return (f"{self.message} at position {self.position + 1}\n  {line}\n"
                f"  {' ' * self.position}{'^' * self.length}")


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | op | name | keyword | punct | end
    text: str
    pos: int

    @property
    def value(self):
        if self.kind == "number":
            return float(self.text) if any(c in self.text for c in ".eE") else int(self.text)
        if self.kind == "string":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        return self.text


def tokenize(rule: str) -> list[Token]:
    if len(rule) > MAX_RULE_LENGTH:
        raise RuleError(f"rule is longer than {MAX_RULE_LENGTH} characters", rule, MAX_RULE_LENGTH)
    tokens, pos = [], 0
    while pos < len(rule):
        m = _TOKEN.match(rule, pos)
        if not m:
            ch = rule[pos]
            hint = " (strings need matching quotes)" if ch in "'\"" else ""
            raise RuleError(f"unexpected character {ch!r}{hint}", rule, pos)
        kind = m.lastgroup
        if kind != "ws":
            text = m.group()
            if kind == "name" and text.lower() in KEYWORDS:
                kind, text = "keyword", text.lower()
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(rule)))
    return tokens


# -- syntax tree ---------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    pos: int

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Literal:
    value: object
    pos: int
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Compare:
    op: str
    left: Column | Literal
    right: Column | Literal

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


@dataclass(frozen=True)
class InList:
    column: Column
    values: tuple[Literal, ...]
    negated: bool = False

    def __str__(self) -> str:
        vals = ", ".join(v.text for v in self.values)
        return f"({self.column} {'not in' if self.negated else 'in'} [{vals}])"


@dataclass(frozen=True)
class IsNull:
    column: Column
    negated: bool = False

    def __str__(self) -> str:
        return f"({self.column} is {'not ' if self.negated else ''}null)"


@dataclass(frozen=True)
class Truthy:
    column: Column

    def __str__(self) -> str:
        return str(self.column)


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    items: tuple

    def __str__(self) -> str:
        return "(" + f" {self.op} ".join(str(i) for i in self.items) + ")"


@dataclass(frozen=True)
class Not:
    item: object

    def __str__(self) -> str:
        return f"(not {self.item})"


# -- parser -------------------------------------------------------------------
class _Parser:
    def __init__(self, rule: str, columns: dict[str, str]) -> None:
        self.rule, self.columns = rule, columns
        self.tokens = tokenize(rule)
        self.i = 0
        self.depth = 0
        self.conditions = 0

    def nest(self, at: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the rule nests too deeply (more than {MAX_DEPTH} levels of parentheses or 'not')", at)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, tok: Token | None = None) -> RuleError:
        tok = tok or self.tok
        return RuleError(message, self.rule, tok.pos, len(tok.text) or 1)

    def take(self, kind: str, text: str | None = None) -> Token | None:
        t = self.tok
        if t.kind == kind and (text is None or t.text == text):
            self.i += 1
            return t
        return None

    def expect(self, kind: str, text: str, what: str) -> Token:
        t = self.take(kind, text)
        if t is None:
            found = "the end of the rule" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.error(f"expected {what}, found {found}")
        return t

    def parse(self):
        if self.tok.kind == "end":
            raise self.error("the rule is empty; write e.g. orders >= 3 and days_since_last_order > 60")
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}; join conditions with 'and' or 'or'")
        return node

    def or_expr(self):
        items = [self.and_expr()]
        while self.take("keyword", "or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expr(self):
        items = [self.not_expr()]
        while self.take("keyword", "and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_expr(self):
        at = self.tok
        if self.take("keyword", "not"):
            self.nest(at)
            node = Not(self.not_expr())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self):
        at = self.tok
        if self.take("punct", "("):
            self.nest(at)
            node = self.or_expr()
            self.expect("punct", ")", "')' to close the parenthesis")
            self.depth -= 1
            return node
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(f"the rule has more than {MAX_CONDITIONS} conditions; split it into several segments", at)
        left = self.value()
        t = self.tok
        if t.kind == "op":
            self.i += 1
            right = self.value()
            return self.check_compare(Compare(t.text, left, right), t)
        if t.kind == "keyword" and t.text in ("in", "not"):
            negated = bool(self.take("keyword", "not"))
            self.expect("keyword", "in", "'in' after 'not'")
            return self.in_list(left, negated, t)
        if self.take("keyword", "is"):
            negated = bool(self.take("keyword", "not"))
            self.expect("keyword", "null", "'null' after 'is'")
            return IsNull(self.need_column(left, t), negated)
        col = self.need_column(left, t, alone=True)
        if self.columns[col.name] != "boolean":
            example = {"number": "> 0", "string": "= 'some value'", "date": ">= '2024-01-01'"}[
                _family(self.columns[col.name])]
            raise RuleError(
                f"column {col.name!r} ({self.columns[col.name]}) needs a comparison, e.g. {col.name} {example}",
                self.rule, col.pos, len(col.name))
        return Truthy(col)

    def need_column(self, node, at: Token, alone: bool = False) -> Column:
        if isinstance(node, Column):
            return node
        what = "a condition" if alone else "a column on the left"
        raise RuleError(f"expected {what}, found the value {node.text}", self.rule, node.pos, len(node.text))

    def value(self) -> Column | Literal:
        t = self.tok
        if t.kind == "name":
            self.i += 1
            if t.text not in self.columns:
                near = difflib.get_close_matches(t.text, list(self.columns), n=3, cutoff=0.6)
                hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else \
                    f" (known columns: {', '.join(sorted(self.columns)[:12])}, …; see docs/features.md)"
                raise self.error(f"unknown column {t.text!r}{hint}", t)
            return Column(t.text, t.pos)
        if t.kind in ("number", "string"):
            self.i += 1
            value = t.value
            if t.kind == "number" and not (math.isfinite(value) and abs(value) <= MAX_NUMBER):
                raise self.error(f"the number {t.text} is out of range: numbers in a rule must be between "
                                 f"-{MAX_NUMBER:,} and {MAX_NUMBER:,}", t)
            return Literal(value, t.pos, t.text)
        if t.kind == "keyword" and t.text in ("true", "false", "null"):
            self.i += 1
            return Literal({"true": True, "false": False, "null": None}[t.text], t.pos, t.text)
        if t.kind == "keyword" and t.text == "today":
            self.i += 1
            sign, days = self.take("sign"), 0
            if sign is not None:
                n = self.take("number")
                if n is None or not isinstance(n.value, int):
                    raise self.error(f"expected a whole number of days after 'today {sign.text}'")
                days = n.value if sign.text == "+" else -n.value
            return Literal(_Today(days), t.pos, self.rule[t.pos:self.tokens[self.i - 1].pos
                                                           + len(self.tokens[self.i - 1].text)])
        found = "the end of the rule" if t.kind == "end" else repr(t.text)
        raise self.error(f"expected a column or a value, found {found}")

    def in_list(self, left, negated: bool, at: Token) -> InList:
        col = self.need_column(left, at)
        self.expect("punct", "[", "'[' to start the list, e.g. region in ['north', 'south']")
        values = []
        if not self.take("punct", "]"):
            while True:
                v = self.value()
                if isinstance(v, Column):
                    raise RuleError("a list holds values, not columns", self.rule, v.pos, len(v.name))
                self.check_literal(col, v)
                values.append(v)
                if self.take("punct", "]"):
                    break
                self.expect("punct", ",", "',' or ']' in the list")
        if not values:
            raise self.error("the list is empty", at)
        return InList(col, tuple(values), negated)

    def check_compare(self, node: Compare, at: Token) -> Compare:
        left, right = node.left, node.right
        if isinstance(left, Literal) and isinstance(right, Literal):
            raise RuleError("compare a column with a value, not two values", self.rule, left.pos,
                            right.pos + len(right.text) - left.pos)
        if isinstance(left, Column) and isinstance(right, Column):
            a, b = _family(self.columns[left.name]), _family(self.columns[right.name])
            if a != b:
                raise RuleError(f"cannot compare {left.name} ({a}) with {right.name} ({b})",
                                self.rule, right.pos, len(right.name))
            return node
        col, lit = (left, right) if isinstance(left, Column) else (right, left)
        if lit.value is None:
            raise RuleError(f"use '{col.name} is null' or 'is not null' to test for missing values",
                            self.rule, lit.pos, len(lit.text))
        self.check_literal(col, lit)
        fam = _family(self.columns[col.name])
        if node.op not in ("=", "==", "!=", "<>") and fam in ("string", "boolean"):
            raise self.error(f"{node.op!r} does not apply to {fam} column {col.name!r}; use = or !=", at)
        return node

    def check_literal(self, col: Column, lit: Literal) -> None:
        fam = _family(self.columns[col.name])
        v = lit.value
        ok = {
            "number": isinstance(v, (int, float)) and not isinstance(v, bool),
            "string": isinstance(v, str),
            "boolean": isinstance(v, bool),
            "date": isinstance(v, _Today) or (isinstance(v, str) and _is_date(v)),
        }.get(fam, True)
        if not ok:
            example = {"number": "a number like 3 or 0.5", "string": "a quoted string like 'north'",
                       "boolean": "true or false", "date": "a date like '2024-01-31'"}[fam]
            raise RuleError(f"{col.name} is a {fam} column: expected {example}, found {lit.text}",
                            self.rule, lit.pos, len(lit.text))


@dataclass(frozen=True)
class _Today:
    """``today`` plus ``days`` (the table's ``as_of`` date when it has one)."""

    days: int = 0


def _family(dtype: str) -> str:
    d = str(dtype).lower()
    if d.startswith(("int", "uint", "float", "decimal")):
        return "number"
    if d.startswith(("date", "timestamp")):
        return "date"
    if d.startswith("bool"):
        return "boolean"
    return "string"


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _schema(table_or_columns) -> dict[str, str]:
    if isinstance(table_or_columns, dict):
        return {k: str(v) for k, v in table_or_columns.items()}
    return {name: str(dtype) for name, dtype in table_or_columns.schema().items()}


def parse(rule: str, columns) -> object:
    """Parse *rule* against *columns* (a dict name -> type, or an Ibis table); raise :class:`RuleError`."""
    return _Parser(rule, _schema(columns)).parse()


def validate(rule: str, columns) -> str:
    """The rule in canonical, fully parenthesised form (raises :class:`RuleError` when invalid).

    >>> validate("NOT accepts_email", {"accepts_email": "boolean"})
    '(not accepts_email)'
    """
    return str(parse(rule, columns))


def rule_columns(rule: str, columns) -> list[str]:
    """The mart columns a rule uses, sorted."""
    return sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rule)) & set(_schema(columns)))


def _to_ibis(node, t: ir.Table, schema: dict[str, str]) -> ir.BooleanValue:
    def operand(x, other):
        if isinstance(x, Column):
            return t[x.name]
        if isinstance(x.value, _Today):
            base = t["as_of"].cast("date") if "as_of" in schema else ibis.today()
            return base + ibis.interval(days=x.value.days)
        other_type = schema.get(other.name) if isinstance(other, Column) else None
        if other_type and _family(other_type) == "date":
            return ibis.date(dt.date.fromisoformat(x.value))
        if isinstance(x.value, float):
            return ibis.literal(x.value, "float64")
        return ibis.literal(x.value)

    if isinstance(node, BoolOp):
        parts = [_to_ibis(i, t, schema) for i in node.items]
        return _balanced(operator.and_ if node.op == "and" else operator.or_, parts)
    if isinstance(node, Not):
        return ~_to_ibis(node.item, t, schema)
    if isinstance(node, Truthy):
        return t[node.column.name].cast("boolean")
    if isinstance(node, IsNull):
        col = t[node.column.name]
        return col.notnull() if node.negated else col.isnull()
    if isinstance(node, InList):
        col = t[node.column.name]
        values = [operand(v, node.column) for v in node.values]
        expr = col.isin(values)
        return col.notnull() & ~expr if node.negated else expr
    if isinstance(node, Compare):
        left, right = operand(node.left, node.right), operand(node.right, node.left)
        date_col = next((schema[c.name] for c in (node.left, node.right)
                         if isinstance(c, Column) and _family(schema[c.name]) == "date"), None)
        if date_col and date_col.lower().startswith("timestamp"):
            left = left.cast("date") if isinstance(node.left, Column) else left
            right = right.cast("date") if isinstance(node.right, Column) else right
        return COMPARISONS[node.op](left, right)
    raise TypeError(f"unknown node {node!r}")  # pragma: no cover


def _balanced(op, parts: list):
    """``op`` over *parts* as a balanced tree (depth log2 n, not n: long rules compile without deep recursion)."""
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    return op(_balanced(op, parts[:mid]), _balanced(op, parts[mid:]))


def compile_rule(rule: str, table: ir.Table) -> ir.BooleanValue:
    """The rule as an Ibis boolean over *table* (nulls count as false), ready for ``table.filter``."""
    schema = _schema(table)
    node = _Parser(rule, schema).parse()
    return _to_ibis(node, table, schema).coalesce(False)
