"""The planted purchase process, and the orders and lines it produces.

Process (BG/NBD-like, per customer ``i`` of type ``g``):

* the first purchase happens at acquisition;
* while alive, purchases arrive as a Poisson process with rate ``lam_i``
  per week (gamma across customers) modulated by the type's calendar rhythm
  (promotions, December, weekdays, hours);
* after each purchase the customer drops out with probability ``p_i``
  (beta across customers; 1 for one-timers), silently.

It is simulated without a loop over customers: the number of purchases
before dropout is geometric, the number of arrivals in the window is
Poisson, and the first ``k`` arrival times are uniform order statistics
drawn from exponential spacings, mapped back to calendar time through the
rhythm's cumulative intensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regulars.demo._arrow import expand, rank_in_group, weighted_choice
from regulars.demo.calendar import DAY, HOUR, STORE_HOUR_WEIGHTS, Calendar, Clock
from regulars.demo.catalog import CATEGORIES, Catalog
from regulars.demo.people import IS_DOMESTIC, IS_LOCAL, TAX_RATE
from regulars.demo.population import STORE, Population
from regulars.demo.types import CHANNELS, ONE_TIMER, TYPES

ORDER_CHANNELS = ["web", "app", "pos"]
WEB, APP, POS = 0, 1, 2
STATUSES = ["paid", "refunded", "partially_refunded", "pending", "returned"]
PAID, REFUNDED, PARTIAL, PENDING, RETURNED = range(5)
EXTRA_CODES = [("WELCOME10", 10), ("FRIEND10", 10), ("THANKYOU15", 15)]
COFFEE, TEA, EQUIPMENT, ACCESSORIES, GIFTS, SUBSCRIPTIONS = range(6)
FAN = [t.name for t in TYPES].index("category_fan")
DEAL = [t.name for t in TYPES].index("deal_seeker")
BIG = [t.name for t in TYPES].index("big_spender")
#: Coffee and tea prices went up ~7% at this fraction of the period.
PRICE_CHANGE_AT = 0.45


@dataclass
class Orders:
    cust: np.ndarray
    t: np.ndarray  # local seconds
    channel: np.ndarray  # ORDER_CHANNELS
    store: np.ndarray  # index into people.STORES (pos orders)
    code: np.ndarray  # index into codes, -1 none
    status: np.ndarray
    subtotal: np.ndarray  # cents
    discount: np.ndarray
    shipping: np.ndarray
    tax: np.ndarray
    total: np.ndarray
    refunded: np.ndarray  # cents, -1 = none
    refunded_t: np.ndarray  # local seconds of the refund, -1 = none
    is_return: np.ndarray
    number: np.ndarray  # 0-based rank by time: the order id

    @property
    def size(self) -> int:
        return self.cust.size


@dataclass
class Lines:
    order: np.ndarray  # index into Orders
    line_number: np.ndarray  # 1-based
    product: np.ndarray
    quantity: np.ndarray
    unit: np.ndarray  # cents
    discount: np.ndarray  # cents

    @property
    def size(self) -> int:
        return self.order.size


@dataclass
class Truth:
    alive: np.ndarray
    churned: np.ndarray  # local seconds, nan when alive
    acquired: np.ndarray
    orders_next_365d: np.ndarray


def discount_codes(cal: Calendar) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(codes, percent per code, code index of each calendar promotion)."""
    codes: list[str] = []
    pct: list[int] = []
    for p in cal.promos:
        if p.code not in codes:
            codes.append(p.code)
            pct.append(p.percent)
    promo_code = np.array([codes.index(p.code) for p in cal.promos], dtype=np.int64)
    for c, v in EXTRA_CODES:
        codes.append(c)
        pct.append(v)
    return codes, np.array(pct), promo_code


