"""The alert hook: other code subscribes to new anomaly flags (webhooks and e-mails come later).

The anomaly job calls :func:`publish` with the flags that are new since its previous run; every
subscriber is called with that list. A subscriber that fails does not stop the others: its error
is logged (without the flags' contents) and returned.

Examples
--------
>>> seen = []
>>> def remember(flags):
...     seen.extend(f.kind for f in flags)
>>> _ = subscribe(remember)
>>> from regulars.anomalies.detect import Flag
>>> publish([Flag("order", "O1", "C1", "large_order", 0.9, "40 units")])
[]
>>> seen, unsubscribe(remember)
(['large_order'], True)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("regulars.anomalies")

_lock = threading.Lock()
_subscribers: list[Callable] = []


def subscribe(fn: Callable[[list], None]) -> Callable[[list], None]:
    """Call *fn(flags)* with every batch of new flags; usable as a decorator. Returns *fn*."""
    with _lock:
        if fn not in _subscribers:
            _subscribers.append(fn)
    return fn


def unsubscribe(fn: Callable[[list], None]) -> bool:
    """Stop calling *fn*; True if it was subscribed."""
    with _lock:
        if fn in _subscribers:
            _subscribers.remove(fn)
            return True
    return False


def subscribers() -> list[Callable]:
    with _lock:
        return list(_subscribers)


def publish(flags: Sequence) -> list[tuple[Callable, Exception]]:
    """Give *flags* to every subscriber (nothing when empty); return the subscribers that failed."""
    failed = []
    if not flags:
        return failed
    for fn in subscribers():
        try:
            fn(list(flags))
        except Exception as exc:  # noqa: BLE001 - one broken subscriber must not silence the others
            log.warning("anomaly subscriber %s failed: %s", getattr(fn, "__name__", fn), type(exc).__name__)
            failed.append((fn, exc))
    return failed
