"""Changes to activation that the CLI, the API and the dashboard all make the same way: saving,
approving and pausing journeys, exporting audiences, webhook subscriptions and settings — each
validated and written to the audit log (without personal data).

Approval is the human in the loop: a journey never runs until an admin approves its current
version, and saving a new version makes it a draft again.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from regulars.activation import audiences, settings as activation_settings, webhooks
from regulars.activation.definitions import JourneyError, parse, template_text
from regulars.data import activation_store, auth, journey_store, webhook_store
from regulars.reports.csv_safe import safe_cell

_E164 = re.compile(r"^\+\d{8,15}$")


def export_cell(value) -> str:
    """A cell of an audience file, neutralised by the product's CSV-injection guard
    (:func:`regulars.reports.csv_safe.safe_cell`) — except an E.164 phone number (``+`` and 8 to 15 digits,
    written by :func:`regulars.activation.audiences.e164`), which must keep its ``+`` for Klaviyo and
    Mailchimp and cannot run anything (a spreadsheet reads it as a number).

    >>> [export_cell(v) for v in ("=HYPERLINK(1)", "+4915112345678", "+49 151 1234", None)]
    ["'=HYPERLINK(1)", '+4915112345678', "'+49 151 1234", '']
    """
    text = "" if value is None else str(value)
    return text if _E164.match(text) else safe_cell(text)


class ActivationError(ValueError):
    """A request cannot be carried out; ``status`` is the HTTP status that fits (404, 409, 422)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def _audit(ws, actor: str, role: str | None, action: str, target: str | None, detail: dict | None = None) -> None:
    auth.record(ws, actor, role, action, target, detail)


def save_journey(ws, text: str, actor: str, role: str | None = "admin", source: str = "custom") -> dict:
    """Validate TOML and store it as the journey's next version (a draft until approved)."""
    try:
        j = parse(text)
    except JourneyError as exc:
        raise ActivationError(str(exc)) from None
    version = journey_store.save_journey(ws, j.journey_id, j.name, text, source, actor)
    _audit(ws, actor, role, "journey.save", j.journey_id, {"version": version})
    return journey_store.get_journey(ws, j.journey_id)


def add_from_template(ws, template: str, actor: str, role: str | None = "admin") -> dict:
    try:
        text = template_text(template)
    except JourneyError as exc:
        raise ActivationError(str(exc), 404) from None
    return save_journey(ws, text, actor, role, source=f"template:{template}")


def set_journey_status(ws, journey_id: str, status: str, actor: str, role: str | None = "admin") -> dict:
    """Approve (the current version), pause or return a journey to draft."""
    row = journey_store.get_journey(ws, journey_id)
    if row is None:
        raise ActivationError(f"no journey {journey_id!r}; see `regulars journeys list`", 404)
    if status not in ("approved", "paused", "draft"):
        raise ActivationError("status must be approved, paused or draft")
    notes = []
    if status == "approved":
        try:
            j = parse(row["definition"])
        except JourneyError as exc:
            raise ActivationError(f"cannot approve: {exc}", 409) from None
        s = activation_settings.merged(activation_store.read_settings(ws))
        if any(step.channel == "email" for step in j.steps) and not s.get("smtp_host"):
            notes.append("e-mail steps will wait (and then be skipped as too late) until the SMTP settings are set")
        if any(step.channel in ("sms", "webhook") for step in j.steps) and not webhook_store.subscriptions_for(
                ws, "journey.step_due"):
            notes.append("SMS/webhook steps are skipped until a webhook subscribes to journey.step_due")
    out = journey_store.set_status(ws, journey_id, status, actor)
    _audit(ws, actor, role, f"journey.{ {'approved': 'approve', 'paused': 'pause', 'draft': 'draft'}[status]}",
           journey_id, {"version": row["version"]})
    return {**out, "notes": notes}


def export_audience(ws, source: str, fmt: str, actor: str, role: str, respect_consent: bool = True
                    ) -> audiences.AudienceFile:
    """An audience file of a segment or list. Viewers cannot export personal data (hashed identifiers are
    personal data too); switching the consent filter off takes an admin. Audited without personal data."""
    if auth.rank(role) < auth.rank("analyst"):
        raise ActivationError("exports hold personal data (e-mails, phones, or their hashes): this needs the "
                              "analyst role; viewers can see counts on the segment page", 403)
    if not respect_consent and role != "admin":
        raise ActivationError("only an admin can export without the consent filter", 403)
    if fmt not in audiences.FORMATS:
        raise ActivationError(f"unknown format {fmt!r}; use one of {', '.join(audiences.FORMATS)}")
    if not activation_store.source_exists(ws, source):
        raise ActivationError(f"no segment or audience {source!r}; see `regulars audiences list`", 404)
    file = audiences.build(activation_store.audience_customers(ws, source), fmt, source, respect_consent,
                           cell=export_cell)
    summary = file.summary()
    _audit(ws, actor, role, "audience.export", source,
           {"format": fmt, "rows": file.rows, "left_out": summary["left_out_total"], "consent_filter": respect_consent})
    return file


def add_webhook(ws, name: str, url: str, topics: list[str], actor: str, role: str | None = "admin",
                secret: str | None = None, filters: dict | None = None, max_attempts: int | None = None) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ActivationError(f"url {url!r} must be an http(s) address")
    bad = [t for t in topics if t not in webhooks.TOPICS and t != "*"]
    if not topics or bad:
        raise ActivationError(f"unknown topic {bad[0] if bad else ''!r}; use any of {', '.join(webhooks.TOPICS)}")
    if not name.strip():
        raise ActivationError("a subscription needs a name")
    s = activation_settings.merged(activation_store.read_settings(ws))
    sub = webhook_store.add_subscription(ws, name.strip()[:100], url, secret, topics, filters or {},
                                         int(max_attempts or s["webhook_max_attempts"]), actor)
    _audit(ws, actor, role, "webhook.add", sub["subscription_id"], {"topics": topics, "host": parsed.hostname})
    return sub


def remove_webhook(ws, subscription_id: str, actor: str, role: str | None = "admin") -> None:
    sub = webhook_store.get_subscription(ws, subscription_id)
    if sub is None:
        raise ActivationError(f"no webhook subscription {subscription_id!r}", 404)
    webhook_store.deactivate_subscription(ws, sub["subscription_id"])
    _audit(ws, actor, role, "webhook.remove", sub["subscription_id"])


def change_settings(ws, values: dict, actor: str, role: str | None = "admin") -> dict:
    """Validate and store activation settings; returns them all (secrets shown as set / not set)."""
    try:
        clean = activation_settings.validate(values)
    except ValueError as exc:
        raise ActivationError(str(exc)) from None
    activation_store.write_settings(ws, clean, actor)
    _audit(ws, actor, role, "activation.settings", None,
           {k: ("***" if k in activation_settings.SECRET else v) for k, v in clean.items()})
    return activation_settings.public(activation_settings.merged(activation_store.read_settings(ws)))


def current_settings(ws) -> dict:
    return activation_settings.public(activation_settings.merged(activation_store.read_settings(ws)))
