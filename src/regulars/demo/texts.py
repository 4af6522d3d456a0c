"""Short texts of the demo shop with their planted truth: support tickets, reviews, survey comments.

Each text is composed from fragments chosen for a planted **topic** (what it is about), a
planted **sentiment** (what it expresses: positive, neutral or negative) and a planted
**language**, so the text analysis can be checked against what was put in
(``demo_truth_texts``). Fragments are combined at random (an opening, one or two sentences of
the topic, a closing), giving thousands of distinct texts rather than a few templates.
Some complaints state facts without a single emotional word ("my order hasn't arrived"): they
are planted negative, as a person would read them, and a lexicon model may miss them.

:func:`fill` renders one template per row, vectorised (one pass per template, not per row).

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> fill(["Hi {name}!", "Bye {name}."], np.array([1, 0]), name=pa.array(["Ann", "Bo"])).to_pylist()
['Bye Ann.', 'Hi Bo!']
>>> rng = np.random.default_rng(0)
>>> chosen = pick(rng, {"a": ["x", "y"], "b": ["z"]}, np.array(["b", "a"], dtype=object)).tolist()
>>> chosen[0], chosen[1] in ("x", "y")
('z', True)
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from regulars.demo._arrow import join

SENTIMENTS = ("positive", "neutral", "negative")

# -- tickets: topic -> sentiment -> sentences -------------------------------------------------------
TICKETS: dict[str, dict[str, list[str]]] = {
    "shipping_delay": {
        "negative": [
            "My order {order} still hasn't arrived and tracking hasn't updated in days.",
            "Order {order} was supposed to arrive last week. Where is it?",
            "The tracking link for {order} shows nothing. Is my parcel lost?",
            "Still waiting on {order}. I needed the {product} for the weekend.",
            "It's been two weeks and {order} is nowhere to be seen.",
            "Tracking for {order} has said 'in transit' for ten days now.",
            "The courier says {order} was delivered but there is no parcel here.",
            "My parcel with the {product} is late again, second time this month.",
        ],
        "neutral": [
            "Could you check the delivery date for {order}? Tracking hasn't changed since Monday.",
            "Just checking when {order} will arrive, the tracking page is blank.",
        ],
    },
    "damaged_item": {
        "negative": [
            "The {product} in order {order} arrived damaged. The box was crushed.",
            "My {product} came broken, can I get a replacement or a refund?",
            "The bag of {product} was torn open when it arrived.",
            "The {product} was cracked straight out of the box.",
            "Order {order}: the {product} is defective and leaks.",
            "The {product} arrived with a broken lid and coffee all over the parcel.",
        ],
        "neutral": [
            "The outer box of {order} was dented, the {product} inside looks fine but I wanted to let you know.",
        ],
    },
    "return_request": {
        "neutral": [
            "I'd like to return the {product} from order {order}.",
            "Can I send back the {product}? It's unopened. Order {order}.",
            "How do I return the {product}? It doesn't suit me.",
            "Please send me a return label for the {product} from {order}.",
        ],
        "negative": [
            "I want to return the {product}, it's nothing like the description.",
            "The {product} is not what I expected at all, I want my money back.",
            "Returning the {product} from {order}, really disappointed with it.",
        ],
    },
    "order_change": {
        "neutral": [
            "Can I change the shipping address on {order}? I moved last week.",
            "Please add a second bag to order {order} if it hasn't shipped yet.",
            "I ordered the wrong grind for the {product} on {order}. Can you switch it to whole bean?",
            "Could you change {order} to pickup at the Division St store?",
            "Please update the delivery instructions on {order}: leave it at the back door.",
        ],
    },
    "product_question": {
        "neutral": [
            "What grind size do you recommend for the {product} in a pour-over?",
            "Is the {product} still available? I can't find it on the site anymore.",
            "How long does the {product} stay fresh once opened?",
            "Does the {product} work with a French press?",
            "Is the {product} suitable for an espresso machine?",
            "Where do the beans in the {product} come from?",
        ],
        "positive": [
            "I love the {product}! Will it be back in stock soon?",
            "The {product} is wonderful, what grind do you recommend for cold brew?",
        ],
    },
    "subscription_change": {
        "neutral": [
            "Please skip next month's delivery of my subscription.",
            "I'd like to switch my subscription to decaf from now on.",
            "How do I pause my subscription while I travel?",
            "Can I change my subscription to every two weeks?",
            "Please move my subscription delivery to the 15th of the month.",
        ],
        "positive": [
            "Loving the subscription! Could you add a bag of {product} to the next box?",
        ],
        "negative": [
            "My subscription renewed although I cancelled it. Please refund the charge.",
        ],
    },
    "billing": {
        "negative": [
            "I was charged twice for order {order}.",
            "The discount code didn't apply on {order}, can you refund the difference?",
            "You charged my card for {order} but the order was cancelled.",
            "I've been overcharged on {order}, the total is wrong.",
        ],
        "neutral": [
            "Can I get an invoice with my company name for {order}?",
            "Could you send me a receipt for {order}?",
        ],
    },
    "account_help": {
        "negative": [
            "I can't log into my account, the password reset email never arrives.",
            "Your website keeps logging me out and I can't access my account.",
        ],
        "neutral": [
            "Please update the e-mail address on my account.",
            "How do I change the password on my account?",
        ],
    },
}
TICKET_GREETINGS = ["", "", "Hi, ", "Hello, ", "Hi there, ", "Hello, this is {first_name}. "]
TICKET_CLOSINGS = {
    "negative": ["", "", "", " This is really frustrating.", " Very disappointed.", " Not happy at all.",
                 " Please sort this out quickly.", " I'm quite upset about this."],
    "neutral": ["", "", "", " Regards, {first_name}", " Best, {first_name}"],
    "positive": ["", " Thanks so much!", " You're the best.", " Thanks, {first_name}"],
}

# -- reviews: aspect -> sentiment -> sentences --------------------------------------------------------
REVIEW_ASPECTS = ("taste", "delivery", "packaging", "price", "durability")
REVIEWS: dict[str, dict[str, list[str]]] = {
    "taste": {
        "positive": ["Absolutely love the {product}, fresh and full of flavour.", "Best {product} I've had, smooth and sweet.",
                     "The {product} tastes amazing, my morning ritual now.", "Delicious {product}, lovely notes of chocolate.",
                     "The {product} is rich and aromatic, exactly as described.", "Wonderful flavour, the {product} never disappoints."],
        "neutral": ["The {product} tastes okay, nothing special.", "Average flavour, the {product} is fine for every day.",
                    "The {product} is a standard cup, a bit mild for me."],
        "negative": ["The {product} tasted stale and flat.", "Bitter, burnt aftertaste, I couldn't finish the {product}.",
                     "The {product} has no flavour at all, very disappointing.", "Sour and weak, the {product} is mediocre."],
    },
    "delivery": {
        "positive": ["Fast delivery, the {product} arrived in two days.", "Shipping was quick and the {product} is great.",
                     "Arrived early, so happy with the {product}."],
        "neutral": ["Delivery took about a week, the {product} is fine.", "The {product} arrived on the expected date."],
        "negative": ["Delivery took three weeks, the {product} arrived far too late.",
                     "Terrible shipping, the {product} was lost and arrived late.", "The {product} arrived late and support was slow."],
    },
    "packaging": {
        "positive": ["Beautiful packaging, the {product} arrived perfectly wrapped.", "Lovely box and the {product} was packed with care."],
        "neutral": ["Standard packaging, the {product} came in a plain box.", "The {product} came in a paper bag, nothing fancy."],
        "negative": ["The box was crushed and the {product} arrived damaged.", "Poor packaging, the bag of {product} was torn open.",
                     "The {product} arrived broken because of bad packaging."],
    },
    "price": {
        "positive": ["Great value, the {product} is worth every penny.", "Excellent price for such a good {product}."],
        "neutral": ["The {product} is fine for the price on sale.", "Decent {product}, a bit pricey at full price."],
        "negative": ["Overpriced, the {product} is not worth the money.", "Way too expensive for a mediocre {product}."],
    },
    "durability": {
        "positive": ["The {product} is solid and well made, works perfectly.", "Sturdy {product}, still going strong after months.",
                     "Really happy with the {product}, great build quality."],
        "neutral": ["The {product} works, a bit noisy.", "The {product} does the job."],
        "negative": ["The {product} broke after a few uses.", "The {product} stopped working within a week. Useless.",
                     "Cheap plastic, the {product} cracked on day one."],
    },
}
REVIEW_CLOSINGS = {
    "positive": ["", "", " Will buy again!", " Highly recommend.", " Five stars."],
    "neutral": ["", "", " It's okay.", " Three stars."],
    "negative": ["", "", " Would not buy again.", " Not recommended.", " Really disappointed."],
}
#: Reviews written in another language (planted language; not analysed by the English-only model).
FOREIGN_REVIEWS: dict[str, dict[str, list[str]]] = {
    "de": {"positive": ["Sehr leckerer Kaffee, schnelle Lieferung. Gerne wieder!", "Tolle Qualität, ich bin begeistert."],
           "neutral": ["Der Kaffee ist in Ordnung, nichts Besonderes."],
           "negative": ["Leider kam die Packung beschädigt an.", "Zu teuer für die Qualität, schade."]},
    "nl": {"positive": ["Heerlijke koffie en snel geleverd, echt een aanrader."],
           "neutral": ["De koffie is prima, niets bijzonders."],
           "negative": ["De verpakking was kapot, erg teleurgesteld."]},
    "fr": {"positive": ["Très bon café, livraison rapide. Je recommande !"],
           "neutral": ["Le café est correct, sans plus."],
           "negative": ["Colis arrivé en retard et le sachet était ouvert."]},
    "es": {"positive": ["Me encanta este café, el mejor que he probado."],
           "neutral": ["El café está bien, nada especial."],
           "negative": ["El paquete llegó roto, muy decepcionado."]},
}

# -- survey comments: sentiment -> (topic, sentence) --------------------------------------------------
SURVEY_COMMENTS: dict[str, list[tuple[str, str]]] = {
    "positive": [("quality", "Love the coffee and the people at the shop."), ("delivery", "Always fresh, always fast."),
                 ("quality", "Best roaster in town!"), ("subscription", "The subscription is the highlight of my month."),
                 ("quality", "Great gifts, everyone loved them."), ("service", "Friendly staff and great service."),
                 ("delivery", "Delivery was quick and everything arrived perfectly."),
                 ("quality", "Consistently excellent beans, thank you.")],
    "neutral": [("delivery", "Good coffee, shipping could be faster."), ("price", "Nice selection but a bit expensive."),
                ("website", "Fine overall, the website could be easier to use."),
                ("packaging", "Box was damaged but the product was fine."), ("price", "I mostly buy when there's a sale.")],
    "negative": [("delivery", "Orders take too long to arrive."), ("price", "Too expensive without a discount."),
                 ("service", "Customer service never answered me."), ("quality", "Quality has gone down lately."),
                 ("quality", "My last bag tasted stale."), ("delivery", "Terrible delivery, my parcel was late twice."),
                 ("website", "The website is confusing and checkout keeps failing.")],
}

BREW_GUIDES = ["pour-over-basics", "french-press-guide", "dialing-in-espresso", "cold-brew-at-home", "matcha-whisking",
               "choosing-a-grinder", "tea-steeping-times", "water-for-coffee"]

_FIELD = re.compile(r"\{(\w+)\}")


def fill(templates: list[str], which: np.ndarray, **fields: pa.Array) -> pa.Array:
    """Render ``templates[which[i]]`` with row *i* of each field array."""
    which = np.asarray(which)
    pieces, positions = [], []
    for k, template in enumerate(templates):
        idx = np.flatnonzero(which == k)
        if not idx.size:
            continue
        take = pa.array(idx)
        parts: list = []
        pos = 0
        for m in _FIELD.finditer(template):
            if m.start() > pos:
                parts.append(template[pos : m.start()])
            parts.append(fields[m.group(1)].take(take))
            pos = m.end()
        if pos < len(template):
            parts.append(template[pos:])
        if not any(isinstance(p, (pa.Array, pa.ChunkedArray)) for p in parts):
            pieces.append(pa.array([template] * idx.size, pa.string()))
        else:
            pieces.append(join(*parts) if len(parts) > 1 else parts[0])
        positions.append(idx)
    if not pieces:
        return pa.array([], pa.string())
    combined = pa.concat_arrays([p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p for p in pieces])
    order = np.argsort(np.concatenate(positions), kind="stable")
    return combined.take(pa.array(order))


def pick(rng: np.random.Generator, pools: dict, keys: np.ndarray) -> np.ndarray:
    """One template per row, drawn uniformly from ``pools[keys[i]]`` (an object array of strings)."""
    out = np.empty(len(keys), dtype=object)
    for key, templates in pools.items():
        m = np.flatnonzero(keys == key)
        if m.size:
            out[m] = np.asarray(templates, dtype=object)[rng.integers(0, len(templates), m.size)]
    return out


def render(chosen: np.ndarray, **fields: pa.Array) -> pa.Array:
    """Fill each row's own template (``chosen[i]``) with row *i* of the fields."""
    templates, which = np.unique(chosen.astype(str), return_inverse=True)
    return fill(list(templates), which, **fields)


