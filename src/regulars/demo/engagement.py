"""E-mail/SMS campaigns and their engagement, consents, tickets, reviews, surveys and spend.

Why this module is long: the demo shop's marketing side is one simulation (campaigns, their opens
and clicks, consents, tickets, reviews, surveys and spend) driven by each customer's latent traits;
the parts share one random stream, so splitting them would change the demo data.

Campaigns go out every two weeks (newsletters), at the start of every
promotion (e-mail and SMS) and monthly to lapsed buyers (win-back with a
code). Each recipient's reaction follows their latent e-mail engagement and
discount affinity; unsubscribing removes them from later sends and is
recorded as a consent decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from regulars.demo._arrow import coded, ids, money, nullable, take, timestamps, weighted_choice
from regulars.demo.calendar import DAY, HOUR, Calendar
from regulars.demo.catalog import Catalog
from regulars.demo.population import Population
from regulars.demo.purchases import PARTIAL, PENDING, POS, REFUNDED, Lines, Orders, Truth
from regulars.demo.people import COUNTRY
from regulars.demo.texts import TICKETS, review_texts, survey_texts, ticket_texts
from regulars.demo.types import BROWSER, CHANNELS, TYPES

DEAL = [t.name for t in TYPES].index("deal_seeker")
MESSAGE_EVENTS = ["sent", "delivered", "bounced", "opened", "clicked", "unsubscribed", "spam_complaint", "converted"]
SENT, DELIVERED, BOUNCED, OPENED, CLICKED, UNSUBSCRIBED, SPAM, CONVERTED = range(8)

MESSAGES_SCHEMA = pa.schema([
    ("message_id", pa.string()), ("customer_id", pa.string()), ("campaign_id", pa.string()), ("channel", pa.string()),
    ("event_type", pa.string()), ("occurred_at", pa.timestamp("s")),
])


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    kind: str  # newsletter | new_arrivals | brew_guides | promo | winback
    channel: str  # email | sms
    t: float  # local seconds

    @property
    def is_offer(self) -> bool:
        return self.kind in ("promo", "winback")


def campaigns(cal: Calendar) -> list[Campaign]:
    out = []
    first_tuesday = (1 - int(cal.weekday[0])) % 7
    kinds = ["newsletter", "new_arrivals", "brew_guides"]
    for i, d in enumerate(range(first_tuesday + 7, cal.n_days, 14)):
        out.append(Campaign(_cid(cal, d, kinds[i % 3]), kinds[i % 3], "email", d * DAY + 10 * HOUR))
    for p in cal.promos:
        if p.first_day < cal.n_days:
            out.append(Campaign(_cid(cal, p.first_day, p.code.lower()), "promo", "email", p.first_day * DAY + 8 * HOUR))
            out.append(Campaign(_cid(cal, p.first_day, p.code.lower() + "-sms"), "promo", "sms", p.first_day * DAY + 12 * HOUR))
    for d in np.flatnonzero((cal.dom == 20) & (np.arange(cal.total_days) < cal.n_days)):
        if d > 90:
            out.append(Campaign(_cid(cal, int(d), "winback"), "winback", "email", int(d) * DAY + 11 * HOUR))
    return sorted(out, key=lambda c: (c.t, c.campaign_id))


def _cid(cal: Calendar, day: int, name: str) -> str:
    return f"CMP-{cal.date_of(day).strftime('%Y%m%d')}-{name}"


@dataclass
class Consent:
    """Consent decisions per customer (times in local seconds; inf = never)."""

    email_state: np.ndarray  # 0 never stated, 1 granted at sign-up, 2 declined at sign-up
    email_source: np.ndarray  # index into SIGNUP_SOURCES
    sms_granted_at: np.ndarray
    sms_stopped_at: np.ndarray
    personalization_off_at: np.ndarray
    unsubscribed_at: np.ndarray
    unsubscribe_how: np.ndarray  # 0 link, 1 spam complaint


SIGNUP_SOURCES = ["checkout", "newsletter_form", "in_store"]


def initial_consents(rng, cal: Calendar, pop: Population) -> Consent:
    n = pop.n
    u = rng.random(n)
    # about 60% tick the marketing box, a tenth explicitly decline, the rest are never asked (POS, guest checkout)
    state = np.where(u < 0.60, 1, np.where(u < 0.70, 2, 0))
    state[pop.type == BROWSER] = 1
    state[~pop.has_email] = 0
    source = np.where(pop.type == BROWSER, 1, np.where(pop.channel == CHANNELS.index("store"), 2, 0))
    sms_p = np.where(np.isin(pop.type, [0, DEAL]), 0.35, 0.2)
    sms = pop.has_phone & (rng.random(n) < sms_p) & (pop.type != BROWSER)
    later = rng.random(n) < 0.4
    granted = pop.created + np.where(later, rng.uniform(0, 180, n) * DAY, 0.0)
    sms_at = np.where(sms & (granted < cal.end), granted, np.inf)
    off = rng.random(n) < 0.03
    off_at = pop.created + rng.random(n) * np.maximum(cal.end - pop.created, 0)
    return Consent(
        email_state=state, email_source=source, sms_granted_at=sms_at, sms_stopped_at=np.full(n, np.inf),
        personalization_off_at=np.where(off, off_at, np.inf), unsubscribed_at=np.full(n, np.inf),
        unsubscribe_how=np.zeros(n, dtype=np.int64),
    )


@dataclass
class Sales:
    """Sale orders sorted by customer then time, for 'next order after t' look-ups."""

    key: np.ndarray
    cust: np.ndarray
    t: np.ndarray

    @classmethod
    def of(cls, o: Orders) -> "Sales":
        sale = ~o.is_return
        cust, t = o.cust[sale], o.t[sale]
        return cls((cust.astype(np.int64) << 27) | np.floor(t).astype(np.int64), cust, t)

    def next_after(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Time of each customer's first order at or after *t* (inf if none)."""
        i = np.searchsorted(self.key, (cust.astype(np.int64) << 27) | np.ceil(t).astype(np.int64))
        i = np.minimum(i, self.key.size - 1)
        ok = (self.key.size > 0) & (self.cust[i] == cust) & (self.t[i] >= t) if self.key.size else np.zeros(cust.size, bool)
        return np.where(ok, self.t[i] if self.key.size else 0.0, np.inf)

    def last_before(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Time of each customer's last order before *t* (-inf if none)."""
        i = np.searchsorted(self.key, (cust.astype(np.int64) << 27) | np.floor(t).astype(np.int64)) - 1
        ok = (i >= 0) & (self.cust[np.maximum(i, 0)] == cust) if self.key.size else np.zeros(cust.size, bool)
        return np.where(ok, self.t[np.maximum(i, 0)] if self.key.size else 0.0, -np.inf)


def write_messages(rng, cal: Calendar, pop: Population, truth: Truth, sales: Sales, consent: Consent,
                   customer_ids: pa.Array, sink) -> tuple[np.ndarray, np.ndarray, list[Campaign]]:
    """Send every campaign, write its engagement rows; returns e-mail clicks (customer, time) and the campaigns."""
    n = pop.n
    bad_address = rng.random(n) < 0.02
    suppressed = np.zeros(n, dtype=bool)
    engaged = pop.created.copy()  # last sign-up, open or click: the shop stops mailing after 6 silent months
    unsub_p = np.array([t.unsubscribe for t in TYPES])[pop.type]
    deal = pop.type == DEAL
    clicks_c, clicks_t = [], []
    next_id = 0
    sent_list = campaigns(cal)
    for camp in sent_list:
        t0 = camp.t
        if camp.channel == "email":
            ok = (consent.email_state == 1) & (pop.created < t0) & (consent.unsubscribed_at > t0) & ~suppressed
            ok &= engaged > t0 - 180 * DAY
        else:
            ok = (consent.sms_granted_at < t0) & (consent.sms_stopped_at > t0)
        r = np.flatnonzero(ok)
        if camp.kind == "winback":
            last = sales.last_before(r, np.full(r.size, t0))
            r = r[(last < t0 - 60 * DAY) & (last > t0 - 240 * DAY)]
        k = r.size
        if not k:
            continue
        ts = t0 + rng.uniform(0, 1800, k)
        dormant = truth.churned[r] < t0
        e = pop.email_engagement[r] * np.where(dormant, 0.35, 1.0)
        aff = pop.discount_affinity[r]
        rows_t = [ts]
        rows_e = [np.full(k, SENT)]
        rows_c = [r]
        if camp.channel == "email":
            bounced = bad_address[r] | (rng.random(k) < 0.004)
            suppressed[r[bad_address[r]]] = True
            delivered = ~bounced
            p_open = np.where(camp.is_offer, e + (1 - e) * 0.6 * aff, e * np.where(deal[r], 0.6, 1.0))
            opened = delivered & (rng.random(k) < p_open)
            t_open = ts + np.exp(rng.normal(np.log(3 * HOUR), 1.0, k))
            p_click = np.where(camp.is_offer, 0.06 + 0.3 * aff, 0.06 + 0.08 * e)
            clicked = opened & (rng.random(k) < p_click)
            engaged[r[opened]] = np.maximum(engaged[r[opened]], t_open[opened])
            t_click = t_open + rng.exponential(180, k) + 10
            unsub = delivered & (rng.random(k) < unsub_p[r] * np.where(dormant, 2.5, 1.0))
            t_unsub = np.where(opened, t_open + rng.exponential(60, k) + 5, ts + np.exp(rng.normal(np.log(DAY), 1.0, k)))
            spam = unsub & (rng.random(k) < 0.05)
            unsub &= t_unsub < cal.end
            consent.unsubscribed_at[r[unsub]] = t_unsub[unsub]
            consent.unsubscribe_how[r[unsub & spam]] = 1
            rows = [(DELIVERED, delivered, ts + rng.uniform(1, 30, k)), (BOUNCED, bounced, ts + rng.uniform(1, 30, k)),
                    (OPENED, opened, t_open), (CLICKED, clicked, t_click), (UNSUBSCRIBED, unsub & ~spam, t_unsub),
                    (SPAM, unsub & spam, t_unsub)]
            click_ok = clicked & (t_click < cal.end)
            clicks_c.append(r[click_ok])
            clicks_t.append(t_click[click_ok])
        else:
            delivered = rng.random(k) < 0.98
            clicked = delivered & (rng.random(k) < 0.05 + 0.2 * aff)
            t_click = ts + rng.exponential(20 * 60, k) + 5
            stop = delivered & (rng.random(k) < 0.012)
            t_stop = ts + rng.exponential(30 * 60, k) + 5
            stop &= t_stop < cal.end
            consent.sms_stopped_at[r[stop]] = t_stop[stop]
            rows = [(DELIVERED, delivered, ts + rng.uniform(1, 10, k)), (CLICKED, clicked, t_click), (UNSUBSCRIBED, stop, t_stop)]
        nxt = sales.next_after(r, t_click)
        converted = clicked & (nxt - t_click < 72 * HOUR)
        rows.append((CONVERTED, converted, nxt))
        for code, mask, when in rows:
            rows_c.append(r[mask])
            rows_e.append(np.full(int(mask.sum()), code))
            rows_t.append(when[mask])
        c, ev, tt = np.concatenate(rows_c), np.concatenate(rows_e), np.concatenate(rows_t)
        keep = tt < cal.end
        c, ev, tt = c[keep], ev[keep], tt[keep]
        order = np.lexsort((ev, c, tt))
        c, ev, tt = c[order], ev[order], tt[order]
        m = c.size
        if sink is None:
            next_id += m
            continue
        zero = np.zeros(m, dtype=np.int64)
        sink.write({
            "message_id": ids(next_id + np.arange(m), "M", 10),
            "customer_id": coded(c, customer_ids),
            "campaign_id": coded(zero, [camp.campaign_id]),
            "channel": coded(zero, [camp.channel]),
            "event_type": coded(ev, MESSAGE_EVENTS),
            "occurred_at": timestamps(cal.to_utc(tt)),
        })
        next_id += m
    cc = np.concatenate(clicks_c) if clicks_c else np.zeros(0, np.int64)
    ct = np.concatenate(clicks_t) if clicks_t else np.zeros(0)
    order = np.lexsort((ct, cc))
    return cc[order], ct[order], sent_list


CONSENTS_SCHEMA = pa.schema([
    ("customer_id", pa.string()), ("purpose", pa.string()), ("is_granted", pa.bool_()), ("recorded_at", pa.timestamp("s")),
    ("source", pa.string()),
])


def consent_rows(cal: Calendar, pop: Population, consent: Consent, customer_ids: pa.Array) -> dict:
    """Every consent decision with its time; the latest per purpose is the current state."""
    parts = []  # (customer, purpose, granted, t, source)
    n = np.arange(pop.n)
    stated = consent.email_state > 0
    parts.append((n[stated], 0, consent.email_state[stated] == 1, pop.created[stated],
                  np.array(SIGNUP_SOURCES)[consent.email_source[stated]]))
    u = np.isfinite(consent.unsubscribed_at)
    parts.append((n[u], 0, np.zeros(int(u.sum()), bool), consent.unsubscribed_at[u],
                  np.where(consent.unsubscribe_how[u] == 1, "spam_complaint", "unsubscribe_link")))
    s = np.isfinite(consent.sms_granted_at)
    parts.append((n[s], 1, np.ones(int(s.sum()), bool), consent.sms_granted_at[s], np.full(int(s.sum()), "checkout")))
    s = np.isfinite(consent.sms_stopped_at)
    parts.append((n[s], 1, np.zeros(int(s.sum()), bool), consent.sms_stopped_at[s], np.full(int(s.sum()), "sms_stop")))
    p = np.isfinite(consent.personalization_off_at)
    parts.append((n[p], 2, np.zeros(int(p.sum()), bool), consent.personalization_off_at[p], np.full(int(p.sum()), "preference_center")))
    cust = np.concatenate([x[0] for x in parts])
    purpose = np.concatenate([np.full(x[0].size, x[1]) for x in parts])
    granted = np.concatenate([x[2] for x in parts])
    t = np.concatenate([x[3] for x in parts])
    source = np.concatenate([np.asarray(x[4], dtype=object) for x in parts])
    utc = cal.to_utc(t)
    order = np.lexsort((purpose, cust, utc))
    return {
        "customer_id": customer_ids.take(pa.array(cust[order])),
        "purpose": take(["email", "sms", "personalization"], purpose[order]),
        "is_granted": pa.array(granted[order]),
        "recorded_at": timestamps(utc[order]),
        "source": pa.array(source[order].astype(str)),
    }


def current_consents(cal: Calendar, pop: Population, consent: Consent):
    """(accepts_email, accepts_sms, accepts_personalization) as arrow booleans with nulls for never stated."""
    email = np.where(consent.email_state == 1, np.isinf(consent.unsubscribed_at), False)
    sms = np.isinf(consent.sms_stopped_at)
    return (
        pa.array(email, mask=consent.email_state == 0),
        pa.array(sms, mask=np.isinf(consent.sms_granted_at)),
        pa.array(np.zeros(pop.n, bool), mask=np.isinf(consent.personalization_off_at)),
    )


# -- support, reviews, surveys --------------------------------------------------------
TICKETS_SCHEMA = pa.schema([
    ("ticket_id", pa.string()), ("customer_id", pa.string()), ("opened_at", pa.timestamp("s")), ("closed_at", pa.timestamp("s")),
    ("channel", pa.string()), ("topic", pa.string()), ("body", pa.string()), ("csat", pa.int64()),
])
TOPICS = list(TICKETS)
TOPIC_PENALTY = {"shipping_delay": 0.7, "damaged_item": 0.6, "return_request": 0.3, "billing": 0.5, "order_change": 0.1,
                 "product_question": -0.2, "subscription_change": 0.0, "account_help": 0.2}


def tickets(rng, cal: Calendar, cat: Catalog, pop: Population, o: Orders, lines: Lines, n_lines, line_start,
            customer_ids: pa.Array, order_ids: pa.Array, first_names: pa.Array) -> dict:
    n_o = o.size
    sale = ~o.is_return & (o.status != PENDING)
    refunded = (o.status == REFUNDED) | (o.status == PARTIAL)
    p = np.where(refunded, 0.7, 0.012)
    about = np.flatnonzero(sale & (rng.random(n_o) < p))
    k = about.size
    ref = refunded[about]
    web = o.channel[about] != POS
    topic = np.where(ref, np.where(rng.random(k) < 0.4, TOPICS.index("damaged_item"), TOPICS.index("return_request")),
                     weighted_choice(rng, [0.45, 0, 0, 0.2, 0.2, 0.05, 0.1, 0], k))
    topic = np.where(~ref & ~web & (topic == 0), TOPICS.index("product_question"), topic)
    opened = o.t[about] + np.where(topic == 0, rng.uniform(5, 12, k), rng.uniform(0.5, 8, k)) * DAY
    cust = o.cust[about]
    line = line_start[about] + (rng.random(k) * n_lines[about]).astype(np.int64)
    product = lines.product[np.minimum(line, lines.size - 1)]
    # some tickets are about nothing in particular
    g = np.flatnonzero(rng.random(pop.n) < 0.02)
    g_topic = weighted_choice(rng, [0, 0, 0, 0, 0.5, 0.1, 0, 0.4], g.size)
    g_open = pop.created[g] + rng.random(g.size) * np.maximum(cal.end - pop.created[g], 0)
    cust = np.concatenate([cust, g])
    topic = np.concatenate([topic, g_topic])
    opened = np.concatenate([opened, g_open])
    order_idx = np.concatenate([about, np.full(g.size, -1)])
    product = np.concatenate([product, rng.integers(0, cat.size, g.size)])
    keep = opened < cal.end - HOUR
    cust, topic, opened, order_idx, product = cust[keep], topic[keep], opened[keep], order_idx[keep], product[keep]
    k = cust.size
    order = np.argsort(opened, kind="stable")
    cust, topic, opened, order_idx, product = cust[order], topic[order], opened[order], order_idx[order], product[order]

    closed = opened + np.exp(rng.normal(np.log(18 * HOUR), 1.0, k))
    still_open = closed >= cal.end
    kind = pop.type[cust]
    mean = np.array([t.csat for t in TYPES])[kind] - np.array([TOPIC_PENALTY[t] for t in TOPICS])[topic]
    csat = np.clip(np.round(rng.normal(mean, 0.8)), 1, 5).astype(np.int64)
    no_answer = (rng.random(k) < 0.4) | still_open
    channel = weighted_choice(rng, [0.5, 0.3, 0.1, 0.1], k)
    channel = np.where((channel == 3) & ~np.isin(pop.channel[cust], [CHANNELS.index("store")]), 0, channel)
    has_order = order_idx >= 0
    body, sentiment = ticket_texts(
        rng, np.asarray(TOPICS, dtype=object)[topic],
        order=pc.if_else(pa.array(has_order), order_ids.take(pa.array(np.maximum(order_idx, 0))), pa.scalar("my last order")),
        product=take(cat.name, product),
        first_name=first_names.take(pa.array(cust)),
    )
    ticket_ids = ids(np.arange(k) + 10_001, "T", 7)
    truth = text_truth("tickets", ticket_ids, customer_ids.take(pa.array(cust)), np.full(k, "en", dtype=object),
                       sentiment, np.asarray(TOPICS, dtype=object)[topic])
    return {
        "ticket_id": ticket_ids,
        "customer_id": customer_ids.take(pa.array(cust)),
        "opened_at": timestamps(cal.to_utc(opened)),
        "closed_at": timestamps(cal.to_utc(np.where(still_open, 0, closed)), mask=still_open),
        "channel": take(["email", "chat", "phone", "store"], channel),
        "topic": take(TOPICS, topic),
        "body": body,
        "csat": pa.array(csat, mask=no_answer),
    }, truth


def text_truth(source: str, text_ids, customer_ids, language, sentiment, topic, present=None) -> dict:
    """Rows of ``demo_truth_texts``: what each text was planted to say (only texts that have a body)."""
    keep = np.ones(len(language), dtype=bool) if present is None else np.asarray(present, dtype=bool)
    idx = pa.array(np.flatnonzero(keep))
    return {
        "source": pa.array([source] * int(keep.sum()), pa.string()),
        "text_id": text_ids.take(idx), "customer_id": customer_ids.take(idx),
        "language": pa.array(np.asarray(language, dtype=object)[keep].astype(str), pa.string()),
        "sentiment": pa.array(np.asarray(sentiment, dtype=object)[keep].astype(str), pa.string()),
        "topic": pa.array(np.asarray(topic, dtype=object)[keep].astype(str), pa.string()),
    }


REVIEWS_SCHEMA = pa.schema([
    ("review_id", pa.string()), ("customer_id", pa.string()), ("product_id", pa.string()), ("rating", pa.int64()),
    ("body", pa.string()), ("created_at", pa.timestamp("s")),
])


def reviews(rng, cal: Calendar, cat: Catalog, pop: Population, o: Orders, lines: Lines, customer_ids: pa.Array) -> dict:
    sale_line = ~o.is_return[lines.order] & (lines.quantity > 0) & (o.channel[lines.order] != POS)
    cust = o.cust[lines.order]
    p = np.array([t.review_rate for t in TYPES])[pop.type[cust]]
    pick = np.flatnonzero(sale_line & (rng.random(lines.size) < p))
    cust, product = cust[pick], lines.product[pick]
    when = o.t[lines.order[pick]] + rng.uniform(4, 25, pick.size) * DAY
    keep = when < cal.end
    cust, product, when, pick = cust[keep], product[keep], when[keep], pick[keep]
    # one review per customer and product: the first
    key = cust.astype(np.int64) * 1000 + product
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    cust, product, when, pick = cust[first], product[first], when[first], pick[first]
    quality = np.random.default_rng(12345).normal(0, 0.35, cat.size)  # some products are simply better
    refunded = np.isin(o.status[lines.order[pick]], [REFUNDED, PARTIAL])
    mean = np.array([t.rating for t in TYPES])[pop.type[cust]] + quality[product] - 1.5 * refunded
    rating = np.clip(np.round(rng.normal(mean, 0.8)), 1, 5).astype(np.int64)
    order = np.argsort(when, kind="stable")
    cust, product, when, rating = cust[order], product[order], when[order], rating[order]
    k = cust.size
    sentiment = np.where(rating >= 4, "positive", np.where(rating == 3, "neutral", "negative")).astype(object)
    consumable = np.isin(np.asarray(cat.category_names, dtype=object)[product],
                         ["coffee", "tea", "gifts", "subscriptions"])
    aspect = np.where(consumable, np.asarray(REVIEW_ASPECTS_CONSUMABLE, dtype=object)[
        weighted_choice(rng, [0.55, 0.15, 0.12, 0.18], k)], np.asarray(REVIEW_ASPECTS_GEAR, dtype=object)[
        weighted_choice(rng, [0.5, 0.15, 0.15, 0.2], k)])
    country = np.asarray(COUNTRY, dtype=object)[pop.place[cust]]
    u = rng.random(k)
    language = np.full(k, "en", dtype=object)
    language[(country == "DE") & (u < 0.8)] = "de"
    language[(country == "NL") & (u < 0.8)] = "nl"
    language[~np.isin(country, ["DE", "NL"]) & (u < 0.01)] = "es"
    language[~np.isin(country, ["DE", "NL"]) & (u >= 0.01) & (u < 0.015)] = "fr"
    body = review_texts(rng, aspect, sentiment, language, product=take(cat.name, product))
    no_body = rng.random(k) < 0.1
    review_ids = ids(np.arange(k) + 1, "R", 8)
    truth = text_truth("reviews", review_ids, customer_ids.take(pa.array(cust)), language, sentiment, aspect,
                       present=~no_body)
    return {
        "review_id": review_ids,
        "customer_id": customer_ids.take(pa.array(cust)),
        "product_id": take(cat.product_id, product),
        "rating": pa.array(rating),
        "body": nullable(body, no_body),
        "created_at": timestamps(cal.to_utc(when)),
    }, truth


REVIEW_ASPECTS_CONSUMABLE = ["taste", "delivery", "packaging", "price"]
REVIEW_ASPECTS_GEAR = ["durability", "delivery", "packaging", "price"]


SURVEYS_SCHEMA = pa.schema([
    ("response_id", pa.string()), ("customer_id", pa.string()), ("survey", pa.string()), ("score", pa.int64()),
    ("comment", pa.string()), ("answered_at", pa.timestamp("s")),
])


def surveys(rng, cal: Calendar, pop: Population, o: Orders, customer_ids: pa.Array) -> dict:
    sale = np.flatnonzero(~o.is_return & (o.status != PENDING))
    # NPS a week or two after an order, at most once a quarter per customer
    nps = sale[rng.random(sale.size) < 0.06]
    t_nps = o.t[nps] + rng.uniform(7, 14, nps.size) * DAY
    c_nps = o.cust[nps]
    key = c_nps.astype(np.int64) * 100 + (t_nps // (91 * DAY)).astype(np.int64)
    _, first = np.unique(key, return_index=True)
    c_nps, t_nps = c_nps[first], t_nps[first]
    score_nps = np.clip(np.round(rng.normal(np.array([t.nps for t in TYPES])[pop.type[c_nps]], 1.6)), 0, 10).astype(np.int64)
    # delivery CSAT after some online orders
    online = sale[(o.channel[sale] != POS) & (rng.random(sale.size) < 0.04)]
    c_csat = o.cust[online]
    t_csat = o.t[online] + rng.uniform(3, 10, online.size) * DAY
    score_csat = np.clip(np.round(rng.normal(np.array([t.csat for t in TYPES])[pop.type[c_csat]], 0.8)), 1, 5).astype(np.int64)
    cust = np.concatenate([c_nps, c_csat])
    t = np.concatenate([t_nps, t_csat])
    score = np.concatenate([score_nps, score_csat])
    is_nps = np.r_[np.ones(c_nps.size, bool), np.zeros(c_csat.size, bool)]
    keep = t < cal.end
    cust, t, score, is_nps = cust[keep], t[keep], score[keep], is_nps[keep]
    order = np.argsort(t, kind="stable")
    cust, t, score, is_nps = cust[order], t[order], score[order], is_nps[order]
    k = cust.size
    nps_feeling = np.where(score >= 9, "positive", np.where(score >= 7, "neutral", "negative"))
    csat_feeling = np.where(score >= 4, "positive", np.where(score == 3, "neutral", "negative"))
    sentiment = np.where(is_nps, nps_feeling, csat_feeling).astype(object)
    text, topic = survey_texts(rng, sentiment)
    no_comment = rng.random(k) > 0.35
    comment = nullable(text, no_comment)
    response_ids = ids(np.arange(k) + 1, "S", 8)
    truth = text_truth("surveys", response_ids, customer_ids.take(pa.array(cust)), np.full(k, "en", dtype=object),
                       sentiment, topic, present=~no_comment)
    return {
        "response_id": response_ids,
        "customer_id": customer_ids.take(pa.array(cust)),
        "survey": take(["csat", "nps"], is_nps.astype(np.int64)),
        "score": pa.array(score),
        "comment": comment,
        "answered_at": timestamps(cal.to_utc(t)),
    }, truth


SPEND_SCHEMA = pa.schema([("spent_on", pa.date32()), ("channel", pa.string()), ("amount", pa.decimal128(18, 2))])
#: Dollars per acquired customer, by channel (email: the e-mail platform's fee per subscriber and day).
CAC = {"paid_search": 38.0, "social": 45.0, "referral": 10.0}


def spend(rng, cal: Calendar, pop: Population, truth: Truth, consent: Consent) -> dict:
    days = cal.n_days
    acq_day = np.clip((truth.acquired // DAY).astype(np.int64), 0, days - 1)
    rows_day, rows_ch, rows_amt = [], [], []
    for name, cac in CAC.items():
        ch = CHANNELS.index(name)
        count = np.bincount(acq_day[pop.channel == ch], minlength=days).astype(float)
        if name == "referral":
            daily = count * cac  # a referral bonus per new customer, paid the same day
        else:
            smooth = np.convolve(count, np.ones(7) / 7, mode="same")
            # campaigns keep running on quiet days: a floor proportional to the shop's size
            daily = cac * np.maximum(smooth, 0.2 * pop.n / 20_000) * np.exp(rng.normal(0, 0.25, days))
        cents = np.round(daily * 100).astype(np.int64)
        d = np.flatnonzero(cents > 0)
        rows_day.append(d)
        rows_ch.append(np.full(d.size, ch))
        rows_amt.append(cents[d])
    # the e-mail platform bills per subscriber: a small daily amount
    subscribed = np.bincount(np.clip((pop.created[consent.email_state == 1] // DAY).astype(np.int64), 0, days - 1), minlength=days)
    list_size = np.cumsum(subscribed)
    cents = np.round(np.maximum(list_size * 0.05, 30 * min(1.0, pop.n / 20_000))).astype(np.int64)
    d = np.flatnonzero(cents > 0)
    rows_day.append(d)
    rows_ch.append(np.full(d.size, CHANNELS.index("email")))
    rows_amt.append(cents[d])
    d = np.concatenate(rows_day)
    ch = np.concatenate(rows_ch)
    amt = np.concatenate(rows_amt)
    order = np.lexsort((ch, d))
    return {
        "spent_on": pa.array((cal.epoch_day0 + d[order]).astype(np.int32), pa.date32()),
        "channel": take(CHANNELS, ch[order]),
        "amount": money(amt[order]),
    }
