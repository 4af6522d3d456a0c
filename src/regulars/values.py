"""What every layer shares: how regulars reads a date, and which order statuses are not a sale.

This module imports nothing of regulars, so any layer may use it (``models`` included).

- :func:`to_date`: a calendar date from what people and libraries hand us (ISO text, a
  ``date``, a ``datetime``, a pandas/numpy timestamp). A datetime keeps its own day (no time
  zone arithmetic): it is already naive UTC or a shop-local date-only value.
- :data:`EXCLUDED_STATUSES` (:data:`CANCELLED_STATUSES` + :data:`NEVER_SOLD_STATUSES`): the order
  statuses that are not a transaction.

Examples
--------
>>> import datetime as dt
>>> to_date("2024-03-05"), to_date(dt.datetime(2024, 3, 5, 23, 59)), to_date(None)
(datetime.date(2024, 3, 5), datetime.date(2024, 3, 5), None)
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
