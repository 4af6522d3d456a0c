"""A small, deterministic shop for API and dashboard tests, loaded through the real ingest path.

Every personal value (e-mails, phones, names, postal codes, birth dates, free
text) is recorded in :data:`Shop.pii`, so tests can assert that none of it
reaches a viewer.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest

FIRST = ["Ann", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kaori", "Liam"]
LAST = ["Martin", "Okafor", "Dubois", "Ivanova", "Garcia", "Haddad", "Larsen", "Moreau", "Silva", "Weber"]
CITIES = [("Lyon", "FR"), ("Berlin", "DE"), ("Porto", "PT"), ("Leeds", "GB"), ("Austin", "US")]
CHANNELS = ["organic", "paid_search", "social", "referral", "email"]
CATEGORIES = ["coffee", "tea", "mugs", "grinders"]
START = dt.datetime(2023, 1, 2, 9, 0)
END = dt.datetime(2024, 12, 20, 18, 0)


@dataclass
class Shop:
    path: Path
    customers: list[str] = field(default_factory=list)
    pii: set[str] = field(default_factory=set)
    emails: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    best_customer: str = ""
    quiet_customer: str = ""  # no orders, no events


def _write(folder: Path, name: str, header: list[str], rows: list[list]) -> Path:
    p = folder / name
    with p.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return p


def _ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def build_shop(path: Path, n_customers: int = 60, seed: int = 7) -> Shop:
    """Write CSV exports into ``path.parent / 'exports'`` and load them into the workspace at *path*."""
    rng = random.Random(seed)
    folder = path.parent / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    shop = Shop(path)
    span = (END - START).total_seconds()

    customers, orders, lines, events, messages, tickets, reviews, surveys, consents = ([] for _ in range(9))
    products = [[f"P{i:02d}", f"SKU-{i:02d}", f"{CATEGORIES[i % 4].title()} no. {i}", CATEGORIES[i % 4], "Acme",
                 f"{5 + i * 1.5:.2f}", "true"] for i in range(12)]
    best, best_value = "", -1.0
    for i in range(n_customers):
        cid = f"C{i + 1:04d}"
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        phone = f"+4915{rng.randint(10_000_000, 99_999_999)}"
        postal = f"D-{rng.randint(10000, 99999)}"
        birth = dt.date(1970 + rng.randint(0, 35), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
        city, country = CITIES[i % len(CITIES)]
        created = START + dt.timedelta(seconds=rng.random() * span * 0.7)
        customers.append([cid, email, phone, first, last, _ts(created), city, country, postal,
                          CHANNELS[i % len(CHANNELS)], birth, "true" if i % 3 else "false", "false"])
        shop.customers.append(cid)
        shop.emails[cid] = email
        shop.names[cid] = f"{first} {last}"
        shop.pii.update({email, phone, postal, birth, f"{first} {last}"})
        n_orders = 0 if i % 10 == 9 else rng.randint(1, 8)
        t = created
        value = 0.0
        for k in range(n_orders):
            t = t + dt.timedelta(days=rng.randint(3, 90), hours=rng.randint(0, 8))
            if t > END:
                break
            oid = f"O{i + 1:04d}-{k + 1}"
            n_lines = rng.randint(1, 3)
            total = 0.0
            for ln in range(n_lines):
                p = products[rng.randrange(len(products))]
                qty = rng.randint(1, 3)
                lines.append([oid, ln + 1, p[0], p[1], p[2], p[3], qty, p[5]])
                total += qty * float(p[5])
            refunded = f"{total / 2:.2f}" if rng.random() < 0.05 else ""
            orders.append([oid, cid, _ts(t), "paid", "EUR", f"{total:.2f}", refunded, "web" if k % 2 else "pos"])
            value += total
            sess = f"s-{oid}"
            for step, et in enumerate(("page_view", "product_view", "add_to_cart", "begin_checkout", "purchase")):
                events.append([f"E-{oid}-{step}", cid, f"anon-{cid}", sess, et,
                               _ts(t - dt.timedelta(minutes=10 - 2 * step)), f"/products/{lines[-1][2]}",
                               lines[-1][2], "", CHANNELS[(i + k) % len(CHANNELS)]])
        if value > best_value:
            best, best_value = cid, value
        # a browsing session that abandons the cart
        t2 = created + dt.timedelta(days=rng.randint(1, 200))
        if t2 < END and i != n_customers - 1:  # the last customer never visited the site
            for step, et in enumerate(("page_view", "search", "product_view", "add_to_cart")):
                events.append([f"E-{cid}-b{step}", cid, f"anon-{cid}", f"s-{cid}-b", et,
                               _ts(t2 + dt.timedelta(minutes=step)), "/search" if et == "search" else "/products/P01",
                               "P01", "cold brew" if et == "search" else "", "social"])
        for m in range(rng.randint(0, 4)):
            at = created + dt.timedelta(days=30 * (m + 1))
            if at > END:
                break
            messages.append([f"M-{cid}-{m}-s", cid, f"CMP{m}", "email", "sent", _ts(at)])
            if rng.random() < 0.5:
                messages.append([f"M-{cid}-{m}-o", cid, f"CMP{m}", "email", "opened", _ts(at + dt.timedelta(hours=2))])
        if i % 4 == 0:
            body = f"Hello, this is {first} {last}, my parcel to {postal} never arrived"
            tickets.append([f"T{i}", cid, _ts(created + dt.timedelta(days=20)), _ts(created + dt.timedelta(days=21)),
                            "email", "delivery", body, rng.randint(1, 5)])
            shop.pii.add(body)
        if i % 3 == 0 and n_orders:
            body = f"Great beans, signed {first} {last}"
            reviews.append([f"R{i}", cid, "P03", rng.randint(3, 5), body, _ts(created + dt.timedelta(days=40))])
            shop.pii.add(body)
        if i % 5 == 0:
            comment = f"Call me on {phone} about my order"
            surveys.append([f"S{i}", cid, "nps", rng.randint(0, 10), comment, _ts(created + dt.timedelta(days=50))])
            shop.pii.add(comment)
        if i % 6 == 0:
            consents.append([cid, "sms", "true", _ts(created + dt.timedelta(days=5)), "checkout"])
    shop.best_customer = best
    # a customer row with a broken e-mail: quarantined, and its reason quotes the e-mail
    customers.append(["C9999", "broken@@example.com", "", "Zoe", "Quarantine", _ts(START), "Lyon", "FR", "D-99999",
                      "organic", "1980-01-01", "true", "false"])
    shop.pii.update({"broken@@example.com", "Zoe Quarantine"})
    shop.quiet_customer = f"C{n_customers:04d}"
    # one bad order row, for the quarantine (its raw row holds an e-mail: personal data)
    orders.append(["O-BAD", "C0001", "not a date", "paid", "EUR", "12.00", "", "web"])
    spend = [[f"2024-{m:02d}-01", ch, f"{100 + 10 * m}.00"] for m in range(1, 13) for ch in CHANNELS[:3]]

    files = {
        "customers": _write(folder, "customers.csv", ["customer_id", "email", "phone", "first_name", "last_name",
                                                       "created_at", "city", "country", "postal_code",
                                                       "acquisition_channel", "birth_date", "accepts_email",
                                                       "accepts_sms"], customers),
        "products": _write(folder, "products.csv", ["product_id", "sku", "name", "category", "brand", "price",
                                                     "is_active"], products),
        "orders": _write(folder, "orders.csv", ["order_id", "customer_id", "ordered_at", "status", "currency",
                                                 "total", "refunded", "channel"], orders),
        "order-lines": _write(folder, "order_lines.csv", ["order_id", "line_number", "product_id", "sku",
                                                           "product_name", "category", "quantity", "unit_price"], lines),
        "events": _write(folder, "events.csv", ["event_id", "customer_id", "anonymous_id", "session_id", "event_type",
                                                 "occurred_at", "page_url", "product_id", "search_query",
                                                 "traffic_source"], events),
        "messages": _write(folder, "messages.csv", ["message_id", "customer_id", "campaign_id", "channel",
                                                     "event_type", "occurred_at"], messages),
        "tickets": _write(folder, "tickets.csv", ["ticket_id", "customer_id", "opened_at", "closed_at", "channel",
                                                   "topic", "body", "csat"], tickets),
        "reviews": _write(folder, "reviews.csv", ["review_id", "customer_id", "product_id", "rating", "body",
                                                   "created_at"], reviews),
        "surveys": _write(folder, "surveys.csv", ["response_id", "customer_id", "survey", "score", "comment",
                                                   "answered_at"], surveys),
        "consents": _write(folder, "consents.csv", ["customer_id", "purpose", "is_granted", "recorded_at", "source"],
                           consents),
        "spend": _write(folder, "spend.csv", ["spent_on", "channel", "amount"], spend),
    }
    with Workspace(path) as ws:
        for kind, f in files.items():
            ingest(ws, kind, [f])
    return shop
