"""RFM: recency, frequency and monetary scores and the named segments of a score grid.

Definitions (``as_of`` is a date; only transactions strictly before it count)
------------------------------------------------------------------------------
- **recency_days**: days from the date of the last purchase to ``as_of``
  (a purchase yesterday gives 1).
- **frequency**: number of purchases (orders with ``total > 0``, not cancelled, not fully refunded;
  :mod:`regulars.data.purchases`).
- **monetary**: net spend, ``sum(total - refunded)`` over purchases and returns, in money
  rounded to cents (``DECIMAL(18,2)``) before scoring.
- Only customers with at least one purchase are scored.

Scores are **quintiles** from 1 to 5 (5 = best: most recent, most frequent,
highest spend), equal to ``ntile(5)`` over all scored customers (computed by
:func:`quintile_scores` without a sort per score). Ties are
broken **deterministically by customer id** (ascending): customers are ordered by
the value (recency descending, so the longest-ago buyers get 1; frequency and
monetary ascending) and then by ``customer_id``, and cut into five groups whose
sizes differ by at most one. So two customers with the same frequency can get
different F scores at a group boundary, always the same way on every engine.
The first ``n % 5`` groups hold one customer more, as with ``ntile``. Recency,
frequency and spend come from the workspace's stored per-customer order totals
when they hold for ``as_of`` (:mod:`regulars.data.order_stats`).

Named segments come from a score grid in TOML (:data:`DEFAULT_CONFIG`, editable
and renamable, see ``docs/segments.md``): the first segment whose ``r``/``f``/``m``
ranges contain the customer's scores wins.

Examples
--------
>>> cfg = load_config()
>>> cfg.segment_for(5, 5, 3), cfg.segment_for(1, 1, 1), cfg.segment_for(2, 5, 5)
('champions', 'lost', 'cant_lose')
>>> len(cfg.segments)
11
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir

from regulars.data.order_stats import stored_totals
from regulars.features.mart import MONEY, purchases, resolve_as_of

__all__ = ["DEFAULT_CONFIG", "RFMConfig", "RFMConfigError", "RFMSegment", "load_config", "rfm"]

DEFAULT_CONFIG = Path(__file__).resolve().parent / "config" / "rfm.toml"
SCORES = ("r", "f", "m")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class RFMConfigError(ValueError):
    """The RFM TOML is not valid; the message names the file, segment and key."""


@dataclass(frozen=True)
class RFMSegment:
    """One named cell range of the score grid."""

    name: str
    label: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)
    description: str = ""
    action: str = ""

    def matches(self, r: int, f: int, m: int) -> bool:
        return all(lo <= v <= hi for v, (lo, hi) in zip((r, f, m), (self.r, self.f, self.m)))


@dataclass(frozen=True)
class RFMConfig:
    """The segments in priority order, and the name given to customers none matches."""

    segments: tuple[RFMSegment, ...]
    fallback: str = "other"
    source: str = "default"
    unmatched: tuple[tuple[int, int, int], ...] = field(default=())

    def segment_for(self, r: int, f: int, m: int) -> str:
        for s in self.segments:
            if s.matches(r, f, m):
                return s.name
        return self.fallback

    @property
    def labels(self) -> dict[str, str]:
        out = {s.name: s.label for s in self.segments}
        out.setdefault(self.fallback, self.fallback.replace("_", " ").capitalize())
        return out

    def describe(self, name: str) -> RFMSegment | None:
        return next((s for s in self.segments if s.name == name), None)


def _range(value, where: str, key: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise RFMConfigError(f"{where}: {key} must be [lowest, highest] with whole scores 1..5, got {value!r}")
    lo, hi = value
    if not (1 <= lo <= hi <= 5):
        raise RFMConfigError(f"{where}: {key} = [{lo}, {hi}] must satisfy 1 <= lowest <= highest <= 5")
    return lo, hi


def parse_config(doc: dict, source: str = "<dict>") -> RFMConfig:
    """Validate a parsed RFM TOML document (see ``config/rfm.toml``)."""
    allowed_top = {"segment", "fallback"}
    unknown = set(doc) - allowed_top
    if unknown:
        raise RFMConfigError(f"{source}: unknown key(s) {sorted(unknown)}; expected {sorted(allowed_top)}")
    raw = doc.get("segment")
    if not isinstance(raw, list) or not raw:
        raise RFMConfigError(f"{source}: needs at least one [[segment]] table")
    fallback = doc.get("fallback", "other")
    if not isinstance(fallback, str) or not _NAME.match(fallback):
        raise RFMConfigError(f"{source}: fallback must be a lower-case name (a-z, 0-9, _), got {fallback!r}")
    segments, seen = [], set()
    for i, s in enumerate(raw, start=1):
        where = f"{source}: segment #{i}"
        if not isinstance(s, dict):
            raise RFMConfigError(f"{where} must be a table")
        name = s.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise RFMConfigError(f"{where}: name must be a lower-case id (a-z, 0-9, _), got {name!r}")
        where = f"{source}: segment {name!r}"
        unknown = set(s) - {"name", "label", "description", "action", *SCORES}
        if unknown:
            raise RFMConfigError(f"{where}: unknown key(s) {sorted(unknown)}; use name, label, r, f, m, description, action")
        if name in seen:
            raise RFMConfigError(f"{where}: the name is used twice")
        seen.add(name)
        ranges = {k: _range(s[k], where, k) for k in SCORES if k in s}
        segments.append(RFMSegment(
            name=name, label=str(s.get("label", name.replace("_", " ").capitalize())),
            description=str(s.get("description", "")), action=str(s.get("action", "")), **ranges,
        ))
    cfg = RFMConfig(tuple(segments), fallback, source)
    unmatched = tuple(c for c in itertools.product(range(1, 6), repeat=3)
                      if not any(s.matches(*c) for s in segments))
    return RFMConfig(cfg.segments, fallback, source, unmatched)


def load_config(config=None) -> RFMConfig:
    """The RFM config: ``None`` (shipped default), a path to a TOML file, a dict, or an :class:`RFMConfig`."""
    if isinstance(config, RFMConfig):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    path = Path(config) if config is not None else DEFAULT_CONFIG
    if not path.exists():
        raise RFMConfigError(f"RFM config {path} not found; copy {DEFAULT_CONFIG} and edit it")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RFMConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(doc, str(path))


def rfm_values(tables, as_of: dt.date) -> ir.Table:
    """Recency, frequency and monetary per customer with at least one purchase before *as_of*.

    Read from the workspace's stored per-customer totals when they hold for *as_of* (no order
    on or after it), else computed from the orders; both give the same values.
    """
    stats = stored_totals(tables, as_of)
    if stats is not None:
        g = stats.filter(stats.orders > 0).select(
            "customer_id", "last_order_date", frequency=stats.orders, monetary=stats.net
        )
        return g.mutate(recency_days=ibis.date(as_of).delta(g.last_order_date, unit="day").cast("int64"))
    t = purchases(tables, as_of)
    is_purchase = t.is_purchase
    g = t.group_by("customer_id").aggregate(
        # the date of the latest timestamp is the latest date: one cast per customer, not per order
        last_order_date=t.ordered_at.max(where=is_purchase).cast("date"),
        frequency=t.count(where=is_purchase).cast("int64"),
        monetary=t.net.sum().round(2).cast(MONEY),
    )
    g = g.filter(g.frequency > 0)
    return g.mutate(recency_days=ibis.date(as_of).delta(g.last_order_date, unit="day").cast("int64"))


def quintile_scores(table: ir.Table, scores: dict[str, tuple[str, bool]], key: str = "customer_id") -> ir.Table:
    """*table* with quintile scores 1..5: ``{name: (value column, descending)}``.

    Each score is exactly ``ntile(5) + 1`` over ``ORDER BY value [DESC], key`` (groups differ
    in size by at most one, the first ones larger), but without sorting every row: the row at
    0-based position ``p`` of that order gets ``1 + #{i in 1..4 : p >= start_i}`` with
    ``start_i = i * (n // 5) + min(i, n % 5)``. So only the four rows that *start* groups 2..5
    are needed: a count per distinct value locates the value holding each start position, and
    a row number among that value's ties (by *key*) finds the row. Every row is then scored by
    comparing its ``(value, key)`` with those four bounds. On a million customers this is 2-3x
    faster than one window sort per score. Values must not be null.
    """
    bounds = [_quintile_bounds(table, value, name, key, descending) for name, (value, descending) in scores.items()]
    joined = functools.reduce(lambda left, right: left.cross_join(right), bounds, table)
    columns, helpers = {}, []
    for name, (value, descending) in scores.items():
        mine = joined[value] * -1 if descending else joined[value]
        passed = []
        for i in range(1, 5):
            v, k = joined[f"_{name}_v{i}"], joined[f"_{name}_k{i}"]
            passed.append(((mine > v) | ((mine == v) & (joined[key] >= k))).fill_null(False).cast("int8"))
            helpers += [v.get_name(), k.get_name()]
        columns[name] = (functools.reduce(operator.add, passed) + 1).cast("int8")
    return joined.mutate(**columns).drop(*helpers)


def _quintile_bounds(table: ir.Table, value: str, name: str, key: str, descending: bool) -> ir.Table:
    """One row: ``(value, key)`` of the rows that start quintile groups 2..5 (``_{name}_v{i}``, ``_{name}_k{i}``)."""
    rows = table.select(v_=table[value] * -1 if descending else table[value], k_=table[key])
    counts = rows.group_by("v_").aggregate(c_=rows.count())
    counts = counts.mutate(below_=counts.c_.sum().over(ibis.cumulative_window(order_by=counts.v_)) - counts.c_)
    n = rows.aggregate(n_=rows.count())
    starts = ibis.union(*[
        n.select(i_=ibis.literal(i, "int64"), start_=(n.n_ // 5) * i + ibis.least(n.n_ % 5, i)) for i in range(1, 5)
    ])
    at = starts.join(counts, (starts.start_ >= counts.below_) & (starts.start_ < counts.below_ + counts.c_))
    at = at.select(at.i_, at.v_, offset_=at.start_ - at.below_)
    # the ties of each start's value, numbered by key (a value holding two starts is numbered twice)
    ties = rows.join(at, "v_")
    ties = ties.mutate(rank_=ibis.row_number().over(group_by=ties.i_, order_by=ties.k_))
    found = ties.filter(ties.rank_ == ties.offset_)
    return found.aggregate(**{
        f"_{name}_{part}{i}": (found.v_ if part == "v" else found.k_).max(where=found.i_ == i)
        for i in range(1, 5) for part in ("v", "k")
    })


def rfm(tables, as_of=None, config=None) -> ir.Table:
    """RFM scores and named segment per customer (an Ibis expression, not executed).

    Parameters
    ----------
    tables : table provider
        A Workspace, or the Spark provider.
    as_of : date or ISO string, optional
        Default: the day after the latest order, event or message.
    config : path, dict or RFMConfig, optional
        The score grid (default: the shipped ``config/rfm.toml``).

    Returns
    -------
    ibis.Table
        ``customer_id, as_of, last_order_date, recency_days, frequency, monetary,
        r_score, f_score, m_score, rfm_cell, segment, segment_label``.
    """
    as_of = resolve_as_of(tables, as_of)
    cfg = load_config(config)
    v = rfm_values(tables, as_of)
    v = quintile_scores(v, {
        "r_score": ("recency_days", True), "f_score": ("frequency", False), "m_score": ("monetary", False),
    })

    def within(col: ir.IntegerColumn, rng: tuple[int, int]) -> ir.BooleanValue | None:
        return None if rng == (1, 5) else col.between(rng[0], rng[1])

    conditions = []
    for s in cfg.segments:
        conds = [c for c in (within(v.r_score, s.r), within(v.f_score, s.f), within(v.m_score, s.m)) if c is not None]
        conditions.append(functools.reduce(operator.and_, conds) if conds else ibis.literal(True))
    labels = cfg.labels
    segment = ibis.cases(*zip(conditions, [s.name for s in cfg.segments]), else_=cfg.fallback)
    label = ibis.cases(*zip(conditions, [labels[s.name] for s in cfg.segments]), else_=labels[cfg.fallback])
    cell = (v.r_score.cast("int16") * 100 + v.f_score.cast("int16") * 10 + v.m_score).cast("string")
    return v.select(
        "customer_id",
        as_of=ibis.date(as_of),
        last_order_date=v.last_order_date,
        recency_days=v.recency_days,
        frequency=v.frequency,
        monetary=v.monetary,
        r_score=v.r_score,
        f_score=v.f_score,
        m_score=v.m_score,
        rfm_cell=cell,
        segment=segment,
        segment_label=label,
    )
