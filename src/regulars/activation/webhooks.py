"""Signed webhooks: JSON body, ``Regulars-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`` over
``"<t>.<body>"`` with the subscription's secret (the scheme Stripe uses), retries with exponential
back-off, a dead-letter list after the last attempt.

How a receiver verifies a delivery (see ``docs/activation.md``)::

    import hashlib, hmac, time
    def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(","))
        expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance

>>> body = b'{"topic":"ingest.finished"}'
>>> header = sign("whsec_x", body, timestamp=1700000000)
>>> header.startswith("t=1700000000,v1=")
True
>>> verify("whsec_x", body, header, now=1700000100), verify("whsec_y", body, header, now=1700000100)
(True, False)
>>> verify("whsec_x", body, header, now=1700009999)   # too old: a replay
False
>>> [backoff(n, 30).total_seconds() for n in (1, 2, 3)]
[30.0, 60.0, 120.0]
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import httpx

SIGNATURE_HEADER = "Regulars-Signature"
TOPICS = ("segment.entered", "segment.exited", "churn_risk.crossed", "journey.step_due", "alert.fired",
          "ingest.finished", "audience.exported")
MAX_BACKOFF = dt.timedelta(hours=6)
USER_AGENT = "regulars-webhooks/1"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for *body* at *timestamp* (default: now)."""
    t = int(time.time() if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, body: bytes, header: str, tolerance: int = 300, now: float | None = None) -> bool:
    """True when *header* signs *body* with *secret* and is at most *tolerance* seconds old."""
    try:
        parts = dict(p.strip().split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs((time.time() if now is None else now) - t) <= tolerance
    return hmac.compare_digest(expected, given) and fresh


def backoff(attempt: int, base_seconds: float) -> dt.timedelta:
    """Wait after failed attempt number *attempt* (1-based): base, 2×base, 4×base … at most 6 hours."""
    return min(dt.timedelta(seconds=base_seconds * 2 ** (attempt - 1)), MAX_BACKOFF)


def body_for(delivery_id: str, topic: str, payload: dict, created_at: dt.datetime) -> bytes:
    """The JSON body: ``{id, topic, created_at, data}`` (``id`` is the idempotency key)."""
    return json.dumps({"id": delivery_id, "topic": topic, "created_at": created_at.isoformat(timespec="seconds"),
                       "data": payload}, separators=(",", ":"), default=str, ensure_ascii=False).encode()


@dataclass
class Attempt:
    delivery_id: str
    ok: bool
    status_code: int | None
    error: str | None
    latency_ms: float


def deliver(client: httpx.Client, url: str, secret: str, delivery_id: str, body: bytes) -> Attempt:
    """POST one delivery; a 2xx answer is success, anything else (or no answer) a failure."""
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body),
               "Idempotency-Key": delivery_id, "User-Agent": USER_AGENT}
    started = time.perf_counter()
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Attempt(delivery_id, False, None, f"{type(exc).__name__}: {str(exc)[:200]}",
                       (time.perf_counter() - started) * 1000)
    latency = (time.perf_counter() - started) * 1000
    ok = 200 <= response.status_code < 300
    return Attempt(delivery_id, ok, response.status_code, None if ok else f"HTTP {response.status_code}", latency)
