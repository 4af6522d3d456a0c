"""Refresh every segment membership as of a date and record who entered and who exited.

:func:`refresh` recomputes the saved rule segments and the built-in ones (RFM, lifecycle, tiers,
predicted-CLV tiers): it builds the expressions in :mod:`regulars.segments.membership` on the
chosen engine, evaluates them into temporary tables and hands them to
:func:`regulars.data.segment_store.record_refresh`, which records the entries and exits
(``segment_history``), the current members (``segment_memberships``) and each segment's size
and revenue (``segment_sizes``) in one transaction: a failed refresh changes nothing.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("orders", [{"order_id": "o1", "customer_id": "c1", "ordered_at": "2024-01-01", "total": 10}])
>>> r = refresh(ws)
>>> r.as_of.isoformat(), r.entered > 0
('2024-01-02', True)
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import ibis

from regulars.data import segment_store
from regulars.data.engines import drop_temp, engine_name, materialize, open_engine
from regulars.data.lake import lake_location
from regulars.features.currency import InShopCurrency, shop_plan
from regulars.features.mart import customer_features, resolve_as_of, shop_categories
from regulars.features.predicted import with_predictions
from regulars.segments.lifecycle import lifecycle_thresholds
from regulars.segments.membership import (
    builtin_ids, builtin_memberships, rule_memberships, segment_label, tier_memberships,
)
from regulars.segments.rfm import load_config as load_rfm_config
from regulars.segments.tiers import tiers

__all__ = ["RefreshResult", "refresh"]

_TEMP = ("_seg_mart", "_seg_engine", "_seg_new")


@dataclass
class RefreshResult:
    """What a refresh did."""

    refresh_id: int
    as_of: dt.date
    engine: str
    segments: int
    members: int
    entered: int
    exited: int
    seconds: float
    lifecycle: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        return d


def refresh(
    ws,
    as_of=None,
    engine: str | None = None,
    rfm_config=None,
    tiers_config=None,
    thresholds=None,
    builtin: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Recompute all memberships as of *as_of* and record entries and exits (one transaction).

    On Spark with a lake (``$REGULARS_LAKE`` or ``lake`` in the settings file) the memberships are
    written into the lake by the executors instead (:func:`regulars.jobs.segments_lake.refresh_on_lake`).
    """
    say = progress or (lambda _s: None)
    started = time.perf_counter()
    engine = engine_name(engine, workspace=getattr(ws, "path", None))
    lake = lake_location(getattr(ws, "path", None)) if engine == "spark" else None
    if lake is not None:
        from regulars.jobs.segments_lake import refresh_on_lake

        return refresh_on_lake(ws, lake, as_of, rfm_config, tiers_config, progress=say)
    rfm_cfg = load_rfm_config(rfm_config)
    try:
        with open_engine(ws, engine) as provider:
            money = shop_plan(ws)  # RFM money and segment revenue in one currency when the rates allow
            if money.mode == "converted":
                provider = InShopCurrency(provider, money)
            as_of = resolve_as_of(provider, as_of)
            say("categories")
            categories = shop_categories(provider)
            say("customer features")
            materialize(ws, provider, customer_features(provider, as_of, categories), "_seg_mart")
            th = None
            if builtin:
                say("lifecycle thresholds")
                th = thresholds or lifecycle_thresholds(provider, as_of)
                say("RFM and lifecycle")
                materialize(ws, provider, builtin_memberships(provider, as_of, rfm_cfg, th), "_seg_engine")
        mart = ws.table("_seg_mart")
        parts = []
        if builtin:
            say("tiers")
            tier_table = tiers(ws, as_of, tiers_config, categories=categories, mart=mart)
            parts += [ws.table("_seg_engine"), tier_memberships(tier_table)]
        mart = with_predictions(mart, ws, as_of)
        if builtin:
            clv = mart.filter(mart.clv_tier.notnull())
            parts.append(clv.select(segment_id="clv:" + clv.clv_tier, customer_id=clv.customer_id))
        rule_parts, errors = rule_memberships(mart, segment_store.rule_segments(ws))
        say("memberships")
        try:
            _union_into(ws, mart, parts + list(rule_parts.values()))
        except Exception:  # a saved rule the database cannot run: find it, leave it out, keep the others
            if not rule_parts:
                raise
            for sid, part in list(rule_parts.items()):
                try:
                    ws.execute(part.count())
                except Exception as exc:  # noqa: BLE001 - recorded as this segment's error
                    errors[sid] = f"the rule cannot be evaluated ({type(exc).__name__}); save a new version of it"
                    del rule_parts[sid]
            _union_into(ws, mart, parts + list(rule_parts.values()))
        counts = segment_store.record_refresh(
            ws, as_of=as_of, engine=engine, members_table="_seg_new", features_table="_seg_mart",
            fixed_ids=builtin_ids(rfm_cfg), label=lambda sid: segment_label(sid, rfm_cfg), builtin=builtin,
            errors=errors, lifecycle=th.to_dict() if th else None,
            money_mode=money.mode, money_note=money.note)
        return RefreshResult(
            refresh_id=counts["refresh_id"], as_of=as_of, engine=engine, segments=counts["segments"],
            members=counts["members"], entered=counts["entered"], exited=counts["exited"],
            seconds=round(time.perf_counter() - started, 2), lifecycle=th.describe() if th else "", errors=errors,
        )
    finally:
        drop_temp(ws, *_TEMP)


def _union_into(ws, mart, parts: list) -> None:
    if parts:
        new = ibis.union(*parts, distinct=True)
    else:
        new = mart.select(segment_id=ibis.literal("", "string"), customer_id=mart.customer_id).limit(0)
    materialize(ws, ws, new, "_seg_new")