def simulate(rng: np.random.Generator, cal: Calendar, cat: Catalog, pop: Population, clocks: list[Clock]):
    """Orders, lines and the truth about each customer's process."""
    times, truth_parts = _purchase_times(rng, cal, pop, clocks)
    cust, t = times
    channel, store = _channels(rng, pop, cust)
    t = _store_hours(rng, t, channel)
    order = np.argsort(_key(cust, t), kind="stable")
    cust, t, channel, store = cust[order], t[order], channel[order], store[order]
    first = rank_in_group(cust) == 0
    codes, pct, promo_code = discount_codes(cal)
    code = _codes(rng, cal, pop, cust, t, first, channel, codes, promo_code)
    lines = _lines(rng, cal, cat, pop, cust, t, code, pct)
    orders = _totals(pop, cust, t, channel, store, code, lines)
    _refunds(rng, cal, pop, orders, lines)
    orders, lines = _returns(rng, cal, pop, orders, lines)
    truth = _truth(pop, orders, *truth_parts)
    return orders, lines, truth, codes


# -- the process ---------------------------------------------------------------
def _purchase_times(rng, cal: Calendar, pop: Population, clocks: list[Clock]):
    n = pop.n
    buyer = pop.buyer
    y0 = np.zeros(n)
    window = np.zeros(n)
    future = np.zeros(n)
    for g, clock in enumerate(clocks):
        m = (pop.type == g) & buyer
        if m.any():
            y0[m] = clock.at(pop.acquired[m])
            window[m] = clock.at(cal.end) - y0[m]
            future[m] = clock.at(cal.end + 365 * DAY) - clock.at(cal.end)
    lam, p = pop.rate, pop.dropout
    arrivals = rng.poisson(lam * window)  # arrivals in the window if the customer never dropped out
    n_total = np.where(buyer, rng.geometric(np.clip(p, 1e-9, 1.0)), 0)  # purchases before dropout
    repeats = np.where(buyer, np.minimum(n_total - 1, arrivals), 0)
    alive = buyer & (n_total - 1 > arrivals)

    owner, _ = expand(repeats)
    spacing = rng.exponential(size=owner.size)
    cs = np.cumsum(spacing)
    starts = np.cumsum(repeats) - repeats
    has = repeats > 0
    before = np.zeros(n)
    before[has] = cs[starts[has]] - spacing[starts[has]]
    s_k = cs - before[owner]
    s_last = np.zeros(n)
    s_last[has] = s_k[starts[has] + repeats[has] - 1]
    rest = np.zeros(n)
    rest[has] = rng.gamma(arrivals[has] - repeats[has] + 1.0)
    frac = s_k / (s_last + rest)[owner]
    y = y0[owner] + window[owner] * frac
    t_rep = np.empty(owner.size)
    kind = pop.type[owner]
    for g, clock in enumerate(clocks):
        m = kind == g
        if m.any():
            t_rep[m] = clock.inverse(y[m])
    t_rep = np.minimum(t_rep, cal.end - 1.0)
    buyers = np.flatnonzero(buyer)
    cust = np.concatenate([buyers, owner])
    t = np.concatenate([pop.acquired[buyers], t_rep])
    return (cust, t), (alive, lam, p, future)


def _key(cust: np.ndarray, t: np.ndarray) -> np.ndarray:
    """An int64 sort key: by customer, then by time (whole seconds)."""
    return (cust.astype(np.int64) << 27) | np.floor(t).astype(np.int64)


def _channels(rng, pop: Population, cust: np.ndarray):
    store_cust = pop.channel[cust] == STORE
    local = IS_LOCAL[pop.place[cust]]
    p_pos = np.where(store_cust, 0.75, np.where(local, 0.2, 0.0))
    kind = pop.type[cust]
    p_app = np.array([0.12 if i in (0, DEAL, FAN) else 0.05 for i in range(len(TYPES))])[kind]
    u = rng.random(cust.size)
    channel = np.where(u < p_pos, POS, np.where(u < p_pos + (1 - p_pos) * p_app, APP, WEB))
    # each store shopper has a home store, sometimes visits the other one
    home = (np.arange(pop.n) * 7 + 3) % 5 < 3  # stable per customer, ~60% Division St
    store = np.where(home[cust] ^ (rng.random(cust.size) < 0.1), 0, 1)
    return channel, store


