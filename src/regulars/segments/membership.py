"""Saved segments (versioned rules) and memberships with entry/exit history.

- ``create_segment`` saves a rule segment (validated against the mart's columns); saving a
  new rule under the same name makes a new **version**, the old ones are kept.
- ``refresh`` recomputes every membership as of a date — saved rule segments and the built-in
  ones (RFM, lifecycle, tiers) — and records who **entered** and who **exited** each segment
  since the previous refresh (``segment_history``), the current members
  (``segment_memberships``, with the refresh they joined in) and each segment's size and
  revenue (``segment_sizes``). One transaction: a failed refresh changes nothing.

Built-in segment ids: ``rfm:<segment>``, ``lifecycle:<stage>``, ``frequency:<tier>``,
``spend:<tier>``, ``aov:<tier>``, ``clv:<tier>`` (predicted CLV, once ``regulars predict`` ran),
``affinity:<category slug>``, ``behaviour:discount_driven``, ``engagement:<flag>`` and
``region:<region, lower case>``. Rules may also use the stored predictions and recommendations
(:mod:`regulars.features.predicted`: ``churn_risk > 0.5 and clv > 200``). Rule segments use the slug of their
name (``Coffee lovers`` -> ``coffee_lovers``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import ibis
import ibis.expr.types as ir

from regulars.data.engines import drop_temp, engine_name, materialize, open_engine
from regulars.features.currency import InShopCurrency, shop_plan
from regulars.features.mart import category_slug, customer_features, resolve_as_of, shop_categories
from regulars.features.predicted import PREDICTION_COLUMNS, with_predictions
from regulars.segments.lifecycle import STAGES, lifecycle, lifecycle_thresholds
from regulars.segments.rfm import load_config as load_rfm_config
from regulars.segments.rfm import rfm
from regulars.segments.tiers import TIER_COLUMNS, tiers
from regulars.segments.rules import RuleError, compile_rule, validate

__all__ = ["RefreshResult", "SegmentError", "builtin_memberships", "create_segment", "delete_segment",
           "get_segment", "mart_schema", "refresh", "segment_id_for"]

ENGAGEMENT_FLAGS = {
    "is_browser_never_bought": "engagement:browser_never_bought",
    "is_product_viewer": "engagement:product_viewer",
    "is_cart_abandoner": "engagement:cart_abandoner",
    "is_email_engager": "engagement:email_engager",
    "is_unsubscribed": "engagement:unsubscribed",
    "is_discount_driven": "behaviour:discount_driven",
}
_TEMP = ("_seg_mart", "_seg_engine", "_seg_new", "_seg_ids")


class SegmentError(ValueError):
    """A segment cannot be saved or found; the message says what to do."""


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


def segment_id_for(name: str) -> str:
    """The id of a rule segment called *name*.

    >>> segment_id_for("Coffee lovers!")
    'coffee_lovers'
    """
    return category_slug(name)


def mart_schema(tables, categories=None) -> dict[str, str]:
    """Column -> type of the mart for this shop (what rules may use)."""
    cats = shop_categories(tables) if categories is None else categories
    expr = customer_features(tables, as_of=dt.date(2000, 1, 1), categories=cats)
    return {**{k: str(v) for k, v in expr.schema().items()}, **PREDICTION_COLUMNS}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def create_segment(ws, name: str, rule: str, description: str = "", replace: bool = False) -> dict:
    """Save a rule segment (version 1), or a new version of it with ``replace=True``.

    Raises :class:`~regulars.segments.rules.RuleError` (with position and caret) when the rule
    does not parse against the mart, and :class:`SegmentError` when the name is taken.
    """
    if not name or not name.strip():
        raise SegmentError("a segment needs a name")
    sid = segment_id_for(name)
    if ":" in sid:  # pragma: no cover - slugs never contain ':'
        raise SegmentError("':' is reserved for built-in segments")
    canonical = validate(rule, mart_schema(ws))
    now = _now()
    with ws.transaction() as con:
        row = con.execute("SELECT deleted_at FROM segment_definitions WHERE segment_id = ?", [sid]).fetchall()
        if row and row[0][0] is None and not replace:
            raise SegmentError(f"segment {sid!r} exists; pass --replace to save a new version of its rule")
        version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM segment_versions WHERE segment_id = ?",
                              [sid]).fetchall()[0][0]
        if row:
            con.execute("UPDATE segment_definitions SET name = ?, description = ?, updated_at = ?, deleted_at = NULL "
                        "WHERE segment_id = ?", [name.strip(), description, now, sid])
        else:
            con.execute("INSERT INTO segment_definitions VALUES (?, ?, 'rule', ?, ?, ?, NULL)",
                        [sid, name.strip(), description, now, now])
        con.execute("INSERT INTO segment_versions VALUES (?, ?, ?, ?, ?)", [sid, version, rule.strip(), description, now])
    return {"segment_id": sid, "name": name.strip(), "version": version, "rule": rule.strip(), "canonical": canonical}


def delete_segment(ws, name: str) -> str:
    """Mark a rule segment deleted; its members exit at the next refresh. History is kept."""
    sid = get_segment(ws, name)["segment_id"]
    ws.sql("UPDATE segment_definitions SET deleted_at = ? WHERE segment_id = ?", [_now(), sid])
    return sid


def get_segment(ws, name: str) -> dict:
    """A segment's definition and all versions of its rule (by id or name)."""
    df = ws.sql("SELECT * FROM segment_definitions WHERE segment_id = ? OR segment_id = ? OR lower(name) = lower(?)",
                [name, segment_id_for(name), name])
    if df.empty:
        known = ws.sql("SELECT segment_id FROM segment_definitions WHERE deleted_at IS NULL ORDER BY 1")["segment_id"]
        raise SegmentError(f"no segment {name!r}; known: {', '.join(known[:30]) or 'none (regulars segments refresh)'}")
    d = df.iloc[0].to_dict()
    d["versions"] = ws.sql("SELECT version, rule, description, created_at FROM segment_versions WHERE segment_id = ? "
                           "ORDER BY version", [d["segment_id"]]).to_dict(orient="records")
    return d


