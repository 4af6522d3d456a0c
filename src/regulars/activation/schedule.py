"""Cron schedules in the shop's time zone (croniter), computed in naive UTC.

>>> import datetime as dt
>>> next_run("0 7 * * 1", dt.datetime(2025, 1, 1, 12, 0), "Europe/Paris")   # Monday 6 Jan, 07:00 Paris
datetime.datetime(2025, 1, 6, 6, 0)
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from croniter import croniter


class ScheduleError(ValueError):
    """A cron expression cannot be read."""


def check_cron(expr: str, name: str = "cron") -> None:
    if not croniter.is_valid(str(expr)):
        raise ScheduleError(f"{name}: {expr!r} is not a cron expression (minute hour day month weekday, "
                            "e.g. \"0 7 * * 1\" for Mondays at 07:00)")


def next_run(expr: str, after_utc: dt.datetime, time_zone: str = "UTC") -> dt.datetime:
    """The first time strictly after *after_utc* (naive UTC) that *expr* fires in *time_zone*."""
    check_cron(expr)
    tz = zoneinfo.ZoneInfo(time_zone or "UTC")
    local = after_utc.replace(tzinfo=dt.UTC).astimezone(tz)
    nxt = croniter(expr, local).get_next(dt.datetime)
    return nxt.astimezone(dt.UTC).replace(tzinfo=None)


def local(utc: dt.datetime, time_zone: str) -> dt.datetime:
    """Naive UTC -> aware local time."""
    return utc.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(time_zone or "UTC"))


def to_utc(local_dt: dt.datetime, time_zone: str) -> dt.datetime:
    """Naive local time in *time_zone* -> naive UTC."""
    aware = local_dt.replace(tzinfo=zoneinfo.ZoneInfo(time_zone or "UTC"))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)
