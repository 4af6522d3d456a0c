"""A segment refresh on a lake workspace: memberships computed and written by the Spark executors.

What ``regulars segments refresh --engine spark`` does when the workspace has a lake
(:mod:`regulars.data.lake`): the same expressions as :func:`regulars.jobs.segments.refresh`
(the features mart, RFM, lifecycle, tiers and the saved rule segments) run on Spark over the
lake's tables; the executors write every membership into the lake's results
(:class:`~regulars.data.lake_results.ResultsWrite`); only the per-segment sizes and revenue, the
totals and the segment ids come back to the driver, and are written beside them. The result set
(memberships, sizes, the refresh record, the definitions) replaces the lake's previous one all
or nothing. The workspace file is not written.

Differences from a DuckDB refresh, said here and in ``docs/lake.md``: the lake keeps the latest
refresh only, so there is no entry/exit history (``segment_history`` is empty and the movement
between refreshes is not shown); a member's ``since_refresh`` is the refresh that found them;
the predicted-CLV tiers and rules on prediction columns need the predictions in the workspace and
are left out (a rule that uses them is reported as an error).
"""

from __future__ import annotations

import datetime as dt
import time

import ibis
import pandas as pd

from regulars.data import segment_store
from regulars.data.engines import open_engine
from regulars.data.lake_results import ResultsWrite, result_set_manifest
from regulars.features.currency import InShopCurrency, shop_plan
from regulars.features.mart import customer_features, resolve_as_of, shop_categories
from regulars.segments.lifecycle import lifecycle_thresholds
from regulars.segments.membership import (
    builtin_ids, builtin_memberships, rule_memberships, segment_label, tier_memberships,
)
from regulars.segments.rfm import load_config as load_rfm_config
from regulars.segments.tiers import tiers

__all__ = ["LAKE_ENGINE", "MEMBERSHIPS", "refresh_on_lake"]

#: The ``engine`` of a refresh written into a lake.
LAKE_ENGINE = "spark (lake)"

#: The memberships the executors write (the workspace's ``segment_memberships`` columns, and each member's revenue).
MEMBERSHIPS = (("segment_id", "VARCHAR"), ("customer_id", "VARCHAR"), ("version", "INTEGER"),
               ("since_refresh", "BIGINT"), ("since_as_of", "DATE"), ("revenue", "DOUBLE"))
SIZES = (("refresh_id", "BIGINT"), ("segment_id", "VARCHAR"), ("version", "INTEGER"), ("members", "BIGINT"),
         ("revenue", "DECIMAL(18,2)"))
REFRESHES = (("refresh_id", "BIGINT"), ("refreshed_at", "TIMESTAMP"), ("as_of", "DATE"), ("engine", "VARCHAR"),
             ("segments", "INTEGER"), ("entered", "BIGINT"), ("exited", "BIGINT"), ("summary", "JSON"))
DEFINITIONS = (("segment_id", "VARCHAR"), ("name", "VARCHAR"), ("kind", "VARCHAR"), ("description", "VARCHAR"),
               ("created_at", "TIMESTAMP"), ("updated_at", "TIMESTAMP"), ("deleted_at", "TIMESTAMP"))


def _memberships(provider, mart, as_of, rfm_cfg, tiers_config, categories, rules) -> tuple:
    """Every membership ``(segment_id, customer_id)`` on the engine, the rules that cannot run, and the
    lifecycle thresholds."""
    th = lifecycle_thresholds(provider, as_of)
    tier_table = tiers(provider, as_of, tiers_config, categories=categories, mart=mart)
    parts = [builtin_memberships(provider, as_of, rfm_cfg, th), tier_memberships(tier_table)]
    rule_parts, errors = rule_memberships(mart, rules)
    for sid, part in list(rule_parts.items()):
        try:
            provider.execute(part.limit(1))
        except Exception as exc:  # noqa: BLE001 - recorded as this segment's error, the others go on
            errors[sid] = f"the rule cannot be evaluated on the lake ({type(exc).__name__}); save a new version of it"
            del rule_parts[sid]
    return ibis.union(*parts, *rule_parts.values(), distinct=True), errors, th


