"""Segments as expressions: built-in memberships, saved rule segments, their ids and labels.

- ``create_segment`` saves a rule segment (validated against the mart's columns); saving a
  new rule under the same name makes a new **version**, the old ones are kept
  (:mod:`regulars.data.segment_store` stores them).
- :func:`builtin_memberships`, :func:`tier_memberships` and :func:`rule_memberships` build the
  ``(segment_id, customer_id)`` expressions a refresh evaluates;
  :func:`regulars.jobs.segments.refresh` runs them and records who **entered** and **exited**.

Built-in segment ids: ``rfm:<segment>``, ``lifecycle:<stage>``, ``frequency:<tier>``,
``spend:<tier>``, ``aov:<tier>``, ``clv:<tier>`` (predicted CLV, once ``regulars predict`` ran),
``affinity:<category slug>``, ``behaviour:discount_driven``, ``engagement:<flag>`` and
``region:<region, lower case>``. Rules may also use the stored predictions and recommendations
(:mod:`regulars.features.predicted`: ``churn_risk > 0.5 and clv > 200``). Rule segments use the slug of their
name (``Coffee lovers`` -> ``coffee_lovers``).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from regulars.data import segment_store
from regulars.features.mart import category_slug, customer_features, shop_categories
from regulars.features.predicted import PREDICTION_COLUMNS
from regulars.segments.lifecycle import STAGES, lifecycle
from regulars.segments.rfm import load_config as load_rfm_config
from regulars.segments.rfm import rfm
from regulars.segments.rules import RuleError, compile_rule, validate
from regulars.segments.tiers import TIER_COLUMNS

__all__ = ["ENGAGEMENT_FLAGS", "SegmentError", "builtin_ids", "builtin_memberships", "create_segment",
           "delete_segment", "get_segment", "mart_schema", "rule_memberships", "segment_id_for", "segment_label",
           "tier_memberships"]

ENGAGEMENT_FLAGS = {
    "is_browser_never_bought": "engagement:browser_never_bought",
    "is_product_viewer": "engagement:product_viewer",
    "is_cart_abandoner": "engagement:cart_abandoner",
    "is_email_engager": "engagement:email_engager",
    "is_unsubscribed": "engagement:unsubscribed",
    "is_discount_driven": "behaviour:discount_driven",
}

#: Errors that make a saved rule unusable (reported as that segment's error, never fatal).
RULE_FAILURES = (RuleError, RecursionError, TypeError, ValueError, OverflowError)


class SegmentError(ValueError):
    """A segment cannot be saved or found; the message says what to do."""


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
    try:
        version = segment_store.save_rule(ws, sid, name.strip(), rule.strip(), description, replace=replace)
    except segment_store.SegmentExists as exc:
        raise SegmentError(str(exc)) from None
    return {"segment_id": sid, "name": name.strip(), "version": version, "rule": rule.strip(), "canonical": canonical}


def delete_segment(ws, name: str) -> str:
    """Mark a rule segment deleted; its members exit at the next refresh. History is kept."""
    sid = get_segment(ws, name)["segment_id"]
    segment_store.mark_deleted(ws, sid)
    return sid


def get_segment(ws, name: str) -> dict:
    """A segment's definition and all versions of its rule (by id or name)."""
    d = segment_store.find_definition(ws, name, segment_id_for(name))
    if d is None:
        known = segment_store.live_segment_ids(ws)
        raise SegmentError(f"no segment {name!r}; known: {', '.join(known[:30]) or 'none (regulars segments refresh)'}")
    d["versions"] = segment_store.rule_versions(ws, d["segment_id"])
    return d


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


def builtin_ids(rfm_cfg) -> list[str]:
    """The built-in segment ids defined at every full refresh, even before they have members."""
    ids = [f"rfm:{s.name}" for s in rfm_cfg.segments] + [f"lifecycle:{s}" for s in STAGES]
    ids += [f"frequency:{v}" for v in ("high", "medium", "low", "one_time")]
    ids += [f"{fam}:{v}" for fam in ("spend", "aov", "clv") for v in ("high", "medium", "low")]
    return ids + list(ENGAGEMENT_FLAGS.values())


def segment_label(sid: str, rfm_cfg=None) -> tuple[str, str, str]:
    """``(name, kind, description)`` of a built-in segment id: the one definition both refresh paths store.

    >>> segment_label("engagement:cart_abandoner")
    ('Engagement: cart abandoner', 'tier', '')
    >>> segment_label("rfm:champions")[:2]
    ('Champions', 'rfm')
    """
    rfm_cfg = rfm_cfg if rfm_cfg is not None else load_rfm_config(None)
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


def rule_memberships(mart: ir.Table, rules: list[dict]) -> tuple[dict[str, ir.Table], dict[str, str]]:
    """Each saved rule's members ``(segment_id, customer_id)`` on *mart*, and the rules that fail.

    *rules* are :func:`regulars.data.segment_store.rule_segments` rows. A rule that does not
    compile (saved before validation, or against columns that have gone) goes to the second
    dict, with the reason, instead of stopping the others.
    """
    out, errors = {}, {}
    for seg in rules:
        try:
            keep = mart.filter(compile_rule(seg["rule"], mart))
            part = keep.select(segment_id=ibis.literal(seg["segment_id"]), customer_id=keep.customer_id)
            ibis.to_sql(part, dialect="duckdb")  # compile now: a rule saved before validation may not
        except RULE_FAILURES as exc:
            errors[seg["segment_id"]] = str(exc) if isinstance(exc, RuleError) else \
                f"the rule cannot be evaluated ({type(exc).__name__}); save a new version of it"
            continue
        out[seg["segment_id"]] = part
    return out, errors
