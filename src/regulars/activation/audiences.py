"""Audience files for the tools shops use: a Klaviyo list, a Mailchimp audience, and hashed
customer-match files for Google Ads and Meta — filtered by consent for the channel by default,
with how many customers were left out and why.

Normalisation before hashing (SHA-256, lower-case hex), as the platforms document it:

- **Google Customer Match**: e-mail trimmed and lower-cased, and for ``gmail.com`` /
  ``googlemail.com`` the dots before the ``@`` removed; phone in E.164 (``+`` and country code,
  digits only); first and last name lower-cased and trimmed. Country and postal code are sent in
  clear (Google asks for them unhashed).
- **Meta custom audiences**: e-mail trimmed and lower-cased; phone as digits only *with* the
  country code and without ``+`` or leading zeros; first/last name, city lower-cased without
  punctuation or spaces; postal code lower-cased without spaces; country as the lower-case
  two-letter code. Every column is hashed.

A phone number without a country code (no leading ``+`` or ``00``) cannot be put in E.164 and is
left out of the files that need it.

>>> normalize_email(" John.Smith@GoogleMail.com ", google=True)
'johnsmith@googlemail.com'
>>> normalize_email(" John.Smith@GoogleMail.com ")
'john.smith@googlemail.com'
>>> e164("0049 151 2345-678"), e164("0151 2345678")
('+491512345678', None)
>>> sha256("test@example.com")[:16]
'973dfe463ec85785'
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: format -> (channel whose consent applies, file header, description)
FORMATS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "klaviyo": ("email", ("Email", "Phone Number", "First Name", "Last Name", "City", "Region", "Country",
                          "Zip Code"), "Klaviyo list import (CSV)"),
    "mailchimp": ("email", ("Email Address", "First Name", "Last Name", "Phone Number", "Birthday"),
                  "Mailchimp audience import (CSV)"),
    "google": ("ads", ("Email", "Phone", "First Name", "Last Name", "Country", "Zip"),
               "Google Ads Customer Match, hashed (CSV)"),
    "meta": ("ads", ("email", "phone", "fn", "ln", "ct", "zip", "country"),
             "Meta custom audience, hashed (CSV)"),
}


class AudienceError(ValueError):
    """An audience cannot be exported as asked; the message says what to change."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_email(value, google: bool = False) -> str | None:
    if not value:
        return None
    email = str(value).strip().lower()
    if not _EMAIL.match(email):
        return None
    local, _, domain = email.rpartition("@")
    if google and domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def e164(value) -> str | None:
    """``+<country code><number>``, or None when the number carries no country code."""
    if not value:
        return None
    text = str(value).strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        pass
    elif text.startswith("00"):
        digits = digits[2:]
    else:
        return None
    digits = digits.lstrip("0")
    return f"+{digits}" if 8 <= len(digits) <= 15 else None


def _name(value, strip_punctuation: bool = False) -> str | None:
    if not value:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip().lower()
    if strip_punctuation:
        text = re.sub(r"[\s\W_]+", "", text)
    return text or None


def _hash(value: str | None) -> str:
    return sha256(value) if value else ""


@dataclass
class AudienceFile:
    """An exported audience: the file text and what went into it."""

    format: str
    source: str
    content: str
    rows: int
    customers: int
    left_out: dict[str, int] = field(default_factory=dict)
    consent_filtered: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def filename(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", self.source).strip("_") or "audience"
        return f"{slug}-{self.format}.csv"

    def summary(self) -> dict:
        return {"format": self.format, "source": self.source, "filename": self.filename, "rows": self.rows,
                "customers": self.customers, "left_out": dict(self.left_out), "left_out_total": sum(self.left_out.values()),
                "consent_filtered": self.consent_filtered, "notes": list(self.notes)}


def _consent_reason(channel: str, row: dict) -> str | None:
    if channel == "email":
        flag = row.get("accepts_email")
        if flag is None:
            return "no e-mail consent (never given)"
        return None if flag else "no e-mail consent (opted out)"
    if row.get("accepts_personalization") is False:
        return "opted out of personalised marketing"
    return None


def _row(fmt: str, r: dict, sms_ok: bool) -> list[str] | None:
    if fmt == "klaviyo":
        return [normalize_email(r["email"]), e164(r["phone"]) if sms_ok else "", r["first_name"], r["last_name"],
                r["city"], r["region"], r["country"], r["postal_code"]]
    if fmt == "mailchimp":
        birthday = r["birth_date"].strftime("%m/%d") if r.get("birth_date") else ""
        return [normalize_email(r["email"]), r["first_name"], r["last_name"], e164(r["phone"]) if sms_ok else "",
                birthday]
    if fmt == "google":
        return [_hash(normalize_email(r["email"], google=True)), _hash(e164(r["phone"])), _hash(_name(r["first_name"])),
                _hash(_name(r["last_name"])), (r["country"] or "").strip().upper()[:2],
                (r["postal_code"] or "").strip()]
    phone = e164(r["phone"])
    return [_hash(normalize_email(r["email"])), _hash(phone[1:] if phone else None),
            _hash(_name(r["first_name"], True)), _hash(_name(r["last_name"], True)), _hash(_name(r["city"], True)),
            _hash(re.sub(r"\s+", "", (r["postal_code"] or "").lower()) or None),
            _hash((r["country"] or "").strip().lower()[:2] or None)]


def build(customers: pa.Table, fmt: str, source: str, respect_consent: bool = True, *,
          cell: Callable[[object], str]) -> AudienceFile:
    """The audience file for *customers* (rows of :func:`regulars.data.activation_store.audience_customers`);
    every cell goes through *cell*, the product's CSV-injection guard (:func:`regulars.jobs.activation_admin.export_cell`)."""
    if fmt not in FORMATS:
        raise AudienceError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    channel, header, _ = FORMATS[fmt]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    left: Counter = Counter()
    rows = 0
    phones_dropped = 0
    for r in customers.to_pylist():
        if respect_consent:
            reason = _consent_reason(channel, r)
            if reason:
                left[reason] += 1
                continue
        if channel == "email":
            if not r.get("email"):
                left["no e-mail address"] += 1
                continue
            if normalize_email(r["email"]) is None:
                left["e-mail address not valid"] += 1
                continue
        elif not normalize_email(r.get("email")) and not e164(r.get("phone")):
            left["no e-mail or phone with country code to match on"] += 1
            continue
        sms_ok = (not respect_consent) or r.get("accepts_sms") is True
        if channel == "email" and r.get("phone") and not sms_ok:
            phones_dropped += 1
        writer.writerow([cell(v) for v in _row(fmt, r, sms_ok)])
        rows += 1
    notes = []
    if phones_dropped:
        notes.append(f"{phones_dropped:,} phone number(s) left blank: no SMS consent")
    if not respect_consent:
        notes.append("consent filter switched off by an admin: the file may include people who did not agree")
    return AudienceFile(fmt, source, out.getvalue(), rows, customers.num_rows, dict(left.most_common()),
                        respect_consent, notes)
