"""The checks behind the anomaly flags: robust statistics and an isolation forest, each flag with a reason.

- **Unusual orders**: the modified z-score of Iglewicz & Hoaglin (1993, *How to Detect and Handle
  Outliers*), ``0.6745 (x - median) / MAD``, of the log order total and of the largest quantity
  on one line must pass 3.5 (their cut-off) *and* the value must be more than 3 times the shop's
  99th percentile: order values have a long natural tail (a customer buying a grinder), and a
  flag should mean "nothing like what this shop sells", not "the top 1%". Medians, MADs and
  percentiles are the shop's own, so a shop of wholesale buyers is judged against wholesale.
- **Serial returners**: customers with at least 3 orders whose share of returned or refunded
  orders is at least half and three times the shop's, and too high to be chance (one-sided
  binomial test against the shop's rate, p < 0.001).
- **Discount-code abuse**: a code that nearly every customer uses once (a first-order or
  single-use code: at least 90% of its users, 20 or more users) used 3 times or more by one customer.
- **Many identities**: 3 or more e-mail addresses (or phone numbers) linked to one customer.
- **Bot-like sessions**: 100 or more events in one session at a machine's pace (median gap of
  3 seconds or less) without adding anything to a cart; the severity is an isolation forest's
  (Liu, Ting & Zhou 2008, ICDM) anomaly score of the session among the shop's long sessions.

Every function takes a frame of facts and returns a frame of :class:`Flag` rows
(``entity, entity_id, customer_id, kind, score, reason``); ``score`` runs from 0 to 1.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"order_id": [f"O{i}" for i in range(200)], "customer_id": "C",
...                        "total": [40.0 + i % 7 for i in range(199)] + [2400.0],
...                        "max_quantity": [1] * 199 + [40], "currency": "USD"})
>>> flags = order_flags(orders)
>>> flags["entity_id"].tolist(), flags["kind"].tolist()
(['O199', 'O199'], ['large_order', 'large_quantity'])
>>> print(flags["reason"].iloc[0])
order total USD 2,400.00 is 56 times the shop's typical order (USD 43.00)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom

COLUMNS = ["entity", "entity_id", "customer_id", "kind", "score", "reason"]
#: Iglewicz & Hoaglin's cut-off for the modified z-score.
Z_CUTOFF = 3.5
#: ... and a flagged value is more than this many times the shop's 99th percentile.
EXTREME_MULTIPLE = 3.0
MIN_ORDERS_FOR_RETURNS = 3
RETURN_P_VALUE = 0.001
SINGLE_USE_SHARE = 0.9
SINGLE_USE_MIN_USERS = 20
CODE_REUSES = 3
IDENTITIES = 3
BOT_EVENTS = 100
BOT_MEDIAN_GAP_SECONDS = 3.0


@dataclass(frozen=True)
class Flag:
    """One flag: what is unusual (``entity`` order/customer/session and its id), whose, why."""

    entity: str
    entity_id: str
    customer_id: str | None
    kind: str
    score: float
    reason: str


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def robust_z(x) -> np.ndarray:
    """Modified z-scores ``0.6745 (x - median) / MAD`` (0 where the MAD is 0 and x is the median).

    >>> robust_z([1, 2, 3, 4, 100]).round(2).tolist()
    [-1.35, -0.67, 0.0, 0.67, 65.43]
    """
    x = np.asarray(x, dtype=float)
    med = np.nanmedian(x)
    mad = np.nanmedian(np.abs(x - med))
    if mad == 0:
        mad = np.nanmean(np.abs(x - med)) * 1.253314 or 1.0  # the mean absolute deviation's equivalent
    return 0.6745 * (x - med) / mad


def _money(v: float, currency: str | None) -> str:
    return f"{currency + ' ' if currency else ''}{v:,.2f}"


def _score(z: np.ndarray) -> np.ndarray:
    """Map a z beyond the cut-off to 0..1 (3.5 -> 0.5, 10 -> 0.91)."""
    return 1 - np.exp(-np.maximum(z, 0) / 5.0)


def order_flags(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders whose total or largest line quantity is far above the shop's usual (``order_id,
    customer_id, total, max_quantity[, currency]``; positive totals only)."""
    o = orders[orders["total"] > 0]
    if len(o) < 20:
        return _frame([])
    rows = []
    total = o["total"].to_numpy(dtype=float)
    z = robust_z(np.log(total))
    typical = float(np.median(total))
    ceiling = EXTREME_MULTIPLE * float(np.quantile(total, 0.99))
    currency = o["currency"] if "currency" in o else pd.Series([None] * len(o), index=o.index)
    for i in np.flatnonzero((z > Z_CUTOFF) & (total > ceiling)):
        r = o.iloc[i]
        rows.append({"entity": "order", "entity_id": r["order_id"], "customer_id": r["customer_id"],
                     "kind": "large_order", "score": float(_score(z[i])),
                     "reason": f"order total {_money(total[i], currency.iloc[i])} is {total[i] / typical:,.0f} times "
                               f"the shop's typical order ({_money(typical, currency.iloc[i])})"})
    if "max_quantity" in o:
        q = o["max_quantity"].fillna(0).to_numpy(dtype=float)
        zq = robust_z(q)
        usual = float(np.median(q))
        q_ceiling = EXTREME_MULTIPLE * float(np.quantile(q, 0.99))
        for i in np.flatnonzero((zq > Z_CUTOFF) & (q > q_ceiling)):
            r = o.iloc[i]
            rows.append({"entity": "order", "entity_id": r["order_id"], "customer_id": r["customer_id"],
                         "kind": "large_quantity", "score": float(_score(zq[i])),
                         "reason": f"{q[i]:,.0f} units of one product; orders usually have {usual:,.0f}"})
    return _frame(rows)


