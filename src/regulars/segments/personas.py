"""Persona cards: every cluster as a named, described, actionable group of customers.

A card says who the cluster is ("Deal-Seeking Dana"), how big and how valuable it is, what
sets it apart from the average customer in plain words, where its customers come from and
what to offer them. Names are generated: the cluster's most distinguishing trait gives an
adjective and an alliterative first name (the category fans of a coffee shop become
"Coffee-Loving Chloe").

Distinguishing traits are ranked by the standardised difference between the cluster's mean
and everyone's mean on the model's scale (log and standardised features, see
:mod:`regulars.segments.clusters`); the words use the raw numbers ("buys 3.1x as often as
the average customer").

Examples
--------
>>> name_for("discount_share", True, taken=set())
'Deal-Seeking Dana'
>>> name_for("category_focus", True, taken={"Coffee-Loving Chloe"}, category="coffee")
'Coffee-Loving Clara'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from regulars.segments.clusters import FEATURES, NEVER_BOUGHT, NO_NET_SPEND, NOISE, BehaviouralClusters
from regulars.values import round_money

#: (adjective when high, adjective when low) for each feature.
ADJECTIVES = {
    "frequency": ("Loyal", "Occasional"),
    "recency": ("Lapsing", "Recent"),
    "order_value": ("Big-Basket", "Budget"),
    "discount_share": ("Deal-Seeking", "Full-Price"),
    "category_focus": ("{category}-Loving", "Explorer"),
    "web_engagement": ("Browsing", "Offline"),
    "email_engagement": ("Newsletter-Reading", "Quiet"),
}

#: A short label of the top trait (``PersonaCard.top_trait``).
TRAIT_LABELS = {
    ("frequency", True): "buy often", ("frequency", False): "buy rarely",
    ("recency", True): "have not bought for a long time", ("recency", False): "bought recently",
    ("order_value", True): "large baskets", ("order_value", False): "small baskets",
    ("discount_share", True): "buy on discount", ("discount_share", False): "pay full price",
    ("category_focus", True): "stick to {category}", ("category_focus", False): "buy across categories",
    ("web_engagement", True): "browse the web shop a lot", ("web_engagement", False): "rarely visit the web shop",
    ("email_engagement", True): "read the e-mails", ("email_engagement", False): "ignore the e-mails",
}

#: Alliterative first names, two per letter (the second when the first is taken).
FIRST_NAMES = {
    "A": ("Alice", "Anna"), "B": ("Bella", "Ben"), "C": ("Chloe", "Clara"), "D": ("Dana", "Diego"),
    "E": ("Emma", "Eli"), "F": ("Fiona", "Felix"), "G": ("Grace", "Gus"), "H": ("Hannah", "Hugo"),
    "I": ("Iris", "Ivan"), "J": ("Julia", "Jonas"), "K": ("Kate", "Kai"), "L": ("Laura", "Leo"),
    "M": ("Maya", "Max"), "N": ("Nora", "Nico"), "O": ("Olivia", "Oscar"), "P": ("Paula", "Pete"),
    "Q": ("Quinn", "Queenie"), "R": ("Rosa", "Rafael"), "S": ("Sofia", "Sam"), "T": ("Tara", "Theo"),
    "U": ("Uma", "Ulrich"), "V": ("Vanessa", "Victor"), "W": ("Wendy", "Will"), "X": ("Xena", "Xavier"),
    "Y": ("Yara", "Yusuf"), "Z": ("Zoe", "Zack"),
}

#: What to do for a cluster, by its most distinguishing trait (feature, high?).
ACTIONS = {
    ("frequency", True): "Reward them: loyalty perks, early access to new products, ask for reviews and referrals.",
    ("frequency", False): "Give a reason to come back sooner: replenishment reminders and a second-purchase offer.",
    ("recency", True): "Win them back before they are gone: a personal 'we miss you' message with a time-limited offer.",
    ("recency", False): "Keep the momentum: recommend what goes with their last purchase within two weeks.",
    ("order_value", True): "Treat them as VIPs: premium lines, bundles and personal service; protect them from churn.",
    ("order_value", False): "Raise the basket: bundles, free-shipping thresholds and add-on suggestions at checkout.",
    ("discount_share", True): "Reach them with sales and clearance; use spend-more-save-more offers to protect margin.",
    ("discount_share", False): "Do not train them to wait for discounts: sell on quality, news and service.",
    ("category_focus", True): "Announce new arrivals in {category} first; cross-sell one adjacent category at a time.",
    ("category_focus", False): "Curated discovery: themed selections across categories and gift ideas.",
    ("web_engagement", True): "Retarget viewed products and abandoned carts; personalise the home page.",
    ("web_engagement", False): "Reach them in store or by e-mail; keep the web journey short.",
    ("email_engagement", True): "E-mail is their channel: newsletters with stories, previews and personal picks.",
    ("email_engagement", False): "E-mail does not reach them: try SMS, retargeting or in-store contact.",
}
NEVER_BOUGHT_ACTION = "Turn interest into a first order: a welcome offer and reminders of the products they viewed."
NO_NET_SPEND_ACTION = ("Find out why nothing was kept: check the returns and complaints behind these orders before "
                       "marketing to them.")


@dataclass
class PersonaCard:
    """One cluster described for people (``to_dict`` for JSON and the dashboard)."""

    cluster: int
    name: str
    size: int
    share: float
    value_share: float
    revenue_per_customer: float
    traits: list[str]
    top_trait: str
    preferred_channel: str | None
    channels: dict[str, float]
    action: str
    top_category: str | None = None
    profile: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def name_for(feature: str, high: bool, taken: set[str], category: str | None = None) -> str:
    """An alliterative persona name for a trait, different from the names in *taken*."""
    adjective = ADJECTIVES[feature][0 if high else 1]
    if "{category}" in adjective:
        adjective = adjective.format(category=(category or "Category").replace("_", " ").title().replace(" ", "-"))
    letter = adjective[0].upper()
    used_first = {n.split(" ")[1] for n in taken if " " in n}
    options = FIRST_NAMES.get(letter, ("Alex", "Sam"))
    # a first name nobody has yet ("Offline Olivia", then "Occasional Oscar"), else any free name
    for first in [o for o in options if o not in used_first] + list(options):
        name = f"{adjective} {first}"
        if name not in taken:
            return name
    n = 2
    while f"{adjective} {FIRST_NAMES.get(letter, ('Alex',))[0]} {n}" in taken:
        n += 1
    return f"{adjective} {FIRST_NAMES.get(letter, ('Alex',))[0]} {n}"


def _times(ratio: float, more: str, less: str, same: str) -> str:
    if not np.isfinite(ratio) or ratio <= 0:
        return less
    if 1 / 1.1 <= ratio <= 1.1:
        return same
    if ratio >= 1:
        return f"{ratio:.1f}× {more}"
    return f"{1 / ratio:.1f}× {less}"


def describe(feature: str, value: float, average: float, category: str | None = None) -> str:
    """One trait in plain words, with the cluster's and the average customer's numbers.

    >>> describe("frequency", 6.2, 2.0)
    'buys 3.1× as often as the average customer (6.2 vs 2.0 orders a year)'
    >>> describe("discount_share", 0.8, 0.2)
    '80% of purchases use a discount (average customer: 20%)'
    >>> describe("web_engagement", 0.0, 0.0)
    'visits the web shop no more than the average customer (neither visits)'
    """
    if not (np.isfinite(value) and np.isfinite(average)):
        return f"{FEATURE_WORDS.get(feature, feature)}: not known"
    if average <= 0:  # no ratio to an average of nothing
        if feature == "web_engagement":
            return ("visits the web shop no more than the average customer (neither visits)" if value <= 0 else
                    f"visits the web shop ({value:.0f} sessions a year) where the average customer does not")
        if feature == "frequency" and value <= 0:
            return "has never bought"
        return f"{FEATURE_WORDS.get(feature, feature)}: {value:,.3g} (average customer: {average:,.3g})"
    ratio = value / average
    if feature == "frequency":
        if value == 0:
            return "has never bought"
        return (f"buys {_times(ratio, 'as often as', 'less often than', 'about as often as')} the average customer "
                f"({value:.1f} vs {average:.1f} orders a year)")
    if feature == "recency":
        return f"last bought {value:.0f} days ago on average (average customer: {average:.0f} days)"
    if feature == "order_value":
        if value <= 0:
            return f"kept nothing they ordered: 0.00 per order after refunds (average customer: {average:,.2f})"
        return (f"spends {value:,.2f} per order, {_times(ratio, 'the average', 'less than the average', 'about the average')}"
                f" ({average:,.2f})")
    if feature == "discount_share":
        return f"{value:.0%} of purchases use a discount (average customer: {average:.0%})"
    if feature == "category_focus":
        where = f", mostly on {category.replace('_', ' ')}" if category else ""
        return f"spends {value:.0%} in their favourite category{where} (average customer: {average:.0%})"
    if feature == "web_engagement":
        return (f"visits the web shop {_times(ratio, 'as often as', 'less often than', 'about as often as')} average "
                f"({value:.0f} vs {average:.0f} sessions a year)")
    if feature == "email_engagement":
        return f"opens {value:.0%} of e-mails (average customer: {average:.0%})"
    return f"{feature}: {value:.3g} (average customer: {average:.3g})"


#: Plain words for a feature when no comparison can be made.
FEATURE_WORDS = {
    "frequency": "orders a year", "recency": "days since the last order", "order_value": "spend per order",
    "discount_share": "share of purchases with a discount", "category_focus": "share of spend in the favourite category",
    "web_engagement": "web sessions a year", "email_engagement": "e-mail open rate",
}


def order_channels(tables, as_of=None) -> ir.Table:
    """Each customer's most used sales channel (``customer_id, order_channel``; ties by name).

    Built as an Ibis expression over the canonical ``orders`` (purchases only).
    """
    from regulars.features.cohorts import transactions

    t = transactions(tables, as_of)
    t = t.filter(t.is_purchase & t.channel.notnull())
    counts = t.group_by(["customer_id", "channel"]).aggregate(n=t.count())
    w = ibis.window(group_by=counts.customer_id, order_by=[ibis.desc(counts.n), counts.channel])
    ranked = counts.mutate(_rn=ibis.row_number().over(w))
    return ranked.filter(ranked._rn == 0).select("customer_id", order_channel=ranked.channel)


def _categories(mart: pd.DataFrame) -> list[str]:
    return [c for c in mart.columns if c.startswith("category_share_")]


def persona_cards(
    frame: pd.DataFrame,
    mart: pd.DataFrame,
    model: BehaviouralClusters | None = None,
    channels: pd.Series | None = None,
    n_traits: int = 3,
) -> list[PersonaCard]:
    """Persona cards for every cluster of :func:`~regulars.segments.clusters.cluster_customers`.

    Parameters
    ----------
    frame : DataFrame
        Indexed by ``customer_id``: the behavioural features and ``cluster``.
    mart : DataFrame
        The executed features mart (revenue, acquisition channel, category shares).
    model : BehaviouralClusters, optional
        Used to compare clusters on the model's scale; without it features are z-scored.
    channels : Series, optional
        Preferred sales channel per ``customer_id`` (see :func:`order_channels`); default:
        the mart's ``acquisition_channel``.
    n_traits : int
        How many distinguishing traits to describe.

    Returns
    -------
    list of PersonaCard, largest value share first; never-buyers last.
    """
    mart = mart.set_index(mart["customer_id"].astype(str)) if "customer_id" in mart.columns else mart
    mart = mart.reindex(frame.index)
    features = [f for f in FEATURES if f in frame.columns]
    raw = frame[features].astype(float)
    if model is not None:
        z = pd.DataFrame(model.transform(raw), index=frame.index, columns=features)
    else:
        filled = raw.fillna(raw.median())
        z = (filled - filled.mean()) / filled.std(ddof=0).replace(0, 1)
    buyers = ~frame["cluster"].isin([NEVER_BOUGHT, NO_NET_SPEND])
    if not buyers.any():
        buyers = pd.Series(True, index=frame.index)
    # "the average customer" is the average buyer: never-buyers have no purchase behaviour
    averages = raw[buyers].mean(skipna=True)
    z_average = z[buyers].mean()
    revenue = pd.to_numeric(mart.get("revenue", pd.Series(0.0, index=frame.index)), errors="coerce").fillna(0.0)
    total_revenue = float(revenue.clip(lower=0).sum()) or 1.0
    if channels is None and "acquisition_channel" in mart.columns:
        channels = mart["acquisition_channel"]
    if channels is not None:
        channels = channels.reindex(frame.index).astype(object)
        if "acquisition_channel" in mart.columns:  # never-buyers have no sales channel
            channels = channels.where(channels.notna(), mart["acquisition_channel"].astype(object))
        channels = channels.where(channels.notna(), "unknown")
    cat_cols = _categories(mart)

    cards: list[PersonaCard] = []
    taken: set[str] = set()
    clusters = sorted(frame["cluster"].unique(), key=lambda c: (c < 0, -c if c < 0 else 0,
                                                                -revenue[frame["cluster"] == c].sum()))
    for c in clusters:
        members = frame["cluster"] == c
        size = int(members.sum())
        diff = z[members].mean() - z_average
        order = diff.abs().sort_values(ascending=False)
        means = raw[members].mean(skipna=True)
        top_category = None
        if cat_cols:
            shares = mart.loc[members, cat_cols].apply(pd.to_numeric, errors="coerce").mean()
            if shares.notna().any():
                top_category = shares.idxmax().removeprefix("category_share_")
        traits: list[str] = []
        if c == NEVER_BOUGHT:
            traits.append("has never bought")
            candidates = [f for f in order.index if f in ("web_engagement", "email_engagement")]
        elif c == NO_NET_SPEND:
            refunded = -float(revenue[members].clip(upper=0).sum())
            orders = float(pd.to_numeric(mart.loc[members, "orders"], errors="coerce").fillna(0).mean()) \
                if "orders" in mart.columns else 0.0
            traits.append(f"kept nothing they bought: {orders:.1f} purchase(s) each on average, every one returned, "
                          "refunded or free, or only returns of earlier purchases on record"
                          + (f" ({refunded:,.2f} refunded beyond what was bought here)" if refunded > 0 else ""))
            candidates = [f for f in order.index if f in ("web_engagement", "email_engagement", "frequency")]
        else:
            candidates = list(order.index)
        for f in candidates:
            if len(traits) >= n_traits:
                break
            if not np.isfinite(means[f]) or not np.isfinite(averages[f]):
                continue
            traits.append(describe(f, float(means[f]), float(averages[f]), top_category if f == "category_focus" else None))
        # the most distinguishing trait whose adjective no other card uses yet
        used = {n.split(" ")[0] for n in taken}
        top = next((f for f in order.index if _adjective(f, bool(diff[f] > 0), top_category) not in used),
                   order.index[0])
        high = bool(diff[top] > 0)
        if c == NEVER_BOUGHT:
            name, top_trait, action = _unique("Window-Shopping Wendy", taken), "never bought", NEVER_BOUGHT_ACTION
        elif c == NO_NET_SPEND:
            name, top_trait, action = _unique("Returning Rita", taken), "kept nothing they bought", NO_NET_SPEND_ACTION
        else:
            name = name_for(top, high, taken, category=top_category)
            top_trait = TRAIT_LABELS[(top, high)].format(category=(top_category or "one category").replace("_", " "))
            action = ACTIONS[(top, high)].format(category=(top_category or "their category").replace("_", " "))
        if c == NOISE:
            name = _unique("Unusual Uma", taken)
            action = "No common pattern: treat individually (they fit no cluster)."
        taken.add(name)
        mix: dict[str, float] = {}
        preferred = None
        if channels is not None and size:
            mix = channels[members].value_counts(normalize=True).round(3).to_dict()
            preferred = max(mix, key=lambda k: (mix[k], k)) if mix else None
        cards.append(
            PersonaCard(
                cluster=int(c),
                name=name,
                size=size,
                share=round(size / max(len(frame), 1), 4),
                value_share=round(float(revenue[members].clip(lower=0).sum()) / total_revenue, 4),
                # net revenue per customer: groups kept apart for having none show 0, not a negative mean
                revenue_per_customer=round_money(max(float(revenue[members].mean()), 0.0) if size else 0.0),
                traits=traits,
                top_trait=top_trait,
                preferred_channel=preferred,
                channels={str(k): float(v) for k, v in mix.items()},
                action=action,
                top_category=top_category,
                profile={
                    f: {"cluster": _num(means[f]), "average": _num(averages[f]), "difference_sd": _num(diff[f])}
                    for f in features
                },
            )
        )
    return cards


def _adjective(feature: str, high: bool, category: str | None) -> str:
    return name_for(feature, high, set(), category).split(" ")[0]


def _unique(name: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    if name not in taken:
        return name
    n = 2
    while f"{name} {n}" in taken:
        n += 1
    return f"{name} {n}"


def _num(v) -> float | None:
    v = float(v)
    return round(v, 4) if np.isfinite(v) else None
