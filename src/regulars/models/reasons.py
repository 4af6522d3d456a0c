"""Per-customer reasons in words, from TreeSHAP contributions.

The classifiers' contributions (``pred_contrib=True``: Lundberg, S. M. et al. (2020). "From
local explanations to global understanding with explainable AI for trees". *Nature Machine
Intelligence* 2, 56-67) say how much each feature moved one customer's score. Features that
describe the same behaviour (days since the last order, the gap ratio, the last gap) are
summed into a **topic**, the topics that moved the score the most (either way) are kept, and
each is written as a sentence with the customer's own values and the way it pushes, e.g. "no
order for 94 days, 2.3x their usual gap (raises the risk)" or "opened an e-mail 3 days ago (4
opens in 60 days) (lowers the risk)". Windows are the same everywhere: "in the last 30 days"
means the 30 days before the as-of date, so "no site visit in 41 days" is only said of someone
whose 30-day counts beside it are zero.

Everything is vectorised (one pass per topic over the customers it applies to), so reasons
for a million customers take seconds.

Examples
--------
>>> feats = pd.DataFrame({"days_since_last_order": [94.0, 10.0], "gap_ratio": [2.3, 0.4],
...                       "orders": [5, 9], "tenure_days": [400, 700], "days_since_last_open": [75.0, 2.0]})
>>> contrib = pd.DataFrame({"days_since_last_order": [0.8, -0.5], "gap_ratio": [0.3, -0.2],
...                         "orders": [0.0, -0.3], "days_since_last_open": [0.4, -0.1]})
>>> reasons = explain(contrib, feats, top=2)
>>> reasons[0]
['no order for 94 days, 2.3× their usual gap (raises the risk)', 'opened no e-mail in 75 days (raises the risk)']
>>> reasons[1]
['last order 10 days ago, 0.4× their usual gap (lowers the risk)', '9 order(s) in 700 days as a customer (lowers the risk)']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["TOPICS", "explain", "explain_json", "topic_of"]

#: Feature -> topic. Columns not listed fall into their own topic and a generic sentence.
TOPICS: dict[str, str] = {
    **dict.fromkeys(["days_since_last_order", "gap_ratio", "last_gap_days", "mean_days_between_orders",
                     "orders_90d"], "recency"),
    **dict.fromkeys(["orders", "orders_365d", "tenure_days", "expected_orders"], "frequency"),
    **dict.fromkeys(["p_alive"], "pattern"),
    **dict.fromkeys(["revenue", "aov", "revenue_365d"], "value"),
    **dict.fromkeys(["days_since_last_open", "opens_60d", "email_opens", "email_opens_90d", "email_sends",
                     "email_sends_90d", "email_clicks", "email_clicks_90d", "email_unsubscribes",
                     "email_unsubscribes_90d", "accepts_email"], "email"),
    **dict.fromkeys(["days_since_last_visit", "events_30d", "cart_adds_30d", "sessions", "product_views",
                     "cart_adds", "cart_abandonments", "checkout_step_max", "abandoned_checkout_step",
                     "searches"], "web"),
    **dict.fromkeys(["discount_share", "discounted_order_share"], "discount"),
    **dict.fromkeys(["tickets", "mean_csat"], "support"),
    **dict.fromkeys(["reviews", "mean_rating"], "reviews"),
    **dict.fromkeys(["returns"], "returns"),
    **dict.fromkeys(["accepts_sms"], "sms"),
}


def topic_of(feature: str) -> str:
    if feature.startswith("category_share_"):
        return "category"
    return TOPICS.get(feature, feature)


def _col(f: pd.DataFrame, name: str) -> pd.Series:
    if name in f.columns:
        return pd.to_numeric(f[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=f.index)


def _int(s: pd.Series) -> pd.Series:
    return s.round().astype("Int64").astype(str)


def _num(s: pd.Series, digits: int = 1) -> pd.Series:
    return s.round(digits).astype(str)  # vectorised: a million customers in well under a second


def _money(s: pd.Series) -> pd.Series:
    return s.round(0).astype("Int64").astype(str)


def _pick(condition: pd.Series, when_true: pd.Series, when_false: pd.Series) -> pd.Series:
    return when_true.where(condition.fillna(False).to_numpy(dtype=bool), when_false)


def _recency(f: pd.DataFrame) -> pd.Series:
    days, ratio = _col(f, "days_since_last_order"), _col(f, "gap_ratio")
    gap = _col(f, "mean_days_between_orders")
    if ratio.isna().all() and not gap.isna().all():
        ratio = days / gap.where(gap > 0)
    base = "no order for " + _int(days) + " days"
    with_ratio = base + ", " + _num(ratio) + "× their usual gap"
    once = base + " (a single order so far)"
    out = _pick(ratio.notna(), with_ratio, once)
    recent = _pick(ratio.notna(), "last order " + _int(days) + " days ago, " + _num(ratio) + "× their usual gap",
                   "last order " + _int(days) + " days ago")
    return _pick(days < 14, recent, out)


def _frequency(f: pd.DataFrame) -> pd.Series:
    n, tenure, year = _col(f, "orders"), _col(f, "tenure_days"), _col(f, "orders_365d")
    s = _int(n) + " order(s) in " + _int(tenure) + " days as a customer"
    return _pick(year.notna(), s + ", " + _int(year) + " in the last year", s)


def _pattern(f: pd.DataFrame) -> pd.Series:
    # no percentage here: the BG/NBD p_alive behind this feature is 100% for every one-time buyer
    n, days = _col(f, "orders"), _col(f, "days_since_last_order")
    return "how often and how recently they have bought, taken together (" + _int(n) + " order(s), the last " + \
        _int(days) + " days ago)"


def _value(f: pd.DataFrame) -> pd.Series:
    rev, aov, year = _col(f, "revenue"), _col(f, "aov"), _col(f, "revenue_365d")
    s = "spent " + _money(rev) + " in total, " + _money(aov) + " per order"
    return _pick(year.notna(), s + " (" + _money(year) + " in the last year)", s)


def _email(f: pd.DataFrame) -> pd.Series:
    last = _col(f, "days_since_last_open")
    opens = _col(f, "opens_60d")
    sends = _col(f, "email_sends")
    unsub = _col(f, "email_unsubscribes").fillna(0) > 0
    accepts = f["accepts_email"] if "accepts_email" in f.columns else pd.Series(True, index=f.index)
    out = pd.Series("no e-mail activity on record", index=f.index)
    out = _pick(sends > 0, pd.Series("has never opened one of the shop's e-mails", index=f.index), out)
    stale = "opened no e-mail in " + _int(last) + " days"
    fresh = "opened an e-mail " + _int(last) + " days ago (" + _int(opens.fillna(0)) + " opens in 60 days)"
    out = _pick(last.notna(), _pick(last >= 30, stale, fresh), out)
    out = _pick(~accepts.fillna(False).astype(bool), pd.Series("does not accept marketing e-mail", index=f.index), out)
    return _pick(unsub, pd.Series("unsubscribed from the shop's e-mails", index=f.index), out)


def _web(f: pd.DataFrame) -> pd.Series:
    last, n30, carts = _col(f, "days_since_last_visit"), _col(f, "events_30d"), _col(f, "cart_adds_30d")
    out = pd.Series("no site visits on record", index=f.index)
    # the 30-day counts cover the days as_of - 30 .. as_of - 1: a visit 30 days ago is in them
    stale = "no site visit in " + _int(last) + " days"
    fresh = "visited the site " + _int(last) + " days ago (" + _int(n30.fillna(0)) + " actions in the last 30 days"
    fresh = _pick(carts > 0, fresh + ", " + _int(carts) + " added to cart)", fresh + ")")
    return _pick(last.notna(), _pick(last > 30, stale, fresh), out)


def _discount(f: pd.DataFrame) -> pd.Series:
    share = _col(f, "discounted_order_share")
    share = share.fillna(_col(f, "discount_share"))
    return (share * 100).round(0).astype("Int64").astype(str) + "% of their orders used a discount"


def _support(f: pd.DataFrame) -> pd.Series:
    t, csat = _col(f, "tickets"), _col(f, "mean_csat")
    s = _int(t.fillna(0)) + " support ticket(s)"
    return _pick(csat.notna(), s + ", average satisfaction " + _num(csat) + "/5", s)


def _reviews(f: pd.DataFrame) -> pd.Series:
    n, rating = _col(f, "reviews"), _col(f, "mean_rating")
    return _pick(rating.notna(), _int(n.fillna(0)) + " review(s), average " + _num(rating) + " stars",
                 pd.Series("no reviews written", index=f.index))


def _returns(f: pd.DataFrame) -> pd.Series:
    return _int(_col(f, "returns").fillna(0)) + " return(s)"


def _sms(f: pd.DataFrame) -> pd.Series:
    ok = f["accepts_sms"].fillna(False).astype(bool) if "accepts_sms" in f.columns else pd.Series(False, index=f.index)
    return _pick(ok, pd.Series("accepts SMS", index=f.index), pd.Series("does not accept SMS", index=f.index))


def _category(f: pd.DataFrame) -> pd.Series:
    cols = [c for c in f.columns if c.startswith("category_share_")]
    if not cols:
        return pd.Series("", index=f.index)
    shares = f[cols].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    top = shares.idxmax(axis=1).str.replace("category_share_", "", regex=False).str.replace("_", " ")
    return (shares.max(axis=1) * 100).round(0).astype("Int64").astype(str) + "% of their spend is on " + top


_RENDER = {
    "recency": _recency, "frequency": _frequency, "pattern": _pattern, "value": _value, "email": _email,
    "web": _web, "discount": _discount, "support": _support, "reviews": _reviews, "returns": _returns,
    "sms": _sms, "category": _category,
}


def _generic(feature: str):
    label = feature.replace("_", " ")

    def render(f: pd.DataFrame) -> pd.Series:
        v = _col(f, feature)
        return label + ": " + v.map(lambda x: "unknown" if pd.isna(x) else f"{x:,.4g}")

    return render


def _topic_contributions(contrib: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in contrib.columns if c != "bias"]
    topics = pd.Index([topic_of(c) for c in cols])
    values = contrib[cols].to_numpy(dtype=float)
    unique = list(dict.fromkeys(topics))
    summed = np.column_stack([values[:, topics == t].sum(axis=1) for t in unique]) if unique else np.empty((len(contrib), 0))
    return pd.DataFrame(summed, columns=unique, index=contrib.index)


#: How a reason is said to push, by the noun of the prediction (``risk`` of churn, ``chance`` of buying).
DIRECTION = {"risk": (" (raises the risk)", " (lowers the risk)"), "chance": (" (raises the chance)", " (lowers the chance)")}


def _ranked_sentences(contrib: pd.DataFrame, features: pd.DataFrame, top: int, min_effect: float, noun: str = "risk"):
    """For each rank 0..top-1: an Arrow string array of sentences (null where no topic qualifies).

    Topics are ranked by the size of their contribution, either way; each sentence ends with
    the way it pushes. Each topic's sentences are rendered once, for the rows that rank it
    anywhere in their top ``top``; the ranks are then gathered from that pool with one
    ``take`` each.
    """
    up, down = DIRECTION[noun]
    topic_frame = _topic_contributions(contrib)
    if features.index is not contrib.index and not features.index.equals(contrib.index):
        features = features.loc[contrib.index]
    topics = list(topic_frame.columns)
    values = topic_frame.to_numpy()
    n, k = len(values), min(top, len(topics))
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    strength = np.take_along_axis(values, order, axis=1)
    chosen = np.where(np.abs(strength) > min_effect, order, -1)  # (n, k) topic index, -1 for none
    raises = strength > 0
    pool, offset = [], 0
    position = np.full((n, k), -1, dtype=np.int64)  # index into the pool
    for j, topic in enumerate(topics):
        hit = chosen == j
        rows = np.flatnonzero(hit.any(axis=1))
        if not len(rows):
            continue
        render = _RENDER.get(topic) or _generic(topic)
        rendered = render(features.iloc[rows])
        pushes_up = (raises & hit).any(axis=1)[rows]
        rendered = rendered + np.where(pushes_up, up, down)
        pool.append(pa.array(rendered, type=pa.string(), from_pandas=True))
        position[hit] = offset + np.searchsorted(rows, np.nonzero(hit)[0])
        offset += len(rows)
    pool = pa.concat_arrays(pool) if pool else pa.array([], type=pa.string())
    ranks = []
    for r in range(k):
        idx = pa.array(position[:, r], mask=position[:, r] < 0)
        ranks.append(pool.take(idx))
    return ranks


def explain(contributions: pd.DataFrame, features: pd.DataFrame, top: int = 3, min_effect: float = 0.05,
            noun: str = "risk") -> list[list[str]]:
    """Top ``top`` reasons per row as lists of sentences.

    Parameters
    ----------
    contributions : DataFrame
        TreeSHAP contributions (log-odds), one column per feature (a ``bias`` column is
        ignored); positive values push the prediction up.
    features : DataFrame
        The feature values of the same rows (same index); columns beyond the model's are
        used by the sentences (e.g. ``orders_365d`` in the frequency sentence).
    top : int
        Most reasons per customer.
    min_effect : float
        Topics whose summed contribution is at most this (log-odds) either way are not worth a
        sentence.
    noun : {"risk", "chance"}
        What the score is, for "(raises the risk)" / "(lowers the chance)".
    """
    ranks = _ranked_sentences(contributions, features, top, min_effect, noun)
    if not ranks:
        return [[] for _ in range(len(contributions))]
    return [[s for s in row if s is not None] for row in zip(*(r.to_pylist() for r in ranks))]


def explain_json(contributions: pd.DataFrame, features: pd.DataFrame, top: int = 3, min_effect: float = 0.05,
                 noun: str = "risk") -> pd.Series:
    """Like :func:`explain` but as JSON array strings, built without a per-row Python loop."""
    ranks = _ranked_sentences(contributions, features, top, min_effect, noun)
    joined = None
    for sentences in ranks:
        quoted = pc.binary_join_element_wise(
            '"', pc.replace_substring(pc.replace_substring(sentences, "\\", "\\\\"), '"', '\\"'), '"', "")
        joined = quoted if joined is None else pc.coalesce(
            pc.binary_join_element_wise(joined, quoted, ", "), joined, quoted)
    body = pc.coalesce(joined, "") if joined is not None else pa.array([""] * len(contributions))
    text = pc.binary_join_element_wise("[", body, "]", "")
    return pd.Series(text.to_numpy(zero_copy_only=False), index=contributions.index, dtype=object)