def _store_hours(rng, t: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Point-of-sale orders happen during opening hours of the same day."""
    pos = channel == POS
    k = int(pos.sum())
    hour = weighted_choice(rng, STORE_HOUR_WEIGHTS, k)
    t = t.copy()
    t[pos] = np.floor(t[pos] / DAY) * DAY + hour * HOUR + rng.random(k) * HOUR
    return t


# -- baskets -----------------------------------------------------------------------
def _codes(rng, cal, pop, cust, t, first, channel, codes, promo_code) -> np.ndarray:
    n = cust.size
    promo = cal.in_promo(t)
    aff = pop.discount_affinity[cust]
    online = channel != POS
    u = rng.random(n)
    code = np.full(n, -1, dtype=np.int64)
    use = (promo >= 0) & (u < aff)
    code[use] = promo_code[promo[use]]
    referral = pop.channel[cust] == CHANNELS.index("referral")
    paid = np.isin(pop.channel[cust], [CHANNELS.index("paid_search"), CHANNELS.index("social")])
    welcome = first & ~use & online & (u < 0.1 + 0.5 * aff + 0.1 * paid)
    code[welcome] = np.where(referral[welcome] & (rng.random(int(welcome.sum())) < 0.7),
                             codes.index("FRIEND10"), codes.index("WELCOME10"))
    thanks = ~first & (promo < 0) & online & (rng.random(n) < 0.25 * aff)
    code[thanks] = codes.index("THANKYOU15")
    return code


def _lines(rng, cal: Calendar, cat: Catalog, pop: Population, cust, t, code, pct) -> Lines:
    kind = pop.type[cust]
    extra = np.array([x.extra_lines for x in TYPES])[kind]
    extra = extra + 0.5 * ((kind == DEAL) & (code >= 0)) + 0.3 * cal.is_gift_season(t)
    n_lines = np.minimum(1 + rng.poisson(extra), 8)
    order, _ = expand(n_lines)
    lc = cust[order]
    lk = kind[order]
    day = np.floor(t[order] / DAY).astype(np.int64)
    weights = np.array([x.category_weights for x in TYPES])
    cdf = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    category = np.empty(order.size, dtype=np.int64)
    u = rng.random(order.size)
    for g in range(len(TYPES)):
        m = lk == g
        category[m] = np.searchsorted(cdf[g], u[m], side="right")
    category = np.minimum(category, len(CATEGORIES) - 1)
    fav = pop.favourite[lc]
    fav_share = np.array([x.favourite_share for x in TYPES])[lk]
    category = np.where(rng.random(order.size) < fav_share, fav, category)
    gifting = cal.is_gift_season(t[order]) & (lk != FAN) & (rng.random(order.size) < 0.2)
    category[gifting] = GIFTS
    product = cat.draw(rng, category, day)
    category = cat.category[product]
    qty = np.ones(order.size, dtype=np.int64)
    u = rng.random(order.size)
    qty += ((category == COFFEE) & (u < 0.3)) + ((category == COFFEE) & (u < 0.08))
    qty += (category == ACCESSORIES) & (u < 0.15)
    qty += 2 * ((lk == BIG) & ((category == GIFTS) | (category == COFFEE)) & (u > 0.7))
    # a category fan spends at least 80% in the favourite category: re-draw the others when not
    product = _keep_fans_faithful(rng, cal, cat, pop, lc, lk, fav, day, product, qty)
    del lk, lc, fav, fav_share, u
    # the same product twice in one basket is one line with a larger quantity
    key = order.astype(np.int64) * 10_000 + product
    sort = np.argsort(key, kind="stable")
    key = key[sort]
    new = np.r_[True, key[1:] != key[:-1]]
    del key
    qty = np.bincount(np.cumsum(new) - 1, weights=qty[sort]).astype(np.int64)
    keep = sort[new]
    del sort, new
    order, product, day = order[keep], product[keep], day[keep]

    unit = _unit_price(cal, cat, product, day)
    percent = np.where(code[order] >= 0, pct[np.maximum(code[order], 0)], 0)
    discount = np.round(qty * unit * percent / 100).astype(np.int64)
    return Lines(order, rank_in_group(order) + 1, product, qty, unit, discount)


def _unit_price(cal: Calendar, cat: Catalog, product: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Price paid (cents): coffee and tea were ~7% cheaper before the price change."""
    unit = cat.price_cents[product].copy()
    old = (day < PRICE_CHANGE_AT * cal.n_days) & ((cat.category[product] == COFFEE) | (cat.category[product] == TEA))
    unit[old] = np.round(unit[old] * 0.93 / 10).astype(np.int64) * 10 - 5
    return unit


def _keep_fans_faithful(rng, cal, cat, pop, lc, lk, fav, day, product, qty):
    fan_line = lk == FAN
    if not fan_line.any():
        return product
    value = (_unit_price(cal, cat, product, day) * qty).astype(float)
    in_fav = cat.category[product] == fav
    total = np.bincount(lc[fan_line], weights=value[fan_line], minlength=pop.n)
    faithful = np.bincount(lc[fan_line & in_fav], weights=value[fan_line & in_fav], minlength=pop.n)
    straying = np.zeros(pop.n, dtype=bool)
    straying[total > 0] = faithful[total > 0] < 0.85 * total[total > 0]  # margin for later price changes
    redo = fan_line & ~in_fav & straying[lc]
    product = product.copy()
    product[redo] = cat.draw(rng, fav[redo], day[redo])
    return product


def _totals(pop, cust, t, channel, store, code, lines: Lines) -> Orders:
    n = cust.size
    gross = lines.quantity * lines.unit
    subtotal = np.bincount(lines.order, weights=gross, minlength=n).astype(np.int64)
    discount = np.bincount(lines.order, weights=lines.discount, minlength=n).astype(np.int64)
    place = pop.place[cust]
    net = subtotal - discount
    domestic = IS_DOMESTIC[place]
    shipping = np.where(domestic, np.where(net >= 4500, 0, 695), np.where(net >= 15000, 0, 1995))
    shipping[channel == POS] = 0
    tax = np.round(TAX_RATE[place] * net).astype(np.int64)
    tax[channel == POS] = 0  # the stores are in Oregon: no sales tax
    total = net + shipping + tax
    return Orders(
        cust=cust, t=t, channel=channel, store=store, code=code, status=np.zeros(n, dtype=np.int64),
        subtotal=subtotal, discount=discount, shipping=shipping, tax=tax, total=total,
        refunded=np.full(n, -1, dtype=np.int64), refunded_t=np.full(n, -1, dtype=np.int64),
        is_return=np.zeros(n, dtype=bool), number=np.zeros(n, dtype=np.int64),
    )


# -- after the sale ------------------------------------------------------------------
def _refunds(rng, cal: Calendar, pop: Population, o: Orders, lines: Lines) -> None:
    n = o.size
    recent = o.t > cal.end - 2 * DAY
    o.status[recent & (rng.random(n) < 0.3)] = PENDING
    rate = np.array([x.refund_rate for x in TYPES])[pop.type[o.cust]]
    refund = (o.status == PAID) & (o.t < cal.end - 3 * DAY) & (rng.random(n) < rate)
    n_lines = np.bincount(lines.order, minlength=n)
    full = refund & ((n_lines == 1) | (rng.random(n) < 0.35))
    partial = refund & ~full
    o.refunded[full] = o.total[full]
    o.status[full] = REFUNDED
    # a partial refund gives back one line's net value
    line_start = np.cumsum(n_lines) - n_lines
    pick = line_start + (rng.random(n) * np.maximum(n_lines, 1)).astype(np.int64)
    pick = np.minimum(pick, lines.size - 1)
    value = lines.quantity * lines.unit - lines.discount
    o.refunded[partial] = value[pick[partial]]
    o.status[partial] = PARTIAL
    # the refund comes 2 to 12 days after the order, never after the end of the period (spread by
    # position rather than drawn, so that the rest of the shop stays what the seed makes it)
    when = o.t + (2 + np.arange(n) % 11) * DAY
    o.refunded_t[refund] = np.minimum(when, cal.end - HOUR)[refund]


def _returns(rng, cal: Calendar, pop: Population, o: Orders, lines: Lines):
    """Some items come back later: a separate transaction with a negative total and quantity."""
    n = o.size
    n_lines = np.bincount(lines.order, minlength=n)
    rate = np.where(o.channel == POS, 0.025, 0.01)
    cand = (o.status == PAID) & (o.code < 0) & (pop.type[o.cust] != ONE_TIMER) & (rng.random(n) < rate)
    when = o.t + rng.uniform(2, 30, n) * DAY
    cand &= when < cal.end - HOUR
    src = np.flatnonzero(cand)
    line_start = np.cumsum(n_lines) - n_lines
    pick = line_start[src] + (rng.random(src.size) * n_lines[src]).astype(np.int64)
    qty = -np.where(lines.quantity[pick] > 1, rng.integers(1, 3, src.size), 1)
    qty = np.maximum(qty, -lines.quantity[pick])
    unit = lines.unit[pick]
    subtotal = qty * unit
    place = pop.place[o.cust[src]]
    tax = np.where(o.channel[src] == POS, 0, np.round(TAX_RATE[place] * subtotal).astype(np.int64))
    k = src.size
    ret = Orders(
        cust=o.cust[src], t=np.floor(when[src] / DAY) * DAY + np.clip(o.t[src] % DAY, 0, DAY - 1), channel=o.channel[src],
        store=o.store[src], code=np.full(k, -1), status=np.full(k, RETURNED), subtotal=subtotal,
        discount=np.zeros(k, dtype=np.int64), shipping=np.zeros(k, dtype=np.int64), tax=tax, total=subtotal + tax,
        refunded=np.full(k, -1, dtype=np.int64), refunded_t=np.full(k, -1, dtype=np.int64),
        is_return=np.ones(k, dtype=bool), number=np.zeros(k, dtype=np.int64),
    )
    ret.t = np.minimum(ret.t, cal.end - 1.0)
    merged = Orders(**{f: np.concatenate([getattr(o, f), getattr(ret, f)]) for f in vars(o)})
    ret_lines = Lines(order=n + np.arange(k), line_number=np.ones(k, dtype=np.int64), product=lines.product[pick],
                      quantity=qty, unit=unit, discount=np.zeros(k, dtype=np.int64))
    all_lines = Lines(**{f: np.concatenate([getattr(lines, f), getattr(ret_lines, f)]) for f in vars(lines)})
    # order numbers follow time, as a shop's order ids do
    by_time = np.lexsort((np.arange(merged.size), merged.t))
    merged.number[by_time] = np.arange(merged.size)
    return merged, all_lines


def _truth(pop: Population, o: Orders, alive, lam, p, future) -> Truth:
    sale = ~o.is_return  # sales come first, sorted by customer then time
    cust, t = o.cust[sale], o.t[sale]
    starts = np.r_[True, cust[1:] != cust[:-1]]
    ends = np.r_[cust[1:] != cust[:-1], True]
    first = np.full(pop.n, np.inf)
    last = np.full(pop.n, -np.inf)
    first[cust[starts]] = t[starts]
    last[cust[ends]] = t[ends]
    buyer = pop.buyer
    acquired = np.where(buyer, first, pop.created)
    churned = np.where(buyer & ~alive, last, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(p > 1e-9, -np.expm1(-p * lam * future) / p, lam * future)
    expected = np.where(alive, expected, 0.0)
    return Truth(alive=alive | ~buyer, churned=churned, acquired=acquired, orders_next_365d=expected)
