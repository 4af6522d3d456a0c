"""Web and app events: sessions of page views, searches, carts, checkouts and purchases.

Sessions come from five sources: the checkout session of every online
order (its purchase event matches the order), browsing sessions while a
customer is active (some fill a cart and abandon it at a checkout step),
anonymous visits before the first purchase (linked later through the same
device id), newsletter sign-ups of browsers who never buy, clicks in
e-mails, and visitors who stay anonymous forever.

Customers are processed in blocks (``CHUNK`` customers at a time) so the
memory stays bounded for a million customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from regulars.demo._arrow import DICT, coded, expand, ids, join, money, opaque, timestamps, weighted_choice
from regulars.demo.calendar import DAY, Calendar, Clock
from regulars.demo.catalog import CATEGORIES, SEARCH_TERMS, Catalog
from regulars.demo.population import Population
from regulars.demo.purchases import APP, POS, Lines, Orders, Truth
from regulars.demo.texts import BREW_GUIDES
from regulars.demo.types import BROWSER, CHANNELS, TYPES

CHUNK = 25_000
SOURCES = ["(direct) / (none)", "google / organic", "google / cpc", "instagram / paid_social", "facebook / social",
           "newsletter / email", "friend / referral", "partner-blog / referral", "app / (none)"]
FIRST_SOURCE = {"organic": 1, "paid_search": 2, "social": 3, "email": 5, "referral": 6, "store": 0}
LATER_SOURCE_WEIGHTS = [0.40, 0.22, 0.10, 0.07, 0.05, 0.08, 0.03, 0.05, 0.0]
VISITOR_SOURCE_WEIGHTS = [0.25, 0.30, 0.18, 0.15, 0.07, 0.0, 0.0, 0.05, 0.0]
EMAIL_SOURCE = 5
APP_SOURCE = 8

# session kinds
PURCHASE, PRE, BROWSE, SIGNUP, CLICK, VISIT = range(6)
# blocks, in the order their events happen within a session
LANDING, CONTENT, SEARCH, VIEW, WISH, CART, CHECKOUT, BUY, FORM = range(9)
NEVER = 99
CHECKOUT_STEPS = ["begin_checkout", "add_shipping_info", "add_payment_info"]
CHECKOUT_URLS = ["/checkout", "/checkout/shipping", "/checkout/payment"]

SCHEMA = pa.schema([
    ("event_id", pa.string()), ("customer_id", DICT), ("anonymous_id", pa.string()), ("session_id", pa.string()),
    ("event_type", DICT), ("occurred_at", pa.timestamp("s")), ("page_url", DICT), ("product_id", DICT),
    ("search_query", DICT), ("traffic_source", DICT), ("properties", DICT),
])


@dataclass
class Context:
    cal: Calendar
    cat: Catalog
    pop: Population
    truth: Truth
    orders: Orders
    lines: Lines
    clocks: list[Clock]
    clicks_cust: np.ndarray  # sorted by customer
    clicks_t: np.ndarray
    customer_ids: pa.Array
    order_ids: pa.Array  # by order index
    n_lines: np.ndarray  # lines per order index
    line_start: np.ndarray  # first line of each order index
    product_ids: pa.Array = None
    vocab: "Vocabulary" = None

    def __post_init__(self) -> None:
        self.product_ids = pa.array(self.cat.product_id, pa.string())
        self.vocab = Vocabulary(self.cat)


@dataclass
class Sessions:
    cust: np.ndarray  # -1 for anonymous visitors
    device: np.ndarray
    t: np.ndarray  # start (or, for purchase sessions, the purchase time)
    kind: np.ndarray
    source: np.ndarray
    identify_from: np.ndarray  # first block whose events carry the customer id
    order: np.ndarray  # purchase sessions: order index, else -1
    counts: np.ndarray  # (sessions, 9) events per block
    landing: np.ndarray  # 0 home, 1 collection, 2 product, 3 blog, 4 sale

    @property
    def size(self) -> int:
        return self.cust.size


def write_events(rng_for, ctx: Context, sink) -> None:
    """Generate events block by block of customers into *sink* (a ParquetSink)."""
    n = ctx.pop.n
    visitors = int(round(0.5 * n))
    next_event = 0
    next_session = 0
    next_visitor = 0
    for chunk, c0 in enumerate(range(0, max(n, 1), CHUNK)):
        rng = rng_for(chunk)
        c1 = min(n, c0 + CHUNK)
        v1 = int(round(visitors * c1 / n)) if n else 0
        s = _sessions(rng, ctx, c0, c1, next_visitor, v1)
        next_visitor = v1
        cols, count = _events(rng, ctx, s, next_event, next_session)
        next_event += count
        next_session += s.size
        sink.write(cols)


# -- sessions -----------------------------------------------------------------------
def _sessions(rng, ctx: Context, c0: int, c1: int, v0: int, v1: int) -> Sessions:
    pop, cal, o = ctx.pop, ctx.cal, ctx.orders
    n = pop.n
    cust = np.arange(c0, c1)
    kind_c = pop.type[cust]
    second = rng.random(cust.size) < 0.35  # has a second device (phone)
    parts = []

    # checkout sessions of online orders (orders are grouped by customer: a contiguous slice)
    lo, hi = np.searchsorted(o.cust[~o.is_return], [c0, c1])
    oi = np.arange(lo, hi)
    # ~15% of online orders leave no tracked session (cookie banner declined, ad blockers)
    oi = oi[(o.channel[oi] != POS) & (rng.random(oi.size) < 0.85)]
    oc = o.cust[oi]
    n_lines = ctx.n_lines[oi]
    first_order = np.r_[True, oc[1:] != oc[:-1]] if oc.size else np.zeros(0, bool)
    app = o.channel[oi] == APP
    use_second = (app | (rng.random(oi.size) < 0.3)) & second[oc - c0]
    logged = ~first_order & (rng.random(oi.size) < 0.6)
    counts = np.zeros((oi.size, 9), dtype=np.int64)
    counts[:, LANDING] = 1
    counts[:, SEARCH] = rng.random(oi.size) < 0.2
    counts[:, VIEW] = n_lines + rng.poisson(0.4, oi.size)
    counts[:, WISH] = rng.random(oi.size) < 0.03
    counts[:, CART] = n_lines
    counts[:, CHECKOUT] = 3
    counts[:, BUY] = 1
    source = _later_sources(rng, oi.size)
    source[first_order] = _first_source(pop, oc[first_order])
    source[app] = APP_SOURCE
    parts.append(Sessions(oc, 2 * oc + use_second, o.t[oi], np.full(oi.size, PURCHASE), source,
                          np.where(logged, LANDING, CHECKOUT), oi, counts, weighted_choice(rng, [3, 3, 3, 0.5, 1], oi.size)))

    # anonymous visits before the account exists (linked later through the device id)
    k = rng.poisson(np.where(kind_c == BROWSER, 1.5, 1.0))
    owner, _ = expand(k)
    pc_ = cust[owner]
    created = pop.created[pc_]
    start = created - rng.uniform(0.1, 30, owner.size) * DAY  # visits before the period are not in the export
    counts = _browse_counts(rng, owner.size, pop.type[pc_], pre=True)
    parts.append(Sessions(pc_, 2 * pc_, start, np.full(owner.size, PRE), _first_source(pop, pc_),
                          np.full(owner.size, NEVER), np.full(owner.size, -1), counts, weighted_choice(rng, [3, 2, 3, 2, 0.5], owner.size)))

    # newsletter sign-up of browsers (the form carries the new customer id)
    b = cust[kind_c == BROWSER]
    counts = np.zeros((b.size, 9), dtype=np.int64)
    counts[:, LANDING] = 1
    counts[:, CONTENT] = rng.random(b.size) < 0.3
    counts[:, SEARCH] = rng.random(b.size) < 0.2
    counts[:, VIEW] = rng.poisson(1.5, b.size)
    counts[:, FORM] = 1
    parts.append(Sessions(b, 2 * b, pop.created[b] - 600, np.full(b.size, SIGNUP), _first_source(pop, b),
                          np.full(b.size, FORM), np.full(b.size, -1), counts, weighted_choice(rng, [3, 0, 1, 3, 0], b.size)))

    # browsing while active (until ~2 months after silently dropping out)
    begin = ctx.truth.acquired[cust]
    churned = ctx.truth.churned[cust]
    stop = np.where(np.isnan(churned), cal.end, np.minimum(cal.end, churned + 60 * DAY))
    weeks = np.maximum(stop - begin, 0) / (7 * DAY)
    rate = np.array([t.browse_rate for t in TYPES])[kind_c]
    k = rng.poisson(rate * weeks)
    owner, _ = expand(k)
    bc = cust[owner]
    bt = np.empty(owner.size)
    bk = pop.type[bc]
    for g, clock in enumerate(ctx.clocks):
        m = bk == g
        if m.any():
            bt[m] = clock.between(rng, begin[owner][m], stop[owner][m])
    logged = rng.random(owner.size) < 0.5
    counts = _browse_counts(rng, owner.size, bk, pre=False)
    parts.append(Sessions(bc, 2 * bc + ((rng.random(owner.size) < 0.4) & second[owner]), bt, np.full(owner.size, BROWSE),
                          _later_sources(rng, owner.size), np.where(logged, LANDING, NEVER), np.full(owner.size, -1), counts,
                          _landing(rng, cal, bk, bt)))

    # clicks in e-mails
    a, z = np.searchsorted(ctx.clicks_cust, [c0, c1])
    cc, ct = ctx.clicks_cust[a:z], ctx.clicks_t[a:z]
    counts = _browse_counts(rng, cc.size, pop.type[cc], pre=False)
    counts[:, SEARCH] = 0
    parts.append(Sessions(cc, 2 * cc + ((rng.random(cc.size) < 0.5) & second[cc - c0]), ct, np.full(cc.size, CLICK),
                          np.full(cc.size, EMAIL_SOURCE), np.where(rng.random(cc.size) < 0.5, LANDING, NEVER),
                          np.full(cc.size, -1), counts, np.where(cal.in_promo(ct) >= 0, 4, 1)))

    # visitors who never become customers
    nv = v1 - v0
    k = 1 + (rng.random(nv) < 0.35) + (rng.random(nv) < 0.1)
    owner, _ = expand(k)
    device = 2 * n + v0 + owner
    first_visit = ctx.clocks[BROWSER].sample(rng, nv, 0.0, float(cal.end))
    _, visit_rank = expand(k)
    later = np.where(visit_rank > 0, rng.exponential(10 * DAY, owner.size), 0.0)
    vt = np.minimum(first_visit[owner] + later, cal.end - 60)
    counts = _browse_counts(rng, owner.size, np.full(owner.size, BROWSER), pre=True)
    parts.append(Sessions(np.full(owner.size, -1), device, vt, np.full(owner.size, VISIT),
                          weighted_choice(rng, VISITOR_SOURCE_WEIGHTS, owner.size), np.full(owner.size, NEVER),
                          np.full(owner.size, -1), counts, weighted_choice(rng, [3, 2, 3, 2, 0.5], owner.size)))
    return Sessions(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in Sessions.__dataclass_fields__})


def _browse_counts(rng, size: int, kind: np.ndarray, pre: bool) -> np.ndarray:
    counts = np.zeros((size, 9), dtype=np.int64)
    browser = kind == BROWSER
    counts[:, LANDING] = 1
    counts[:, CONTENT] = rng.random(size) < np.where(browser, 0.3, 0.08)
    counts[:, SEARCH] = rng.random(size) < 0.25
    counts[:, VIEW] = np.minimum(rng.geometric(0.5, size) - browser, 8)
    counts[:, WISH] = rng.random(size) < 0.04
    abandon = np.array([t.abandon for t in TYPES])[kind] * (0.5 if pre else 1.0)
    cart = (rng.random(size) < abandon) & (counts[:, VIEW] > 0)
    counts[:, CART] = cart * (1 + (rng.random(size) < 0.3))
    # how far the abandoned checkout got: nothing, checkout, shipping, payment
    step = weighted_choice(rng, [0.5, 0.25, 0.15, 0.10], size)
    counts[:, CHECKOUT] = np.where(cart, step, 0)
    return counts


def _landing(rng, cal: Calendar, kind: np.ndarray, t: np.ndarray) -> np.ndarray:
    landing = weighted_choice(rng, [3.5, 3, 2, 1, 0], kind.size)
    sale = (cal.in_promo(t) >= 0) & (rng.random(kind.size) < np.where(kind == 1, 0.7, 0.25))
    return np.where(sale, 4, landing)


def _first_source(pop: Population, cust: np.ndarray) -> np.ndarray:
    table = np.array([FIRST_SOURCE[c] for c in CHANNELS])
    return table[pop.channel[cust]]


def _later_sources(rng, size: int) -> np.ndarray:
    return weighted_choice(rng, LATER_SOURCE_WEIGHTS, size)


# -- events -------------------------------------------------------------------------
EVENT_TYPES = ["page_view", "video_play", "download", "search", "product_view", "wishlist_add", "add_to_cart",
               *CHECKOUT_STEPS, "purchase", "form_submit"]
MAX_QUANTITY = 16


class Vocabulary:
    """Every page URL, search term and small JSON payload the events use, with integer codes."""

    def __init__(self, cat: Catalog) -> None:
        self.terms = [t for c in CATEGORIES for t in SEARCH_TERMS[c]]
        sizes = [len(SEARCH_TERMS[c]) for c in CATEGORIES]
        self.term_start = np.r_[0, np.cumsum(sizes)[:-1]]
        self.term_count = np.array(sizes)
        fixed = ["/", "/collections/sale", *CHECKOUT_URLS, "/checkout/thank-you", "/pages/newsletter"]
        self.HOME, self.SALE, self.CHECKOUT, self.THANKS, self.NEWSLETTER = 0, 1, 2, 5, 6
        groups = [
            fixed,
            ["/collections/" + c for c in CATEGORIES],
            list(cat.url),
            ["/blog/" + g for g in BREW_GUIDES],
            ["/guides/" + g + ".pdf" for g in BREW_GUIDES],
            ["/search?q=" + t.replace(" ", "+") for t in self.terms],
        ]
        starts = np.cumsum([0] + [len(g) for g in groups])
        self.COLLECTION, self.PRODUCT, self.BLOG, self.GUIDE, self.SEARCH = (int(x) for x in starts[1:6])
        self.urls = pa.array([u for g in groups for u in g], pa.string())
        props = [f'{{"quantity": {q}}}' for q in range(1, MAX_QUANTITY + 1)]
        props += [f'{{"video": "{g}"}}' for g in BREW_GUIDES] + [f'{{"file": "{g}"}}' for g in BREW_GUIDES]
        props.append('{"form": "newsletter"}')
        self.QTY, self.VIDEO, self.FILE, self.FORM = 0, MAX_QUANTITY, MAX_QUANTITY + len(BREW_GUIDES), len(props) - 1
        self.props = pa.array(props, pa.string())


def _events(rng, ctx: Context, s: Sessions, event0: int, session0: int):
    cat, cal, pop, vocab = ctx.cat, ctx.cal, ctx.pop, ctx.vocab
    parts = [expand(s.counts[:, b]) for b in range(9)]
    sess = np.concatenate([o for o, _ in parts])
    block = np.concatenate([np.full(o.size, b, dtype=np.int8) for b, (o, _) in enumerate(parts)])
    rank = np.concatenate([r for _, r in parts])
    del parts
    order = np.argsort(sess * 1024 + block.astype(np.int64) * 64 + np.minimum(rank, 63), kind="stable")
    sess, block, rank = sess[order], block[order], rank[order]
    m = sess.size

    # timing: gaps of ~40 s between events; checkout sessions end with the purchase
    gap = rng.exponential(40.0, m) + 3.0
    new = np.r_[True, sess[1:] != sess[:-1]] if m else np.zeros(0, bool)
    gap[new] = 0.0
    offset = np.cumsum(gap)
    offset -= np.maximum.accumulate(np.where(new, offset, 0.0))
    del gap, new
    duration = np.zeros(s.size)
    np.maximum.at(duration, sess, offset)
    t = np.where(s.kind[sess] == PURCHASE, s.t[sess] - (duration[sess] - offset), s.t[sess] + offset)
    del offset
    # events outside the period are not in the export; the rest in time order
    keep = np.flatnonzero((t >= 0) & (t < cal.end))
    keep = keep[np.argsort(t[keep], kind="stable")]
    sess, block, rank, t = sess[keep], block[keep], rank[keep], t[keep]
    m = sess.size

    # what each event is about
    cust = s.cust[sess]
    known_cust = cust >= 0
    safe_cust = np.maximum(cust, 0)
    kind = np.where(known_cust, pop.type[safe_cust], BROWSER)
    category = np.empty(m, dtype=np.int64)
    u = rng.random(m)
    for g, x in enumerate(TYPES):
        w = np.cumsum(x.category_weights) / np.sum(x.category_weights)
        sel = kind == g
        category[sel] = np.searchsorted(w, u[sel], side="right")
    category = np.minimum(category, len(CATEGORIES) - 1)
    fav = np.where(known_cust, pop.favourite[safe_cust], category)
    category = np.where(rng.random(m) < 0.55, fav, category)
    day = np.clip((t // DAY).astype(np.int64), 0, cal.total_days - 1)
    product = cat.draw(rng, category, day)
    # checkout sessions view and add the order's own products
    oidx = s.order[sess]
    has_order = oidx >= 0
    safe_o = np.maximum(oidx, 0)
    own = has_order & ((block == VIEW) | (block == CART)) & (rank < ctx.n_lines[safe_o])
    line = np.minimum(ctx.line_start[safe_o] + rank, ctx.lines.size - 1)
    product[own] = ctx.lines.product[line[own]]
    qty = np.where(own, ctx.lines.quantity[line], 1)
    video = rng.random(m) < 0.6
    guide = rng.integers(0, len(BREW_GUIDES), m)
    term = vocab.term_start[category] + (rng.random(m) * vocab.term_count[category]).astype(np.int64)

    etype = np.select(
        [block == LANDING, block == CONTENT, block == SEARCH, block == VIEW, block == WISH, block == CART,
         block == CHECKOUT, block == BUY, block == FORM],
        [0, np.where(video, 1, 2), 3, 4, 5, 6, 7 + np.minimum(rank, 2), 10, 11],
    )
    landing = s.landing[sess]
    landing_url = np.select(
        [landing == 1, landing == 2, landing == 3, landing == 4],
        [vocab.COLLECTION + category, vocab.PRODUCT + product, vocab.BLOG + guide, vocab.SALE], vocab.HOME)
    url = np.select(
        [block == LANDING, block == CONTENT, block == SEARCH, (block == VIEW) | (block == WISH) | (block == CART),
         block == CHECKOUT, block == BUY, block == FORM],
        [landing_url, np.where(video, vocab.BLOG, vocab.GUIDE) + guide, vocab.SEARCH + term, vocab.PRODUCT + product,
         vocab.CHECKOUT + np.minimum(rank, 2), vocab.THANKS, vocab.NEWSLETTER])
    with_product = (block == VIEW) | (block == WISH) | (block == CART)

    # identities: every event has the device id; the customer id once the visitor is known
    known = known_cust & (block >= s.identify_from[sess])
    cols = {
        "event_id": ids(event0 + np.arange(m), "E", 10),
        "customer_id": coded(safe_cust, ctx.customer_ids, mask=~known),
        "anonymous_id": join("a", opaque(s.device[sess])),
        "session_id": join("s", opaque(session0 + sess)),
        "event_type": coded(etype, EVENT_TYPES),
        "occurred_at": timestamps(cal.to_utc(t)),
        "page_url": coded(url, vocab.urls),
        "product_id": coded(product, ctx.product_ids, mask=~with_product),
        "search_query": coded(term, vocab.terms, mask=block != SEARCH),
        "traffic_source": coded(s.source[sess], SOURCES),
        "properties": _properties(ctx, block, oidx, qty, guide, video),
    }
    return cols, m


def _properties(ctx: Context, block, oidx, qty, guide, video) -> pa.DictionaryArray:
    """Small JSON payloads from the vocabulary; purchases carry their order id and value."""
    vocab = ctx.vocab
    buy = np.flatnonzero(block == BUY)
    value = money(ctx.orders.total[oidx[buy]]).cast(pa.string())
    purchases_json = join('{"order_id": "', ctx.order_ids.take(pa.array(oidx[buy])), '", "value": ', value, ', "currency": "USD"}')
    dictionary = pa.concat_arrays([vocab.props, purchases_json])
    code = np.select(
        [block == CART, (block == CONTENT) & video, block == CONTENT, block == FORM],
        [vocab.QTY + np.clip(qty, 1, MAX_QUANTITY) - 1, vocab.VIDEO + guide, vocab.FILE + guide, vocab.FORM], -1)
    code[buy] = len(vocab.props) + np.arange(buy.size)
    return coded(code, dictionary, mask=code < 0)
