"""Funnels: how many sessions (or visitors) reach each step, in order, and where they stop.

A unit (a session by default, or a visitor) **reaches** step 1 when it has an event of that
type; it reaches step i when it has an event of step i's type at or after the moment it
reached step i - 1 (an ordered funnel: a purchase with no product view before it does not
count as a product view). Steps are event types and configurable.

Built as Ibis expressions (never executed here); see :mod:`regulars.features.sessions` for
how sessions and visitors are defined.

Examples
--------
>>> DEFAULT_STEPS
('product_view', 'add_to_cart', 'begin_checkout', 'purchase')
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from regulars.features.sessions import DEFAULT_GAP_MINUTES, session_events, sessions

DEFAULT_STEPS = ("product_view", "add_to_cart", "begin_checkout", "purchase")
#: Checkout steps in order, for where cart abandoners stop.
CHECKOUT_STEPS = ("add_to_cart", "begin_checkout", "add_shipping_info", "add_payment_info")
UNITS = ("session", "visitor")
ANONYMOUS = "(anonymous)"
NO_SEGMENT = "(none)"
OVERALL = "all"


def _steps(steps: Sequence[str] | None) -> list[str]:
    steps = [s.strip().lower() for s in (steps or DEFAULT_STEPS) if s and s.strip()]
    if len(steps) < 2:
        raise ValueError("a funnel needs at least two steps")
    if len(set(steps)) != len(steps):
        raise ValueError(f"funnel steps must differ, got {steps}")
    return steps


def _units(tables, unit: str, gap_minutes: float, session: str, as_of) -> tuple[ir.Table, ir.Table]:
    """(events with a ``unit`` column, one row per unit with customer_id and traffic_source)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}; got {unit!r}")
    e = session_events(tables, gap_minutes, session, as_of)
    s = sessions(tables, gap_minutes, session, as_of)
    if unit == "session":
        e = e.mutate(unit=e.session)
        u = s.select(unit=s.session, customer_id=s.customer_id, traffic_source=s.traffic_source)
        return e, u
    e = e.mutate(unit=e.visitor_id)
    w = ibis.window(group_by=s.visitor_id, order_by=[s.started_at, s.session])
    first = s.mutate(_rn=ibis.row_number().over(w)).filter(lambda x: x._rn == 0)
    u = first.select(unit=first.visitor_id, customer_id=first.customer_id, traffic_source=first.traffic_source)
    return e, u


def funnel_reach(
    tables,
    steps: Sequence[str] | None = None,
    unit: str = "session",
    gap_minutes: float = DEFAULT_GAP_MINUTES,
    session: str = "inactivity",
    as_of=None,
) -> ir.Table:
    """One row per unit: ``unit, customer_id, traffic_source`` and ``reached_at_<i>`` per step.

    ``reached_at_<i>`` (0-based *i*) is when the unit first reached step *i* in order, null
    when it never did.
    """
    steps = _steps(steps)
    e, units = _units(tables, unit, gap_minutes, session, as_of)
    et = e.event_type.lower()
    e = e.filter(et.isin(steps)).select("unit", "occurred_at", et=et)
    # one pass per step over each unit's step events: step i's first event at or after step i - 1
    # (a null reach compares as unknown, so the steps after a missed one stay null)
    per_unit = ibis.window(group_by=e.unit)
    reached = []
    for i, step in enumerate(steps):
        at = (e.et == step) if i == 0 else (e.et == step) & (e.occurred_at >= e[reached[-1]])
        reached.append(f"reached_at_{i}")
        e = e.mutate(**{reached[-1]: e.occurred_at.min(where=at).over(per_unit)})
    agg = e.group_by("unit").aggregate(**{name: e[name].max() for name in reached})
    agg = agg.rename(_unit="unit")
    return units.left_join(agg, units.unit == agg._unit).drop("_unit")


