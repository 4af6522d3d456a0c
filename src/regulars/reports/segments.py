"""Read-side segment reports for the CLI and the dashboard: sizes, value share, members,
entry/exit history and movement between two refreshes.

All functions read what :func:`regulars.jobs.segments.refresh` recorded; none
recomputes a segment.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> sizes(ws).table.empty, refreshes(ws).empty
(True, True)
>>> ws.close()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from regulars.data import segment_queries, segment_store
from regulars.values import round_money

__all__ = ["Movement", "Segmentation", "Sizes", "history", "lifecycle_report", "members", "movement", "refreshes",
           "rfm_report", "segment_list", "size_trend", "sizes", "tiers_report"]


@dataclass
class Sizes:
    """Segment sizes and value share at one refresh."""

    refresh_id: int | None
    as_of: object
    customers: int
    revenue: float
    table: pd.DataFrame
    currency_note: str | None = None  # orders in several currencies: converted, or revenue left empty

    def to_dict(self) -> dict:
        return {"refresh_id": self.refresh_id, "as_of": str(self.as_of) if self.as_of else None,
                "customers": self.customers, "revenue": None if self.revenue != self.revenue else self.revenue,
                "currency_note": self.currency_note,
                "segments": json.loads(self.table.to_json(orient="records", date_format="iso"))}


@dataclass
class Movement:
    """How membership changed between two refreshes."""

    from_refresh: int
    to_refresh: int
    table: pd.DataFrame  # per segment: before, after, entered, exited, net
    flows: pd.DataFrame = field(default_factory=pd.DataFrame)  # family only: from_segment, to_segment, customers

    def to_dict(self) -> dict:
        return {"from_refresh": self.from_refresh, "to_refresh": self.to_refresh,
                "segments": json.loads(self.table.to_json(orient="records")),
                "flows": json.loads(self.flows.to_json(orient="records"))}


def refreshes(ws, limit: int = 50) -> pd.DataFrame:
    """Refreshes, newest first."""
    return segment_queries.refreshes(ws, limit)


def sizes(ws, refresh_id: int | None = None, family: str | None = None) -> Sizes:
    """Members, share of customers, revenue and share of revenue per segment at a refresh (default: latest).

    *family* keeps one family: ``rfm``, ``lifecycle``, ``frequency``, ``spend``, ``aov``,
    ``affinity``, ``engagement``, ``region`` or ``rule``.
    """
    rid = refresh_id or segment_store.latest_refresh_id(ws)
    empty = pd.DataFrame(columns=["segment_id", "name", "kind", "version", "members", "member_share", "revenue",
                                  "value_share"])
    if rid is None:
        return Sizes(None, None, 0, 0.0, empty)
    found = segment_store.refresh_summary(ws, rid)
    if found is None:
        raise ValueError(f"no segment refresh {rid}; see `regulars segments list`")
    as_of, info = found
    customers, revenue = int(info.get("customers") or 0), float(info.get("revenue") or 0.0)
    mixed = info.get("money") == "per_currency"  # amounts in several currencies, a rate missing: no sums
    df = segment_queries.sizes(ws, rid, customers, revenue, family)
    if mixed:
        df["revenue"] = df["value_share"] = float("nan")
        revenue = float("nan")
    return Sizes(rid, as_of, customers, revenue, df, info.get("money_note"))


def segment_list(ws) -> pd.DataFrame:
    """Every live segment with its current rule version and size at the latest refresh."""
    return segment_queries.segment_list(ws)


def members(ws, segment_id: str, limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """Current members of a segment: who, since which refresh and date, under which rule version."""
    return segment_queries.members(ws, segment_id, limit, offset)


def history(ws, segment_id: str, customer_id: str | None = None, limit: int | None = 1000) -> pd.DataFrame:
    """Entries and exits of a segment (optionally one customer), newest refresh first (all when *limit* is None)."""
    return segment_queries.history(ws, segment_id, customer_id, limit)


def size_trend(ws, segment_id: str) -> pd.DataFrame:
    """A segment's members and revenue at every refresh."""
    return segment_queries.size_trend(ws, segment_id)


def movement(ws, from_refresh: int | None = None, to_refresh: int | None = None, family: str | None = "rfm") -> Movement:
    """Per segment: members before and after, who entered and exited between two refreshes
    (default: the last two). With a *family* (``rfm``, ``lifecycle``, ``frequency`` …) also the
    flows from each segment to each other one (``(none)`` = not in the family)."""
    ids = segment_store.last_two_refresh_ids(ws)
    to_refresh = to_refresh or (ids[0] if ids else None)
    from_refresh = from_refresh or (ids[1] if len(ids) > 1 else None)
    if to_refresh is None or from_refresh is None:
        raise ValueError("movement needs two refreshes; run `regulars segments refresh` again after new data")
    pattern = f"{family}:%" if family and family != "rule" else "%"
    table = segment_queries.movement(ws, from_refresh, to_refresh, pattern)
    table["net"] = table["after"] - table["before"]
    flows = pd.DataFrame(columns=["from_segment", "to_segment", "customers"])
    if family and family != "rule":
        flows = segment_queries.flows(ws, from_refresh, to_refresh, pattern)
    return Movement(from_refresh, to_refresh, table, flows)


