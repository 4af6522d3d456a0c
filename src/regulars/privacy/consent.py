"""Consent enforced: who gets personalised treatment, and what "generic" means.

A customer who refused personalisation (their latest ``personalization`` consent is not granted)
gets **no personal score, reason, recommendation or reminder**: their row in the predictions is
kept (so they are counted, and shown as "not personalised") but every personalised column is empty
and ``data_mode`` says ``not_personalised``; they are left out of lead scores and replenishment
reminders. Shop-wide figures (the demand forecast, KPIs) still count them, as they count everyone.

Examples
--------
>>> import pandas as pd
>>> scores = pd.DataFrame({"customer_id": ["a", "b"], "churn_risk": [0.7, 0.2], "clv": [100.0, 40.0],
...                        "churn_reasons": ['["x"]', '["y"]'], "data_mode": ["full", "full"]})
>>> out, n = withhold(scores, {"b"})
>>> n, pd.isna(out["churn_risk"][1]), out["churn_reasons"].tolist()[1], out["data_mode"].tolist()
(1, True, None, ['full', 'not_personalised'])
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

#: Columns of ``customer_predictions`` that are a personal judgement about the customer.
PERSONALISED_COLUMNS = (
    "p_alive", "expected_orders", "expected_orders_lower", "expected_orders_upper", "expected_spend",
    "expected_spend_lower", "expected_spend_upper", "clv", "clv_lower", "clv_upper", "churn_risk", "churn_band",
    "churn_reasons", "propensity_30d", "propensity_reasons", "next_order_date", "next_order_lower", "next_order_upper",
)
NOT_PERSONALISED = "not_personalised"
#: Consent purposes a real-time ``consent`` event may change, and the customers column each sets.
PURPOSES = {"personalization": "accepts_personalization", "personalisation": "accepts_personalization",
            "email": "accepts_email", "sms": "accepts_sms"}


def withhold(frame: pd.DataFrame, refused: Iterable[str]) -> tuple[pd.DataFrame, int]:
    """*frame* (one row per customer) with the personalised columns emptied for *refused* customers."""
    refused = set(refused)
    if not refused or frame.empty:
        return frame, 0
    mask = frame["customer_id"].isin(refused).to_numpy()
    if not mask.any():
        return frame, 0
    out = frame.copy()
    for col in PERSONALISED_COLUMNS:
        if col not in out.columns:
            continue
        if pd.api.types.is_float_dtype(out[col]):
            out.loc[mask, col] = float("nan")  # stays a float column: sums and means skip it
        else:
            out[col] = out[col].astype(object)
            out.loc[mask, col] = None
    if "data_mode" in out.columns:
        out["data_mode"] = out["data_mode"].astype(object)
        out.loc[mask, "data_mode"] = NOT_PERSONALISED
    return out, int(mask.sum())


def consent_change(properties: dict | None) -> tuple[str, bool] | None:
    """``(purpose, granted)`` of a ``consent`` event's properties, or None when they say neither.

    >>> consent_change({"purpose": "Personalization", "granted": False}), consent_change({"x": 1})
    (('personalization', False), None)
    """
    if not isinstance(properties, dict):
        return None
    purpose = str(properties.get("purpose", "")).strip().lower()
    granted = properties.get("granted", properties.get("is_granted"))
    if purpose not in PURPOSES or not isinstance(granted, bool):
        return None
    return ("personalization" if purpose == "personalisation" else purpose), granted
