"""The shop's privacy settings: what each may hold, checked before the data layer stores it.

Examples
--------
>>> validate("drop_columns", "birth_date, postal_code"), validate("event_retention_months", "13")
(['birth_date', 'postal_code'], 13)
>>> validate("drop_columns", "email")
Traceback (most recent call last):
...
ValueError: cannot drop email; columns that may be dropped: first_name, last_name, postal_code, birth_date, city
"""

from __future__ import annotations

from regulars.data.privacy_store import DEFAULTS, DROPPABLE
from regulars.fairness.groups import SENSITIVE_ATTRIBUTES


def _names(value) -> list[str]:
    return [c.strip() for c in (value.split(",") if isinstance(value, str) else value or []) if c.strip()
            and c.strip() != "none"]


def validate(name: str, value):
    """A setting's value checked and normalised; ValueError says what is wrong."""
    if name not in DEFAULTS:
        raise ValueError(f"unknown privacy setting {name!r}; known: {', '.join(DEFAULTS)}")
    if name == "drop_columns":
        cols = _names(value)
        bad = [c for c in cols if c not in DROPPABLE]
        if bad:
            raise ValueError(f"cannot drop {', '.join(bad)}; columns that may be dropped: {', '.join(DROPPABLE)}")
        return sorted(set(cols))
    if name == "sensitive_inputs":
        cols = _names(value)
        bad = [c for c in cols if c not in SENSITIVE_ATTRIBUTES]
        if bad:
            raise ValueError(f"unknown sensitive attribute(s) {', '.join(bad)}; known: {', '.join(SENSITIVE_ATTRIBUTES)}")
        return sorted(set(cols))
    if value in (None, "", "none", "off"):
        return None
    try:
        months = int(value)
    except (TypeError, ValueError):
        raise ValueError("event_retention_months must be a whole number of months (or 'none')") from None
    if not 1 <= months <= 120:
        raise ValueError("event_retention_months must be between 1 and 120")
    return months
