"""What may reach a customer, and when: consent per channel, frequency caps, quiet hours.

>>> import datetime as dt
>>> consent_problem("sms", {"has_phone": True, "accepts_sms": None})
'no SMS consent (never given)'
>>> caps = Caps(per_day=1, per_week=3)
>>> caps.problem([dt.datetime(2025, 1, 6, 9)], dt.datetime(2025, 1, 6, 15))
'frequency cap: 1 message(s) in the last 24 hours (limit 1)'
>>> after_quiet_hours(dt.datetime(2025, 1, 6, 22, 30), (dt.time(21), dt.time(8)), "UTC")
datetime.datetime(2025, 1, 7, 8, 0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from regulars.activation.schedule import local, to_utc

_CONSENT = {"email": ("has_email", "accepts_email", "e-mail address", "e-mail"),
            "sms": ("has_phone", "accepts_sms", "phone number", "SMS")}


def consent_problem(channel: str, customer: dict) -> str | None:
    """Why *customer* may not get a message on *channel* (None when they may).

    E-mail and SMS consent must have been given (``True``); never stated (``None``) is not consent.
    Audience and webhook steps (ad platforms, e-mail service providers) need the customer not to have
    opted out of personalised marketing.
    """
    if channel in ("audience", "webhook"):  # ad audiences, ESPs: personalised marketing (unset = not opted out)
        return "opted out of personalised marketing" if customer.get("accepts_personalization") is False else None
    if channel not in _CONSENT:
        return None
    has, flag, what, label = _CONSENT[channel]
    if not customer.get(has):
        return f"no {what}"
    value = customer.get(flag)
    if value is None:
        return f"no {label} consent (never given)"
    if not value:
        return f"no {label} consent (opted out)"
    return None


@dataclass(frozen=True)
class Caps:
    """At most *per_day* messages in 24 hours and *per_week* in 7 days, across journeys (0: no cap)."""

    per_day: int = 1
    per_week: int = 3

    def problem(self, recent: list[dt.datetime], now: dt.datetime) -> str | None:
        ages = [now - t for t in recent if t is not None]
        day = sum(1 for a in ages if a < dt.timedelta(hours=24))
        week = sum(1 for a in ages if a < dt.timedelta(days=7))
        if self.per_day and day >= self.per_day:
            return f"frequency cap: {day} message(s) in the last 24 hours (limit {self.per_day})"
        if self.per_week and week >= self.per_week:
            return f"frequency cap: {week} message(s) in the last 7 days (limit {self.per_week})"
        return None


def in_quiet_hours(now_utc: dt.datetime, quiet: tuple[dt.time, dt.time] | None, time_zone: str) -> bool:
    if not quiet:
        return False
    start, end = quiet
    t = local(now_utc, time_zone).time().replace(tzinfo=None)
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def after_quiet_hours(now_utc: dt.datetime, quiet: tuple[dt.time, dt.time] | None, time_zone: str) -> dt.datetime:
    """*now_utc* itself outside quiet hours, else the (naive UTC) moment they end."""
    if not in_quiet_hours(now_utc, quiet, time_zone):
        return now_utc
    start, end = quiet
    here = local(now_utc, time_zone).replace(tzinfo=None)
    day = here.date()
    if start > end and here.time() >= start:
        day = day + dt.timedelta(days=1)
    return to_utc(dt.datetime.combine(day, end), time_zone)