# -- live (not stored) segmentations ------------------------------------------------------
@dataclass
class Segmentation:
    """A live segmentation: per-customer rows and a per-segment summary."""

    as_of: object
    engine: str
    customers: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_dict(self, with_customers: bool = False) -> dict:
        out = {"as_of": str(self.as_of), "engine": self.engine, "notes": self.notes,
               "summary": json.loads(self.summary.to_json(orient="records"))}
        if with_customers:
            out["customers"] = json.loads(self.customers.to_json(orient="records", date_format="iso"))
        return out


def _day(df: pd.DataFrame, fallback):
    if len(df) and "as_of" in df:
        return pd.Timestamp(df["as_of"].iloc[0]).date()
    return fallback


def _summarise(df: pd.DataFrame, by: str, order: list[str] | None = None, labels: dict | None = None) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=[by, "customers", "customer_share"])
    aggs = {"customers": ("customer_id", "size")}
    for col, name in (("recency_days", "mean_recency_days"), ("days_since_last_order", "mean_days_since_last_order"),
                      ("frequency", "mean_frequency"), ("orders", "mean_orders")):
        if col in df:
            aggs[name] = (col, "mean")
    money = "monetary" if "monetary" in df else None
    if money:
        df = df.assign(_money=df[money].astype(float))
        aggs["mean_monetary"] = ("_money", "mean")
        aggs["revenue"] = ("_money", "sum")
    out = df.groupby(by, dropna=False).agg(**aggs).reset_index()
    out.insert(2, "customer_share", (out["customers"] / out["customers"].sum()).round(4))
    if money:
        total = out["revenue"].sum()
        out["value_share"] = (out["revenue"] / total).round(4) if total else 0.0
    if labels:
        out.insert(1, "label", out[by].map(labels).fillna(out[by]))
    if order:
        rank = {k: i for i, k in enumerate(order)}
        out = out.sort_values(by, key=lambda s: s.map(rank).fillna(len(rank))).reset_index(drop=True)
    out = out.round({c: 2 for c in out.columns if c.startswith("mean_") and c != "mean_monetary"})
    for c in ("mean_monetary", "revenue"):
        if c in out:
            out[c] = round_money(out[c])
    return out


def rfm_report(ws, as_of=None, config=None, engine: str | None = None) -> Segmentation:
    """RFM scores per customer and the summary per named segment (computed now, not stored)."""
    from regulars.data.engines import engine_name, open_engine
    from regulars.segments.rfm import load_config, rfm

    cfg = load_config(config)
    with open_engine(ws, engine) as provider:
        df = provider.execute(rfm(provider, as_of, cfg).order_by("customer_id"))
    as_of_value = _day(df, as_of)
    summary = _summarise(df, "segment", [s.name for s in cfg.segments] + [cfg.fallback], cfg.labels)
    notes = [f"scores are quintiles 1-5 over {len(df):,} customers with a purchase; ties broken by customer id"]
    if cfg.unmatched:
        notes.append(f"{len(cfg.unmatched)} score cells match no segment and get {cfg.fallback!r}")
    from regulars.reports.kpis import guest_note

    guests = guest_note(ws, as_of)
    if guests:
        notes.append(guests)
    return Segmentation(as_of_value, engine_name(engine, workspace=getattr(ws, "path", None)), df, summary, notes)


def lifecycle_report(ws, as_of=None, engine: str | None = None, **overrides) -> Segmentation:
    """Lifecycle stage per customer and counts per stage; *overrides*: ``at_risk_after_days`` …"""
    from regulars.data.engines import engine_name, open_engine
    from regulars.segments.lifecycle import STAGES, lifecycle, lifecycle_thresholds

    with open_engine(ws, engine) as provider:
        th = lifecycle_thresholds(provider, as_of, **{k: v for k, v in overrides.items() if v is not None})
        df = provider.execute(lifecycle(provider, as_of, th).order_by("customer_id"))
    summary = _summarise(df, "stage", list(STAGES))
    return Segmentation(_day(df, as_of), engine_name(engine, workspace=getattr(ws, "path", None)), df, summary,
                        [f"thresholds: {th.describe()}"])


def tiers_report(ws, as_of=None, config=None, engine: str | None = None) -> Segmentation:
    """Behavioural tiers per customer and counts per tier value (long form: tier, value, customers)."""
    from regulars.data.engines import engine_name, open_engine
    from regulars.segments.tiers import FLAG_COLUMNS, TIER_COLUMNS, tiers

    with open_engine(ws, engine) as provider:
        df = provider.execute(tiers(provider, as_of, config).order_by("customer_id"))
    rows = []
    for col in TIER_COLUMNS:
        counts = df[col].fillna("(none)").value_counts()
        rows += [{"tier": col, "value": k, "customers": int(v)} for k, v in counts.items()]
    for col in FLAG_COLUMNS:
        rows.append({"tier": col, "value": "true", "customers": int(df[col].fillna(False).astype(bool).sum())})
    summary = pd.DataFrame(rows, columns=["tier", "value", "customers"])
    if len(df):
        summary["customer_share"] = (summary["customers"] / len(df)).round(4)
    return Segmentation(_day(df, as_of), engine_name(engine, workspace=getattr(ws, "path", None)), df, summary)
