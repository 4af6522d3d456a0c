"""The server's hold on a workspace: concurrent reads, one writer, events written as they arrive.

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
import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

import ibis
import pyarrow as pa

from regulars.data import identity
from regulars.data.ingest.load import upsert
from regulars.data.schema import TABLES
from regulars.data.workspace import Workspace, WorkspaceError

log = logging.getLogger("regulars.realtime")

IDENTIFIERS = ("customer_id", "email", "phone", "anonymous_id")
TEXT_FIELDS = ("event_id", "customer_id", "anonymous_id", "session_id", "event_type", "page_url",
               "product_id", "search_query", "traffic_source")
EVENT_COLUMNS = [c for c in TABLES["events"].column_names if c != "_run_id"]
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EARLIEST = dt.datetime(1970, 1, 1)

_ARROW = pa.schema(
    [("_file", pa.string()), ("_row", pa.int64()), ("_seq", pa.int64()), ("email", pa.string()), ("phone", pa.string())]
    + [(c, pa.timestamp("us") if c == "occurred_at" else pa.string()) for c in EVENT_COLUMNS]
)


class EventError(ValueError):
    """An event is invalid; ``index`` is its position in the batch, ``field`` the field at fault."""

    def __init__(self, index: int, field_name: str | None, message: str):
        self.index, self.field = index, field_name
        where = f"event {index}" + (f", {field_name}" if field_name else "")
        super().__init__(f"{where}: {message}")


def _utc_naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _clean_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalize_event(event: dict, index: int = 0, now: dt.datetime | None = None) -> dict:
    """Check one event and bring it to the stored form (UTC time, cleaned identifiers, an id).

    Raises :class:`EventError` naming the field at fault.

    >>> e = normalize_event({"email": " Ann@Example.COM ", "event_type": "page_view",
    ...                      "occurred_at": dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))})
    >>> e["email"], e["occurred_at"], e["event_id"][:2]
    ('ann@example.com', datetime.datetime(2024, 1, 1, 10, 0), 'v-')
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out: dict = {}
    for name in TEXT_FIELDS + ("email", "phone"):
        v = event.get(name)
        if v is not None and not isinstance(v, str):
            v = str(v)
        v = v.strip() if v is not None else None
        if v and not _clean_text(v):
            raise EventError(index, name, "holds a NUL character or invalid Unicode")
        out[name] = v or None
    if not out["event_type"]:
        raise EventError(index, "event_type", "is required (e.g. page_view, add_to_cart, purchase)")
    email = (out.pop("email") or "").lower() or None
    if email is not None and not EMAIL_RE.match(email):
        raise EventError(index, "email", "is not an e-mail address")
    phone = out.pop("phone")
    if phone:
        phone = re.sub(r"[^0-9+]", "", str(phone))
        if len(re.sub(r"[^0-9]", "", phone)) < 6:
            raise EventError(index, "phone", "needs at least 6 digits")
    out["email"], out["phone"] = email, phone or None
    if not any(out[k] for k in IDENTIFIERS):
        raise EventError(index, None, "needs customer_id, email, phone or anonymous_id to know whose event it is")
    at = event.get("occurred_at")
    if at is None:
        at = now
    elif isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise EventError(index, "occurred_at", f"cannot read {at[:40]!r} as an ISO 8601 date/time") from None
    elif not isinstance(at, dt.datetime):
        raise EventError(index, "occurred_at", "must be an ISO 8601 date/time")
    try:
        at = _utc_naive(at)
    except (OverflowError, ValueError):
        raise EventError(index, "occurred_at", "is out of range") from None
    if at < EARLIEST or at > now + dt.timedelta(days=2):
        raise EventError(index, "occurred_at", "must be after 1970 and not more than 2 days in the future")
    out["occurred_at"] = at
    props = event.get("properties")
    if props is not None and not isinstance(props, dict):
        raise EventError(index, "properties", "must be a JSON object")
    if props:
        try:
            text = json.dumps(props, sort_keys=True, default=str, ensure_ascii=False, allow_nan=False)
        except ValueError:
            raise EventError(index, "properties", "numbers must be finite (no NaN or Infinity)") from None
        if not _clean_text(text) or len(text) > 100_000:
            raise EventError(index, "properties", "must be valid Unicode text without NUL, under 100 kB")
        out["properties"] = text
    else:
        out["properties"] = None
    if not out["event_id"]:
        content = json.dumps({k: out[k] for k in sorted(out) if k != "event_id"}, default=str, sort_keys=True)
        out["event_id"] = "v-" + hashlib.sha256(content.encode()).hexdigest()[:20]
    return out


