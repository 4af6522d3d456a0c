"""The demo shop's catalog: a coffee roaster with a tea bar and an online boutique.

The catalog is fixed (the same for every seed): about 150 products in six
categories, with brands, prices, a popularity weight and, for the few
discontinued ones, the day they stopped selling and the product that
replaced them.

Examples
--------
>>> cat = Catalog.build(n_days=730)
>>> sorted(set(cat.category_names))
['accessories', 'coffee', 'equipment', 'gifts', 'subscriptions', 'tea']
>>> bool(cat.active.all()), bool(cat.active.any())
(False, True)
>>> cat.product_id[:2]
['P1001', 'P1002']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

CATEGORIES = ["coffee", "tea", "equipment", "accessories", "gifts", "subscriptions"]
HOUSE = "Lantern Roasting Co."

_ORIGINS = [
    # name, 12oz price, popularity, has 2 lb bag
    ("House Blend", 15.5, 6.0, True), ("Night Owl Espresso", 17.0, 5.0, True), ("Morning Lantern Blend", 15.5, 4.0, True),
    ("Ethiopia Yirgacheffe", 19.0, 3.5, True), ("Ethiopia Guji Natural", 20.5, 2.5, False), ("Kenya Nyeri AA", 21.0, 2.0, False),
    ("Colombia Huila", 17.5, 3.0, True), ("Colombia Decaf (Sugarcane)", 17.5, 2.5, True), ("Guatemala Antigua", 17.5, 2.0, False),
    ("Costa Rica Tarrazu", 18.5, 1.5, False), ("Brazil Cerrado", 16.0, 2.5, True), ("Sumatra Mandheling", 17.0, 1.8, False),
    ("Peru Cajamarca", 16.5, 1.2, False), ("Rwanda Nyamasheke", 19.5, 1.0, False), ("Burundi Kayanza", 19.5, 0.8, False),
    ("Honduras Marcala", 16.5, 1.0, False), ("El Salvador Pacamara", 21.5, 0.8, False), ("Mexico Chiapas Decaf", 17.0, 1.0, False),
    ("Papua New Guinea Sigri", 18.0, 0.7, False), ("Yemen Haraaz", 32.0, 0.4, False), ("Panama Geisha", 38.0, 0.3, False),
    ("Holiday Blend", 17.5, 1.5, True), ("Cold Brew Blend", 16.0, 1.8, True), ("Dark French Roast", 15.5, 2.2, True),
]
_GUEST = [("Northbound Coffee", "Northbound Seasonal Espresso", 19.0, 1.0), ("Foxtail Roasters", "Foxtail Light Roast", 20.0, 0.8)]
_TEAS = [
    # name, price, popularity, brand
    ("Sencha Kabuse", 14.0, 1.5), ("Gyokuro Asahi", 26.0, 0.6), ("Ceremonial Matcha", 29.0, 2.5), ("Culinary Matcha", 16.0, 1.5),
    ("Earl Grey Cream", 11.0, 2.5), ("English Breakfast", 9.5, 2.5), ("Darjeeling First Flush", 18.0, 1.0), ("Assam Halmari", 12.0, 1.2),
    ("Tieguanyin Oolong", 17.0, 1.0), ("Da Hong Pao", 22.0, 0.6), ("Aged Pu-erh Cake", 34.0, 0.4), ("Chamomile Flowers", 9.0, 1.4),
    ("Rooibos Vanilla", 9.5, 1.3), ("Peppermint Leaf", 8.5, 1.2), ("Masala Chai", 11.0, 2.2), ("Jasmine Pearls", 19.0, 1.2),
    ("Genmaicha", 10.0, 1.0), ("Hojicha", 12.0, 0.9), ("Lapsang Souchong", 13.0, 0.5), ("Silver Needle White", 24.0, 0.5),
]
_TEA_BRANDS = ["Leaf & Lantern", "Kettlebird Teas"]
_EQUIPMENT = [
    # name, brand, price, popularity
    ("Hand Burr Grinder", "Grindwell", 129.0, 2.0), ("Electric Burr Grinder E40", "Grindwell", 249.0, 1.5),
    ("Flat Burr Grinder Pro", "Grindwell", 449.0, 0.5), ("Gooseneck Kettle", "Kettle & Co", 89.0, 2.0),
    ("Electric Gooseneck Kettle", "Kettle & Co", 165.0, 1.5), ("Ceramic Pour-Over Dripper", "Pourform", 28.0, 2.5),
    ("Glass Pour-Over Carafe", "Pourform", 48.0, 1.8), ("French Press 1L", "Brewmark", 39.0, 1.8),
    ("Travel Press Brewer", "Brewmark", 45.0, 1.6), ("Home Espresso Machine", "Brewmark", 899.0, 0.25),
    ("Milk Frother", "Brewmark", 69.0, 1.0), ("Brew Scale with Timer", "Pourform", 59.0, 1.4),
    ("Cold Brew Maker", "Brewmark", 35.0, 1.4), ("Stovetop Moka Pot", "Brewmark", 42.0, 1.2),
    ("Siphon Brewer", "Pourform", 79.0, 0.4), ("Cast Iron Teapot", "Kettle & Co", 65.0, 0.8),
    ("Glass Teapot with Infuser", "Kettle & Co", 38.0, 1.1), ("Matcha Set", "Kettle & Co", 58.0, 0.9),
    ("Espresso Tamper", "Grindwell", 35.0, 0.6), ("Drip Coffee Maker", "Brewmark", 189.0, 0.7),
]
_ACCESSORIES = [
    ("Paper Filters (100)", "Pourform", 7.0, 3.0), ("Lantern Logo Mug", HOUSE, 18.0, 2.0), ("Stoneware Mug", HOUSE, 22.0, 1.2),
    ("Insulated Tumbler", HOUSE, 28.0, 1.8), ("Canvas Tote", HOUSE, 16.0, 0.8), ("Airtight Bean Canister", "Pourform", 24.0, 1.5),
    ("Cleaning Tablets", "Brewmark", 12.0, 1.0), ("Tea Infuser Basket", "Kettle & Co", 9.0, 1.5), ("Bamboo Matcha Whisk", "Kettle & Co", 16.0, 1.1),
    ("Knock Box", "Grindwell", 29.0, 0.4), ("Lantern Beanie", HOUSE, 24.0, 0.6), ("Lantern T-Shirt", HOUSE, 25.0, 0.7),
    ("Sticker Pack", HOUSE, 4.0, 0.9), ("Descaler", "Brewmark", 10.0, 0.9), ("Reusable Cloth Filter", "Pourform", 14.0, 0.6),
    ("Pitcher for Milk", "Brewmark", 19.0, 0.5), ("Tea Tin", "Leaf & Lantern", 12.0, 0.8), ("Cup Sleeve", HOUSE, 12.0, 0.4),
    ("Coasters (set of 4)", HOUSE, 15.0, 0.4), ("Glass Cold Brew Bottle", "Brewmark", 18.0, 0.7),
]
_GIFTS = [
    ("Gift Card $25", HOUSE, 25.0, 1.5), ("Gift Card $50", HOUSE, 50.0, 1.2), ("Gift Card $100", HOUSE, 100.0, 0.6),
    ("Coffee Lover's Gift Box", HOUSE, 65.0, 1.5), ("Tea Sampler", "Leaf & Lantern", 39.0, 1.2), ("Holiday Box", HOUSE, 79.0, 1.3),
    ("Pour-Over Brew Kit", "Pourform", 99.0, 0.9), ("Origin Sampler (4 x 4oz)", HOUSE, 45.0, 1.2), ("Mug & Beans Set", HOUSE, 42.0, 1.0),
    ("Coffee Advent Calendar", HOUSE, 59.0, 0.6), ("Matcha Starter Gift", "Kettlebird Teas", 55.0, 0.6), ("Chocolate & Coffee Pairing", HOUSE, 36.0, 0.8),
]
_SUBSCRIPTIONS = [
    ("Coffee Subscription - 3 months", HOUSE, 54.0, 1.5), ("Coffee Subscription - 6 months", HOUSE, 102.0, 0.9),
    ("Coffee Subscription - 12 months", HOUSE, 192.0, 0.5), ("Roaster's Choice Monthly", HOUSE, 19.0, 2.0),
    ("Espresso Monthly", HOUSE, 21.0, 1.4), ("Decaf Monthly", HOUSE, 19.0, 0.6), ("Tea Subscription - 3 months", "Leaf & Lantern", 45.0, 0.8),
    ("Matcha Monthly", "Kettlebird Teas", 29.0, 0.4),
]
#: Products that stop selling during the period (their successor replaces them).
_DISCONTINUED = {
    "Rwanda Nyamasheke (12 oz)": 0.35, "Burundi Kayanza (12 oz)": 0.5, "El Salvador Pacamara (12 oz)": 0.6,
    "Papua New Guinea Sigri (12 oz)": 0.45, "Foxtail Light Roast (12 oz)": 0.55, "Stoneware Mug": 0.4,
    "Siphon Brewer": 0.5, "Drip Coffee Maker": 0.65, "Cup Sleeve": 0.3, "Aged Pu-erh Cake": 0.7,
    "Lapsang Souchong": 0.6, "Matcha Monthly": 0.5, "Chocolate & Coffee Pairing": 0.75,
}

SEARCH_TERMS = {
    "coffee": ["decaf", "ethiopia", "espresso", "light roast", "dark roast", "colombia", "single origin", "cold brew", "expresso", "house blend"],
    "tea": ["matcha", "earl grey", "green tea", "chai", "oolong", "herbal tea", "jasmine", "caffeine free"],
    "equipment": ["grinder", "burr grinder", "kettle", "pour over", "french press", "scale", "espresso machine", "moka"],
    "accessories": ["filters", "mug", "tumbler", "whisk", "canister", "descaler"],
    "gifts": ["gift card", "gift box", "sampler", "gift for dad", "advent calendar"],
    "subscriptions": ["subscription", "monthly coffee", "gift subscription", "tea subscription"],
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass
class Catalog:
    product_id: list[str]
    sku: list[str]
    name: list[str]
    category_names: list[str]
    brand: list[str]
    price_cents: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    popularity: np.ndarray
    active: np.ndarray
    stop_day: np.ndarray  # first day it no longer sells (n_days + huge when active)
    successor: np.ndarray  # product index that replaces it (itself when active)
    url: list[str]

    @property
    def size(self) -> int:
        return len(self.product_id)

    @classmethod
    def build(cls, n_days: int) -> "Catalog":
        rows = []  # (name, category, brand, price, popularity, sku stem)
        for name, price, pop, big in _ORIGINS:
            rows.append((f"{name} (12 oz)", "coffee", HOUSE, price, pop, "COF-" + _stem(name) + "-12"))
            if big:
                rows.append((f"{name} (2 lb)", "coffee", HOUSE, round(price * 2.3 + 0.5) - 0.05, pop * 0.35, "COF-" + _stem(name) + "-32"))
        for brand, name, price, pop in _GUEST:
            rows.append((f"{name} (12 oz)", "coffee", brand, price, pop, "GST-" + _stem(name) + "-12"))
        for i, (name, price, pop) in enumerate(_TEAS):
            rows.append((name, "tea", _TEA_BRANDS[i % 2], price, pop, "TEA-" + _stem(name)))
        for cat, items, code in (("equipment", _EQUIPMENT, "EQP"), ("accessories", _ACCESSORIES, "ACC"),
                                 ("gifts", _GIFTS, "GFT"), ("subscriptions", _SUBSCRIPTIONS, "SUB")):
            for name, brand, price, pop in items:
                rows.append((name, cat, brand, price, pop, f"{code}-" + _stem(name)))
        n = len(rows)
        category = np.array([CATEGORIES.index(r[1]) for r in rows])
        stop = np.full(n, 10**9, dtype=np.int64)
        successor = np.arange(n)
        names = [r[0] for r in rows]
        for name, frac in _DISCONTINUED.items():
            i = names.index(name)
            stop[i] = int(frac * n_days)
            same = [j for j in range(n) if category[j] == category[i] and names[j] not in _DISCONTINUED]
            successor[i] = max(same, key=lambda j: (rows[j][4], -j))  # the most popular one still sold
        return cls(
            product_id=[f"P{1001 + i}" for i in range(n)],
            sku=[r[5] for r in rows],
            name=names,
            category_names=[r[1] for r in rows],
            brand=[r[2] for r in rows],
            price_cents=np.array([int(round(r[3] * 100)) for r in rows], dtype=np.int64),
            category=category,
            popularity=np.array([r[4] for r in rows]),
            active=stop > n_days,
            stop_day=stop,
            successor=successor,
            url=["/products/" + slug(r[0]) for r in rows],
        )

    def sampler(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted keys, product index) so that ``searchsorted(keys, category + u)`` draws a product
        of that category by popularity, for ``u`` uniform in [0, 1)."""
        keys, index = [], []
        for c in range(len(CATEGORIES)):
            members = np.flatnonzero(self.category == c)
            w = self.popularity[members]
            k = c + np.cumsum(w) / w.sum()
            k[-1] = c + 1.0
            keys.append(k)
            index.append(members)
        keys = np.concatenate(keys)
        # the last key of each category is c + 1.0: the next category starts strictly above it
        return keys, np.concatenate(index)

    def draw(self, rng: np.random.Generator, category: np.ndarray, day: np.ndarray) -> np.ndarray:
        """One product per element of the given *category*, sold on *day* (discontinued ones replaced)."""
        keys, index = self.sampler()
        u = rng.random(category.size) * (1 - 1e-12)
        pos = np.searchsorted(keys, category + u, side="right")
        prod = index[np.minimum(pos, index.size - 1)]
        gone = day >= self.stop_day[prod]
        prod[gone] = self.successor[prod[gone]]
        return prod


def _stem(name: str) -> str:
    words = re.sub(r"[^A-Za-z0-9 ]+", " ", name).upper().split()
    return "-".join(w[:3] for w in words[:3])
