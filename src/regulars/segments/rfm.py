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
highest spend): customers are ordered by the value (recency descending, so the
longest-ago buyers get 1; frequency and monetary ascending) and cut into five
groups **as equal in size as ties allow** (:func:`quintile_cuts`). Equal values
always get the same score, whatever the customer ids: with sequential ids (most
shops) an id tie-break would hand identical one-time buyers F scores from 1 to 3.
Without ties the groups are exactly ``ntile(5)``'s. Recency,
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
import numpy as np

from regulars.features.purchase_history import stored_totals
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


def quintile_cuts(counts, groups: int = 5) -> list[int]:
    """Where to cut ordered distinct values into ``groups`` groups as equal in size as ties allow.

    Parameters
    ----------
    counts : array_like
        How many rows hold each distinct value, in value order.
    groups : int

    Returns
    -------
    list of int
        Indexes of the distinct values that start groups 2, 3, ... (``min(groups, len(counts))``
        groups, none empty). Greedy from the lowest group: each cut is placed at the boundary
        between two distinct values closest to an equal share (rounded up) of the rows still
        to place; without ties that is exactly ``ntile``.

    Examples
    --------
    >>> quintile_cuts([60, 20, 8, 7, 5])  # 60% one-time buyers stay together in group 1
    [1, 2, 3, 4]
    >>> quintile_cuts([2] * 10)  # no ties: exactly ntile
    [2, 4, 6, 8]
    >>> quintile_cuts([5, 5])
    [1]
    """
    counts = np.asarray(counts, dtype=float)
    distinct = counts.size
    k = min(groups, distinct)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])  # rows before each distinct value
    cuts, start = [], 0
    for remaining in range(k, 1, -1):
        # an equal share, rounded up as ntile does (its first n % 5 groups hold one row more)
        target = cumulative[start] + np.ceil((cumulative[-1] - cumulative[start]) / remaining)
        lo, hi = start + 1, distinct - remaining + 1  # leave at least one value per later group
        e = int(np.clip(np.searchsorted(cumulative, target), lo, hi))
        if e - 1 >= lo and abs(cumulative[e - 1] - target) <= abs(cumulative[e] - target):
            e -= 1
        cuts.append(e)
        start = e
    return cuts


def _spread(groups: int) -> list[int]:
    """Scores of ``groups`` groups spread over 1..5 (5 groups: 1..5; 2 groups: 1 and 5; one: 1)."""
    if groups <= 1:
        return [1]
    return [int(round(1 + g * 4 / (groups - 1))) for g in range(groups)]


def quintile_scores(table: ir.Table, scores: dict[str, tuple[str, bool]]) -> ir.Table:
    """*table* with scores 1..5 for ``{name: (value column, descending)}``, **equal values
    always getting the same score**.

    The distinct values (best last: descending values for recency) are cut into five groups as
    equal in size as ties allow (:func:`quintile_cuts`); without ties that is exactly
    ``ntile(5)``. With ties no customer id decides anything: in a shop where 60 % bought once,
    all of them get F = 1 and the other scores split the repeat buyers. With fewer than five
    distinct values the groups are spread over 1..5 (the best group always scores 5). Runs one
    small query per score (the value counts); the scoring is then a comparison with at most
    four literal bounds, the same on every engine. Values must not be null.
    """
    columns = {}
    for name, (value, descending) in scores.items():
        counts = table.group_by(value).aggregate(_n=table.count()).to_pyarrow().to_pandas()
        counts = counts.sort_values(value, ascending=not descending, kind="stable")
        cuts = quintile_cuts(counts["_n"].to_numpy())
        bounds = [counts[value].iloc[i] for i in cuts]
        oriented = table[value]
        passed = [((oriented <= b) if descending else (oriented >= b)).cast("int8") for b in bounds]
        group = functools.reduce(operator.add, passed, ibis.literal(0, "int8"))
        spread = _spread(len(cuts) + 1)
        columns[name] = ibis.cases(*[(group == g, s) for g, s in enumerate(spread)], else_=spread[-1]).cast("int8")
    return table.mutate(**columns)


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
