"""The server's hold on a workspace: concurrent reads, one writer, events written as they arrive.

Why this module is long: the server's one hold on the DuckDB file (shared connection, read cursors,
the single writer thread, the events fast lane and its flush) is one concurrency design whose locks
and invariants must be read together; split, a reader would have to hold three files in mind to
check them.

DuckDB lets one process write a database file. The server opens the
workspace once and shares it:

- **reads** use per-request cursors of that connection (:meth:`SharedWorkspace.read`
  lends a :class:`ReadView`, a :class:`~regulars.data.workspace.Workspace`
  whose connection is a cursor). Each statement sees the latest committed
  data; readers never wait for a writer.
- **writes** (posted events, uploads, erasures, keys) run one at a time on a
  single writer thread (:meth:`SharedWorkspace.write`). Event batches that
  arrive while the writer is busy are coalesced into one transaction.
- after events commit, **listeners** (:meth:`SharedWorkspace.on_events`) get the
  ids of the customers they touched, so derived tables (features, segment
  memberships, triggers) are refreshed for those customers only.

Events go through the same identity resolution as files: a known shop id,
e-mail, phone or anonymous id finds its customer; an unknown shop id, e-mail
or phone creates one. Events are idempotent on ``event_id`` (derived from the
event's content when the sender gives none).

Examples
--------
>>> import tempfile, os, datetime as dt
>>> shared = SharedWorkspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> res = shared.post_events([{"customer_id": "c1", "event_type": "page_view",
...                            "occurred_at": dt.datetime(2024, 5, 1, 12, 0)}])
>>> res.new, res.customers
(1, ['c1'])
>>> with shared.read() as ws:
...     ws.sql("SELECT customer_id, event_type FROM events").values.tolist()
[['c1', 'page_view']]
>>> shared.close()
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import ibis
import pyarrow as pa

from regulars.data import fastlane, identity, suppression
from regulars.data.event_input import (  # noqa: F401 - re-exported: the events path starts there
    _ARROW, EVENT_COLUMNS, IDENTIFIERS, EventError, EventsWrite, normalize_event,
)
from regulars.data.ingest.load import upsert
from regulars.data.workspace import Workspace, WorkspaceError

log = logging.getLogger("regulars.realtime")

#: Posted events wait this long for the writer; if it is still busy with a long job they take the fast lane.
FAST_LANE_AFTER = 0.3


class ReadView(Workspace):
    """A workspace view over a cursor of the server's connection (reads only)."""

    def __init__(self, parent: Workspace, lake=None):  # noqa: D107 - no super().__init__: shares the parent's file
        self.path = parent.path
        self.read_only = True
        self._con = parent._con.cursor()
        self.ibis = ibis.duckdb.from_connection(self._con)
        #: A lake workspace's lake: the result tables read its results (:mod:`regulars.data.lake_results`).
        self.lake = lake
        self.lake_stamp = None
        self.lake_results: dict[str, str] = {}

    def sync_lake(self) -> None:
        """Point the result tables at the lake's results again when they changed since this view last looked."""
        if self.lake is None:
            return
        from regulars.data.lake_results import overlay_results, results_stamp

        erasures = self._con.execute("SELECT count(*) FROM erasures").fetchall()[0][0]
        stamp = (*results_stamp(self.lake), ("erasures", erasures))  # a new erasure hides the results at once
        if stamp != self.lake_stamp or not self.lake_results:
            self.lake_results = overlay_results(self._con, self.lake)
            self.lake_stamp = stamp

    @contextlib.contextmanager
    def transaction(self):
        raise WorkspaceError("this is a read view; writes go through SharedWorkspace.write")
        yield  # pragma: no cover

    def __repr__(self) -> str:
        return f"ReadView({str(self.path)!r})"


@dataclass
class _Job:
    fn: Callable[[Workspace], object] | None
    future: Future
    events: list[dict] | None = None
    exclusive: bool = False
    _claim: threading.Lock = field(default_factory=threading.Lock)

    def claim(self) -> bool:
        """True for the one caller (the writer or the fast lane) that gets to carry out this job."""
        return self._claim.acquire(blocking=False)


_STOP = object()