def _rule_segments(ws) -> list[dict]:
    return ws.sql(
        "SELECT d.segment_id, d.name, v.version, v.rule FROM segment_definitions d "
        "JOIN (SELECT segment_id, max(version) AS version FROM segment_versions GROUP BY ALL) m USING (segment_id) "
        "JOIN segment_versions v ON v.segment_id = m.segment_id AND v.version = m.version "
        "WHERE d.kind = 'rule' AND d.deleted_at IS NULL ORDER BY d.segment_id"
    ).to_dict(orient="records")


def builtin_memberships(tables, as_of, rfm_config=None, thresholds=None) -> ir.Table:
    """RFM and lifecycle memberships ``(segment_id, customer_id)`` on *tables* (an Ibis expression)."""
    r = rfm(tables, as_of, rfm_config)
    lc = lifecycle(tables, as_of, thresholds)
    return ibis.union(
        r.select(segment_id="rfm:" + r.segment, customer_id=r.customer_id),
        lc.select(segment_id="lifecycle:" + lc.stage, customer_id=lc.customer_id),
        distinct=False,
    )


def tier_memberships(tier_table: ir.Table) -> ir.Table:
    """Tier memberships ``(segment_id, customer_id)`` from :func:`regulars.segments.tiers.tiers`."""
    t = tier_table
    parts = []
    for col, prefix in TIER_COLUMNS.items():
        keep = t.filter(t[col].notnull() & ~t[col].isin(["none", "unknown"]))
        value = keep[col].lower() if col == "region" else keep[col]
        parts.append(keep.select(segment_id=prefix + ":" + value, customer_id=keep.customer_id))
    for col, sid in ENGAGEMENT_FLAGS.items():
        keep = t.filter(t[col])
        parts.append(keep.select(segment_id=ibis.literal(sid), customer_id=keep.customer_id))
    return ibis.union(*parts, distinct=False)


def _builtin_ids(rfm_cfg) -> list[str]:
    ids = [f"rfm:{s.name}" for s in rfm_cfg.segments] + [f"lifecycle:{s}" for s in STAGES]
    ids += [f"frequency:{v}" for v in ("high", "medium", "low", "one_time")]
    ids += [f"{fam}:{v}" for fam in ("spend", "aov", "clv") for v in ("high", "medium", "low")]
    return ids + list(ENGAGEMENT_FLAGS.values())


