"""The base rate of a win-back test: how often customers like a lapsed audience came back.

When nobody in an audience bought in the last *window* days (an "At risk" or "Hibernating"
segment), its own conversion over that window is 0% and says nothing about what the control
arm of a win-back test will do. The comparable figure is how an **earlier group of lapsed
customers** behaved: the customers who, one window earlier (on ``as_of - window``), had gone as
long without buying and had bought as often as the audience's members have today, and the share
of them who bought again within the next window (before ``as_of``).

Customers are put in strata by days since their last purchase and number of purchases
(:data:`RECENCY_EDGES`, :data:`ORDER_EDGES`); each stratum's come-back rate is weighted by the
audience's share in it (direct standardisation), so a segment of long-lapsed one-time buyers is
not given the rate of recently lapsed regulars. Everything is point in time: the earlier group is
described with the orders before its date, its outcome with the orders before ``as_of``. Members
who never bought have no stratum; the share of the audience that was matched is reported.

Examples
--------
>>> import numpy as np
>>> strata(np.array([45, 45, 400]), np.array([1, 3, 12]))
['30-59 days, 1 purchase', '30-59 days, 3 purchases', '365-544 days, 10+ purchases']
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Lower edges of the bands of days since the last purchase.
RECENCY_EDGES = (0, 30, 60, 90, 120, 180, 270, 365, 545, 730)
#: Lower edges of the bands of the number of purchases.
ORDER_EDGES = (1, 2, 3, 4, 6, 10)
#: Fewest customers in the earlier group for a base rate worth planning on.
MIN_EARLIER = 30


@dataclass(frozen=True)
class LapsedBaseline:
    """A win-back base rate and where it came from."""

    rate: float
    earlier_on: dt.date
    window_days: int
    earlier_customers: int
    came_back: int
    matched_share: float

    @property
    def source(self) -> str:
        """Where the rate came from, in a sentence a shop owner can check."""
        return (f"nobody in this audience bought in the last {self.window_days} days, so the base rate is how often "
                f"{self.earlier_customers:,} customers who, on {self.earlier_on}, had gone as long without buying and "
                f"had bought as often as its members have today bought again within {self.window_days} days "
                f"({self.came_back:,} did; weighted to the audience's mix, {self.matched_share:.0%} of it matched)")


def _band(values: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    return np.searchsorted(np.asarray(edges), values, side="right") - 1


def _label(lo: int, hi: int | None, unit: str, plural: str) -> str:
    if hi is None:
        return f"{lo}+ {plural}"
    if hi - lo == 1:
        return f"{lo} {unit if lo == 1 else plural}"
    return f"{lo}-{hi - 1} {plural}"


def strata(recency_days: np.ndarray, orders: np.ndarray) -> list[str]:
    """The stratum of each customer: a band of days since the last purchase and of the number of purchases."""
    out = []
    for r, o in zip(_band(recency_days, RECENCY_EDGES), _band(orders, ORDER_EDGES)):
        rh = RECENCY_EDGES[r + 1] if r + 1 < len(RECENCY_EDGES) else None
        oh = ORDER_EDGES[o + 1] if o + 1 < len(ORDER_EDGES) else None
        out.append(f"{_label(RECENCY_EDGES[r], rh, 'day', 'days')}, {_label(ORDER_EDGES[o], oh, 'purchase', 'purchases')}")
    return out


def _history(ws, as_of: dt.date) -> pd.DataFrame:
    """``customer_id, recency, orders`` of every customer with a purchase before *as_of*."""
    from regulars.features.mart import order_summary

    s = ws.frame(order_summary(ws, as_of))
    s = s[s["orders"].fillna(0) > 0]
    last = pd.to_datetime(s["last_order_date"])
    return pd.DataFrame({"customer_id": s["customer_id"].to_numpy(),
                         "recency": (pd.Timestamp(as_of) - last).dt.days.to_numpy(),
                         "orders": s["orders"].astype(int).to_numpy()})


def lapsed_baseline(ws, members: pd.Series, as_of: dt.date, window_days: int) -> LapsedBaseline:
    """The win-back base rate for the customers *members* (ids) at *as_of* (see the module docstring).

    Raises ``ValueError`` saying why when the data holds no comparable earlier group.
    """
    from regulars.features.outcomes import window_outcomes

    earlier_on = as_of - dt.timedelta(days=window_days)
    now = _history(ws, as_of)
    now = now[now["customer_id"].isin(set(members))]
    if now.empty:
        raise ValueError(f"nobody in this audience bought in the last {window_days} days and none of them ever "
                         "bought: there is no earlier group to take a base rate from; plan on all customers")
    then = _history(ws, earlier_on)
    then = then[then["recency"] >= window_days]  # lapsed on that day the way the audience is today
    outcome = ws.frame(window_outcomes(ws, ws.table("customers"), earlier_on, as_of))
    then = then.merge(outcome[["customer_id", "converted"]], on="customer_id", how="left")
    then["converted"] = then["converted"].fillna(False).astype(bool)
    now_mix = pd.Series(strata(now["recency"].to_numpy(), now["orders"].to_numpy())).value_counts()
    then["stratum"] = strata(then["recency"].to_numpy(), then["orders"].to_numpy())
    per = then.groupby("stratum")["converted"].agg(["size", "mean", "sum"])
    matched = now_mix[now_mix.index.isin(per.index)]
    used = per.loc[matched.index]
    if matched.empty or int(used["size"].sum()) < MIN_EARLIER:
        raise ValueError(f"nobody in this audience bought in the last {window_days} days, and fewer than "
                         f"{MIN_EARLIER} customers looked like its members on {earlier_on}: too few to take a "
                         "win-back base rate from; plan on all customers or a longer --window")
    rate = float((used["mean"] * matched / matched.sum()).sum())
    if not 0 < rate < 1:
        raise ValueError(f"none (or all) of the {int(used['size'].sum()):,} comparable lapsed customers of "
                         f"{earlier_on} came back within {window_days} days: no base rate to plan on; "
                         "try a longer --window")
    return LapsedBaseline(rate, earlier_on, window_days, int(used["size"].sum()), int(used["sum"].sum()),
                          float(matched.sum() / len(members)) if len(members) else 0.0)
