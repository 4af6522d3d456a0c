"""Activation settings a shop edits (dashboard Settings page, ``regulars activation settings``, API):
SMTP, time zone, quiet hours, frequency caps, report schedule and recipients, alert thresholds.

They are stored in the workspace (:func:`regulars.data.activation_store.read_settings`).

>>> clean = validate({"quiet_hours": "21:00-08:00", "cap_per_week": "3"})
>>> clean["cap_per_week"], quiet_hours(clean["quiet_hours"])
(3, (datetime.time(21, 0), datetime.time(8, 0)))
>>> validate({"time_zone": "Mars/Olympus"})
Traceback (most recent call last):
...
regulars.activation.settings.SettingsError: time_zone: unknown time zone 'Mars/Olympus'; use a name such as Europe/Paris
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

#: name -> (default, kind, description)
SETTINGS: dict[str, tuple[object, str, str]] = {
    "time_zone": ("UTC", "tz", "the shop's time zone (quiet hours, birthdays, report schedules; the same setting as "
                             "`regulars settings timezone`), e.g. Europe/Paris"),
    "quiet_hours": ("21:00-08:00", "hours", "no e-mail or SMS between these local times (empty: none)"),
    "cap_per_day": (2, "int", "at most this many e-mails/SMS to one customer per day, across journeys (0: no cap)"),
    "cap_per_week": (5, "int", "at most this many e-mails/SMS to one customer in 7 days, across journeys (0: no cap)"),
    "max_lateness_hours": (12, "int", "a step this many hours past due is skipped rather than sent late"),
    "smtp_host": ("", "str", "mail server host (empty: e-mail steps wait, then are skipped as too late)"),
    "smtp_port": (25, "int", "mail server port (587 with STARTTLS, 465 with SSL)"),
    "smtp_security": ("none", "choice:none|starttls|ssl", "none, starttls or ssl"),
    "smtp_user": ("", "str", "mail server user name (empty: no login)"),
    "smtp_password": ("", "secret", "mail server password (stored in the workspace; never shown back)"),
    "mail_from": ("", "email", "sender address of journey e-mails and reports, e.g. hello@myshop.com"),
    "report_recipients": ("", "emails", "who gets the Monday report and alerts by e-mail (comma-separated)"),
    "report_folder": ("reports", "str", "folder for report files and scheduled exports (relative to the workspace)"),
    "monday_report_cron": ("0 7 * * 1", "cron", "when the weekly report goes out, cron syntax in shop time"),
    "alerts_cron": ("0 * * * *", "cron", "how often alerts are checked, cron syntax in shop time"),
    "alert_revenue_below_forecast": (True, "bool", "alert when the last 7 days' revenue is below the forecast's lower bound"),
    "alert_churn_share_points": (5.0, "float", "alert when the high-churn-risk share rises by this many points (0: off)"),
    "alert_traffic_drop_pct": (30.0, "float", "alert when sessions of the last 7 days fall this many % below the 7 before (0: off)"),
    "alert_conversion_drop_pct": (30.0, "float", "alert when conversion falls this many % (relative) week on week (0: off)"),
    "alert_quarantine_rows": (100, "int", "alert when loads of the last 24 hours quarantined more rows than this (0: off)"),
    "alert_failed_jobs": (True, "bool", "alert when a scheduled job failed"),
    "churn_webhook_threshold": (0.5, "float", "churn risk that fires churn_risk.crossed webhooks (0 to 1)"),
    "webhook_max_attempts": (8, "int", "attempts before a webhook delivery goes to the dead-letter list"),
    "webhook_backoff_seconds": (30, "int", "wait before the first retry; doubles after each failure (max 6 hours)"),
    "runner_interval_seconds": (30, "int", "how often the runner inside `regulars serve` wakes up"),
}
SECRET = {"smtp_password"}
_HOURS = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message says which and what is expected."""


def defaults() -> dict[str, object]:
    return {k: v[0] for k, v in SETTINGS.items()}


def merged(stored: dict[str, object]) -> dict[str, object]:
    """Stored values over the defaults (unknown stored names are ignored)."""
    return {**defaults(), **{k: v for k, v in stored.items() if k in SETTINGS}}


def public(values: dict[str, object]) -> dict[str, object]:
    """Settings safe to show: secrets replaced by whether they are set."""
    return {k: (bool(v) if k in SECRET else v) for k, v in values.items()}


def quiet_hours(text: str) -> tuple[dt.time, dt.time] | None:
    if not text or not str(text).strip():
        return None
    m = _HOURS.match(str(text))
    if not m:
        raise SettingsError(f"quiet_hours: write a range such as 21:00-08:00, not {text!r}")
    return dt.time.fromisoformat(m.group(1).zfill(5)), dt.time.fromisoformat(m.group(2).zfill(5))


def _one(name: str, value: object) -> object:
    default, kind, _ = SETTINGS[name]
    text = "" if value is None else str(value).strip()
    try:
        if kind == "int":
            out = int(float(text))
            if out < 0:
                raise ValueError
            return out
        if kind == "float":
            out = float(text)
            if out < 0 or out != out:
                raise ValueError
            return out
    except ValueError:
        raise SettingsError(f"{name}: expected a number of 0 or more, not {text!r}") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{name}: expected yes or no, not {text!r}")
    if kind == "tz":
        try:
            zoneinfo.ZoneInfo(text or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"{name}: unknown time zone {text!r}; use a name such as Europe/Paris") from None
        return text or "UTC"
    if kind == "hours":
        quiet_hours(text)
        return text
    if kind == "cron":
        from regulars.activation.schedule import check_cron

        check_cron(text, name)
        return text
    if kind == "email":
        if text and not _EMAIL.match(text):
            raise SettingsError(f"{name}: {text!r} is not an e-mail address")
        return text
    if kind == "emails":
        parts = [p.strip() for p in text.split(",") if p.strip()]
        bad = [p for p in parts if not _EMAIL.match(p)]
        if bad:
            raise SettingsError(f"{name}: {bad[0]!r} is not an e-mail address (separate addresses with commas)")
        return ", ".join(parts)
    if kind.startswith("choice:"):
        options = kind.split(":", 1)[1].split("|")
        if text not in options:
            raise SettingsError(f"{name}: use one of {', '.join(options)}")
        return text
    if len(text) > 500:
        raise SettingsError(f"{name}: at most 500 characters")
    return text


def validate(values: dict[str, object]) -> dict[str, object]:
    """Check and convert settings; raises :class:`SettingsError` naming the first wrong one."""
    unknown = [k for k in values if k not in SETTINGS]
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]!r}; known: {', '.join(SETTINGS)}")
    out = {k: _one(k, v) for k, v in values.items()}
    if "churn_webhook_threshold" in out and not 0 < float(out["churn_webhook_threshold"]) <= 1:
        raise SettingsError("churn_webhook_threshold: a share between 0 and 1, e.g. 0.5")
    return out