def refresh_on_lake(ws, lake, as_of=None, rfm_config=None, tiers_config=None, progress=None):
    """Recompute every membership on the lake *lake* and write them there; see the module docstring.

    Returns a :class:`~regulars.jobs.segments.RefreshResult` (``entered``/``exited`` are 0: the lake
    keeps no history).
    """
    from regulars.data.spark_scoring import spark_dataframe
    from regulars.jobs.segments import RefreshResult

    say = progress or (lambda _s: None)
    started = time.perf_counter()
    rfm_cfg = load_rfm_config(rfm_config)
    previous = result_set_manifest(lake, "segments")
    refresh_id = int(previous["run_id"]) + 1 if previous else 1
    rules = segment_store.rule_segments(ws)
    versions = {r["segment_id"]: int(r["version"]) for r in rules}
    with open_engine(ws, "spark") as provider, ResultsWrite(lake, "segments") as out:
        money = shop_plan(ws)
        if money.mode == "converted":
            provider = InShopCurrency(provider, money)
        as_of = resolve_as_of(provider, as_of)
        say("customer features")
        categories = shop_categories(provider)
        mart = customer_features(provider, as_of, categories)
        say("RFM, lifecycle, tiers and rule segments")
        members, errors, th = _memberships(provider, mart, as_of, rfm_cfg, tiers_config, categories, rules)
        version = ibis.cases(*[(members.segment_id == sid, v) for sid, v in versions.items()], else_=0) \
            if versions else ibis.literal(0)
        money_of = mart.select("customer_id", "revenue")
        joined = members.left_join(money_of, members.customer_id == money_of.customer_id)
        rows = joined.select(segment_id=joined.segment_id, customer_id=joined.customer_id,
                             version=version.cast("int32"), since_refresh=ibis.literal(refresh_id, "int64"),
                             since_as_of=ibis.literal(as_of, "date"), revenue=joined.revenue.cast("float64"))
        say("writing the memberships from the executors")
        target = out.folder("segment_memberships", MEMBERSHIPS)
        spark_dataframe(provider, rows).write.mode("errorifexists").parquet(target)
        say("sizes")
        written = provider.ibis.read_parquet(target + "/*.parquet")
        sizes = provider.execute(written.group_by("segment_id").aggregate(
            members=written.count(), revenue=written.revenue.sum()))
        totals = provider.execute(mart.aggregate(customers=mart.count(), revenue=mart.revenue.sum())).iloc[0]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        definitions = _definitions(ws, builtin_ids(rfm_cfg) + sorted(sizes["segment_id"]), rfm_cfg, now)
        decided = definitions[(definitions["kind"] != "rule") | definitions["segment_id"].isin(list(versions))]
        decided = decided[~decided["segment_id"].isin(list(errors)) & decided["deleted_at"].isna()]
        table = decided[["segment_id"]].merge(sizes, on="segment_id", how="left")
        table = table.assign(refresh_id=refresh_id, version=table["segment_id"].map(versions).fillna(0),
                             members=table["members"].fillna(0), revenue=table["revenue"].fillna(0.0))
        out.add_frame("segment_sizes", table, SIZES)
        out.add_frame("segment_definitions", definitions, DEFINITIONS)
        summary = {"errors": errors, "lifecycle": th.to_dict(), "money": money.mode, "money_note": money.note,
                   "customers": int(totals["customers"]), "revenue": float(totals["revenue"] or 0.0),
                   "history": "not kept on a lake: the latest refresh only"}
        out.add_frame("segment_refreshes", pd.DataFrame([{
            "refresh_id": refresh_id, "refreshed_at": now, "as_of": as_of, "engine": "spark",
            "segments": len(table), "entered": None, "exited": None, "summary": summary}]), REFRESHES)
        manifest = out.commit(as_of=as_of, run_id=str(refresh_id), members=int(table["members"].sum()))
    return RefreshResult(refresh_id=refresh_id, as_of=as_of, engine=LAKE_ENGINE, segments=len(table),
                         members=manifest["tables"]["segment_memberships"]["rows"], entered=0, exited=0,
                         seconds=round(time.perf_counter() - started, 2), lifecycle=th.describe(), errors=errors)


def _definitions(ws, segment_ids: list[str], rfm_cfg, now: dt.datetime) -> pd.DataFrame:
    """The workspace's segment definitions and those of the built-in ids it does not hold yet."""
    known = segment_store.definitions(ws)
    missing = [sid for sid in dict.fromkeys(segment_ids) if sid not in set(known["segment_id"])]
    added = pd.DataFrame([{"segment_id": sid, **dict(zip(("name", "kind", "description"), segment_label(sid, rfm_cfg))),
                           "created_at": now, "updated_at": now, "deleted_at": None} for sid in missing],
                         columns=[c for c, _ in DEFINITIONS])
    return pd.concat([known, added], ignore_index=True) if len(known) else added