def ticket_texts(rng: np.random.Generator, topic: np.ndarray, **fields: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Ticket bodies for the planted topics (names of :data:`TICKETS`); returns (bodies, planted sentiment)."""
    k = len(topic)
    sentiment = np.empty(k, dtype=object)
    for name, pools in TICKETS.items():
        m = np.flatnonzero(topic == name)
        if not m.size:
            continue
        options = list(pools)
        weights = np.array([{"negative": 3.0, "neutral": 2.0, "positive": 0.4}[s] for s in options])
        sentiment[m] = np.asarray(options, dtype=object)[rng.choice(len(options), m.size, p=weights / weights.sum())]
    sentence = np.empty(k, dtype=object)
    for name, pools in TICKETS.items():
        for s, templates in pools.items():
            m = np.flatnonzero((topic == name) & (sentiment == s))
            if m.size:
                sentence[m] = np.asarray(templates, dtype=object)[rng.integers(0, len(templates), m.size)]
    greeting = np.asarray(TICKET_GREETINGS, dtype=object)[rng.integers(0, len(TICKET_GREETINGS), k)]
    closing = pick(rng, TICKET_CLOSINGS, sentiment)
    body = greeting + sentence + closing
    return render(body, **fields), sentiment


def review_texts(rng: np.random.Generator, aspect: np.ndarray, sentiment: np.ndarray, language: np.ndarray,
                 **fields: pa.Array) -> pa.Array:
    """Review bodies for planted aspects (:data:`REVIEW_ASPECTS`), sentiments and languages."""
    k = len(aspect)
    first = np.empty(k, dtype=object)
    second = np.full(k, "", dtype=object)
    add = rng.random(k) < 0.35
    for a, pools in REVIEWS.items():
        for s, templates in pools.items():
            m = np.flatnonzero((aspect == a) & (sentiment == s))
            if m.size:
                options = np.asarray(templates, dtype=object)
                first[m] = options[rng.integers(0, len(options), m.size)]
                extra = options[rng.integers(0, len(options), m.size)]
                second[m] = np.where(add[m] & (extra != first[m]), " " + extra, "")
    body = first + second + pick(rng, REVIEW_CLOSINGS, sentiment)
    for lang, pools in FOREIGN_REVIEWS.items():
        for s, templates in pools.items():
            m = np.flatnonzero((language == lang) & (sentiment == s))
            if m.size:
                body[m] = np.asarray(templates, dtype=object)[rng.integers(0, len(templates), m.size)]
    return render(body, **fields)


def survey_texts(rng: np.random.Generator, sentiment: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Survey comments for planted sentiments; returns (comments, planted topic)."""
    k = len(sentiment)
    text = np.empty(k, dtype=object)
    topic = np.empty(k, dtype=object)
    for s, items in SURVEY_COMMENTS.items():
        m = np.flatnonzero(sentiment == s)
        if m.size:
            j = rng.integers(0, len(items), m.size)
            topic[m] = np.array([items[i][0] for i in j], dtype=object)
            text[m] = np.array([items[i][1] for i in j], dtype=object)
    return pa.array(text.astype(str), pa.string()), topic
