"""The weekly "Monday report": KPIs of the last week against the week before, segment movements,
valuable customers at risk, journey results with their uplift, alerts and data problems.

The week is the seven days before ``as_of`` (on a Monday: last Monday to Sunday). By default
``as_of`` is today, or the day after the last order when the shop has no order in the last
week (a demo or an old export), so the report always describes the latest week with data.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> monday_report(ws, as_of="2025-01-06").to_dict()["week"]
{'start': '2024-12-30', 'end': '2025-01-05'}
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from regulars.data import activation_store
from regulars.reports.customers import jsonable

KPI_ROWS = [  # column, label, kind (money | count | rate), good when up
    ("revenue", "Revenue", "money", True),
    ("orders", "Orders", "count", True),
    ("average_order_value", "Average order value", "money", True),
    ("new_customers", "New customers", "count", True),
    ("returning_customers", "Returning customers", "count", True),
    ("sessions", "Sessions", "count", True),
    ("conversion_rate", "Conversion (sessions to orders)", "rate", True),
]


@dataclass
class MondayReport:
    shop_name: str
    as_of: dt.date
    week_start: dt.date
    week_end: dt.date
    kpis: list[dict]
    segments: dict | None
    at_risk: list[dict]
    journeys: list[dict]
    alerts: list[dict]
    data_problems: list[str]
    next_actions: list[dict] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable({"shop_name": self.shop_name, "as_of": self.as_of.isoformat(),
                         "week": {"start": self.week_start.isoformat(), "end": self.week_end.isoformat()},
                         "kpis": self.kpis, "segments": self.segments, "at_risk": self.at_risk,
                         "journeys": self.journeys, "alerts": self.alerts, "data_problems": self.data_problems,
                         "next_actions": self.next_actions, "notes": self.notes})


def default_as_of(ws, today: dt.date | None = None) -> dt.date:
    today = today or dt.datetime.now(dt.UTC).date()
    last = activation_store.last_order_at(ws)
    if last is not None and last.date() < today - dt.timedelta(days=7):
        return last.date() + dt.timedelta(days=1)
    return today


def _kpi_row(ws, start: dt.date, end: dt.date) -> dict:
    from regulars.reports.kpis import kpis

    try:
        table = kpis(ws, start=start, end=end).table
    except ValueError:
        return {}
    if table.empty:
        return {}
    row = table.iloc[0].to_dict()
    return {k: (None if v is None or (isinstance(v, float) and pd.isna(v)) else v) for k, v in row.items()}


def _change(now, before, kind: str):
    if now is None or before is None:
        return None
    if kind == "rate":
        return (float(now) - float(before)) * 100  # points
    if float(before) == 0:
        return None
    return (float(now) - float(before)) / abs(float(before)) * 100


def monday_report(ws, as_of=None, shop_name: str = "My shop", top: int = 10) -> MondayReport:
    as_of = pd.Timestamp(as_of).date() if as_of is not None else default_as_of(ws)
    week_end = as_of - dt.timedelta(days=1)
    week_start = as_of - dt.timedelta(days=7)
    prev_end, prev_start = week_start - dt.timedelta(days=1), week_start - dt.timedelta(days=7)
    this, before = _kpi_row(ws, week_start, week_end), _kpi_row(ws, prev_start, prev_end)
    notes = []
    if not this:
        notes.append(f"no orders between {week_start} and {week_end}")
    kpis = []
    for col, label, kind, good_up in KPI_ROWS:
        now_v, before_v = this.get(col), before.get(col)
        if now_v is None and before_v is None:
            continue
        kpis.append({"metric": col, "label": label, "kind": kind, "this_week": now_v, "last_week": before_v,
                     "change": _change(now_v, before_v, kind), "change_unit": "points" if kind == "rate" else "%",
                     "good_when_up": good_up})
    segments = None
    try:
        from regulars.reports.segments import movement, refreshes

        full = [r for r in refreshes(ws, limit=200).to_dict(orient="records") if r.get("engine") != "realtime"]
        if len(full) >= 2:
            segments = movement(ws, from_refresh=full[1]["refresh_id"], to_refresh=full[0]["refresh_id"],
                                family="rfm").to_dict()
        else:
            notes.append("segment movement needs two segment refreshes")
    except Exception as exc:  # noqa: BLE001 - segments not computed in this workspace
        notes.append(f"segment movement unavailable ({type(exc).__name__})")
    at_risk = []
    try:
        from regulars.reports.predictions import predictions_summary

        at_risk = predictions_summary(ws, top=top).at_risk
    except Exception as exc:  # noqa: BLE001 - predictions not computed
        notes.append(f"customers at risk unavailable ({type(exc).__name__})")
    from regulars.reports.activation import journey_detail, journeys_overview

    journeys = []
    for item in journeys_overview(ws)["items"]:
        if not item["entrants"]:
            continue
        detail = journey_detail(ws, item["journey_id"], now=dt.datetime.combine(as_of, dt.time()))
        journeys.append({"journey_id": item["journey_id"], "name": item["name"], "running": item["running"],
                         **(detail["results"] or {})})
    next_actions = _next_actions(ws, notes)
    start_dt = dt.datetime.combine(week_start, dt.time())
    alerts = [a for a in activation_store.alert_history(ws, 200) if a["fired_at"] and a["fired_at"] >= start_dt]
    q = activation_store.quarantined_since(ws, start_dt)
    problems = []
    if q["rows_quarantined"]:
        reasons = "; ".join(f"{r['rows']:,} in {r['reason']}" for r in q["top_reasons"][:3])
        problems.append(f"{q['rows_quarantined']:,} of {q['rows_read']:,} rows loaded this week were quarantined"
                        + (f" ({reasons})" if reasons else "") + "; see `regulars quarantine`")
    failed = activation_store.job_runs(ws, status="failed", since=start_dt)
    if failed:
        problems.append(f"{len(failed)} scheduled job run(s) failed: " + ", ".join(sorted({f['kind'] for f in failed})))
    return MondayReport(shop_name, as_of, week_start, week_end, kpis, segments, at_risk, journeys, alerts, problems,
                        next_actions, notes)


def _next_actions(ws, notes: list[str]) -> list[dict] | None:
    """Customers and expected value per recommended action of the latest next-action run (not "do nothing")."""
    from regulars.reports.recommend import next_actions_report

    report = next_actions_report(ws, limit=0)
    if report.as_of is None:
        notes.append("no next best actions yet: `regulars predict` computes them")
        return None
    return [{"action": a["label"], "action_id": a["action"], "customers": a["customers"],
             "expected_value": a["expected_value"], "channels": a["channels"], "as_of": report.as_of}
            for a in report.actions if a["action"] != "do_nothing"]
