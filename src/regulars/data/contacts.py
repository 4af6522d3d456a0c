"""Who a list of customer ids is: name, e-mail, phone and consent, for lists a shop owner acts on."""

from __future__ import annotations

import pandas as pd

from regulars.data.connection import connection

CONTACT_COLUMNS = ["customer_id", "first_name", "last_name", "email", "phone", "accepts_email", "accepts_sms"]


def contacts(ws, customer_ids: list[str]) -> pd.DataFrame:
    """One row per id found in ``customers`` (ids that are not customers, e.g. leads, are absent)."""
    if not customer_ids:
        return pd.DataFrame(columns=CONTACT_COLUMNS)
    return connection(ws).execute(
        f"SELECT {', '.join(CONTACT_COLUMNS)} FROM customers "
        "WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [list(dict.fromkeys(customer_ids))]).df()
