"""The control group of every journey: deterministic by customer and journey, stable over time.

A customer's bucket is the first 8 bytes of ``sha256(journey_id + "/" + customer_id)`` read as a
number in [0, 1). Bucket below the journey's holdout share → ``holdout`` (gets nothing, but is
followed exactly like the others), else ``treatment``. The same customer always lands in the same
arm of the same journey — across runs, restarts and edits of the journey — and arms of different
journeys are independent.

>>> assign("cart_abandonment", "C0001", 0.10) == assign("cart_abandonment", "C0001", 0.10)
True
>>> shares = [assign("j", f"C{i}", 0.10) for i in range(20000)]
>>> 0.09 < shares.count("holdout") / len(shares) < 0.11
True
"""

from __future__ import annotations

import hashlib

ARMS = ("treatment", "holdout")


def bucket(journey_id: str, customer_id: str) -> float:
    """A number in [0, 1) fixed by the journey and the customer."""
    digest = hashlib.sha256(f"{journey_id}/{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(journey_id: str, customer_id: str, holdout_share: float) -> str:
    """``"holdout"`` or ``"treatment"``."""
    return "holdout" if bucket(journey_id, customer_id) < holdout_share else "treatment"
