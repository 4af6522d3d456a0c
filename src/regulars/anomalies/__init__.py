"""Anomaly and fraud flags: unusual orders, serial returners, discount-code abuse, many identities on one
customer, bot-like sessions -- each with a score and the reason in words.

Functions on frames, no database (the anomaly job in :mod:`regulars.jobs.anomalies` reads and
writes through :mod:`regulars.data.anomaly_store`); :mod:`regulars.anomalies.alerts` lets other
code subscribe to new flags.
"""

from regulars.anomalies.alerts import publish, subscribe, unsubscribe
from regulars.anomalies.detect import (
    Flag,
    code_flags,
    identity_flags,
    order_flags,
    return_flags,
    robust_z,
    session_flags,
)

__all__ = ["Flag", "code_flags", "identity_flags", "order_flags", "publish", "return_flags", "robust_z",
           "session_flags", "subscribe", "unsubscribe"]
