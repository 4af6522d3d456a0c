"""Outcomes of experiments and quasi-experiments, as Ibis expressions (built here, run by the caller).

Every figure uses the features mart's definitions (:func:`regulars.features.mart.purchases`): only
orders strictly before ``as_of`` count, cancelled/voided orders do not, a **purchase** is an order
with ``total > 0`` and **net revenue** is ``total - coalesce(refunded, 0)`` (returns count negative).

- :func:`experiment_outcomes`: per assigned customer whose window is over by ``as_of``: ``arm``,
  ``stratum``, ``assigned_at``, ``converted`` (a purchase in ``[assigned_at, assigned_at + window)``),
  ``revenue`` (net revenue in that window) and ``pre_revenue`` (net revenue in the ``pre_days``
  before ``assigned_at``, the CUPED covariate).
- :func:`weekly_spend`: net revenue per customer and week (for difference-in-differences).
- :func:`revenue_series`: the shop's net revenue per day or week, guests included, optionally
  split by ``location`` or ``channel`` (for shop-level counterfactuals).

Examples
--------
>>> import tempfile, os, datetime as dt
>>> import pandas as pd
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("customers", [{"customer_id": "c1"}, {"customer_id": "c2"}])
>>> _ = ws.insert_rows("orders", pd.DataFrame({"order_id": ["o0", "o1", "o2"], "customer_id": ["c1", "c1", "c2"],
...     "ordered_at": ["2024-01-20", "2024-02-03", "2024-03-20"], "total": [50, 40, 30], "refunded": [0, 10, 0]}))
>>> _ = ws.insert_rows("experiments", [{"experiment_id": "e", "name": "e", "kind": "test", "arms": "[]",
...     "control_arm": "control", "salt": "s", "window_days": 30, "pre_days": 30, "starts_at": "2024-02-01",
...     "status": "running", "created_at": "2024-02-01"}])
>>> _ = ws.insert_rows("experiment_assignments", pd.DataFrame({"experiment_id": ["e", "e"], "customer_id": ["c1", "c2"],
...     "arm": ["offer", "control"], "assigned_at": ["2024-02-01"] * 2, "source": ["regulars"] * 2,
...     "recorded_at": ["2024-02-01"] * 2}))
>>> out = ws.execute(experiment_outcomes(ws, "e", window_days=30, pre_days=30, as_of=dt.date(2024, 4, 1)))
>>> out.sort_values("customer_id")[["customer_id", "arm", "converted", "revenue", "pre_revenue"]].to_dict("records")
[{'customer_id': 'c1', 'arm': 'offer', 'converted': True, 'revenue': 30.0, 'pre_revenue': 50.0}, {'customer_id': 'c2', 'arm': 'control', 'converted': False, 'revenue': 0.0, 'pre_revenue': 0.0}]
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from regulars.features.cohorts import transactions
from regulars.features.mart import purchases
from regulars.values import to_date

__all__ = ["experiment_outcomes", "pending_customers", "revenue_series", "weekly_spend", "window_outcomes"]


def _ts(day: dt.date) -> ir.TimestampScalar:
    return ibis.timestamp(dt.datetime(day.year, day.month, day.day))


def _assigned(tables, experiment_id: str) -> ir.Table:
    a = tables.table("experiment_assignments")
    return a.filter(a.experiment_id == experiment_id)


def experiment_outcomes(tables, experiment_id: str, window_days: int, pre_days: int, as_of) -> ir.Table:
    """One row per customer of *experiment_id* whose outcome window ended before *as_of*."""
    as_of = to_date(as_of)
    window = ibis.interval(days=int(window_days))
    pre = ibis.interval(days=int(pre_days))
    a = _assigned(tables, experiment_id)
    a = a.filter(a.assigned_at + window <= _ts(as_of)).select("customer_id", "arm", "stratum", "assigned_at")
    p = purchases(tables, as_of)
    p = p.select(_cid=p.customer_id, _at=p.ordered_at, _net=p.net.cast("float64"), _buy=p.total > 0)
    j = a.inner_join(p, [a.customer_id == p._cid, p._at >= a.assigned_at - pre, p._at < a.assigned_at + window])
    inside = j._at >= j.assigned_at
    per = j.group_by(j.customer_id).aggregate(
        _conv=(inside & j._buy).any(),
        _rev=ibis.cases((inside, j._net), else_=0.0).sum(),
        _pre=ibis.cases((~inside, j._net), else_=0.0).sum(),
    )
    out = a.left_join(per, a.customer_id == per.customer_id)
    return out.select(
        customer_id=out.customer_id, arm=out.arm, stratum=out.stratum, assigned_at=out.assigned_at,
        converted=out._conv.fill_null(False), revenue=out._rev.fill_null(0.0), pre_revenue=out._pre.fill_null(0.0))


def pending_customers(tables, experiment_id: str, window_days: int, as_of) -> ir.IntegerScalar:
    """How many assigned customers are still inside their window on *as_of* (not analysed yet)."""
    a = _assigned(tables, experiment_id)
    return a.filter(a.assigned_at + ibis.interval(days=int(window_days)) > _ts(to_date(as_of))).count()


def weekly_spend(tables, customers: ir.Table, start: dt.date, weeks: int) -> ir.Table:
    """``customer_id, week, spend``: net revenue per customer of *customers* (a ``customer_id``
    table) in each of *weeks* weeks from *start* (weeks without orders are absent: fill with 0)."""
    end = start + dt.timedelta(days=7 * weeks)
    p = purchases(tables, end)
    p = p.filter(p.ordered_at >= _ts(start))
    ids = customers.select(_cid=customers.customer_id).distinct()
    p = p.inner_join(ids, p.customer_id == ids._cid)
    week = (p.order_date.delta(ibis.date(start), unit="day") / 7).floor().cast("int64")
    return p.group_by(customer_id=p.customer_id, week=week).aggregate(spend=p.net.cast("float64").sum())


def revenue_series(tables, start: dt.date, end: dt.date, unit: str = "day", by: str | None = None) -> ir.Table:
    """``period, [group,] revenue``: the shop's net revenue (guest orders included) per day or
    week (periods counted from *start*) in ``[start, end)``, split by ``location`` or ``channel``."""
    if unit not in ("day", "week"):
        raise ValueError("unit must be day or week")
    if by not in (None, "location", "channel"):
        raise ValueError("split the series by location or channel")
    t = transactions(tables, end, guests=True)
    t = t.filter(t.ordered_at >= _ts(start))
    days = t.order_date.delta(ibis.date(start), unit="day")
    period = days if unit == "day" else (days / 7).floor().cast("int64")
    keys = {"period": period.cast("int64")}
    if by:
        keys["group"] = t[by].cast("string").fill_null("(unknown)")
    return t.group_by(**keys).aggregate(revenue=t.net_revenue.sum())


def window_outcomes(tables, audience: ir.Table, start: dt.date, end: dt.date) -> ir.Table:
    """``customer_id, converted, revenue`` of every customer of *audience* (a ``customer_id``
    table) over ``[start, end)``, zeros for those who did not buy (the shop's own baseline)."""
    ids = audience.select(customer_id=audience.customer_id).distinct()
    p = purchases(tables, end)
    p = p.filter(p.ordered_at >= _ts(start))
    per = p.group_by(_cid=p.customer_id).aggregate(_conv=(p.total > 0).any(), _rev=p.net.cast("float64").sum())
    out = ids.left_join(per, ids.customer_id == per._cid)
    return out.select(customer_id=out.customer_id, converted=out._conv.fill_null(False), revenue=out._rev.fill_null(0.0))
