"""Journeys in TOML: a trigger, steps with delays and a channel each, conditions, a holdout.

A journey file (see the shipped templates in ``regulars/activation/journeys/``)::

    id = "cart_abandonment"
    name = "Cart abandonment"
    holdout = 0.10                 # share of entrants who get nothing (the control group)
    conversion_window_days = 7     # an order this long after entry counts as a conversion
    reentry_days = 14              # a customer enters again at most this often

    [trigger]
    type = "event"                 # event | order | signup | segment | date
    event = "add_to_cart"
    without = "purchase"           # only when no purchase followed

    [[steps]]
    name = "Reminder"
    after = "1h"                   # from entry: 30m, 1h, 24h, 3d, 2w
    channel = "email"              # email | sms | webhook | audience
    subject = "You left something in your cart, ${first_name}"
    body = "..."
    when = ["not_purchased_since_entry"]

Trigger types: ``event`` (an event type, optionally ``without`` a later purchase),
``order`` (an order; ``first_order = true`` for the first one only), ``signup`` (a new
customer), ``segment`` (entering ``segment``), ``date`` (``date = "birthday"`` or
``"replenishment_due"``, sent ``at`` a local time). Older triggers than ``max_age_hours``
(default 48) are ignored, so turning a journey on does not mail the whole history.

Conditions (``when``) checked right before a step: ``not_purchased_since_entry``,
``in_segment:<id>[|<id>...]``, ``not_in_segment:<id>``, ``min_orders:<n>``,
``revenue_at_least:<amount>``, ``clv_at_least:<amount>``, ``churn_risk_at_least:<share>``.
Consent for the step's channel is always checked (it cannot be switched off), and a
purchase after entry ends the journey (``exit_on_conversion``, default true).

>>> j = parse(TEMPLATE_EXAMPLE)
>>> j.journey_id, [s.after for s in j.steps], j.steps[0].channel
('demo', [datetime.timedelta(seconds=3600)], 'email')
>>> parse_duration("3d")
datetime.timedelta(days=3)
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources

TRIGGERS = ("event", "order", "signup", "segment", "date")
CHANNELS = ("email", "sms", "webhook", "audience")
#: Channels that reach the customer (consent, frequency caps and quiet hours apply).
MESSAGE_CHANNELS = ("email", "sms")
DATE_KINDS = ("birthday", "replenishment_due")
CONDITIONS = ("not_purchased_since_entry", "in_segment", "not_in_segment", "min_orders", "revenue_at_least",
              "clv_at_least", "churn_risk_at_least")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")

TEMPLATE_EXAMPLE = """
id = "demo"
name = "Demo"
[trigger]
type = "event"
event = "add_to_cart"
[[steps]]
after = "1h"
channel = "email"
subject = "Hi ${first_name}"
body = "Your cart is waiting."
"""


class JourneyError(ValueError):
    """A journey definition is invalid; the message names the field and what is expected."""


def human(delay: dt.timedelta) -> str:
    """A delay in words: ``immediately``, ``10 minutes``, ``1 hour``, ``24 hours``, ``3 days``.

    >>> [human(parse_duration(x)) for x in ("0m", "10m", "1h", "24h", "3d")]
    ['immediately', '10 minutes', '1 hour', '24 hours', '3 days']
    """
    seconds = int(delay.total_seconds())
    if seconds <= 0:
        return "immediately"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and (unit != "day" or seconds >= 2 * 86400):
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def parse_duration(text: str | int | float) -> dt.timedelta:
    """``"30m"``, ``"1h"``, ``"24h"``, ``"3d"``, ``"2w"`` (a bare number is hours)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return dt.timedelta(hours=float(text))
    m = _DURATION.match(str(text))
    if not m:
        raise JourneyError(f"cannot read {text!r} as a delay; write e.g. 30m, 1h, 24h, 3d or 2w")
    return dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class Trigger:
    type: str
    event: str | None = None
    without: str | None = None
    first_order: bool = False
    segment: str | None = None
    date: str | None = None
    at: dt.time = dt.time(10, 0)
    days_before: int = 0
    max_age: dt.timedelta = dt.timedelta(hours=48)

    def describe(self) -> str:
        if self.type == "event":
            return f"a '{self.event}' event" + (f" not followed by a {self.without}" if self.without else "")
        if self.type == "order":
            return "a customer's first order" if self.first_order else "an order"
        if self.type == "signup":
            return "a new customer"
        if self.type == "segment":
            return f"entering the segment {self.segment}"
        when = "" if not self.days_before else f" ({self.days_before} days before)"
        return f"{self.date.replace('_', ' ')}{when}, at {self.at:%H:%M} shop time"


@dataclass(frozen=True)
class Step:
    index: int
    name: str
    after: dt.timedelta
    channel: str
    subject: str = ""
    body: str = ""
    text: str = ""
    audience: str | None = None
    when: tuple[str, ...] = ()

    @property
    def is_message(self) -> bool:
        return self.channel in MESSAGE_CHANNELS


@dataclass(frozen=True)
class Journey:
    journey_id: str
    name: str
    trigger: Trigger
    steps: tuple[Step, ...]
    description: str = ""
    holdout: float = 0.10
    conversion_window: dt.timedelta = dt.timedelta(days=7)
    reentry: dt.timedelta = dt.timedelta(days=30)
    exit_on_conversion: bool = True
    extra: dict = field(default_factory=dict)

    def step(self, index: int) -> Step | None:
        return self.steps[index] if 0 <= index < len(self.steps) else None


