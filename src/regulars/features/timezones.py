"""The shop's local time, on any engine: UTC timestamps shifted by the zone's offset at that moment.

Timestamps are stored in naive UTC. Reports group days, weeks and months in the shop's time zone
(:mod:`regulars.data.shop`), so an order at 23:30 in Paris falls on that day, not the next one in
UTC. :func:`local_time` builds the shift as a plain ``CASE`` over the zone's UTC-offset changes
(daylight saving) between two dates, found with Python's :mod:`zoneinfo` when the expression is
built: the same expression runs on DuckDB and on Spark, which have no common time-zone function.

Examples
--------
>>> import ibis, datetime as dt
>>> t = ibis.memtable({"at": [dt.datetime(2024, 7, 4, 22, 30), dt.datetime(2024, 1, 4, 23, 30)]})
>>> e = t.select(day=local_time(t.at, "Europe/Paris", dt.date(2024, 1, 1), dt.date(2024, 12, 31)).cast("date"))
>>> [str(d)[:10] for d in e.execute()["day"]]
['2024-07-05', '2024-01-05']
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import ibis
import ibis.expr.types as ir

__all__ = ["HORIZON_YEARS", "is_utc", "local_time", "offsets"]

#: Years after today up to which :func:`local_time` follows the zone's daylight-saving changes.
HORIZON_YEARS = 5


def is_utc(timezone: str | None) -> bool:
    return timezone is None or timezone.upper() in ("UTC", "Z", "GMT", "ETC/UTC")


@functools.lru_cache(maxsize=64)
def offsets(timezone: str, start: dt.date, end: dt.date) -> tuple[tuple[dt.datetime | None, int], ...]:
    """The zone's UTC offsets (seconds) between *start* and *end* (a year of margin on each side):
    ``((None, first offset), (utc moment it changes, new offset), ...)``."""
    zone = zoneinfo.ZoneInfo(timezone)
    lo = dt.datetime(start.year - 1, 1, 1, tzinfo=dt.UTC)
    hi = dt.datetime(end.year + 2, 1, 1, tzinfo=dt.UTC)

    def off(moment: dt.datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds())

    out: list[tuple[dt.datetime | None, int]] = [(None, off(lo))]
    day, current = lo, off(lo)
    while day < hi:
        following = day + dt.timedelta(days=1)
        if off(following) != current:
            t = day  # the change is within this day: find its quarter hour
            while off(t) == current:
                t += dt.timedelta(minutes=15)
            current = off(t)
            out.append((t.replace(tzinfo=None), current))
        day = following
    return tuple(out)


def local_time(ts: ir.TimestampValue, timezone: str | None, start: dt.date, end: dt.date) -> ir.TimestampValue:
    """*ts* (naive UTC) as naive local time in *timezone*, exact for moments between *start* and
    *end* (and a year around them); UTC (or ``None``) returns *ts* unchanged.

    *end* is taken no later than :data:`HORIZON_YEARS` after today: nothing a shop records happens
    that far ahead, and a report asked for the year 2519 would otherwise build one ``CASE`` branch
    per daylight-saving change for five centuries (seconds to minutes of planning). Later moments
    get the last offset in force."""
    if is_utc(timezone):
        return ts
    end = min(end, dt.date(dt.date.today().year + HORIZON_YEARS, 12, 31))
    start = min(start, end)
    changes = offsets(timezone, start, end)
    first = changes[0][1]
    if len(changes) == 1:
        return ts + ibis.interval(seconds=first)
    cases = [(ts >= ibis.timestamp(moment), ts + ibis.interval(seconds=secs)) for moment, secs in reversed(changes[1:])]
    return ibis.cases(*cases, else_=ts + ibis.interval(seconds=first))
