"""What every layer shares: how regulars reads a date, and which order statuses are not a sale.

This module imports nothing of regulars, so any layer may use it (``models`` included).

- :func:`iso_date`: the day a person typed as ``YYYY-MM-DD`` (nothing ambiguous is guessed).
- :func:`to_date`: a calendar date from what people and libraries hand us (ISO text, a
  ``date``, a ``datetime``, a pandas/numpy timestamp). A datetime keeps its own day (no time
  zone arithmetic): it is already naive UTC or a shop-local date-only value.
- :data:`EXCLUDED_STATUSES` (:data:`CANCELLED_STATUSES` + :data:`NEVER_SOLD_STATUSES`): the order
  statuses that are not a transaction.
- :func:`round_money`: an amount of money to :data:`MONEY_DECIMALS` places, halves away from
  zero as a till and DuckDB's ``DECIMAL`` rounding do (Python's ``round`` and pandas round halves
  to even: 0.125 -> 0.12). Ibis expressions over ``DECIMAL`` money round with
  ``.round(MONEY_DECIMALS)``, which is the same rule on every engine.

Examples
--------
>>> import datetime as dt
>>> to_date("2024-03-05"), to_date(dt.datetime(2024, 3, 5, 23, 59)), to_date(None)
(datetime.date(2024, 3, 5), datetime.date(2024, 3, 5), None)
"""

from __future__ import annotations

import datetime as dt
import re

#: Statuses of an order that was placed and later called off (compared lower-cased): it counted
#: until ``cancelled_at``.
CANCELLED_STATUSES = ("cancelled", "canceled", "voided", "void")
#: Statuses of an order that never was a sale (payment failed, cart abandoned, draft).
NEVER_SOLD_STATUSES = ("failed", "declined", "abandoned", "draft")
#: Order statuses that do not count as a transaction (compared lower-cased): the data layer's
#: purchase rules and stored totals, the features, KPIs and cohorts read these.
EXCLUDED_STATUSES = CANCELLED_STATUSES + NEVER_SOLD_STATUSES
#: Places money is shown and stored with (cents).
MONEY_DECIMALS = 2
# Floats carry amounts like 2.675 as 2.67499999...: a nudge far below a cent and far above the
# float error of amounts a shop handles lets the half they were written as round up.
_HALF_NUDGE = 1e-9


def round_money(value):
    """*value* (a number, ``None``/NaN, a numpy array or a pandas Series) rounded to cents,
    halves away from zero.

    >>> round_money(0.125), round(0.125, 2), round_money(2.675), round_money(-0.125), round_money(None)
    (0.13, 0.12, 2.68, -0.13, None)
    >>> import pandas as pd
    >>> round_money(pd.Series([0.125, None, 10.0])).tolist()
    [0.13, nan, 10.0]
    >>> round_money([0.125, 2.675]).tolist()
    [0.13, 2.68]
    """
    import numpy as np

    if value is None:
        return None
    scale = 10**MONEY_DECIMALS
    x = np.asarray(value, dtype="float64")
    out = np.sign(x) * np.floor(np.abs(x) * scale + 0.5 + _HALF_NUDGE) / scale + 0.0  # no -0.0
    labels = getattr(value, "index", None)
    if callable(labels):  # a list's or tuple's ``index`` method, not a pandas index
        labels = None
    if np.ndim(value) == 0 and labels is None:
        return float(out)
    if labels is not None:
        import pandas as pd

        return pd.Series(out, index=labels, name=getattr(value, "name", None))
    return out


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(text: str) -> dt.date:
    """The day *text* writes as ``YYYY-MM-DD`` (a time after it ignored): how people type a date
    to regulars. Nothing else is guessed: ``03/05/2024`` is March in one country and May in another.

    >>> iso_date(" 2024-03-05T10:00 ")
    datetime.date(2024, 3, 5)
    >>> iso_date("03/05/2024")
    Traceback (most recent call last):
    ...
    ValueError: '03/05/2024' is not a date; write it as YYYY-MM-DD
    >>> iso_date("2024-03-05x")
    Traceback (most recent call last):
    ...
    ValueError: '2024-03-05x' is not a date; write it as YYYY-MM-DD
    """
    written = str(text).strip()
    if _ISO_DAY.match(written):
        try:
            if len(written) == 10:
                return dt.date.fromisoformat(written)
            if written[10] in "T ":
                return dt.datetime.fromisoformat(written).date()
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD")


def to_date(value) -> dt.date | None:
    """A date from a date, datetime, pandas/numpy timestamp or text (``None`` stays ``None``).

    Text is read as ISO (``YYYY-MM-DD``, a time after it ignored), else by
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
            return iso_date(value)
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
