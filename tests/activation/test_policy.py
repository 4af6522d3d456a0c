"""Consent per channel, frequency caps and quiet hours as plain rules."""

from __future__ import annotations

import datetime as dt

from regulars.activation.policy import Caps, after_quiet_hours, consent_problem, in_quiet_hours


def test_consent_per_channel():
    person = {"has_email": True, "has_phone": True, "accepts_email": True, "accepts_sms": None,
              "accepts_personalization": None}
    assert consent_problem("email", person) is None
    assert consent_problem("sms", person) == "no SMS consent (never given)"
    assert consent_problem("audience", person) is None                     # not opted out
    assert consent_problem("webhook", {**person, "accepts_personalization": False}) == \
        "opted out of personalised marketing"
    assert consent_problem("email", {**person, "accepts_email": False}) == "no e-mail consent (opted out)"
    assert consent_problem("email", {**person, "has_email": False}) == "no e-mail address"


def test_caps_count_the_last_24_hours_and_7_days():
    now = dt.datetime(2025, 3, 3, 12)
    caps = Caps(per_day=2, per_week=3)
    assert caps.problem([now - dt.timedelta(hours=30)], now) is None
    assert "24 hours" in caps.problem([now - dt.timedelta(hours=1), now - dt.timedelta(hours=23)], now)
    week = [now - dt.timedelta(days=d) for d in (2, 4, 6)]
    assert "7 days" in caps.problem(week, now)
    assert Caps(0, 0).problem(week * 5, now) is None


def test_quiet_hours_across_midnight_and_dst():
    quiet = (dt.time(21), dt.time(8))
    assert in_quiet_hours(dt.datetime(2025, 3, 3, 20, 30), quiet, "Europe/Paris")       # 21:30 Paris
    assert not in_quiet_hours(dt.datetime(2025, 3, 3, 19, 59), quiet, "Europe/Paris")
    # the night the clocks go forward (30 March 2025): 08:00 in Paris is 06:00 UTC
    assert after_quiet_hours(dt.datetime(2025, 3, 29, 23, 0), quiet, "Europe/Paris") == dt.datetime(2025, 3, 30, 6, 0)
    assert after_quiet_hours(dt.datetime(2025, 3, 3, 12, 0), quiet, "Europe/Paris") == dt.datetime(2025, 3, 3, 12, 0)
    assert after_quiet_hours(dt.datetime(2025, 3, 3, 23, 0), None, "UTC") == dt.datetime(2025, 3, 3, 23, 0)
