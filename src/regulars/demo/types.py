"""The planted latent customer types and their behaviour.

Each customer belongs to one type. A type fixes the *distribution* of the
customer's process parameters (purchase rate with gamma heterogeneity,
dropout probability after each purchase with beta heterogeneity), how its
purchases follow the calendar (promotions, December), what it buys, how it
reacts to e-mail and discounts, and how satisfied it is. The numbers are
chosen so that types are clearly different on behavioural features but
overlap (a lapsing customer who dropped out after one order looks like a
one-timer), as real segments do.

Examples
--------
>>> [t.name for t in TYPES]
['loyal_regular', 'deal_seeker', 'one_timer', 'lapsing', 'category_fan', 'big_spender', 'browser']
>>> round(sum(t.share for t in TYPES), 6)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

from regulars.demo.calendar import Rhythm

#: Acquisition channels (customers.acquisition_channel, marketing_spend.channel).
CHANNELS = ["organic", "paid_search", "social", "email", "referral", "store"]


@dataclass(frozen=True)
class LatentType:
    name: str
    share: float
    rate: float  # mean purchases per week while alive
    rate_shape: float  # gamma shape of the purchase rate across customers
    dropout: float  # mean probability of dropping out after each purchase
    dropout_concentration: float  # beta a + b (higher = less spread)
    rhythm: Rhythm
    extra_lines: float  # mean of the Poisson number of lines beyond the first
    favourite_share: float  # probability that a line comes from the favourite category
    category_weights: tuple[float, ...]  # coffee, tea, equipment, accessories, gifts, subscriptions
    favourite_weights: tuple[float, ...]  # distribution of the favourite category
    discount: tuple[float, float]  # beta(a, b) of discount affinity
    email: tuple[float, float]  # beta(a, b) of e-mail engagement (open probability)
    channels: tuple[float, ...]  # over CHANNELS
    browse_rate: float  # browsing sessions per week while active
    abandon: float  # probability that a browsing session fills a cart
    review_rate: float  # probability of reviewing an order line
    rating: float  # mean review rating
    nps: float  # mean NPS score
    csat: float  # mean CSAT
    refund_rate: float
    age: float
    unsubscribe: float  # probability of unsubscribing per received e-mail


TYPES: list[LatentType] = [
    LatentType(
        "loyal_regular", 0.14, rate=0.30, rate_shape=8, dropout=0.015, dropout_concentration=60,
        rhythm=Rhythm(promo=1.2, off_promo=1.0, season=0.8), extra_lines=1.2, favourite_share=0.35,
        category_weights=(0.52, 0.12, 0.05, 0.13, 0.06, 0.12), favourite_weights=(0.7, 0.2, 0, 0, 0, 0.1),
        discount=(2, 9), email=(6, 4), channels=(0.35, 0.10, 0.10, 0.10, 0.15, 0.20), browse_rate=0.2, abandon=0.12,
        review_rate=0.05, rating=4.6, nps=9.0, csat=4.5, refund_rate=0.015, age=42, unsubscribe=0.0008,
    ),
    LatentType(
        "deal_seeker", 0.14, rate=0.08, rate_shape=5, dropout=0.06, dropout_concentration=40,
        rhythm=Rhythm(promo=9.0, off_promo=0.3, season=0.4), extra_lines=1.5, favourite_share=0.2,
        category_weights=(0.35, 0.15, 0.15, 0.18, 0.12, 0.05), favourite_weights=(0.4, 0, 0.3, 0.3, 0, 0),
        discount=(18, 2), email=(3, 5), channels=(0.10, 0.30, 0.30, 0.20, 0.10, 0.0), browse_rate=0.2, abandon=0.3,
        review_rate=0.02, rating=3.9, nps=6.5, csat=3.8, refund_rate=0.04, age=33, unsubscribe=0.002,
    ),
    LatentType(
        "one_timer", 0.20, rate=0.05, rate_shape=3, dropout=1.0, dropout_concentration=0,
        rhythm=Rhythm(promo=2.0, off_promo=1.0, season=1.5), extra_lines=0.8, favourite_share=0.3,
        category_weights=(0.35, 0.12, 0.10, 0.13, 0.25, 0.05), favourite_weights=(0.4, 0.15, 0.15, 0, 0.3, 0),
        discount=(3, 6), email=(1.5, 10), channels=(0.20, 0.30, 0.30, 0.05, 0.05, 0.10), browse_rate=0.04, abandon=0.15,
        review_rate=0.025, rating=3.6, nps=6.0, csat=3.4, refund_rate=0.05, age=38, unsubscribe=0.004,
    ),
    LatentType(
        "lapsing", 0.18, rate=0.3, rate_shape=6, dropout=0.2, dropout_concentration=30,
        rhythm=Rhythm(promo=1.3, off_promo=1.0, season=1.0), extra_lines=1.0, favourite_share=0.3,
        category_weights=(0.50, 0.15, 0.07, 0.13, 0.07, 0.08), favourite_weights=(0.6, 0.3, 0, 0, 0, 0.1),
        discount=(3, 7), email=(2, 8), channels=(0.25, 0.25, 0.25, 0.10, 0.10, 0.05), browse_rate=0.15, abandon=0.15,
        review_rate=0.05, rating=3.0, nps=5.0, csat=2.9, refund_rate=0.04, age=36, unsubscribe=0.003,
    ),
    LatentType(
        "category_fan", 0.12, rate=0.12, rate_shape=6, dropout=0.04, dropout_concentration=40,
        rhythm=Rhythm(promo=1.2, off_promo=1.0, season=0.8), extra_lines=1.1, favourite_share=0.93,
        category_weights=(0.40, 0.20, 0.10, 0.15, 0.10, 0.05), favourite_weights=(0.25, 0.40, 0.12, 0.10, 0.05, 0.08),
        discount=(2, 7), email=(4, 6), channels=(0.35, 0.15, 0.15, 0.10, 0.20, 0.05), browse_rate=0.18, abandon=0.12,
        review_rate=0.08, rating=4.4, nps=8.5, csat=4.3, refund_rate=0.02, age=40, unsubscribe=0.001,
    ),
    LatentType(
        "big_spender", 0.10, rate=0.07, rate_shape=6, dropout=0.03, dropout_concentration=40,
        rhythm=Rhythm(promo=1.6, off_promo=1.0, season=1.2), extra_lines=2.8, favourite_share=0.45,
        category_weights=(0.22, 0.05, 0.45, 0.10, 0.15, 0.03), favourite_weights=(0.2, 0, 0.6, 0, 0.2, 0),
        discount=(2, 8), email=(3, 6), channels=(0.30, 0.25, 0.10, 0.05, 0.20, 0.10), browse_rate=0.15, abandon=0.15,
        review_rate=0.06, rating=4.2, nps=8.0, csat=4.0, refund_rate=0.03, age=50, unsubscribe=0.0015,
    ),
    LatentType(
        "browser", 0.12, rate=0.0, rate_shape=1, dropout=0.0, dropout_concentration=0,
        rhythm=Rhythm(promo=1.2, off_promo=1.0, season=0.5), extra_lines=0, favourite_share=0.5,
        category_weights=(0.40, 0.20, 0.15, 0.10, 0.10, 0.05), favourite_weights=(0.4, 0.3, 0.2, 0.1, 0, 0),
        discount=(3, 4), email=(4, 5), channels=(0.35, 0.20, 0.35, 0.0, 0.10, 0.0), browse_rate=0.1, abandon=0.2,
        review_rate=0.0, rating=4.0, nps=7.0, csat=4.0, refund_rate=0.0, age=34, unsubscribe=0.002,
    ),
]
TYPE_NAMES = [t.name for t in TYPES]
BROWSER = TYPE_NAMES.index("browser")
ONE_TIMER = TYPE_NAMES.index("one_timer")
