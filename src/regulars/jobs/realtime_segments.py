"""Event-driven segment memberships of a few customers, right after their events commit.

The server's refresher hands the ids of the customers whose events committed to
:meth:`RealtimeSegments.compute`, which recomputes their **features** (the features mart over
a :class:`~regulars.data.customer_scope.CustomerScope` of those customers) and the segments a
web/app event can move — ``engagement:browser_never_bought``, ``engagement:product_viewer``,
``engagement:cart_abandoner`` and saved rule segments whose rule uses event features.
:func:`record` then writes who entered and exited as a ``realtime`` refresh through the one
segment store (:func:`regulars.data.segment_store.record_partial`), with the same labels and
the same meaning of ``as_of`` as a full refresh: the memberships count today's events, so they
are as of tomorrow. Order-, e-mail- and time-driven segments (RFM, lifecycle, value tiers, e-mail
engagement) move at the next full refresh (:mod:`regulars.jobs.segments`).

Nothing is computed before the first full refresh (run ``regulars segments refresh`` or
``POST /api/segments/refresh`` once).
"""

from __future__ import annotations

import datetime as dt
import logging

from regulars.data import segment_store
from regulars.data.customer_scope import CustomerScope, QueryFailed
from regulars.features.mart import customer_features, shop_categories
from regulars.segments.membership import RULE_FAILURES, mart_schema, segment_label
from regulars.segments.rules import compile_rule, rule_columns
from regulars.segments.tiers import tiers

log = logging.getLogger("regulars.realtime")

#: Mart columns computed from web/app events (what a posted event can change).
EVENT_FEATURES = frozenset({"sessions", "product_views", "cart_adds", "searches", "checkout_step_max",
                            "cart_abandonments", "abandoned_checkout_step"})
#: Built-in segments a posted event can move (tier flag column -> segment id).
EVENT_FLAGS = {
    "is_browser_never_bought": "engagement:browser_never_bought",
    "is_product_viewer": "engagement:product_viewer",
    "is_cart_abandoner": "engagement:cart_abandoner",
}


def realtime_as_of(now: dt.datetime | None = None) -> dt.date:
    """The as-of date of memberships computed now: tomorrow (UTC), so today's events count."""
    now = now or dt.datetime.now(dt.UTC)
    return now.date() + dt.timedelta(days=1)


class RealtimeSegments:
    """Event-driven memberships for a few customers, from SQL compiled once (per day and rule set).

    *view* is a read view owned by the caller's thread (its temporary views are its own).
    """

    def __init__(self, view):
        self.scope = CustomerScope(view)
        self.view = view

    def compute(self, ids: list[str]) -> tuple[dt.date, set[str], set[tuple[str, str]], dict[str, float]] | None:
        """``(as_of, segment ids decided, their (segment_id, customer_id) members among ids, revenue per
        customer)``, or None before the first full refresh."""
        if not segment_store.has_refresh(self.view):
            return None
        as_of = realtime_as_of()
        scope = self.scope
        cats = tuple(shop_categories(self.view))
        scope.focus(ids)
        mart = scope.materialize(("mart", as_of, cats), lambda: customer_features(scope, as_of, list(cats)), "_rt_mart")
        decided = set(EVENT_FLAGS.values())
        members: set[tuple[str, str]] = set()
        flags = scope.rows(("flags", as_of, cats), lambda: tiers(scope, as_of, None, categories=list(cats), mart=mart)
                           .select("customer_id", *EVENT_FLAGS))
        for row in flags:
            for flag, value in zip(EVENT_FLAGS.values(), row[1:]):
                if value:
                    members.add((flag, row[0]))
        rules = segment_store.rule_segments(self.view)
        if rules:
            schema = mart_schema(scope, list(cats))
            for seg in rules:
                sid, version, rule = seg["segment_id"], seg["version"], seg["rule"]
                try:
                    if not set(rule_columns(rule, schema)) & EVENT_FEATURES:
                        continue
                    found = {(sid, r[0]) for r in scope.rows(
                        ("rule", as_of, cats, sid, version),
                        lambda: mart.filter(compile_rule(rule, mart)).select("customer_id"))}
                except (*RULE_FAILURES, QueryFailed) as exc:  # one bad saved rule never stops the others
                    log.warning("rule segment %s skipped in the real-time refresh: %s", sid,
                                str(exc) if isinstance(exc, QueryFailed) else type(exc).__name__)
                    continue
                decided.add(sid)
                members |= found
        revenue = {r[0]: float(r[1] or 0) for r in scope.rows(("revenue",), lambda: mart.select("customer_id", "revenue"))}
        return as_of, decided, members, revenue

    def close(self) -> None:
        self.scope.close()


def record(ws, ids: list[str], computed) -> dict | None:
    """Write what :meth:`RealtimeSegments.compute` found as a ``realtime`` refresh (on the writer)."""
    as_of, decided, members, revenue = computed
    return segment_store.record_partial(ws, as_of=as_of, customer_ids=ids, decided=decided, members=members,
                                        revenue=revenue, label=segment_label)