@dataclass
class EventsWrite:
    """What one call to :meth:`SharedWorkspace.post_events` did."""

    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    customers: list[str] = field(default_factory=list)
    customers_created: int = 0
    run_id: int | None = None
    committed_at: float = 0.0

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "new": self.new, "duplicates": self.duplicates,
                "customers": self.customers, "customers_created": self.customers_created, "run_id": self.run_id}


class ReadView(Workspace):
    """A workspace view over a cursor of the server's connection (reads only)."""

    def __init__(self, parent: Workspace):  # noqa: D107 - no super().__init__: shares the parent's file
        self.path = parent.path
        self.read_only = True
        self.con = parent.con.cursor()
        self.ibis = ibis.duckdb.from_connection(self.con)

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


_STOP = object()


class SharedWorkspace:
    """One workspace shared by a server: pooled read views, a single writer thread.

    Parameters
    ----------
    path : path to the ``.duckdb`` file (created and migrated when needed)
    readers : how many read views to keep (more are made when all are busy)
    refresh_interval : seconds between listener calls while events keep arriving
    """

    def __init__(self, path, *, readers: int = 8, memory_limit: str | None = None, refresh_interval: float = 0.25):
        self.workspace = Workspace(path, memory_limit=memory_limit)
        self.path = self.workspace.path
        self._readers_max = readers
        self._pool: list[ReadView] = []
        self._pool_lock = threading.Lock()
        self._jobs: queue.Queue = queue.Queue()
        self._listeners: list[Callable[[Workspace, set[str]], None]] = []
        self._commit_hooks: list[Callable[[set[str]], None]] = []
        self._dirty: set[str] = set()
        self._refresh_interval = refresh_interval
        self._last_refresh = 0.0
        self._events_run: int | None = None
        self._seq = 0
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

    # -- reading --------------------------------------------------------------
    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called: background work should stop."""
        return self._closing

    @contextlib.contextmanager
    def read(self) -> Iterator[ReadView]:
        """Lend a read view for the duration of a request."""
        with self._pool_lock:
            if self._closing:
                raise WorkspaceError("the server is shutting down")
            view = self._pool.pop() if self._pool else None
            self._active_reads += 1
        try:
            if view is None:
                view = ReadView(self.workspace)
            with self._pool_lock:
                self._busy.add(view)
            yield view
        finally:
            with self._pool_lock:
                self._active_reads -= 1
                self._busy.discard(view)
                keep = view is not None and not self._closing and len(self._pool) < self._readers_max
                if keep:
                    self._pool.append(view)
            if view is not None and not keep:
                view.close()

    def warm(self, n: int | None = None) -> None:
        """Open *n* read views ahead of the first requests (each takes a few ms)."""
        views = [ReadView(self.workspace) for _ in range(n or self._readers_max)]
        with self._pool_lock:
            self._pool.extend(views[: max(0, self._readers_max - len(self._pool))])

    # -- writing --------------------------------------------------------------
    def submit(self, fn: Callable[[Workspace], object]) -> Future:
        """Queue *fn(workspace)* for the writer thread; return its future."""
        return self._enqueue(_Job(fn, Future()))

    def write(self, fn: Callable[[Workspace], object], timeout: float | None = 600) -> object:
        """Run *fn(workspace)* on the writer thread and return its result (or raise its error)."""
        return self.submit(fn).result(timeout)

    def write_transaction(self, fn: Callable[[object], object], timeout: float | None = 600) -> object:
        """Like :meth:`write`, with *fn(con)* inside one transaction."""
        def run(ws: Workspace):
            with ws.transaction() as con:
                return fn(con)
        return self.write(run, timeout)

    def post_events(self, events: list[dict], timeout: float | None = 60) -> EventsWrite:
        """Validate and durably write *events*; return when they are committed.

        Raises :class:`EventError` for the first invalid event (nothing is written).
        """
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        clean = [normalize_event(e, i, now) for i, e in enumerate(events)]
        if not clean:
            return EventsWrite()
        return self._enqueue(_Job(None, Future(), clean)).result(timeout)

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
        self._jobs.put(_STOP)
        self._thread.join()
        deadline = time.monotonic() + timeout
        while self._active_reads and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._active_reads:  # long reports still running: stop their queries, then wait for them to unwind
            with self._pool_lock:
                busy = list(self._busy)
            for view in busy:
                view.con.interrupt()
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
    def _enqueue(self, job: _Job) -> Future:
        if self._closed:
            raise WorkspaceError("the workspace is closed")
        with self._pending_lock:
            self._pending += 1
            self._idle.clear()
        self._jobs.put(job)
        return job.future

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
                batch = [job]
                rows = len(job.events)
                while rows < 50_000:
                    try:
                        nxt = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is not _STOP and nxt.events is not None:
                        batch.append(nxt)
                        rows += len(nxt.events)
                    else:
                        carry.append(nxt)
                        break
                self._write_events(batch)
                self._done(len(batch))
            else:
                try:
                    result = job.fn(self.workspace)
                except BaseException as exc:  # handed to the caller
                    self.version += 1
                    job.future.set_exception(exc)
                else:
                    self.version += 1
                    job.future.set_result(result)
                self._done(1)
            if self._dirty and (self._jobs.empty() or time.monotonic() - self._last_refresh > self._refresh_interval):
                self._refresh()

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

    def _write_events(self, jobs: list[_Job]) -> None:
        con = self.workspace.con
        rows = []
        for job in jobs:
            self._seq += 1
            for i, ev in enumerate(job.events, start=1):
                rows.append({**ev, "_file": f"api#{self._seq}", "_row": i, "_seq": self._seq * 1_000_000 + i})
            job.seq = self._seq
        try:
            results = self._insert_events(con, rows, jobs)
        except BaseException as exc:
            for job in jobs:
                job.future.set_exception(exc)
            return
        committed = time.time()
        self.version += 1
        for job, res in zip(jobs, results):
            res.committed_at = committed
            job.future.set_result(res)

    def _insert_events(self, con, rows: list[dict], jobs: list[_Job]) -> list[EventsWrite]:
        has = {c for c in IDENTIFIERS if any(r[c] for r in rows)}
        con.execute("BEGIN TRANSACTION")
        try:
            run_id = self._run_id(con)
            con.register("_rt_arrow", pa.Table.from_pylist(rows, schema=_ARROW))
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _rt AS SELECT * REPLACE (properties::JSON AS properties) FROM _rt_arrow"
            )
            con.unregister("_rt_arrow")
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
                f: (n, cust)
                for f, n, cust in con.execute(
                    "SELECT _file, count(*) FILTER (WHERE _kept AND _new), "
                    "list(DISTINCT customer_id ORDER BY customer_id) FILTER (WHERE customer_id IS NOT NULL) "
                    "FROM _rt GROUP BY _file"
                ).fetchall()
            }
            con.execute("DELETE FROM _rt WHERE NOT _kept")
            counts = upsert(con, "events", "_rt", EVENT_COLUMNS, run_id)
            con.execute(
                "UPDATE ingest_runs SET finished_at = now()::TIMESTAMP, rows_read = rows_read + ?, "
                "rows_new = rows_new + ?, rows_updated = rows_updated + ?, rows_unchanged = rows_unchanged + ? "
                "WHERE run_id = ?",
                [len(rows), counts.new, counts.updated, counts.unchanged, run_id],
            )
            affected = {r[0] for r in con.execute("SELECT DISTINCT customer_id FROM _rt WHERE customer_id IS NOT NULL").fetchall()}
            affected |= {old for old, _new in resolved.merges}  # provisional customers merged away
            con.execute("DROP TABLE _rt")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            self._events_run = None if self._events_run_fresh else self._events_run
            raise
        self._events_run_fresh = False
        for hook in self._commit_hooks:
            try:
                hook(affected)
            except Exception as exc:  # noqa: BLE001 - the events are committed whatever a hook does
                log.error("commit hook %s failed: %s", getattr(hook, "__name__", hook), type(exc).__name__)
        self._dirty |= affected
        out = []
        for job in jobs:
            new, customers = per_file.get(f"api#{job.seq}", (0, []))
            out.append(EventsWrite(
                accepted=len(job.events), new=new, duplicates=len(job.events) - new,
                customers=list(customers or []), customers_created=created if len(jobs) == 1 else 0, run_id=run_id,
            ))
        return out

    _events_run_fresh = False

    def _run_id(self, con) -> int:
        """One ``ingest_runs`` row (kind events, format api) per server start, counts kept up to date."""
        if self._events_run is None:
            run_id = con.execute("SELECT nextval('ingest_run_ids')").fetchall()[0][0]
            con.execute(
                "INSERT INTO ingest_runs VALUES (?, 'events', 'api', '[\"POST /api/events\"]', now()::TIMESTAMP, "
                "now()::TIMESTAMP, 0, 0, 0, 0, 0, '{\"source\": \"events posted to the API\"}')",
                [run_id],
            )
            self._events_run = run_id
            self._events_run_fresh = True
        return self._events_run