def _label(sid: str, rfm_cfg) -> tuple[str, str, str]:
    family, _, value = sid.partition(":")
    if family == "rfm":
        seg = rfm_cfg.describe(value)
        return (seg.label if seg else value.replace("_", " ").capitalize()), "rfm", (seg.description if seg else "")
    kind = {"lifecycle": "lifecycle"}.get(family, "tier")
    words = value.replace("_", " ")
    if family == "affinity":
        return f"{words.capitalize()} buyers", kind, f"at least half of their spend is on {words}"
    if family == "clv":
        return f"Predicted CLV: {words}", kind, "by predicted lifetime value: top 20% high, next 30% medium"
    if family == "region":
        from regulars.segments.regions import region_words

        return f"Region: {region_words(value)}", kind, ""
    title = {"aov": "AOV", "lifecycle": "Lifecycle", "frequency": "Frequency", "spend": "Spend",
             "engagement": "Engagement", "behaviour": "Behaviour", "region": "Region"}.get(family, family)
    return f"{title}: {words}", kind, ""


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
    """Recompute all memberships as of *as_of* and record entries and exits (one transaction)."""
    say = progress or (lambda _s: None)
    started = time.perf_counter()
    engine = engine_name(engine, workspace=getattr(ws, "path", None))
    rfm_cfg = load_rfm_config(rfm_config)
    errors: dict[str, str] = {}
    try:
        with open_engine(ws, engine) as provider:
            money = shop_plan(ws.con)  # RFM money and segment revenue in one currency when the rates allow
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
        mart = ws.ibis.table("_seg_mart")
        parts = []
        if builtin:
            say("tiers")
            tier_table = tiers(ws, as_of, tiers_config, categories=categories, mart=mart)
            parts += [ws.ibis.table("_seg_engine"), tier_memberships(tier_table)]
        mart = with_predictions(mart, ws, as_of)
        if builtin:
            clv = mart.filter(mart.clv_tier.notnull())
            parts.append(clv.select(segment_id="clv:" + clv.clv_tier, customer_id=clv.customer_id))
        rule_parts = _rule_parts(ws, mart, errors)
        say("memberships")
        try:
            _union_into(ws, mart, parts + list(rule_parts.values()))
        except Exception:  # a saved rule the database cannot run: find it, leave it out, keep the others
            if not rule_parts:
                raise
            for sid, part in list(rule_parts.items()):
                try:
                    ws.con.execute(f"SELECT count(*) FROM ({ibis.to_sql(part, dialect='duckdb')})").fetchall()
                except Exception as exc:  # noqa: BLE001 - recorded as this segment's error
                    errors[sid] = f"the rule cannot be evaluated ({type(exc).__name__}); save a new version of it"
                    del rule_parts[sid]
            _union_into(ws, mart, parts + list(rule_parts.values()))
        return _record(ws, as_of, engine, rfm_cfg, builtin, errors, th, started, money)
    finally:
        drop_temp(ws, *_TEMP)


def _rule_parts(ws, mart, errors: dict[str, str]) -> dict[str, ir.Table]:
    """Each saved rule's members as an expression; a rule that does not compile goes to *errors* instead."""
    out = {}
    for seg in _rule_segments(ws):
        try:
            keep = mart.filter(compile_rule(seg["rule"], mart))
            part = keep.select(segment_id=ibis.literal(seg["segment_id"]), customer_id=keep.customer_id)
            ibis.to_sql(part, dialect="duckdb")  # compile now: a rule saved before validation may not
        except (RuleError, RecursionError, TypeError, ValueError, OverflowError) as exc:
            errors[seg["segment_id"]] = str(exc) if isinstance(exc, RuleError) else \
                f"the rule cannot be evaluated ({type(exc).__name__}); save a new version of it"
            continue
        out[seg["segment_id"]] = part
    return out


def _union_into(ws, mart, parts: list) -> None:
    if parts:
        new = ibis.union(*parts, distinct=True)
    else:
        new = mart.select(segment_id=ibis.literal("", "string"), customer_id=mart.customer_id).limit(0)
    materialize(ws, ws, new, "_seg_new")


