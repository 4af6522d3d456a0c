"""After posted events commit: update the touched customers only — segments, profiles, triggers.

The writer thread hands the ids of the customers whose events committed to
a :class:`Refresher` thread (so event writes never wait for this), which:

1. recomputes those customers' **event-driven segment memberships**
   (:mod:`regulars.jobs.realtime_segments`) and records who entered and exited
   as a ``realtime`` segment refresh through the one segment store;
2. rebuilds their cached 360 profiles (:mod:`regulars.server.profiles`);
3. calls the functions registered with :func:`on_events` (e.g. journey
   triggers): ``fn(workspace, customer_ids)`` on the writer, so they may write.

Segments are only updated when a full refresh exists (run `regulars segments
refresh` or ``POST /api/segments/refresh`` once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from regulars.jobs import realtime_segments
from regulars.jobs.realtime_segments import RealtimeSegments

log = logging.getLogger("regulars.realtime")

#: Extra refreshers: ``fn(workspace, customer_ids)``, run on the writer after the segments.
REFRESHERS: list[Callable] = []


def on_events(fn: Callable) -> Callable:
    """Register *fn(workspace, customer_ids)* to run after events commit (decorator-friendly)."""
    REFRESHERS.append(fn)
    return fn


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

        if self.shared.closing:
            return
        started = time.perf_counter()
        with self._segments_lock:
            if self._segments is None:
                self._segments = RealtimeSegments(self.shared.private_view())
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
                self._segments.close()
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
        result = self.shared.write(lambda ws: realtime_segments.record(ws, ids, computed))
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
