"""KPIs and predicted value per segment: the report behind ``regulars kpis --by segment KIND``,
``GET /api/kpis/segments`` and the dashboard's "KPIs by segment" page.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> segment_kpis(ws, "rfm").notes[0]
'no segments yet: run `regulars segments refresh`'
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from regulars.features import segment_kpis as features
from regulars.features.kpis import shop_rhythm
from regulars.values import to_date
from regulars.data.rows import jsonable
from regulars.reports.money import money_tables

__all__ = ["SegmentKpis", "segment_kpis"]

DEFINITIONS = {
    "customers": "current members of the segment",
    "buyers": "members with a purchase up to the end date",
    "orders": "purchases in the window", "revenue": "net revenue in the window",
    "average_order_value": "revenue / orders in the window",
    "purchase_frequency": "orders per member who ordered in the window",
    "repeat_purchase_rate": "share of buyers with two purchases or more, to date",
    "clv_historical": "net revenue to date per buyer",
    "predicted_clv": "mean predicted CLV (latest `regulars predict`)",
    "predicted_value": "sum of the members' predicted CLV", "churn_risk": "mean churn risk (no order in 90 days)",
    "expected_buyers_30d": "members expected to buy in the next 30 days (sum of propensities)",
    "p_alive": "mean probability the member is still buying",
}


@dataclass
class SegmentKpis:
    kind: str
    start: dt.date | None
    end: dt.date | None
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable({"kind": self.kind, "start": self.start, "end": self.end, "columns": list(self.table.columns),
                         "rows": self.table.to_dict(orient="records"), "definitions": DEFINITIONS,
                         "notes": self.notes})


#: Columns that add up order amounts (empty when a rate is missing; predictions are per customer).
ORDER_AMOUNTS = ("revenue", "average_order_value", "clv_historical")


def segment_kpis(ws, kind: str = "rfm", start=None, end=None) -> SegmentKpis:
    """KPIs over ``start .. end`` (default: the shop's KPI window) for each segment of ``kind``."""
    if kind not in features.KINDS:
        raise ValueError(f"unknown segment kind {kind!r}; use one of {', '.join(features.KINDS)}")
    if ws.count("segment_memberships") == 0:
        return SegmentKpis(kind, None, None, pd.DataFrame(), ["no segments yet: run `regulars segments refresh`"])
    rhythm = ws.execute(shop_rhythm(ws, to_date(end))).iloc[0]
    if pd.isna(rhythm["first_day"]):
        return SegmentKpis(kind, None, None, pd.DataFrame(), ["no orders yet"])
    start = to_date(start) or to_date(rhythm["first_day"])
    end = to_date(end) or to_date(rhythm["last_day"])
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    tables, money = money_tables(ws)
    table = ws.execute(features.segment_kpis(tables, kind, start, end))
    for col in ("revenue", "average_order_value", "clv_historical", "predicted_clv", "predicted_value"):
        table[col] = pd.to_numeric(table[col], errors="coerce").round(2)
    notes = [money.note] if money.note else []
    if money.mode == "per_currency":  # never one sum across currencies: see them with `kpis --by currency`
        table[list(ORDER_AMOUNTS)] = float("nan")
    if table.empty:
        notes.append(f"no members in segments of kind {kind!r}")
    if kind == "rule":
        notes.append("a customer can be in several rule segments: rows do not add up to the shop")
    if table["predicted_clv"].isna().all() if len(table) else False:
        notes.append("predicted columns need `regulars predict`")
    return SegmentKpis(kind, start, end, table.reset_index(drop=True), notes)
