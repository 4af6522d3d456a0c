"""Times in the shop's time zone, the same way in the terminal, the API and the dashboard.

Timestamps are stored as naive UTC (a moment); dates (``2024-05-01``) are days and stay as they
are. Every interface shows a moment in the shop's time zone (``regulars settings timezone``):

* the API writes it as ISO 8601 with the shop's UTC offset, ``2024-05-01T14:30:00+02:00``
  (``+00:00`` while the shop's zone is UTC), so a program gets both the local time and the
  instant (:func:`with_offsets`, applied to every JSON response);
* the terminal and the dashboard write ``2024-05-01 14:30`` and name the zone once (the CLI in
  a note, the dashboard in the page footer's settings) (:func:`shown`).

:data:`SHOP_TIMEZONE` holds the zone of the request being served (set by the server's
middleware), so renderers need not pass it around.

Examples
--------
>>> iso("2024-05-01T12:30:00", "Europe/Paris")
'2024-05-01T14:30:00+02:00'
>>> iso(dt.datetime(2024, 1, 1, 9, 0), "UTC")
'2024-01-01T09:00:00+00:00'
>>> shown("2024-05-01 12:30:00", "America/New_York"), shown("2024-05-01", "America/New_York")
('2024-05-01 08:30', '2024-05-01')
>>> with_offsets({"at": "2024-05-01T12:30:00", "day": "2024-05-01", "n": 3, "text": "hello"}, "Europe/Paris")
{'at': '2024-05-01T14:30:00+02:00', 'day': '2024-05-01', 'n': 3, 'text': 'hello'}
"""

from __future__ import annotations

import datetime as dt
import re
from contextvars import ContextVar
from functools import lru_cache

__all__ = ["SHOP_TIMEZONE", "iso", "local", "shown", "with_offsets"]

#: The shop's time zone for the request being served (None: UTC).
SHOP_TIMEZONE: ContextVar[str | None] = ContextVar("regulars_timezone", default=None)

#: A stored moment written as text: a date, then a time, and no offset.
_NAIVE_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")


@lru_cache(maxsize=64)
def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def local(value, zone: str | None) -> dt.datetime | None:
    """A stored moment (naive UTC datetime or ISO text with a time) in *zone*; None for anything else."""
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str) and _NAIVE_STAMP.match(value):
        stamp = dt.datetime.fromisoformat(value)
    elif hasattr(value, "to_pydatetime") and not isinstance(value, dt.date):  # pandas Timestamp
        stamp = value.to_pydatetime()
    else:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(_zone(zone or "UTC"))


def iso(value, zone: str | None) -> str | object:
    """ISO 8601 with the offset of *zone* for a stored moment; anything else unchanged."""
    stamp = local(value, zone)
    return value if stamp is None else stamp.isoformat()


def shown(value, zone: str | None) -> str:
    """``YYYY-MM-DD HH:MM`` in *zone* for a stored moment; a date or other value as text."""
    if value is None or value == "":
        return ""
    stamp = local(value, zone)
    if stamp is not None:
        return stamp.strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def with_offsets(content, zone: str | None):
    """*content* (JSON-ready dicts, lists and scalars) with every stored moment as :func:`iso` in *zone*."""
    if isinstance(content, dict):
        return {k: with_offsets(v, zone) for k, v in content.items()}
    if isinstance(content, list):
        return [with_offsets(v, zone) for v in content]
    if isinstance(content, (str, dt.datetime)):
        return iso(content, zone)
    return content
