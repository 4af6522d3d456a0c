"""Short templated texts: support tickets, reviews, survey comments, blog pages.

:func:`fill` renders one template per row, vectorised (one pass per template,
not per row).

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> fill(["Hi {name}!", "Bye {name}."], np.array([1, 0]), name=pa.array(["Ann", "Bo"])).to_pylist()
['Bye Ann.', 'Hi Bo!']
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from regulars.demo._arrow import join

TICKET_TOPICS = {
    "shipping_delay": [
        "Hi, my order {order} still hasn't arrived and tracking hasn't updated in days. Can you check?",
        "Order {order} was supposed to arrive last week. Where is it?",
        "Hello, this is {first_name}. The tracking link for {order} shows nothing. Is it lost?",
        "Still waiting on {order}... I needed the {product} for the weekend.",
    ],
    "damaged_item": [
        "The {product} in order {order} arrived damaged. The box was crushed.",
        "Hi, {first_name} here. My {product} came broken, can I get a replacement or refund?",
        "Bag of {product} was torn open when it arrived (order {order}).",
    ],
    "return_request": [
        "I'd like to return the {product} from order {order}, it's not what I expected.",
        "Can I send back the {product}? Never opened. Order {order}.",
        "Hi, this is {first_name}. The {product} doesn't suit me, how do I return it?",
    ],
    "order_change": [
        "Can I change the shipping address on {order}? I moved last week.",
        "Please add a second bag to order {order} if it hasn't shipped yet.",
        "Hi, I ordered the wrong grind for {product} on {order}. Can you switch it to whole bean?",
    ],
    "product_question": [
        "What grind size do you recommend for the {product} in a pour-over?",
        "Is the {product} still available? I can't find it anymore.",
        "How long does the {product} stay fresh once opened?",
        "Does the {product} work with a French press? Thanks, {first_name}",
    ],
    "subscription_change": [
        "Please skip next month's delivery of my subscription.",
        "I'd like to switch my subscription to decaf from now on.",
        "Hi, {first_name} here. How do I pause my subscription while I travel?",
    ],
    "billing": [
        "I was charged twice for order {order}.",
        "The discount code didn't apply on {order}, can you refund the difference?",
        "Can I get an invoice with my company name for {order}?",
    ],
    "account_help": [
        "I can't log into my account, the password reset email never arrives.",
        "Please update my e-mail address on my account. Thanks, {first_name}",
    ],
}

REVIEWS = {
    5: ["Absolutely love the {product}. Will buy again!", "Best {product} I've had. Fresh and well packed.",
        "The {product} is fantastic, my morning ritual.", "Five stars, the {product} exceeded expectations.",
        "Perfect. The {product} arrived fast and tastes amazing."],
    4: ["Really good {product}, a bit pricey.", "Very nice {product}, shipping took a couple of days longer than expected.",
        "Solid {product}. Would recommend.", "Enjoying the {product}, just wish the bag were bigger."],
    3: ["The {product} is okay, nothing special.", "Decent {product} but not as described.",
        "Average. The {product} is fine for the price on sale."],
    2: ["Disappointed with the {product}. Tasted stale.", "The {product} broke after a few uses.",
        "Not worth the full price, the {product} is mediocre."],
    1: ["Terrible. The {product} arrived damaged and support was slow.", "Would not buy the {product} again.",
        "The {product} was nothing like the description. Returning it."],
}

NPS_COMMENTS = {
    "promoter": ["Love the coffee and the people at the shop.", "Always fresh, always fast.", "Best roaster in town!",
                 "The subscription is the highlight of my month.", "Great gifts, everyone loved them."],
    "passive": ["Good coffee, shipping could be faster.", "Nice selection but a bit expensive.",
                "Fine overall, the website could be easier to use."],
    "detractor": ["Orders take too long to arrive.", "Too expensive without a discount.", "Customer service never answered me.",
                  "Quality has gone down lately.", "My last bag tasted stale."],
}

CSAT_COMMENTS = ["Delivery was quick.", "Packaging was great.", "Took a while to arrive.", "Box was damaged but the product was fine."]

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
