"""A seeded random shop with every table the mart reads, for engine parity tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

START = dt.datetime(2023, 1, 1)
CATEGORIES = ["Coffee", "Tea", "Mugs & Cups", "Gift cards"]
STEPS = ["page_view", "product_view", "search", "add_to_cart", "begin_checkout", "add_shipping_info",
         "add_payment_info", "purchase"]


def _insert(ws, table: str, df: pd.DataFrame) -> None:
    ws._con.register("_parity_df", df)
    try:
        ws._con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _parity_df")
    finally:
        ws._con.unregister("_parity_df")


def build_random_shop(ws, customers: int = 400, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in range(customers)]
    created = [START + dt.timedelta(days=int(d), hours=int(h)) for d, h in zip(rng.integers(0, 500, customers),
                                                                                 rng.integers(0, 24, customers))]
    maybe = lambda values, p: [v if rng.random() > p else None for v in values]  # noqa: E731
    _insert(ws, "customers", pd.DataFrame({
        "customer_id": ids, "created_at": maybe(created, 0.1),
        "region": maybe(rng.choice(["north", "south", "east", "west"], customers).tolist(), 0.2),
        "acquisition_channel": rng.choice(["organic", "paid_search", "social", "email"], customers),
        "country": "FR", "accepts_email": maybe(rng.random(customers) > 0.3, 0.3),
        "accepts_sms": maybe(rng.random(customers) > 0.6, 0.5),
    }))
    _insert(ws, "products", pd.DataFrame({
        "product_id": [f"p{i}" for i in range(12)], "name": [f"product {i}" for i in range(12)],
        "category": [CATEGORIES[i % 4] for i in range(12)], "price": np.round(rng.uniform(3, 60, 12), 2),
    }))
    orders, lines = [], []
    for i, cid in enumerate(ids):
        n = int(rng.poisson(2.5)) if rng.random() > 0.15 else 0
        t = created[i]
        for k in range(n):
            t = t + dt.timedelta(days=float(rng.exponential(60)), minutes=int(rng.integers(0, 600)))
            oid = f"o{i}-{k}"
            n_lines = int(rng.integers(1, 4))
            value = 0.0
            for ln in range(n_lines):
                p = int(rng.integers(0, 12))
                q, price = int(rng.integers(1, 4)), round(float(rng.uniform(3, 60)), 2)
                disc = round(float(rng.choice([0, 0, 0, 1.5])), 2)
                lines.append({"order_id": oid, "line_number": ln + 1, "product_id": f"p{p}",
                              "category": CATEGORIES[p % 4] if rng.random() > 0.2 else None,
                              "quantity": q, "unit_price": price, "discount": disc})
                value += q * price - disc
            status = rng.choice(["paid", "paid", "paid", "refunded", "cancelled"], p=[.5, .2, .2, .05, .05])
            discount = round(float(rng.choice([0, 0, 5, 10])), 2)
            orders.append({"order_id": oid, "customer_id": cid, "ordered_at": t, "status": status,
                           "total": round(value, 2), "discount": discount,
                           "discount_code": "SPRING" if discount and rng.random() > 0.5 else None,
                           "refunded": round(value / 2, 2) if status == "refunded" else None})
        if n and rng.random() < 0.1:
            orders.append({"order_id": f"r{i}", "customer_id": cid, "ordered_at": t + dt.timedelta(days=3),
                           "status": "refunded", "total": -12.5})
    _insert(ws, "orders", pd.DataFrame(orders))
    _insert(ws, "order_lines", pd.DataFrame(lines))

    events, messages = [], []
    for i, cid in enumerate(ids):
        for s in range(int(rng.poisson(3))):
            t = START + dt.timedelta(days=float(rng.uniform(0, 700)))
            depth = int(rng.integers(1, len(STEPS) + 1))
            sid = f"s{i}-{s}" if rng.random() > 0.05 else None
            for j, et in enumerate(STEPS[:depth]):
                events.append({"event_id": f"e{i}-{s}-{j}", "customer_id": cid if rng.random() > 0.1 else None,
                               "anonymous_id": f"a{i}", "session_id": sid, "event_type": et,
                               "occurred_at": t + dt.timedelta(minutes=j)})
        for m in range(int(rng.poisson(4))):
            t = START + dt.timedelta(days=float(rng.uniform(0, 700)))
            kind = rng.choice(["sent", "opened", "clicked", "unsubscribed"], p=[.5, .3, .15, .05])
            messages.append({"message_id": f"m{i}-{m}", "customer_id": cid, "campaign_id": "k1",
                             "channel": rng.choice(["email", "sms"], p=[.85, .15]), "event_type": kind,
                             "occurred_at": t})
    _insert(ws, "events", pd.DataFrame(events))
    _insert(ws, "messages", pd.DataFrame(messages))
    picked = rng.choice(ids, 80)
    _insert(ws, "tickets", pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(80)], "customer_id": picked,
        "opened_at": [START + dt.timedelta(days=float(d)) for d in rng.uniform(0, 700, 80)],
        "csat": [int(v) if v else None for v in rng.choice([0, 1, 2, 3, 4, 5], 80)],
    }))
    _insert(ws, "reviews", pd.DataFrame({
        "review_id": [f"v{i}" for i in range(60)], "customer_id": rng.choice(ids, 60),
        "rating": rng.integers(1, 6, 60), "created_at": [START + dt.timedelta(days=float(d))
                                                          for d in rng.uniform(0, 700, 60)],
    }))
    _insert(ws, "consents", pd.DataFrame({
        "customer_id": rng.choice(ids, 50), "purpose": rng.choice(["email", "sms", "personalization"], 50),
        "is_granted": rng.random(50) > 0.5,
        "recorded_at": [START + dt.timedelta(days=float(d), seconds=i) for i, d in enumerate(rng.uniform(0, 700, 50))],
    }))
