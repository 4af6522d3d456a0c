"""Numbers in a shop owner's words for the terminal: rates as percentages, money with the shop's
currency, counts with thousands separators (the dashboard's :mod:`regulars.web.html` does the same
for pages). Machine formats (csv, json) keep the plain numbers.

>>> say("repeat_purchase_rate", 0.5933), say("revenue", 109608.871, "USD"), say("orders", 1273.0)
('59.3%', '109,608.87 USD', '1,273')
>>> say("nps", 2.74), say("cac_payback_months", 1.36), say("month", "2026-11")
('2.7', '1.36', '2026-11')
"""

from __future__ import annotations

import math

import pandas as pd

RATES = frozenset({"repeat_purchase_rate", "retention_rate", "churn_rate", "conversion_rate", "csat"})
MONEY = frozenset({"revenue", "guest_revenue", "average_order_value", "clv_historical", "refund_amount", "spend",
                   "cac", "customer_revenue"})
SCORES = frozenset({"nps"})  # -100..100: a score, changes of it are points


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def say(column: str, value, currency: str | None = None) -> str:
    """*value* of *column* as a shop owner reads it."""
    if _missing(value):
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if column in RATES:
        return f"{100 * float(value):.1f}%"
    if column in MONEY:
        return f"{float(value):,.2f}" + (f" {currency}" if currency else "")
    if column in SCORES:
        return f"{float(value):.1f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def in_words(frame: pd.DataFrame, currency: str | None = None) -> pd.DataFrame:
    """A copy of *frame* whose known columns are written with :func:`say` (for tables, not for csv/json)."""
    out = frame.copy()
    for col in out.columns:
        if col in RATES | MONEY | SCORES or pd.api.types.is_numeric_dtype(out[col]):
            out[col] = [say(col, v.item() if hasattr(v, "item") else v, currency) for v in out[col]]
    return out


def partial_month(end) -> str | None:
    """The month (``YYYY-MM``) that *end* falls in when *end* is not that month's last day, else None.

    >>> partial_month("2026-11-01"), partial_month("2026-10-31")
    ('2026-11', None)
    """
    import datetime as dt

    if end is None:
        return None
    day = pd.Timestamp(end).date()
    return None if (day + dt.timedelta(days=1)).month != day.month else f"{day:%Y-%m}"


#: Funnel steps (event names) as a shop owner says them; other names lose their underscores.
STEPS = {"page_view": "Visited a page", "session_start": "Started a visit", "view_item": "Viewed a product",
         "product_view": "Viewed a product", "view_item_list": "Viewed a product list", "search": "Searched",
         "add_to_cart": "Added to the cart", "remove_from_cart": "Removed from the cart",
         "begin_checkout": "Started checkout", "add_shipping_info": "Gave shipping details",
         "add_payment_info": "Gave payment details", "purchase": "Bought", "sign_up": "Signed up",
         "login": "Signed in", "email_open": "Opened an e-mail", "email_click": "Clicked an e-mail"}


def step_words(step) -> str:
    """A funnel step in words.

    >>> step_words("add_to_cart"), step_words("wishlist_add"), step_words("product_view > purchase")
    ('Added to the cart', 'Wishlist add', 'Viewed a product → Bought')
    """
    text = str(step)
    for sep in (" > ", " → ", ">"):
        if sep in text:
            return " → ".join(step_words(part.strip()) for part in text.split(sep))
    if text in STEPS:
        return STEPS[text]
    plain = text.replace("_", " ").strip()
    return plain[:1].upper() + plain[1:]
