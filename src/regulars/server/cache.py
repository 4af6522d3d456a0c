"""A small cache of whole-shop report results (KPIs, cohorts, funnel, segments, personas).

Those reports take from a few hundred milliseconds to tens of seconds on a
large shop (building the SQL, then scanning every event), and a page and its
JSON route ask for the same result. So:

- a result computed at the workspace's current write counter
  (:attr:`~regulars.data.realtime.SharedWorkspace.version`) is fresh;
- after writes (events streaming in) the last result is still served at once,
  and recomputed in the background (at most every ``min_interval`` seconds per
  report); every result carries ``computed_at``;
- only a report never computed makes its first caller wait, and concurrent
  callers of the same report wait for that one computation;
- :meth:`ReportCache.clear` drops results: everything after uploads and
  segment refreshes; after an erasure, the results that list customers
  (predictions, segment members) — an erased customer must disappear at once,
  while aggregates are simply recomputed in the background.

>>> class Shared:
...     version = 1
...     closing = False
>>> cache = ReportCache(Shared())
>>> calls = []
>>> cache.get(("kpis",), lambda ws: calls.append(ws) or {"n": 42}, "ws")["n"], cache.get(("kpis",), lambda ws: {}, "ws")["n"], len(calls)
(42, 42, 1)
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

log = logging.getLogger("regulars.server")


@dataclass
class _Entry:
    value: object
    version: int
    computed_at: float
    epoch: int


class ReportCache:
    def __init__(self, shared, min_interval: float = 30.0, maxsize: int = 128):
        self._shared = shared
        self._min_interval = min_interval
        self._max = maxsize
        self._items: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._refreshing: set = set()
        self._epoch = 0

    def _key_lock(self, key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _fresh_entry(self, key) -> _Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None and entry.epoch == self._epoch:
                self._items.move_to_end(key)
                return entry
        return None

    def get(self, key: Hashable, compute: Callable[[object], object], ws) -> object:
        """The cached result for *key*, computing ``compute(ws)`` when there is none."""
        entry = self._fresh_entry(key)
        if entry is None:
            with self._key_lock(key):
                entry = self._fresh_entry(key)  # computed by another caller meanwhile?
                if entry is None:
                    return self._compute(key, compute, ws)
        if entry.version != self._shared.version and time.monotonic() - entry.computed_at >= self._min_interval:
            with self._lock:
                start = key not in self._refreshing
                self._refreshing.add(key)
            if start:
                threading.Thread(target=self._background, args=(key, compute), daemon=True,
                                 name="regulars-cache").start()
        return entry.value

    def _compute(self, key, compute, ws):
        version, epoch = self._shared.version, self._epoch
        value = compute(ws)
        if isinstance(value, dict):
            value = {**value, "computed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")}
        with self._lock:
            if epoch == self._epoch:
                self._items[key] = _Entry(value, version, time.monotonic(), epoch)
                self._items.move_to_end(key)
                while len(self._items) > self._max:
                    self._items.popitem(last=False)
        return value

    def _background(self, key, compute) -> None:
        try:
            if self._shared.closing:
                return
            with self._key_lock(key), self._shared.read() as ws:
                self._compute(key, compute, ws)
        except Exception as exc:  # noqa: BLE001 - the last good result stays; the next revalidation retries
            log.warning("background refresh of %s failed: %s", key[0] if isinstance(key, tuple) else key,
                        type(exc).__name__)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def clear(self, only: tuple[str, ...] | None = None) -> None:
        """Forget every result (after an upload or a segment refresh), or those whose key starts with *only*."""
        with self._lock:
            if only is None:
                self._epoch += 1
                self._items.clear()
                return
            for key in [k for k in self._items if isinstance(k, tuple) and k and k[0] in only]:
                del self._items[key]
