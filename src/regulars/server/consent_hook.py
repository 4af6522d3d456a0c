"""Consent changes posted as events take effect at once: registered with the real-time refresher.

An event ``{"event_type": "consent", "customer_id": ..., "properties": {"purpose": "personalization",
"granted": false}}`` posted to ``POST /api/events`` is recorded as a consent decision, updates the
customer's ``accepts_*`` flag and, for a refused personalisation, empties their personal scores and
removes their lead score and reminders (:func:`regulars.jobs.consent.apply_consent_events`),
right after the event commits -- not at the next prediction run.
"""

from __future__ import annotations

from regulars.jobs.consent import apply_consent_events
from regulars.server.refresh import on_events


@on_events
def apply_consents(ws, customer_ids) -> None:
    apply_consent_events(ws, customer_ids)
