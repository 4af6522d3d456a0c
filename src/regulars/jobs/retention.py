"""Retention limits: raw web events older than N months are aggregated per day, then deleted; logged.

``retention(ws, months=None, apply=True)`` is what ``regulars retention --apply`` runs, and what
the server runs once a day (:mod:`regulars.server.schedule`) when the privacy setting
``event_retention_months`` is set. Events before the first day of the month N months ago are
counted per day, customer, anonymous id, event type and traffic source into ``event_daily`` and
deleted in the same transaction (a count check refuses the run if the two differ); each run is
recorded in ``retention_runs``.

After a run, analyses that need single events (sessions, funnels, paths, a customer's last visit)
only see the kept months; the daily counts remain for volume over time.
"""

from __future__ import annotations

import datetime as dt
import time

from regulars.data import privacy_store
from regulars.privacy.settings import validate


def cutoff_for(months: int, today: dt.date | None = None) -> dt.datetime:
    """The first day of the month *months* months before *today*'s month.

    >>> cutoff_for(13, dt.date(2026, 12, 7))
    datetime.datetime(2025, 11, 1, 0, 0)
    """
    today = today or dt.datetime.now(dt.UTC).date()
    index = today.year * 12 + (today.month - 1) - months
    return dt.datetime(index // 12, index % 12 + 1, 1)


def retention(ws, months: int | None = None, apply: bool = True, today: dt.date | None = None) -> dict:
    """Apply (or, with ``apply=False``, preview) the retention limit; *months* defaults to the setting."""
    started = time.perf_counter()
    months = months if months is not None else privacy_store.get(ws, "event_retention_months")
    if months is None:
        return {"applied": False, "reason": "no retention limit set: `regulars privacy set event_retention_months N`"}
    months = validate("event_retention_months", months)
    cutoff = cutoff_for(months, today)
    if not apply:
        preview = privacy_store.retention_preview(ws, cutoff)
        return {"applied": False, "cutoff": cutoff, "months": months, **preview}
    return {"applied": True, **privacy_store.apply_retention(ws, cutoff, months, started)}
