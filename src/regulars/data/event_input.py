"""Posted events as they arrive: validated, brought to their stored form, counted.

The events path of the server (:class:`~regulars.data.realtime.SharedWorkspace`) and its
fast lane (:mod:`regulars.data.fastlane`) both start here; e-mails and phones go through
the one normalisation every path uses (:mod:`regulars.data.normalize`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import pyarrow as pa

from regulars.data import identity
from regulars.data.schema import TABLES

IDENTIFIERS = ("customer_id", "email", "phone", "anonymous_id")
TEXT_FIELDS = ("event_id", "customer_id", "anonymous_id", "session_id", "event_type", "page_url",
               "product_id", "search_query", "traffic_source")
EVENT_COLUMNS = [c for c in TABLES["events"].column_names if c != "_run_id"]
EARLIEST = dt.datetime(1970, 1, 1)

_ARROW = pa.schema(
    [("_file", pa.string()), ("_row", pa.int64()), ("_seq", pa.int64()), ("email", pa.string()), ("phone", pa.string())]
    + [(c, pa.timestamp("us") if c == "occurred_at" else pa.string()) for c in EVENT_COLUMNS]
)


class EventError(ValueError):
    """An event is invalid; ``index`` is its position in the batch, ``field`` the field at fault."""

    def __init__(self, index: int, field_name: str | None, message: str):
        self.index, self.field = index, field_name
        where = f"event {index}" + (f", {field_name}" if field_name else "")
        super().__init__(f"{where}: {message}")


def _utc_naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _clean_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalize_event(event: dict, index: int = 0, now: dt.datetime | None = None) -> dict:
    """Check one event and bring it to the stored form (UTC time, cleaned identifiers, an id).

    Raises :class:`EventError` naming the field at fault.

    >>> e = normalize_event({"email": " Ann@Example.COM ", "event_type": "page_view",
    ...                      "occurred_at": dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))})
    >>> e["email"], e["occurred_at"], e["event_id"][:2]
    ('ann@example.com', datetime.datetime(2024, 1, 1, 10, 0), 'v-')
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out: dict = {}
    for name in TEXT_FIELDS + ("email", "phone"):
        v = event.get(name)
        if v is not None and not isinstance(v, str):
            v = str(v)
        v = v.strip() if v is not None else None
        if v and not _clean_text(v):
            raise EventError(index, name, "holds a NUL character or invalid Unicode")
        out[name] = v or None
    if not out["event_type"]:
        raise EventError(index, "event_type", "is required (e.g. page_view, add_to_cart, purchase)")
    raw_email, raw_phone = out.pop("email"), out.pop("phone")
    email = identity.normalize_email(raw_email) if raw_email else None
    if raw_email and email is None:
        raise EventError(index, "email", "is not an e-mail address")
    phone = identity.normalize_phone(raw_phone) if raw_phone else None
    if raw_phone and phone is None:
        raise EventError(index, "phone", "needs at least 6 digits")
    out["email"], out["phone"] = email, phone
    if not any(out[k] for k in IDENTIFIERS):
        raise EventError(index, None, "needs customer_id, email, phone or anonymous_id to know whose event it is")
    at = event.get("occurred_at")
    if at is None:
        at = now
    elif isinstance(at, str):
        try:
            at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise EventError(index, "occurred_at", f"cannot read {at[:40]!r} as an ISO 8601 date/time") from None
    elif not isinstance(at, dt.datetime):
        raise EventError(index, "occurred_at", "must be an ISO 8601 date/time")
    try:
        at = _utc_naive(at)
    except (OverflowError, ValueError):
        raise EventError(index, "occurred_at", "is out of range") from None
    if at < EARLIEST or at > now + dt.timedelta(days=2):
        raise EventError(index, "occurred_at", "must be after 1970 and not more than 2 days in the future")
    out["occurred_at"] = at
    props = event.get("properties")
    if props is not None and not isinstance(props, dict):
        raise EventError(index, "properties", "must be a JSON object")
    if props:
        try:
            text = json.dumps(props, sort_keys=True, default=str, ensure_ascii=False, allow_nan=False)
        except ValueError:
            raise EventError(index, "properties", "numbers must be finite (no NaN or Infinity)") from None
        if not _clean_text(text) or len(text) > 100_000:
            raise EventError(index, "properties", "must be valid Unicode text without NUL, under 100 kB")
        out["properties"] = text
    else:
        out["properties"] = None
    if not out["event_id"]:
        content = json.dumps({k: out[k] for k in sorted(out) if k != "event_id"}, default=str, sort_keys=True)
        out["event_id"] = "v-" + hashlib.sha256(content.encode()).hexdigest()[:20]
    return out


@dataclass
class EventsWrite:
    """What one call to :meth:`SharedWorkspace.post_events` did."""

    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    customers: list[str] = field(default_factory=list)
    customers_created: int = 0
    run_id: int | None = None
    committed_at: float = 0.0
    #: events of erased people (:mod:`regulars.data.suppression`): quarantined, not written
    suppressed: int = 0

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "new": self.new, "duplicates": self.duplicates,
                "suppressed": self.suppressed, "customers": self.customers,
                "customers_created": self.customers_created, "run_id": self.run_id}