def return_flags(customers: pd.DataFrame) -> pd.DataFrame:
    """Serial returners from ``customer_id, orders, returned`` (orders counted per customer)."""
    c = customers[customers["orders"] > 0]
    if c.empty:
        return _frame([])
    rate = float(c["returned"].sum() / c["orders"].sum())
    cand = c[(c["orders"] >= MIN_ORDERS_FOR_RETURNS) & (c["returned"] / c["orders"] >= max(0.5, 3 * rate))]
    rows = []
    for r in cand.itertuples(index=False):
        p = float(binom.sf(r.returned - 1, r.orders, max(rate, 1e-6)))
        if p >= RETURN_P_VALUE:
            continue
        rows.append({"entity": "customer", "entity_id": r.customer_id, "customer_id": r.customer_id,
                     "kind": "serial_returner", "score": float(min(1.0, -np.log10(max(p, 1e-300)) / 10)),
                     "reason": f"returned or was refunded {r.returned} of {r.orders} orders "
                               f"({100 * r.returned / r.orders:.0f}%); the shop's rate is {100 * rate:.1f}%"})
    return _frame(rows)


def code_flags(uses: pd.DataFrame) -> pd.DataFrame:
    """Repeated use of single-use codes, from ``customer_id, code, uses`` (orders per customer and code)."""
    if uses.empty:
        return _frame([])
    per_code = uses.groupby("code").agg(users=("customer_id", "nunique"), once=("uses", lambda u: (u == 1).mean()))
    single = per_code[(per_code["users"] >= SINGLE_USE_MIN_USERS) & (per_code["once"] >= SINGLE_USE_SHARE)]
    hits = uses[uses["code"].isin(single.index) & (uses["uses"] >= CODE_REUSES)]
    rows = []
    for r in hits.itertuples(index=False):
        s = single.loc[r.code]
        rows.append({"entity": "customer", "entity_id": r.customer_id, "customer_id": r.customer_id,
                     "kind": "code_abuse", "score": float(min(1.0, 0.4 + 0.1 * r.uses)),
                     "reason": f"used the code {r.code} {r.uses} times; {100 * s['once']:.0f}% of the "
                               f"{int(s['users']):,} customers who used it did so once"})
    return _frame(rows)


def identity_flags(identities: pd.DataFrame) -> pd.DataFrame:
    """Customers with many e-mail addresses or phone numbers, from ``customer_id, emails, phones``."""
    rows = []
    for what, col in (("e-mail addresses", "emails"), ("phone numbers", "phones")):
        if col not in identities:
            continue
        for r in identities[identities[col] >= IDENTITIES].itertuples(index=False):
            n = int(getattr(r, col))
            rows.append({"entity": "customer", "entity_id": r.customer_id, "customer_id": r.customer_id,
                         "kind": f"many_{col}", "score": float(min(1.0, 0.3 + 0.1 * n)),
                         "reason": f"{n} different {what} on one customer"})
    return _frame(rows)


def session_flags(sessions: pd.DataFrame, random_state: int = 0) -> pd.DataFrame:
    """Bot-like sessions from ``session_id, customer_id, events, seconds, median_gap, carts``
    (long sessions only are enough: the rule needs 100 events)."""
    if sessions.empty:
        return _frame([])
    s = sessions.reset_index(drop=True)
    bot = (s["events"] >= BOT_EVENTS) & (s["median_gap"] <= BOT_MEDIAN_GAP_SECONDS) & (s["carts"] == 0)
    if not bot.any():
        return _frame([])
    features = np.column_stack([np.log1p(s["events"]), np.log1p(s["median_gap"].clip(lower=0)),
                                np.log1p(s["events"] / np.maximum(s["seconds"], 1) * 60)])
    if len(s) >= 10:
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(n_estimators=100, random_state=random_state).fit(features)
        severity = np.clip(-forest.score_samples(features), 0, 1)
    else:
        severity = np.full(len(s), 0.8)
    rows = []
    for i in np.flatnonzero(bot.to_numpy()):
        r = s.iloc[i]
        minutes = max(float(r["seconds"]) / 60, 1 / 60)
        rows.append({"entity": "session", "entity_id": r["session_id"],
                     "customer_id": None if pd.isna(r["customer_id"]) else r["customer_id"], "kind": "bot_session",
                     "score": float(severity[i]),
                     "reason": f"{int(r['events']):,} events in {minutes:,.0f} minute(s), one every "
                               f"{float(r['median_gap']):.1f} s, nothing added to a cart"})
    return _frame(rows)
