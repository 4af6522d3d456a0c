"""Lifecycle stages: new, active, at risk, churned, reactivated.

Thresholds come, by default, from **the shop's own inter-purchase times**: the gaps
in days between consecutive purchase *days* of the same customer, before ``as_of``.

- ``at_risk_after_days`` = the 75th percentile of those gaps (rounded up): three
  quarters of repeat purchases happen sooner, so a customer silent for longer is
  overdue;
- ``churned_after_days`` = the 95th percentile (rounded up, and at least one day more
  than ``at_risk_after_days``): only one repeat purchase in twenty comes after a longer
  silence;
- ``new_within_days`` = ``at_risk_after_days``.

With fewer than :data:`MIN_GAPS` gaps (too few repeat buyers to learn from) the
fallbacks 90 / 365 days are used and :class:`Thresholds` says so. Every value can be
overridden (``regulars segment lifecycle --at-risk-after 60 --churned-after 180``).

Stages (for customers with at least one purchase, first rule that applies):

1. **churned**: ``days_since_last_order > churned_after_days``
2. **at_risk**: ``days_since_last_order > at_risk_after_days``
3. **new**: first purchase within the last ``new_within_days`` days
4. **reactivated**: the gap before the latest purchase day was longer than
   ``churned_after_days`` (they had churned by our own rule, and came back)
5. **active**: everyone else.

Examples
--------
>>> Thresholds(at_risk_after_days=30, churned_after_days=120).describe()
'at risk after 30 days without a purchase, churned after 120, new for 30 days (given)'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from regulars.features.mart import order_summary, purchases, resolve_as_of

__all__ = ["STAGES", "Thresholds", "inter_purchase_gaps", "lifecycle", "lifecycle_thresholds"]

STAGES = ("new", "active", "reactivated", "at_risk", "churned")
MIN_GAPS = 30
FALLBACK_AT_RISK = 90
FALLBACK_CHURNED = 365


@dataclass(frozen=True)
class Thresholds:
    """Day thresholds of the lifecycle stages and where they came from."""

    at_risk_after_days: int
    churned_after_days: int
    new_within_days: int | None = None
    source: str = "given"
    gaps: int | None = None

    def __post_init__(self) -> None:
        if self.new_within_days is None:
            object.__setattr__(self, "new_within_days", self.at_risk_after_days)
        if not 0 < self.at_risk_after_days < self.churned_after_days:
            raise ValueError(
                f"need 0 < at_risk_after_days ({self.at_risk_after_days}) < churned_after_days "
                f"({self.churned_after_days})"
            )

    def describe(self) -> str:
        return (f"at risk after {self.at_risk_after_days} days without a purchase, churned after "
                f"{self.churned_after_days}, new for {self.new_within_days} days ({self.source})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def inter_purchase_gaps(tables, as_of: dt.date) -> ir.Table:
    """One row per repeat purchase day: ``customer_id, gap_days`` since the previous purchase day."""
    p = purchases(tables, as_of)
    days = p.filter(p.is_purchase).select("customer_id", "order_date").distinct()
    w = ibis.window(group_by=days.customer_id, order_by=days.order_date)
    days = days.mutate(prev=days.order_date.lag().over(w))
    days = days.filter(days.prev.notnull())
    return days.select("customer_id", gap_days=days.order_date.delta(days.prev, unit="day"))


def lifecycle_thresholds(
    tables,
    as_of=None,
    *,
    at_risk_quantile: float = 0.75,
    churn_quantile: float = 0.95,
    at_risk_after_days: int | None = None,
    churned_after_days: int | None = None,
    new_within_days: int | None = None,
) -> Thresholds:
    """Thresholds from the shop's inter-purchase times (runs one small query), or as given."""
    as_of = resolve_as_of(tables, as_of)
    if at_risk_after_days is not None and churned_after_days is not None:
        return Thresholds(at_risk_after_days, churned_after_days, new_within_days, "given")
    g = inter_purchase_gaps(tables, as_of)
    stats = g.aggregate(
        n=g.count(),
        q_risk=g.gap_days.quantile(at_risk_quantile),
        q_churn=g.gap_days.quantile(churn_quantile),
    ).execute().iloc[0]
    n = int(stats["n"])
    if n >= MIN_GAPS:
        risk = max(1, math.ceil(float(stats["q_risk"])))
        churn = max(risk + 1, math.ceil(float(stats["q_churn"])))
        source = (f"from {n:,} repeat-purchase gaps: {int(at_risk_quantile * 100)}th percentile {risk} days, "
                  f"{int(churn_quantile * 100)}th {churn} days")
    else:
        risk, churn = FALLBACK_AT_RISK, FALLBACK_CHURNED
        source = f"defaults: only {n} repeat-purchase gaps (need {MIN_GAPS}) to learn from"
    if at_risk_after_days is not None:
        risk = at_risk_after_days
        churn = max(churn, risk + 1)
        source += "; at-risk threshold given"
    if churned_after_days is not None:
        churn = churned_after_days
        risk = min(risk, churn - 1)
        source += "; churn threshold given"
    return Thresholds(risk, churn, new_within_days, source, n)


def lifecycle(tables, as_of=None, thresholds: Thresholds | None = None) -> ir.Table:
    """Lifecycle stage per customer with at least one purchase (an Ibis expression).

    Returns ``customer_id, as_of, first_order_date, last_order_date, orders,
    days_since_last_order, last_gap_days, stage``. Without *thresholds*,
    :func:`lifecycle_thresholds` derives them (one small query).
    """
    as_of = resolve_as_of(tables, as_of)
    th = thresholds or lifecycle_thresholds(tables, as_of)
    s = order_summary(tables, as_of)
    s = s.filter(s.orders > 0)
    day = ibis.date(as_of)
    since_last = day.delta(s.last_order_date, unit="day")
    since_first = day.delta(s.first_order_date, unit="day")
    gap = s.last_order_date.delta(s._prev_order_date, unit="day")
    stage = ibis.cases(
        (since_last > th.churned_after_days, "churned"),
        (since_last > th.at_risk_after_days, "at_risk"),
        (since_first <= th.new_within_days, "new"),
        (gap.notnull() & (gap > th.churned_after_days), "reactivated"),
        else_="active",
    )
    return s.select(
        "customer_id",
        as_of=day,
        first_order_date=s.first_order_date,
        last_order_date=s.last_order_date,
        orders=s.orders.cast("int64"),
        days_since_last_order=since_last.cast("int64"),
        last_gap_days=gap.cast("int64"),
        stage=stage,
    )