def _record(ws, as_of, engine, rfm_cfg, builtin, errors, th, started, money=None) -> RefreshResult:
    con = ws.con
    now = _now()
    with ws.transaction():
        rid = con.execute("SELECT nextval('segment_refresh_ids')").fetchall()[0][0]
        # Built-in definitions: the fixed ones always, the data-driven ones (affinity, region) once they have members.
        known = {r[0] for r in con.execute("SELECT segment_id FROM segment_definitions").fetchall()}
        found = [r[0] for r in con.execute(
            "SELECT DISTINCT segment_id FROM _seg_new WHERE segment_id LIKE '%:%' ORDER BY 1").fetchall()]
        fixed = _builtin_ids(rfm_cfg) if builtin else []
        for sid in dict.fromkeys(fixed + found):
            if sid in known:
                continue
            label, kind, desc = _label(sid, rfm_cfg)
            con.execute("INSERT INTO segment_definitions VALUES (?, ?, ?, ?, ?, ?, NULL)", [sid, label, kind, desc, now, now])
        versions = "(SELECT segment_id, max(version) AS version FROM segment_versions GROUP BY ALL)"
        # Which segments this refresh decides: every built-in (when computed) and every evaluated rule segment,
        # plus deleted rule segments that still have members (they all exit).
        builtin_clause = "kind <> 'rule'" if builtin else "false"
        failed = list(errors) or ["\x00"]
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _seg_ids AS SELECT d.segment_id, coalesce(v.version, 0) AS version "
            f"FROM segment_definitions d LEFT JOIN {versions} v USING (segment_id) "
            f"WHERE ({builtin_clause} OR d.kind = 'rule') AND d.segment_id NOT IN ({', '.join('?' * len(failed))})",
            failed,
        )
        con.execute(
            "INSERT INTO segment_history SELECT ?, n.segment_id, n.customer_id, 'entered', i.version, ? "
            "FROM _seg_new n JOIN _seg_ids i USING (segment_id) "
            "ANTI JOIN segment_memberships m ON m.segment_id = n.segment_id AND m.customer_id = n.customer_id",
            [rid, as_of],
        )
        con.execute(
            "INSERT INTO segment_history SELECT ?, m.segment_id, m.customer_id, 'exited', i.version, ? "
            "FROM segment_memberships m JOIN _seg_ids i USING (segment_id) "
            "ANTI JOIN _seg_new n ON m.segment_id = n.segment_id AND m.customer_id = n.customer_id",
            [rid, as_of],
        )
        con.execute(
            "DELETE FROM segment_memberships WHERE segment_id IN (SELECT segment_id FROM _seg_ids) "
            "AND (segment_id, customer_id) IN (SELECT segment_id, customer_id FROM segment_history "
            "WHERE refresh_id = ? AND change = 'exited')",
            [rid],
        )
        con.execute(
            "INSERT INTO segment_memberships SELECT segment_id, customer_id, version, ?, ? FROM segment_history "
            "WHERE refresh_id = ? AND change = 'entered'",
            [rid, as_of, rid],
        )
        con.execute(
            "UPDATE segment_memberships m SET version = i.version FROM _seg_ids i "
            "WHERE m.segment_id = i.segment_id AND m.version IS DISTINCT FROM i.version"
        )
        con.execute(
            "INSERT INTO segment_sizes SELECT ?, i.segment_id, i.version, count(n.customer_id), "
            "coalesce(sum(f.revenue), 0) FROM _seg_ids i LEFT JOIN _seg_new n USING (segment_id) "
            "LEFT JOIN _seg_mart f ON f.customer_id = n.customer_id GROUP BY ALL",
            [rid],
        )
        entered, exited = con.execute(
            "SELECT count(*) FILTER (change = 'entered'), count(*) FILTER (change = 'exited') "
            "FROM segment_history WHERE refresh_id = ?", [rid]).fetchall()[0]
        segments, members = con.execute(
            "SELECT count(*), coalesce(sum(members), 0) FROM segment_sizes WHERE refresh_id = ?", [rid]).fetchall()[0]
        customers, revenue = con.execute("SELECT count(*), coalesce(sum(revenue), 0) FROM _seg_mart").fetchall()[0]
        summary = {"errors": errors, "lifecycle": th.to_dict() if th else None,
                   "money": money.mode if money else "one", "money_note": money.note if money else None,
                   "customers": customers, "revenue": float(revenue)}
        con.execute(
            "INSERT INTO segment_refreshes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [rid, now, as_of, engine, segments, entered, exited, json.dumps(summary)],
        )
    return RefreshResult(
        refresh_id=rid, as_of=as_of, engine=engine, segments=segments, members=members, entered=entered,
        exited=exited, seconds=round(time.perf_counter() - started, 2),
        lifecycle=th.describe() if th else "", errors=errors,
    )
