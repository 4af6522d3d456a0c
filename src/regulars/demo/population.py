"""Who the demo customers are: latent type, process parameters, acquisition, contacts.

Customers are numbered in the order their account was created, so customer
ids grow with time as in a real shop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regulars.demo._arrow import weighted_choice
from regulars.demo.calendar import DAY, Calendar, Clock
from regulars.demo.people import IS_LOCAL, draw_places
from regulars.demo.types import BROWSER, CHANNELS, TYPES

STORE = CHANNELS.index("store")


@dataclass
class Population:
    """One entry per customer (index = customer number - 1)."""

    n: int
    type: np.ndarray
    rate: np.ndarray  # purchases per week while alive
    dropout: np.ndarray
    favourite: np.ndarray  # category index
    discount_affinity: np.ndarray
    email_engagement: np.ndarray
    acquired: np.ndarray  # local seconds: first order (buyers) or sign-up (browsers)
    created: np.ndarray  # local seconds: account created
    channel: np.ndarray
    place: np.ndarray
    has_email: np.ndarray
    has_phone: np.ndarray
    age: np.ndarray  # years at the end of the period
    has_birth_date: np.ndarray

    @property
    def buyer(self) -> np.ndarray:
        return self.type != BROWSER

    def reorder(self, order: np.ndarray) -> None:
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(self, name, value[order])


def clocks(cal: Calendar) -> list[Clock]:
    """The purchase clock of each latent type (its rhythm over the calendar)."""
    return [cal.clock(t.rhythm) for t in TYPES]


def growth(cal: Calendar) -> np.ndarray:
    """Hourly weight of acquisitions: the shop grows from 0.5x to 1.5x over the period, nothing after it."""
    h = np.arange(cal.total_days * 24)
    g = 0.5 + h / (cal.n_days * 24)
    g[h >= cal.n_days * 24] = 0.0
    return g


def draw_population(rng: np.random.Generator, cal: Calendar, n: int, type_clocks: list[Clock]) -> Population:
    shares = np.array([t.share for t in TYPES])
    kind = weighted_choice(rng, shares, n)
    rate = np.zeros(n)
    dropout = np.zeros(n)
    favourite = np.zeros(n, dtype=np.int64)
    discount = np.zeros(n)
    email = np.zeros(n)
    acquired = np.zeros(n)
    channel = np.zeros(n, dtype=np.int64)
    age = np.zeros(n)
    g = growth(cal)
    for i, t in enumerate(TYPES):
        m = kind == i
        k = int(m.sum())
        if not k:
            continue
        if t.rate > 0:
            rate[m] = rng.gamma(t.rate_shape, t.rate / t.rate_shape, k)
        if t.dropout >= 1 or t.dropout_concentration <= 0:
            dropout[m] = t.dropout
        else:
            a = t.dropout * t.dropout_concentration
            dropout[m] = rng.beta(a, t.dropout_concentration - a, k)
        favourite[m] = weighted_choice(rng, t.favourite_weights, k)
        discount[m] = rng.beta(*t.discount, k)
        email[m] = rng.beta(*t.email, k)
        acquired[m] = type_clocks[i].sample(rng, k, 0.0, float(cal.end), weight=g)
        channel[m] = weighted_choice(rng, t.channels, k)
        age[m] = np.clip(rng.normal(t.age, 12, k), 18, 85)
    # Accounts: most are created at checkout, some signed up (newsletter, wishlist) days before.
    early = (rng.random(n) < 0.3) & (kind != BROWSER)
    lead = np.where(early, rng.exponential(20 * DAY, n), rng.uniform(60, 1200, n))
    lead[kind == BROWSER] = 0.0  # a browser's account is their newsletter sign-up
    created = acquired - lead  # may fall before the period: the account existed before the first order
    store = channel == STORE
    place = draw_places(rng, store)
    local = IS_LOCAL[place]
    has_email = ~(store & (rng.random(n) < 0.12))
    has_phone = rng.random(n) < np.where(store | local, 0.6, 0.4)
    has_phone |= ~has_email
    has_birth = rng.random(n) < 0.35
    pop = Population(
        n=n, type=kind, rate=rate, dropout=dropout, favourite=favourite, discount_affinity=discount,
        email_engagement=email, acquired=acquired, created=created, channel=channel, place=place,
        has_email=has_email, has_phone=has_phone, age=age, has_birth_date=has_birth,
    )
    pop.reorder(np.argsort(created, kind="stable"))
    return pop
