"""After posted events commit: update the touched customers only — segments, profiles, triggers.

The writer thread hands the ids of the customers whose events committed to
a :class:`Refresher` thread (so event writes never wait for this), which:

1. recomputes those customers' **features** (the features mart, over views
   of the canonical tables restricted to them: SQL compiled once per day) and
   their **event-driven segment memberships** — ``engagement:browser_never_bought``,
   ``engagement:product_viewer``, ``engagement:cart_abandoner`` and saved rule
   segments whose rule uses web/app event features — then records who
   entered and exited as a ``realtime`` segment refresh (history, memberships
   and sizes stay consistent with :mod:`regulars.segments.membership`).
   Order-, e-mail- and time-driven segments (RFM, lifecycle, value tiers,
   e-mail engagement) move at the next full refresh;
2. rebuilds their cached 360 profiles (:mod:`regulars.api.profiles`);
3. calls the functions registered with :func:`on_events` (e.g. journey
   triggers): ``fn(workspace, customer_ids)`` on the writer, so they may write.

Segments are only updated when a full refresh exists (run `regulars segments
refresh` or ``POST /api/segments/refresh`` once).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger("regulars.realtime")

#: Extra refreshers: ``fn(workspace, customer_ids)``, run on the writer after the segments.
REFRESHERS: list[Callable] = []

#: Mart columns computed from web/app events (what a posted event can change).
EVENT_FEATURES = frozenset({"sessions", "product_views", "cart_adds", "searches", "checkout_step_max",
                            "cart_abandonments", "abandoned_checkout_step"})
#: Built-in segments a posted event can move (tier flag column -> segment id).
EVENT_FLAGS = {
    "is_browser_never_bought": "engagement:browser_never_bought",
    "is_product_viewer": "engagement:product_viewer",
    "is_cart_abandoner": "engagement:cart_abandoner",
}
CUSTOMER_TABLES = ("customers", "orders", "events", "messages", "tickets", "reviews", "surveys", "consents",
                   "identities")
SHARED_TABLES = ("products", "campaigns", "marketing_spend")


def on_events(fn: Callable) -> Callable:
    """Register *fn(workspace, customer_ids)* to run after events commit (decorator-friendly)."""
    REFRESHERS.append(fn)
    return fn


class RealtimeSegments:
    """Event-driven memberships for a few customers, from SQL compiled once (per day and rule set)."""

    def __init__(self, view):
        self.view = view  # a ReadView owned by the refresher thread: its temp views are its own
        self._compiled: dict[tuple, str] = {}
        self._ready = False

    def _setup(self) -> None:
        con = self.view.con
        con.execute("CREATE OR REPLACE TEMP TABLE rt_ids (customer_id VARCHAR)")
        for t in CUSTOMER_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP VIEW rt_{t} AS SELECT * FROM main.{t} "
                        "WHERE customer_id IN (SELECT customer_id FROM rt_ids)")
        con.execute("CREATE OR REPLACE TEMP VIEW rt_order_lines AS SELECT * FROM main.order_lines "
                    "WHERE order_id IN (SELECT order_id FROM rt_orders)")
        for t in SHARED_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP VIEW rt_{t} AS SELECT * FROM main.{t}")
        self._ready = True

    def _provider(self):
        ibis_backend = self.view.ibis

        class Scoped:
            def table(self, name):
                return ibis_backend.table(f"rt_{name}")

            def execute(self, expr):
                return ibis_backend.execute(expr)

        return Scoped()

    def _sql(self, key: tuple, build: Callable[[], object]) -> str:
        if key not in self._compiled:
            import ibis

            self._compiled = {k: v for k, v in self._compiled.items() if k[1] == key[1]}  # forget other days
            self._compiled[key] = str(ibis.to_sql(build(), dialect="duckdb"))
        return self._compiled[key]

    def compute(self, ids: list[str]) -> tuple[set[str], set[tuple[str, str]], dict[str, float]] | None:
        """(segment ids decided, their (segment_id, customer_id) members among *ids*, revenue per customer)."""
        from regulars.features.mart import customer_features, shop_categories
        from regulars.segments.membership import mart_schema
        from regulars.segments.rules import RuleError, compile_rule, rule_columns
        from regulars.segments.tiers import tiers

        con = self.view.con
        if not con.execute("SELECT count(*) FROM segment_refreshes").fetchall()[0][0]:
            return None
        if not self._ready:
            self._setup()
        as_of = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        cats = tuple(shop_categories(self.view))
        provider = self._provider()
        mart_sql = self._sql(("mart", as_of, cats), lambda: customer_features(provider, as_of, list(cats)))
        con.execute("DELETE FROM rt_ids")
        con.execute("INSERT INTO rt_ids SELECT unnest(?::VARCHAR[])", [ids])
        con.execute(f"CREATE OR REPLACE TEMP TABLE _rt_mart AS {mart_sql}")
        mart = self.view.ibis.table("_rt_mart")
        flags_sql = self._sql(("flags", as_of, cats), lambda: tiers(provider, as_of, None, categories=list(cats),
                                                                      mart=mart).select("customer_id", *EVENT_FLAGS))
        decided = set(EVENT_FLAGS.values())
        members: set[tuple[str, str]] = set()
        for row in con.execute(flags_sql).fetchall():
            for flag, value in zip(EVENT_FLAGS.values(), row[1:]):
                if value:
                    members.add((flag, row[0]))
        rules = con.execute(
            "SELECT d.segment_id, v.version, v.rule FROM segment_definitions d "
            "JOIN (SELECT segment_id, max(version) AS version FROM segment_versions GROUP BY ALL) m USING (segment_id) "
            "JOIN segment_versions v ON v.segment_id = m.segment_id AND v.version = m.version "
            "WHERE d.kind = 'rule' AND d.deleted_at IS NULL").fetchall()
        if rules:
            schema = mart_schema(provider, list(cats))
            for sid, version, rule in rules:
                try:
                    if not set(rule_columns(rule, schema)) & EVENT_FEATURES:
                        continue
                    sql = self._sql(("rule", as_of, cats, sid, version),
                                    lambda: mart.filter(compile_rule(rule, mart)).select("customer_id"))
                    found = {(sid, r[0]) for r in con.execute(sql).fetchall()}
                except (RuleError, RecursionError, TypeError, ValueError, OverflowError) as exc:
                    log.warning("rule segment %s skipped in the real-time refresh: %s", sid, type(exc).__name__)
                    continue  # one bad saved rule never stops the others
                except Exception as exc:  # noqa: BLE001 - e.g. the database refusing the rule's SQL
                    if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
                        raise
                    log.warning("rule segment %s skipped in the real-time refresh: %s", sid, type(exc).__name__)
                    continue
                decided.add(sid)
                members |= found
        revenue = {r[0]: float(r[1] or 0) for r in con.execute("SELECT customer_id, revenue FROM _rt_mart").fetchall()}
        return decided, members, revenue


def apply_memberships(ws, ids: list[str], decided: set[str], members: set[tuple[str, str]],
                      revenue: dict[str, float]) -> dict | None:
    """Record entries/exits of *ids* in the *decided* segments as a ``realtime`` refresh (on the writer)."""
    con = ws.con
    with ws.transaction():
        current = {(s, c) for s, c in con.execute(
            "SELECT segment_id, customer_id FROM segment_memberships WHERE customer_id IN (SELECT unnest(?::VARCHAR[])) "
            "AND segment_id IN (SELECT unnest(?::VARCHAR[]))", [ids, sorted(decided)]).fetchall()}
        entered, exited = members - current, current - members
        if not entered and not exited:
            return None
        base = con.execute("SELECT refresh_id, summary::VARCHAR FROM segment_refreshes ORDER BY refresh_id DESC LIMIT 1"
                           ).fetchall()
        if not base:
            return None
        base_id, base_summary = base[0]
        rid = con.execute("SELECT nextval('segment_refresh_ids')").fetchall()[0][0]
        today = dt.datetime.now(dt.UTC).date()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        versions = dict(con.execute("SELECT segment_id, max(version) FROM segment_versions GROUP BY 1").fetchall())
        known = {r[0] for r in con.execute("SELECT segment_id FROM segment_definitions").fetchall()}
        for sid in sorted({s for s, _ in entered} - known):
            family, _, value = sid.partition(":")
            con.execute("INSERT INTO segment_definitions VALUES (?, ?, 'tier', '', ?, ?, NULL)",
                        [sid, f"{family.capitalize()}: {value.replace('_', ' ')}", now, now])
        rows = [(rid, s, c, "entered", versions.get(s, 0), today) for s, c in sorted(entered)]
        rows += [(rid, s, c, "exited", versions.get(s, 0), today) for s, c in sorted(exited)]
        con.executemany("INSERT INTO segment_history VALUES (?, ?, ?, ?, ?, ?)", rows)
        for s, c in exited:
            con.execute("DELETE FROM segment_memberships WHERE segment_id = ? AND customer_id = ?", [s, c])
        if entered:  # executemany with no rows fails (and rolled the exits back)
            con.executemany("INSERT INTO segment_memberships VALUES (?, ?, ?, ?, ?)",
                            [(s, c, versions.get(s, 0), rid, today) for s, c in sorted(entered)])
        # Sizes at this refresh: the previous ones, moved by who entered and exited.
        delta: dict[str, list[float]] = {}
        for s, c in entered:
            d = delta.setdefault(s, [0, 0.0])
            d[0] += 1
            d[1] += revenue.get(c, 0.0)
        for s, c in exited:
            d = delta.setdefault(s, [0, 0.0])
            d[0] -= 1
            d[1] -= revenue.get(c, 0.0)
        con.execute("CREATE OR REPLACE TEMP TABLE _rt_delta (segment_id VARCHAR, members BIGINT, revenue DOUBLE)")
        con.executemany("INSERT INTO _rt_delta VALUES (?, ?, ?)", [(s, int(v[0]), v[1]) for s, v in delta.items()])
        con.execute(
            "INSERT INTO segment_sizes SELECT ?, coalesce(s.segment_id, d.segment_id), coalesce(s.version, 0), "
            "coalesce(s.members, 0) + coalesce(d.members, 0), coalesce(s.revenue, 0) + coalesce(d.revenue, 0) "
            "FROM (SELECT * FROM segment_sizes WHERE refresh_id = ?) s FULL JOIN _rt_delta d USING (segment_id)",
            [rid, base_id])
        con.execute("DROP TABLE _rt_delta")
        summary = json.loads(base_summary or "{}")
        summary.update({"partial": True, "base_refresh": base_id, "touched_customers": len(ids)})
        con.execute("INSERT INTO segment_refreshes VALUES (?, ?, ?, 'realtime', ?, ?, ?, ?)",
                    [rid, now, today, len({s for s, _ in entered | exited}), len(entered), len(exited),
                     json.dumps(summary)])
    return {"refresh_id": rid, "entered": len(entered), "exited": len(exited)}


class _Worker:
    """A thread that coalesces the ids submitted to it and handles them in rounds.

    ``batch`` caps a round; ``keep`` caps the backlog (the most recently
    submitted ids are kept); ``duty`` is the share of time the thread may be
    busy (it rests as long as needed after each round), so background work
    never starves event writes on a small machine.
    """

    def __init__(self, name: str, handle: Callable[[list[str]], None], batch: int | None = None,
                 keep: int | None = None, duty: float = 1.0, min_interval: float = 0.0):
        self._handle = handle
        self._batch = batch
        self._keep = keep
        self._duty = duty
        self._min_interval = min_interval
        self._pending: dict[str, None] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def submit(self, ids) -> None:
        with self._cond:
            for cid in ids:
                self._pending.pop(cid, None)
                self._pending[cid] = None
            if self._keep and len(self._pending) > self._keep:
                extra = len(self._pending) - self._keep
                for cid in list(self._pending)[:extra]:
                    del self._pending[cid]
                self.dropped += extra
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._busy

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                ids = list(self._pending)[-self._batch:] if self._batch else list(self._pending)
                for cid in ids:
                    del self._pending[cid]
                self._busy = True
            started = time.monotonic()
            try:
                self._handle(sorted(ids))
            except Exception as exc:  # noqa: BLE001 - the next round tries again; reads stay correct (uncached)
                log.error("%s failed: %s", self._thread.name, type(exc).__name__)
                log.debug("refresh failure", exc_info=True)
            finally:
                took = time.monotonic() - started
                with self._cond:
                    self._busy = False
                rest = max(self._min_interval - took, took * (1 / self._duty - 1) if self._duty < 1 else 0.0)
                if rest > 0 and not self._stop:
                    time.sleep(min(rest, 5.0))


class Refresher:
    """Keeps derived data of touched customers up to date, off the write path.

    Two threads: one updates event-driven segment memberships (and runs the
    :func:`on_events` hooks) for every customer touched since its last round;
    the other rebuilds cached profiles in small rounds with a duty cycle, so a
    burst of events for thousands of customers never delays the segment
    updates nor starves event writes.
    """

    def __init__(self, shared, profiles, cache=None):
        self.shared = shared
        self.profiles = profiles
        self.cache = cache
        self._segments: RealtimeSegments | None = None
        self._segments_lock = threading.Lock()  # its read view is closed before the workspace file is rewritten
        self.last: dict = {}
        # Segments: every touched customer, in rounds at most every 0.2 s (bursts coalesce).
        self._segment_worker = _Worker("regulars-segments", self._segments_round, min_interval=0.2)
        # Profiles: rebuilt 200 at a time, using at most half a core; after a burst touching more than
        # 2,000 customers, the older ones are simply left uncached (built on their next read).
        self._profile_worker = _Worker("regulars-profiles-rebuild", self._profiles_round, batch=200, keep=2000,
                                       duty=0.5)

    def submit(self, workspace, customer_ids) -> None:
        """A :meth:`SharedWorkspace.on_events` listener: queue the ids, return at once."""
        self._segment_worker.submit(customer_ids)
        self._profile_worker.submit(customer_ids)

    def wait_idle(self, timeout: float = 30) -> bool:
        """True once both threads have nothing left to do (checks at least once, waits up to *timeout*)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._segment_worker.idle() and self._profile_worker.idle():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def stop(self) -> None:
        self._segment_worker.stop()
        self._profile_worker.stop()
        self.close_view()

    def _segments_round(self, ids: list[str]) -> None:
        from regulars.data.realtime import ReadView

        if self.shared.closing:
            return
        started = time.perf_counter()
        with self._segments_lock:
            if self._segments is None:
                self._segments = RealtimeSegments(ReadView(self.shared.workspace))
            computed = self._compute(ids)
        changed = self._apply(ids, computed)
        for fn in REFRESHERS:
            self.shared.write(lambda ws, fn=fn: fn(ws, ids))
        if changed:
            self.profiles.invalidate(ids)
            self._profile_worker.submit(ids)
        self.last = {"customers": len(ids), "seconds": round(time.perf_counter() - started, 3), "at": time.time(),
                     "segment_changes": changed}

    def _profiles_round(self, ids: list[str]) -> None:
        if self.shared.closing:
            return
        with self.shared.read() as ws:
            self.profiles.rebuild(ws, ids)

    def close_view(self) -> None:
        """Before an exclusive write (the workspace file is rewritten): drop the read view; made afresh later."""
        with self._segments_lock:
            if self._segments is not None:
                self._segments.view.close()
                self._segments = None

    def _compute(self, ids: list[str]):
        try:
            return self._segments.compute(ids)
        except Exception as exc:  # noqa: BLE001 - e.g. segments not installed or no refresh yet
            if type(exc).__name__ not in ("CatalogException",):
                log.warning("event-driven segments skipped: %s", type(exc).__name__)
            return None

    def _apply(self, ids: list[str], computed) -> int:
        if computed is None:
            return 0
        decided, members, revenue = computed
        result = self.shared.write(lambda ws: apply_memberships(ws, ids, decided, members, revenue))
        return (result["entered"] + result["exited"]) if result else 0


def install(app) -> Refresher:
    """Wire the refresher and the profile cache into the server's shared workspace."""
    shared = app.state.shared
    refresher = Refresher(shared, app.state.profiles, app.state.cache)
    shared.on_commit(app.state.profiles.invalidate)
    shared.on_events(refresher.submit)
    shared.on_reopen(refresher.close_view)
    app.state.refresher = refresher
    return refresher