class SharedWorkspace:
    """One workspace shared by a server: pooled read views, a single writer thread.

    Parameters
    ----------
    path : path to the ``.duckdb`` file (created and migrated when needed)
    readers : how many read views to keep (more are made when all are busy)
    refresh_interval : seconds between listener calls while events keep arriving

    Posted events that find the writer busy with a long job for more than
    :data:`FAST_LANE_AFTER` seconds are written on the fast lane (:mod:`regulars.data.fastlane`).
    An *exclusive* write (:meth:`write` with ``exclusive=True``, e.g. an erasure that rewrites
    the file) waits for reads in progress, holds new ones back, and may replace the
    workspace's connection; read views are made afresh afterwards.
    """

    def __init__(self, path, *, readers: int = 8, memory_limit: str | None = None, refresh_interval: float = 0.25,
                 lake=None):
        self.workspace = Workspace(path, memory_limit=memory_limit)
        self.lake = lake
        self.path = self.workspace.path
        self._readers_max = readers
        self._pool: list[ReadView] = []
        self._pool_lock = threading.Lock()
        self._gate = threading.Condition(self._pool_lock)
        self._swapping = False
        self._reopen_hooks: list[Callable[[], None]] = []
        self._fast_lock = threading.Lock()
        self._fast_con = None
        self._long_job = False  # the writer is running a job other than events (fast lane allowed)
        self._drain_queued = False
        self._jobs: queue.Queue = queue.Queue()
        self._listeners: list[Callable[[Workspace, set[str]], None]] = []
        self._commit_hooks: list[Callable[[set[str]], None]] = []
        self._dirty: set[str] = set()
        self._refresh_interval = refresh_interval
        self._last_refresh = 0.0
        self._events_run: int | None = None
        self._run_lock = threading.Lock()
        self._batches = itertools.count(fastlane.next_batch(self.workspace._con))  # thread-safe in CPython
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.refreshed_at = 0.0
        #: Goes up after every write and refresh: a cache key for derived results.
        self.version = 0
        self._closed = False
        self._closing = False
        self._active_reads = 0
        self._busy: set[ReadView] = set()
        self._thread = threading.Thread(target=self._run, name="regulars-writer", daemon=True)
        self._thread.start()
        if fastlane.pending(self.workspace._con, limit=1):  # left by a crash: replay them first
            self.submit(self._drain_deferred)

    # -- reading --------------------------------------------------------------
    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called: background work should stop."""
        return self._closing

    @contextlib.contextmanager
    def read(self) -> Iterator[ReadView]:
        """Lend a read view for the duration of a request."""
        with self._pool_lock:
            while self._swapping and not self._closing:
                self._gate.wait()
            if self._closing:
                raise WorkspaceError("the server is shutting down")
            view = self._pool.pop() if self._pool else None
            self._active_reads += 1
        try:
            if view is None:
                view = ReadView(self.workspace, self.lake)
            view.sync_lake()
            with self._pool_lock:
                self._busy.add(view)
            yield view
        finally:
            with self._pool_lock:
                self._active_reads -= 1
                self._busy.discard(view)
                keep = (view is not None and not self._closing and not self._swapping
                        and len(self._pool) < self._readers_max)
                if keep:
                    self._pool.append(view)
                self._gate.notify_all()
            if view is not None and not keep:
                view.close()

    def private_view(self) -> ReadView:
        """A read view for a background thread of the caller's own (not pooled; close it when done,
        and before an exclusive write: see :meth:`on_reopen`)."""
        view = ReadView(self.workspace, self.lake)
        view.sync_lake()
        return view

    def warm(self, n: int | None = None) -> None:
        """Open *n* read views ahead of the first requests (each takes a few ms)."""
        views = [ReadView(self.workspace, self.lake) for _ in range(n or self._readers_max)]
        with self._pool_lock:
            self._pool.extend(views[: max(0, self._readers_max - len(self._pool))])

    # -- writing --------------------------------------------------------------
    def submit(self, fn: Callable[[Workspace], object], exclusive: bool = False) -> Future:
        """Queue *fn(workspace)* for the writer thread; return its future (see the class for *exclusive*)."""
        return self._enqueue(_Job(fn, Future(), exclusive=exclusive)).future

    def write(self, fn: Callable[[Workspace], object], timeout: float | None = 600, exclusive: bool = False) -> object:
        """Run *fn(workspace)* on the writer thread and return its result (or raise its error)."""
        return self.submit(fn, exclusive).result(timeout)

    def on_reopen(self, hook: Callable[[], None]) -> None:
        """Call *hook()* before an exclusive write: close any view of your own (it is made afresh later)."""
        self._reopen_hooks.append(hook)

    def write_transaction(self, fn: Callable[[object], object], timeout: float | None = 600) -> object:
        """Like :meth:`write`, with *fn(workspace)* inside one transaction."""
        def run(ws: Workspace):
            with ws.transaction():
                return fn(ws)
        return self.write(run, timeout)

    def post_events(self, events: list[dict], timeout: float | None = 60) -> EventsWrite:
        """Validate and durably write *events*; return when they are committed.

        Raises :class:`EventError` for the first invalid event (nothing is written).
        """
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        clean = [normalize_event(e, i, now) for i, e in enumerate(events)]
        if not clean:
            return EventsWrite()
        job = self._enqueue(_Job(None, Future(), clean))
        try:
            return job.future.result(FAST_LANE_AFTER)
        except FutureTimeout:
            if self._long_job and job.claim():
                self._done(1)
                return self._fast_write(clean)
        return job.future.result(timeout)

    def on_events(self, listener: Callable[[Workspace, set[str]], None]) -> None:
        """Call *listener(workspace, customer_ids)* on the writer thread after events commit."""
        self._listeners.append(listener)

    def on_commit(self, hook: Callable[[set[str]], None]) -> None:
        """Call *hook(customer_ids)* right after events commit, before the poster gets its answer.

        For cheap work only (dropping cached profiles), so a client reads its own writes.
        """
        self._commit_hooks.append(hook)

    def wait_idle(self, timeout: float = 30) -> bool:
        """Wait until every queued write and listener call has finished (for tests and benchmarks)."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 30) -> None:
        """Finish queued writes, wait for reads in progress (up to *timeout* s), then close the file."""
        if self._closed:
            return
        with self._pool_lock:
            self._closing = True
            self._gate.notify_all()
        self._jobs.put(_STOP)
        self._thread.join()
        with self._fast_lock:
            if self._fast_con is not None:
                self._fast_con.close()
                self._fast_con = None
        deadline = time.monotonic() + timeout
        while self._active_reads and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._active_reads:  # long reports still running: stop their queries, then wait for them to unwind
            with self._pool_lock:
                busy = list(self._busy)
            for view in busy:
                view._con.interrupt()
            deadline = time.monotonic() + 30
            while self._active_reads and time.monotonic() < deadline:
                time.sleep(0.05)
        self._closed = True
        with self._pool_lock:
            pool, self._pool = self._pool, []
        for view in pool:
            view.close()
        self.workspace.close()

    # -- the writer thread ----------------------------------------------------
    def _enqueue(self, job: _Job) -> _Job:
        if self._closed:
            raise WorkspaceError("the workspace is closed")
        with self._pending_lock:
            self._pending += 1
            self._idle.clear()
        self._jobs.put(job)
        return job

    def _done(self, n: int) -> None:
        with self._pending_lock:
            self._pending -= n
            if self._pending == 0 and not self._dirty:
                self._idle.set()

    def _run(self) -> None:
        carry: list = []
        while True:
            if carry:
                job = carry.pop(0)
            else:
                try:
                    job = self._jobs.get(timeout=self._refresh_interval if self._dirty else None)
                except queue.Empty:
                    self._refresh()
                    continue
            if job is _STOP:
                self._refresh()
                return
            if job.events is not None:
                batch = [job] if job.claim() else []  # an unclaimed job went the fast lane
                rows = len(job.events)
                while rows < 50_000:
                    try:
                        nxt = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is not _STOP and nxt.events is not None:
                        if nxt.claim():
                            batch.append(nxt)
                            rows += len(nxt.events)
                    else:
                        carry.append(nxt)
                        break
                if batch:
                    self._write_events(batch)
                    self._done(len(batch))
            else:
                self._run_job(job)
                self._done(1)
            if self._dirty and (self._jobs.empty() or time.monotonic() - self._last_refresh > self._refresh_interval):
                self._refresh()

    def _run_job(self, job: _Job) -> None:
        if job.exclusive:
            self._hold_reads()
        else:
            self._long_job = True
        try:
            result = job.fn(self.workspace)
        except BaseException as exc:  # handed to the caller
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
        finally:
            self._long_job = False
            self.version += 1
            if job.exclusive:
                with self._pool_lock:
                    self._swapping = False
                    self._gate.notify_all()

    def _hold_reads(self) -> None:
        """Before an exclusive write: no new reads, reads in progress finished, every cursor closed."""
        with self._pool_lock:
            self._swapping = True
            for patience in (30, 30):
                deadline = time.monotonic() + patience
                while self._active_reads and time.monotonic() < deadline:
                    self._gate.wait(0.1)
                if not self._active_reads:
                    break
                for view in list(self._busy):  # a long report: stop its query
                    view._con.interrupt()
            pool, self._pool = self._pool, []
        for view in pool:
            view.close()
        for hook in self._reopen_hooks:
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 - a hook failing must not block the write
                log.error("reopen hook %s failed: %s", getattr(hook, "__name__", hook), type(exc).__name__)
        with self._fast_lock:
            if self._fast_con is not None:
                self._fast_con.close()
                self._fast_con = None

    def _refresh(self) -> None:
        if not self._dirty:
            with self._pending_lock:
                if self._pending == 0:
                    self._idle.set()
            return
        ids, self._dirty = self._dirty, set()
        for listener in self._listeners:
            try:
                listener(self.workspace, ids)
            except Exception as exc:  # a derived table failing must not stop event writes
                log.error("refresh after events failed in %s: %s", getattr(listener, "__name__", listener),
                          type(exc).__name__)
                log.debug("refresh failure", exc_info=True)
        self._last_refresh = time.monotonic()
        self.refreshed_at = time.time()
        self.version += 1
        with self._pending_lock:
            if self._pending == 0 and not self._dirty:
                self._idle.set()

    def _rows(self, events: list[dict], batch: int, prefix: str = "api") -> list[dict]:
        return [{**ev, "_file": f"{prefix}#{batch}", "_row": i, "_seq": batch * 1_000_000 + i}
                for i, ev in enumerate(events, start=1)]

    def _write_events(self, jobs: list[_Job]) -> None:
        rows = []
        for job in jobs:
            job.seq = next(self._batches)
            rows += self._rows(job.events, job.seq)
        try:
            results = self._insert_events(self.workspace._con, rows, jobs)
        except BaseException as exc:
            for job in jobs:
                job.future.set_exception(exc)
            return
        committed = time.time()
        self.version += 1
        for job, res in zip(jobs, results):
            res.committed_at = committed
            job.future.set_result(res)

    def _fast_write(self, events: list[dict]) -> EventsWrite:
        """Append *events* on the fast lane (the writer is busy with a long job); see :mod:`regulars.data.fastlane`."""
        batch = next(self._batches)
        rows = self._rows(events, batch)
        with self._fast_lock:
            if self._fast_con is None:
                self._fast_con = self.workspace._con.cursor()
            run_id = self._run_id()
            out = fastlane.write(self._fast_con, rows, pa.Table.from_pylist(rows, schema=_ARROW), EVENT_COLUMNS, run_id)
        self.version += 1
        for hook in self._commit_hooks:
            try:
                hook(set(out["customers"]))
            except Exception as exc:  # noqa: BLE001 - the events are committed whatever a hook does
                log.error("commit hook %s failed: %s", getattr(hook, "__name__", hook), type(exc).__name__)
        if not self._drain_queued:  # one replay job at a time is enough: it takes every deferred event
            self._drain_queued = True
            self.submit(self._drain_deferred)
        return EventsWrite(accepted=out["accepted"], new=out["new"], duplicates=out["duplicates"],
                           suppressed=out["suppressed"], customers=out["customers"], run_id=run_id,
                           committed_at=time.time())

    def _drain_deferred(self, ws) -> int:
        """Replay fast-lane events through the normal path (links, new customers, merges, segments)."""
        self._drain_queued = False
        done = 0
        while deferred := fastlane.pending(ws._con):
            job = _Job(None, Future(), [normalize_event(ev, i) for i, (_s, ev) in enumerate(deferred)])
            job.seq = next(self._batches)
            self._insert_events(ws._con, self._rows(job.events, job.seq, "deferred"), [job],
                                deferred=[s for s, _ev in deferred])
            done += len(deferred)
        return done

    def _insert_events(self, con, rows: list[dict], jobs: list[_Job], deferred: list[int] | None = None) -> list[EventsWrite]:
        has = {c for c in IDENTIFIERS if any(r[c] for r in rows)}
        run_id = self._run_id()
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_rt_arrow", pa.Table.from_pylist(rows, schema=_ARROW))
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _rt AS SELECT * REPLACE (properties::JSON AS properties) FROM _rt_arrow"
            )
            con.unregister("_rt_arrow")
            suppressed = suppression.quarantine_events(con, "_rt", has, run_id)
            before = con.execute("SELECT count(*) FROM customers").fetchall()[0][0]
            resolved = identity.resolve(con, "_rt", has, run_id, "events posted to the API", False)
            identity.ensure_customers(con, "_rt", has & {"email", "phone"}, run_id)
            created = con.execute("SELECT count(*) FROM customers").fetchall()[0][0] - before
            # The same event twice in one batch: the later copy wins.
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _rt AS SELECT *, "
                "row_number() OVER (PARTITION BY event_id ORDER BY _seq DESC) = 1 AS _kept, "
                "NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = _rt.event_id) AS _new FROM _rt"
            )
            per_file = {
                f: (n, kept, cust)
                for f, n, kept, cust in con.execute(
                    "SELECT _file, count(*) FILTER (WHERE _kept AND _new), count(*), "
                    "list(DISTINCT customer_id ORDER BY customer_id) FILTER (WHERE customer_id IS NOT NULL) "
                    "FROM _rt GROUP BY _file"
                ).fetchall()
            }
            con.execute("DELETE FROM _rt WHERE NOT _kept")
            counts = upsert(con, "events", "_rt", EVENT_COLUMNS, run_id)
            if deferred is None:
                con.execute(
                    "UPDATE ingest_runs SET finished_at = now()::TIMESTAMP, rows_read = rows_read + ?, "
                    "rows_new = rows_new + ?, rows_updated = rows_updated + ?, rows_unchanged = rows_unchanged + ?, "
                    "rows_quarantined = rows_quarantined + ? WHERE run_id = ?",
                    [len(rows), counts.new, counts.updated, counts.unchanged, suppressed, run_id],
                )
            else:  # counted by the fast lane
                fastlane.forget(con, deferred)
            affected = {r[0] for r in con.execute("SELECT DISTINCT customer_id FROM _rt WHERE customer_id IS NOT NULL").fetchall()}
            affected |= {old for old, _new in resolved.merges}  # provisional customers merged away
            con.execute("DROP TABLE _rt")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        for hook in self._commit_hooks:
            try:
                hook(affected)
            except Exception as exc:  # noqa: BLE001 - the events are committed whatever a hook does
                log.error("commit hook %s failed: %s", getattr(hook, "__name__", hook), type(exc).__name__)
        self._dirty |= affected
        out = []
        for job in jobs:
            new, kept, customers = per_file.get(f"api#{job.seq}", (0, 0, []))
            out.append(EventsWrite(
                accepted=len(job.events), new=new, duplicates=kept - new, suppressed=len(job.events) - kept,
                customers=list(customers or []), customers_created=created if len(jobs) == 1 else 0, run_id=run_id,
            ))
        return out

    def _run_id(self) -> int:
        """One ``ingest_runs`` row (kind events, format api) per server start, counts kept up to date.

        Made in a transaction of its own (an append), so the writer and the fast lane share it.
        """
        with self._run_lock:
            if self._events_run is None:
                con = self.workspace._con.cursor()
                try:
                    con.execute("BEGIN TRANSACTION")
                    run_id = con.execute("SELECT nextval('ingest_run_ids')").fetchall()[0][0]
                    con.execute(
                        "INSERT INTO ingest_runs VALUES (?, 'events', 'api', '[\"POST /api/events\"]', now()::TIMESTAMP, "
                        "now()::TIMESTAMP, 0, 0, 0, 0, 0, '{\"source\": \"events posted to the API\"}')",
                        [run_id],
                    )
                    con.execute("COMMIT")
                finally:
                    con.close()
                self._events_run = run_id
        return self._events_run