def _conditions(values, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out = []
    for v in values:
        name, _, arg = str(v).partition(":")
        if name not in CONDITIONS:
            raise JourneyError(f"{where}: unknown condition {v!r}; use one of {', '.join(CONDITIONS)}")
        if name in ("in_segment", "not_in_segment") and not arg:
            raise JourneyError(f"{where}: {name} needs a segment id, e.g. {name}:rfm:at_risk")
        if name in ("min_orders", "revenue_at_least", "clv_at_least", "churn_risk_at_least"):
            try:
                float(arg)
            except ValueError:
                raise JourneyError(f"{where}: {name} needs a number, e.g. {name}:2") from None
        out.append(str(v))
    return tuple(out)


def _trigger(raw: dict) -> Trigger:
    if not isinstance(raw, dict):
        raise JourneyError("[trigger] is required: type = event | order | signup | segment | date")
    kind = raw.get("type")
    if kind not in TRIGGERS:
        raise JourneyError(f"trigger.type {kind!r} unknown; use one of {', '.join(TRIGGERS)}")
    max_age = dt.timedelta(hours=float(raw.get("max_age_hours", 48)))
    at = raw.get("at", "10:00")
    try:
        at_time = at if isinstance(at, dt.time) else dt.time.fromisoformat(str(at))
    except ValueError:
        raise JourneyError(f"trigger.at {at!r}: write a local time such as \"10:00\"") from None
    t = Trigger(kind, event=raw.get("event"), without=raw.get("without"), first_order=bool(raw.get("first_order")),
                segment=raw.get("segment"), date=raw.get("date"), at=at_time,
                days_before=int(raw.get("days_before", 0)), max_age=max_age)
    if kind == "event" and not t.event:
        raise JourneyError("trigger.event is required for an event trigger, e.g. event = \"add_to_cart\"")
    if t.without not in (None, "purchase"):
        raise JourneyError("trigger.without can only be \"purchase\" (an order or purchase event after the trigger)")
    if kind == "segment" and not t.segment:
        raise JourneyError("trigger.segment is required, e.g. segment = \"lifecycle:at_risk\"")
    if kind == "date" and t.date not in DATE_KINDS:
        raise JourneyError(f"trigger.date must be one of {', '.join(DATE_KINDS)}")
    return t


def parse(text: str) -> Journey:
    """Read and validate a journey from TOML text; raises :class:`JourneyError`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JourneyError(f"not valid TOML: {exc}") from None
    jid = str(raw.get("id", "")).strip()
    if not _ID.match(jid):
        raise JourneyError("id is required: lower-case letters, digits, _ or -, e.g. id = \"cart_abandonment\"")
    trigger = _trigger(raw.get("trigger"))
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise JourneyError("a journey needs at least one [[steps]] entry")
    steps = []
    previous = dt.timedelta(0)
    for i, s in enumerate(raw_steps):
        where = f"step {i + 1}"
        channel = s.get("channel")
        if channel not in CHANNELS:
            raise JourneyError(f"{where}: channel {channel!r} unknown; use one of {', '.join(CHANNELS)}")
        after = parse_duration(s.get("after", "0m"))
        if after < previous:
            raise JourneyError(f"{where}: after = {s.get('after')!r} comes before the previous step; "
                               "delays count from entry and must not decrease")
        previous = after
        step = Step(i, str(s.get("name") or f"Step {i + 1}"), after, channel, str(s.get("subject", "")),
                    str(s.get("body", "")), str(s.get("text", "")), s.get("audience"),
                    _conditions(s.get("when"), where))
        if channel == "email" and not (step.subject and step.body):
            raise JourneyError(f"{where}: an e-mail step needs subject and body")
        if channel == "sms" and not step.text:
            raise JourneyError(f"{where}: an SMS step needs text")
        if channel == "audience" and not (step.audience and _ID.match(str(step.audience))):
            raise JourneyError(f"{where}: an audience step needs audience = \"<name>\" (letters, digits, _ or -)")
        steps.append(step)
    holdout = float(raw.get("holdout", 0.10))
    if not 0 <= holdout < 1:
        raise JourneyError("holdout must be a share between 0 and 1 (0.10 keeps 10% as a control group)")
    return Journey(jid, str(raw.get("name") or jid), trigger, tuple(steps), str(raw.get("description", "")), holdout,
                   dt.timedelta(days=float(raw.get("conversion_window_days", 7))),
                   dt.timedelta(days=float(raw.get("reentry_days", 30))), bool(raw.get("exit_on_conversion", True)))


def template_names() -> list[str]:
    """The journeys shipped with regulars (file names without ``.toml``)."""
    folder = resources.files("regulars.activation") / "journeys"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def template_text(name: str) -> str:
    """The TOML of a shipped journey template (edit it and save it under your own id)."""
    if name not in template_names():
        raise JourneyError(f"no template {name!r}; shipped: {', '.join(template_names())}")
    return (resources.files("regulars.activation") / "journeys" / f"{name}.toml").read_text(encoding="utf-8")