def funnel(
    tables,
    steps: Sequence[str] | None = None,
    by: str | None = None,
    segments: ir.Table | None = None,
    segment_column: str = "segment",
    unit: str = "session",
    gap_minutes: float = DEFAULT_GAP_MINUTES,
    session: str = "inactivity",
    as_of=None,
) -> ir.Table:
    """Conversion per step, overall or per group.

    Parameters
    ----------
    steps : list of event types, optional
        Default :data:`DEFAULT_STEPS`.
    by : {None, "source", "segment"}
        ``source``: the session's traffic source (the first session's for visitors);
        ``segment``: ``segments[segment_column]`` joined on ``customer_id`` (units without a
        customer are :data:`ANONYMOUS`, customers without a membership row :data:`NO_SEGMENT`).
    segments : ibis.Table, optional
        One row per customer with ``customer_id`` and *segment_column* (e.g. the features mart
        or a segment membership table); required when ``by="segment"``.
    unit : {"session", "visitor"}

    Returns
    -------
    ibis.Table
        ``group, group_units`` (all sessions or visitors of the group), ``step_number``
        (1-based), ``step, units, conversion_from_previous`` (for step 1: from all units of
        the group), ``conversion_from_start`` (from step 1) and ``drop_off`` (units lost
        since the previous step).
    """
    steps = _steps(steps)
    r = funnel_reach(tables, steps, unit, gap_minutes, session, as_of)
    if by is None:
        r = r.mutate(group=ibis.literal(OVERALL))
    elif by == "source":
        r = r.mutate(group=r.traffic_source)
    elif by == "segment":
        if segments is None:
            raise ValueError("by='segment' needs a segments table with customer_id and " + segment_column)
        if segment_column not in segments.columns:
            raise ValueError(f"segments table has no column {segment_column!r}; it has {', '.join(segments.columns)}")
        seg = segments.select(_cid=segments.customer_id, _segment=segments[segment_column].cast("string"))
        r = r.left_join(seg, r.customer_id == seg._cid)
        r = r.mutate(
            group=r.customer_id.isnull().ifelse(ANONYMOUS, r._segment.coalesce(NO_SEGMENT))
        ).drop("_cid", "_segment")
    else:
        raise ValueError(f"by must be None, 'source' or 'segment'; got {by!r}")

    counts = r.group_by("group").aggregate(
        _all=r.count(),
        **{f"_n{i}": r[f"reached_at_{i}"].notnull().cast("int64").sum() for i in range(len(steps))}
    )
    parts = []
    for i, step in enumerate(steps):
        n = counts[f"_n{i}"]
        prev = counts[f"_n{i - 1}"] if i else counts._all
        parts.append(
            counts.select(
                "group",
                group_units=counts._all,
                step_number=ibis.literal(i + 1, "int64"),
                step=ibis.literal(step),
                units=n,
                conversion_from_previous=n / prev.nullif(0),
                conversion_from_start=n / counts._n0.nullif(0),
                drop_off=prev - n,
            )
        )
    return ibis.union(*parts).order_by(["group", "step_number"])


def cart_abandonment(
    tables,
    checkout_steps: Sequence[str] = CHECKOUT_STEPS,
    purchase: str = "purchase",
    unit: str = "session",
    gap_minutes: float = DEFAULT_GAP_MINUTES,
    session: str = "inactivity",
    as_of=None,
) -> ir.Table:
    """Where cart abandoners stop: units with the first checkout step and no purchase.

    Each abandoner is counted once, at the furthest of *checkout_steps* it reached (in any
    order). Returns ``step_number, furthest_step, units, share`` (of all abandoners), one row
    per step, zero rows included.
    """
    checkout_steps = _steps(checkout_steps)
    e, _units_table = _units(tables, unit, gap_minutes, session, as_of)
    et = e.event_type.lower()
    rank = ibis.cases(*[(et == s, i + 1) for i, s in enumerate(checkout_steps)], else_=0)
    per_unit = e.group_by("unit").aggregate(
        furthest=rank.max(),
        carted=(et == checkout_steps[0]).any(),
        bought=(et == purchase.lower()).any(),
    )
    ab = per_unit.filter(per_unit.carted & ~per_unit.bought)
    counts = ab.group_by("furthest").aggregate(units=ab.count())
    spine = ibis.memtable({"step_number": list(range(1, len(checkout_steps) + 1)), "furthest_step": checkout_steps})
    out = spine.left_join(counts, spine.step_number == counts.furthest)
    units = out.units.coalesce(0)
    total = units.sum().over(ibis.window())
    return out.select(
        "step_number", "furthest_step", units=units, share=units / total.nullif(0)
    ).order_by("step_number")
