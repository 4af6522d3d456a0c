"""Table providers the prediction jobs read through: a hash sample of the customers, and what
was knowable on a date.

A *table provider* is anything with ``.table(name) -> ibis.Table`` (a
:class:`~regulars.data.workspace.Workspace` is one); the feature and model code takes one, so
wrapping the workspace changes what every feature sees without changing the feature code.
"""

from __future__ import annotations

import datetime as dt

import ibis

from regulars.values import to_date

__all__ = ["PointInTime", "SampledTables", "as_known_on", "present_day"]


class SampledTables:
    """A table provider that keeps a fixed share of the customers (by a hash of their id).

    Every table with a ``customer_id`` column is filtered before any feature is computed, so
    a training snapshot of a large shop costs ``fraction`` of a full one. With ``materialize``
    each filtered table is stored once as a temporary table on first use, so the several
    training snapshots and labels read the sample instead of rescanning the whole table;
    :meth:`close` drops them.
    """

    def __init__(self, ws, fraction: float, materialize: bool = False):
        self.ws, self.fraction, self.materialize = ws, fraction, materialize
        self._stored: dict[str, ibis.Table] = {}

    def table(self, name: str) -> ibis.Table:
        t = self.ws.table(name)
        if self.fraction >= 1 or "customer_id" not in t.columns:
            return t
        if name in self._stored:
            return self._stored[name]
        sample = t.filter(t.customer_id.hash().abs() % 10_000 < int(self.fraction * 10_000))
        if self.materialize:
            sample = self._stored[name] = self.ws.temp_table(f"_training_sample_{name}", sample)
        return sample

    def close(self) -> None:
        for name in self._stored:
            self.ws.drop_temp_table(f"_training_sample_{name}")
        self._stored.clear()


def _ts(day: dt.date):
    return ibis.timestamp(dt.datetime(day.year, day.month, day.day))


class PointInTime:
    """What was knowable on ``as_of``: a table provider that hides later knowledge.

    For an ``as_of`` in the past (before ``present``, the day after the workspace's last
    order), three things are undone:

    * **identity links made later.** An event attributed to a customer through a link of its
      anonymous id whose ``identities.linked_at`` is on or after ``as_of`` loses its customer
      (the visitor was anonymous then). Events that carried their own customer identifier keep it.
    * **current consent flags.** ``customers.accepts_*`` hold today's consent; in the past only
      the consent history (``consents`` up to ``as_of``) counts, so the flags read as unknown.
      An account created on or after ``as_of`` has no creation date yet.
    * **satisfaction scores given later.** A ticket's ``csat`` counts once it is closed.

    For the present nothing is hidden: every link and flag known now describes now. (Refund and
    cancellation dates are not yet part of the schema: an order's refund counts from the order
    on.) Wraps any provider, e.g. a :class:`SampledTables`; other attributes pass through.
    """

    def __init__(self, tables, as_of, present):
        self.tables = tables
        self.as_of = to_date(as_of)
        self.present = present
        self.past = present is not None and self.as_of < present
        self._late_links: bool | None = None

    def __getattr__(self, name):
        if name == "order_stats" and self.past:  # stored totals describe today
            raise AttributeError(name)
        return getattr(self.tables, name)

    def table(self, name: str) -> ibis.Table:
        t = self.tables.table(name)
        if not self.past:
            return t
        if name == "events":
            return self._events(t)
        if name == "customers":
            hidden = {c: ibis.null("boolean") for c in ("accepts_email", "accepts_sms", "accepts_personalization")
                      if c in t.columns}
            if "created_at" in t.columns:  # an account opened later did not exist yet
                hidden["created_at"] = ibis.cases((t.created_at < _ts(self.as_of), t.created_at),
                                                  else_=ibis.null("timestamp"))
            return t.mutate(**hidden)
        if name == "tickets":
            closed = t.closed_at.coalesce(t.opened_at) < _ts(self.as_of)
            return t.mutate(csat=ibis.cases((closed, t.csat), else_=ibis.null("int32")),
                            closed_at=ibis.cases((t.closed_at < _ts(self.as_of), t.closed_at), else_=ibis.null("timestamp")))
        return t

    def _late(self) -> ibis.Table:
        i = self.tables.table("identities")
        return i.filter((i.kind == "anonymous_id") & (i.linked_at >= _ts(self.as_of))).select(
            _anon=i.value, _linked_to=i.customer_id)

    def _events(self, e: ibis.Table) -> ibis.Table:
        late = self._late()
        if self._late_links is None:
            self._late_links = bool(late.count().execute())
        if not self._late_links:
            return e
        j = e.left_join(late, e.anonymous_id == late._anon)
        stitched_later = j._linked_to.notnull() & (j._linked_to == j.customer_id)
        customer = ibis.cases((stitched_later, ibis.null("string")), else_=j.customer_id)
        return j.select(*[customer.name(c) if c == "customer_id" else j[c] for c in e.columns])


def present_day(ws) -> dt.date | None:
    """The day after the workspace's last order: on or after it, the data describe the present."""
    last = ws.table("orders").ordered_at.max().execute()
    return last.date() + dt.timedelta(days=1) if last is not None and last == last else None


def as_known_on(ws, as_of, tables=None) -> PointInTime:
    """``tables`` (default: the workspace) as they were knowable on ``as_of``."""
    return PointInTime(tables if tables is not None else ws, as_of, present_day(ws))


def in_shop_money(ws):
    """*ws* with every order's amounts in the shop's currency when the shop's exchange rates cover
    each currency its orders are in; *ws* itself otherwise (one currency; a missing rate, see
    :func:`money_refusal`; a provider without the shop's settings, e.g. Spark's tables).

    A workspace reading on Spark stays one (its reads converted there), so the executors score
    converted amounts as DuckDB does."""
    from regulars.data.connection import has_database
    from regulars.data.engine_workspace import EngineWorkspace
    from regulars.features.currency import InShopCurrency, shop_plan

    if isinstance(ws, InShopCurrency) or not has_database(ws):
        return ws
    if isinstance(ws, EngineWorkspace) and isinstance(ws.provider, InShopCurrency):
        return ws
    plan = shop_plan(ws)
    if plan.mode != "converted":
        return ws
    if isinstance(ws, EngineWorkspace):
        return EngineWorkspace(ws.ws, InShopCurrency(ws.provider, plan), ws.engine)
    return InShopCurrency(ws, plan)


def money_refusal(ws) -> str | None:
    """Why per-customer money (spend, CLV) cannot be predicted: the orders are in several
    currencies and a rate is missing (None when it can be)."""
    from regulars.data.connection import has_database
    from regulars.features.currency import shop_plan

    if not has_database(ws):
        return None
    plan = shop_plan(ws)
    return plan.note if plan.mode == "per_currency" else None
