"""Consent changes posted as events, applied at once (called on the writer after events commit).

:func:`apply_consent_events` records each ``consent`` event of the touched customers that is not
recorded yet (``consents`` row, ``accepts_*`` flag) and, for a refused personalisation, empties the
customer's personal scores and removes their lead score and reminders
(:mod:`regulars.privacy.consent` says what is personal).
"""

from __future__ import annotations

import json

from regulars.data import privacy_store
from regulars.privacy.consent import NOT_PERSONALISED, PERSONALISED_COLUMNS, PURPOSES, consent_change


def apply_consent_events(ws, customer_ids) -> dict[str, int]:
    changes = []
    for cid, at, props in privacy_store.unrecorded_consent_events(ws, customer_ids):
        change = consent_change(json.loads(props) if props else None)
        if change:
            changes.append((cid, change[0], change[1], at))
    if not changes:
        return {}
    with ws.transaction() as tx:
        for cid, purpose, granted, at in changes:
            privacy_store.record_consent(tx, cid, purpose, PURPOSES[purpose], granted, at)
        touched = {c[0] for c in changes}
        refused = touched & privacy_store.refused_personalisation(tx)
        done = privacy_store.withdraw_personalisation(tx, refused, PERSONALISED_COLUMNS, NOT_PERSONALISED)
    return {"consent_changes": len(changes), "withdrawn": len(refused), **done}
