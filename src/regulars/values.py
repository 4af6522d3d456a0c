"""How regulars reads a date and rounds money: one definition, used by every layer.

This module imports nothing of regulars, so any layer may use it (``models`` included).

- :func:`to_date`: a calendar date from what people and libraries hand us (ISO text, a
  ``date``, a ``datetime``, a pandas/numpy timestamp). A datetime keeps its own day (no time
  zone arithmetic): it is already naive UTC or a shop-local date-only value.
- :func:`round_money`: money to :data:`MONEY_DECIMALS` places, for a number, a pandas or
  numpy object, or an Ibis expression.
- :data:`EXCLUDED_STATUSES` (:data:`CANCELLED_STATUSES` + :data:`NEVER_SOLD_STATUSES`): the order
  statuses that are not a transaction.

Examples
--------
>>> import datetime as dt
>>> to_date("2024-03-05"), to_date(dt.datetime(2024, 3, 5, 23, 59)), to_date(None)
(datetime.date(2024, 3, 5), datetime.date(2024, 3, 5), None)
>>> round_money(2.345678), round_money(None)
(2.35, None)
"""

from __future__ import annotations

import datetime as dt

#: Statuses of an order that was placed and later called off (compared lower-cased): it counted
#: until ``cancelled_at``.
CANCELLED_STATUSES = ("cancelled", "canceled", "voided", "void")
#: Statuses of an order that never was a sale (payment failed, cart abandoned, draft).
NEVER_SOLD_STATUSES = ("failed", "declined", "abandoned", "draft")
#: Order statuses that do not count as a transaction (compared lower-cased): the data layer's
#: purchase rules and stored totals, the features, KPIs and cohorts read these.
EXCLUDED_STATUSES = CANCELLED_STATUSES + NEVER_SOLD_STATUSES

#: Money is stored as DECIMAL(18, MONEY_DECIMALS) and shown with this many decimals.
MONEY_DECIMALS = 2


def to_date(value) -> dt.date | None:
    """A date from a date, datetime, pandas/numpy timestamp or text (``None`` stays ``None``).

    Text is read as ISO (``YYYY-MM-DD``, anything after the 10th character ignored), else by
    pandas (``2024/03/05``). Raises :class:`ValueError` saying what was expected otherwise.

    >>> import pandas as pd, numpy as np
    >>> to_date(pd.Timestamp("2024-03-05 10:00")), to_date(np.datetime64("2024-03-05")), to_date(" 2024-03-05T10:00 ")
    (datetime.date(2024, 3, 5), datetime.date(2024, 3, 5), datetime.date(2024, 3, 5))
    >>> to_date("yesterday")
    Traceback (most recent call last):
    ...
    ValueError: 'yesterday' is not a date; write it as YYYY-MM-DD
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD")
    return stamp.date()


def round_money(value):
    """*value* rounded to :data:`MONEY_DECIMALS` places (``None`` stays ``None``).

    Numbers come back as ``float``; pandas/numpy objects and Ibis expressions through their own
    ``round`` (an Ibis DECIMAL stays DECIMAL).

    >>> import pandas as pd
    >>> round_money(pd.Series([1.005, 2.5])).tolist()
    [1.0, 2.5]
    """
    if value is None:
        return None
    if hasattr(value, "round"):
        return value.round(MONEY_DECIMALS)
    return round(float(value), MONEY_DECIMALS)
