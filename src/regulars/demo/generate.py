"""Write the demo shop's export files (canonical column names) and its ground truth."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from regulars.demo import anomalies, engagement, purchases, web
from regulars.demo._arrow import (
    WRITE_BATCH, CsvSink, ParquetSink, coded, dates, ids, money, nullable, take, timestamps, write_csv,
)
from regulars.demo.calendar import Calendar
from regulars.demo.catalog import CATEGORIES, Catalog
from regulars.demo.people import CITY, COUNTRY, IS_LOCAL, REGION, STORES, names_and_contacts, postal_codes
from regulars.demo.population import clocks, draw_population
from regulars.demo.types import CHANNELS, TYPE_NAMES

#: (ingest kind, file name) in load order: parents first.
FILES = [
    ("customers", "customers.csv"),
    ("products", "products.csv"),
    ("orders", "orders.csv"),
    ("order-lines", "order_lines.csv"),
    ("events", "events.parquet"),
    ("messages", "messages.csv"),
    ("tickets", "tickets.csv"),
    ("reviews", "reviews.csv"),
    ("surveys", "surveys.csv"),
    ("consents", "consents.csv"),
    ("spend", "spend.csv"),
]
TRUTH_FILE = "demo_truth.parquet"
TEXT_TRUTH_FILE = "demo_truth_texts.parquet"

#: Independent random streams, so that changing one part leaves the others as they were.
_STREAMS = {"population": 1, "purchases": 2, "consents": 3, "messages": 4, "contacts": 5, "tickets": 6,
            "reviews": 7, "surveys": 8, "spend": 9, "events": 10, "anomalies": 11}

CUSTOMERS_SCHEMA = pa.schema([
    ("customer_id", pa.string()), ("email", pa.string()), ("phone", pa.string()), ("first_name", pa.string()),
    ("last_name", pa.string()), ("created_at", pa.timestamp("s")), ("city", pa.string()), ("region", pa.string()),
    ("country", pa.string()), ("postal_code", pa.string()), ("acquisition_channel", pa.string()), ("birth_date", pa.date32()),
    ("accepts_email", pa.bool_()), ("accepts_sms", pa.bool_()), ("accepts_personalization", pa.bool_()), ("tags", pa.string()),
])
PRODUCTS_SCHEMA = pa.schema([
    ("product_id", pa.string()), ("sku", pa.string()), ("name", pa.string()), ("category", pa.string()), ("brand", pa.string()),
    ("price", pa.decimal128(18, 2)), ("is_active", pa.bool_()),
])
ORDERS_SCHEMA = pa.schema([
    ("order_id", pa.string()), ("customer_id", pa.string()), ("ordered_at", pa.timestamp("s")), ("status", pa.string()),
    ("currency", pa.string()), ("subtotal", pa.decimal128(18, 2)), ("discount", pa.decimal128(18, 2)),
    ("shipping", pa.decimal128(18, 2)), ("tax", pa.decimal128(18, 2)), ("total", pa.decimal128(18, 2)),
    ("refunded", pa.decimal128(18, 2)), ("channel", pa.string()), ("location", pa.string()), ("discount_code", pa.string()),
    ("refunded_at", pa.timestamp("s")),
    ("email", pa.string()),  # the address given at checkout, when it differs from the account's (rare)
])
LINES_SCHEMA = pa.schema([
    ("order_id", pa.string()), ("line_number", pa.int64()), ("product_id", pa.string()), ("sku", pa.string()),
    ("product_name", pa.string()), ("category", pa.string()), ("quantity", pa.int64()), ("unit_price", pa.decimal128(18, 2)),
    ("discount", pa.decimal128(18, 2)),
])


@dataclass
class DemoFiles:
    """What :func:`generate` wrote: ``(kind, path)`` pairs in load order, and the truth."""

    out_dir: Path
    files: list[tuple[str, Path]]
    truth: pd.DataFrame
    truth_path: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: one row per ticket, review and survey comment: planted language, sentiment and topic
    texts_truth: pd.DataFrame | None = None
    #: one row per planted anomaly: entity (order, customer, session), its id, the customer, the kind
    anomalies_truth: pd.DataFrame | None = None

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def path(self, kind: str) -> Path:
        return dict(self.files)[kind]


def _rng(seed: int, stream: str, *sub: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(_STREAMS[stream], *sub)))


def generate(
    out_dir: str | Path,
    n_customers: int = 20_000,
    seed: int = 0,
    years: float = 2.0,
    end: date = date(2026, 10, 31),
    *,
    kinds: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoFiles:
    """Write a synthetic shop's exports into *out_dir*, with the planted truth.

    Parameters
    ----------
    out_dir : path
        Folder for the files (created if missing).
    n_customers : int
        Customers with an account (buyers and newsletter sign-ups); about 0.8 x
        as many anonymous visitors browse the site too.
    seed : int
        Same seed, same files (byte for byte).
    years : float
        Length of the period, ending on the day *end* (inclusive).
    kinds : list of str, optional
        Only write these kinds (e.g. ``["orders", "order-lines"]`` for an
        ingest benchmark); everything is still simulated so files agree.
    progress : callable, optional
        Called with the name of each step.

    Returns
    -------
    DemoFiles
    """
    say = progress or (lambda _s: None)
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    wanted = set(kinds) if kinds else {k for k, _ in FILES}
    unknown = wanted - {k for k, _ in FILES}
    if unknown:
        raise ValueError(f"unknown kind(s) {sorted(unknown)}; known: {[k for k, _ in FILES]}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = round(now - clock, 3)
        clock = now

    say("generate: customers and their purchase process")
    cal = Calendar.build(end, years)
    cat = Catalog.build(cal.n_days)
    type_clocks = clocks(cal)
    pop = draw_population(_rng(seed, "population"), cal, n_customers, type_clocks)
    lap("population")
    say("generate: orders")
    orders, lines, truth, codes = purchases.simulate(_rng(seed, "purchases"), cal, cat, pop, type_clocks)
    planted_anomalies = anomalies.plant_orders(_rng(seed, "anomalies"), orders, lines, codes, n_customers)
    order_emails = anomalies.order_emails(_rng(seed, "anomalies", 1), orders, planted_anomalies, n_customers)
    pop.created = np.minimum(pop.created, np.where(pop.buyer, truth.acquired - 60.0, np.inf))
    customer_ids = ids(np.arange(n_customers) + 1, "C", 7)
    order_ids = ids(orders.number + 100_001, "O", 7)
    n_lines = np.bincount(lines.order, minlength=orders.size)
    line_start = np.cumsum(n_lines) - n_lines
    lap("orders")

    def path(kind: str) -> Path:
        return out / dict(FILES)[kind]

    say("generate: campaigns and e-mail engagement")
    consent = engagement.initial_consents(_rng(seed, "consents"), cal, pop)
    sales = engagement.Sales.of(orders)
    sink = CsvSink(path("messages"), engagement.MESSAGES_SCHEMA) if "messages" in wanted else None
    clicks_c, clicks_t, _ = engagement.write_messages(
        _rng(seed, "messages"), cal, pop, truth, sales, consent, customer_ids, sink)
    if sink:
        sink.close()
        rows["messages"] = sink.rows
    lap("messages")

    say("generate: customers file")
    first, last, email, phone = names_and_contacts(_rng(seed, "contacts"), np.arange(n_customers) + 1, pop.has_email, pop.has_phone)
    if "customers" in wanted:
        rows["customers"] = _write_customers(path("customers"), _rng(seed, "contacts", 1), cal, pop, consent,
                                             customer_ids, first, last, email, phone)
    if "products" in wanted:
        rows["products"] = write_csv(path("products"), {
            "product_id": pa.array(cat.product_id), "sku": pa.array(cat.sku), "name": pa.array(cat.name),
            "category": pa.array(cat.category_names), "brand": pa.array(cat.brand), "price": money(cat.price_cents),
            "is_active": pa.array(cat.active),
        }, PRODUCTS_SCHEMA)
    lap("customers")

    say("generate: orders and order lines files")
    if "orders" in wanted:
        rows["orders"] = _write_orders(path("orders"), cal, orders, codes, customer_ids, order_ids, order_emails)
    if "order-lines" in wanted:
        rows["order-lines"] = _write_lines(path("order-lines"), cat, orders, lines, order_ids)
    lap("orders_files")

    if "events" in wanted:
        say("generate: web events")
        ctx = web.Context(cal, cat, pop, truth, orders, lines, type_clocks, clicks_c, clicks_t, customer_ids, order_ids,
                          n_lines, line_start)
        sink = ParquetSink(path("events"), web.SCHEMA)
        web.write_events(lambda chunk: _rng(seed, "events", chunk), ctx, sink)
        bots, bot_truth = anomalies.bot_sessions(_rng(seed, "anomalies", 2), cal, n_customers, 0)
        if bots is not None:
            sink.write(bots)
        sink.close()
        planted_anomalies.extend(bot_truth)
        rows["events"] = sink.rows
        lap("events")

    say("generate: tickets, reviews, surveys, consents, spend")
    text_truth = []
    if "tickets" in wanted:
        columns, planted = engagement.tickets(
            _rng(seed, "tickets"), cal, cat, pop, orders, lines, n_lines, line_start, customer_ids, order_ids, first)
        rows["tickets"] = write_csv(path("tickets"), columns, engagement.TICKETS_SCHEMA)
        text_truth.append(planted)
    if "reviews" in wanted:
        columns, planted = engagement.reviews(_rng(seed, "reviews"), cal, cat, pop, orders, lines, customer_ids)
        rows["reviews"] = write_csv(path("reviews"), columns, engagement.REVIEWS_SCHEMA)
        text_truth.append(planted)
    if "surveys" in wanted:
        columns, planted = engagement.surveys(_rng(seed, "surveys"), cal, pop, orders, customer_ids)
        rows["surveys"] = write_csv(path("surveys"), columns, engagement.SURVEYS_SCHEMA)
        text_truth.append(planted)
    if "consents" in wanted:
        rows["consents"] = write_csv(path("consents"), engagement.consent_rows(cal, pop, consent, customer_ids),
                                     engagement.CONSENTS_SCHEMA)
    if "spend" in wanted:
        rows["spend"] = write_csv(path("spend"), engagement.spend(_rng(seed, "spend"), cal, pop, truth, consent),
                                  engagement.SPEND_SCHEMA)
    lap("engagement")

    say("generate: ground truth")
    truth_df = _truth_frame(cal, pop, truth, customer_ids)
    truth_path = out / TRUTH_FILE
    pq.write_table(pa.Table.from_pandas(truth_df, preserve_index=False), truth_path, compression="zstd")
    rows["truth"] = len(truth_df)
    texts_df = pa.concat_tables([pa.table(t) for t in text_truth]).to_pandas() if text_truth else None
    if texts_df is not None:
        pq.write_table(pa.Table.from_pandas(texts_df, preserve_index=False), out / TEXT_TRUTH_FILE, compression="zstd")
    anomalies_df = _anomaly_frame(planted_anomalies, customer_ids, order_ids, orders)
    lap("truth")
    files = [(k, out / name) for k, name in FILES if k in wanted]
    return DemoFiles(out, files, truth_df, truth_path, rows, seconds, texts_truth=texts_df,
                     anomalies_truth=anomalies_df)


def _write_customers(path, rng, cal: Calendar, pop, consent, customer_ids, first, last, email, phone) -> int:
    n = pop.n
    accepts_email, accepts_sms, accepts_pers = engagement.current_consents(cal, pop, consent)
    birth = cal.epoch_day0 + cal.n_days - (pop.age * 365.25).astype(np.int64) - rng.integers(0, 365, n)
    local = IS_LOCAL[pop.place]
    tag = np.full(n, -1)
    u = rng.random(n)
    tag[u < 0.004] = 0
    tag[(u >= 0.004) & (u < 0.006)] = 1
    tag[(u >= 0.006) & (u < 0.007)] = 2
    tag[local & (u > 0.92)] = 3
    tags = nullable(take(["wholesale", "staff", "press", "local-pickup"], np.maximum(tag, 0)), tag < 0)
    return write_csv(path, {
        "customer_id": customer_ids,
        "email": email, "phone": phone, "first_name": first, "last_name": last,
        "created_at": timestamps(cal.to_utc(pop.created)),
        "city": take(CITY, pop.place), "region": take(REGION, pop.place), "country": take(COUNTRY, pop.place),
        "postal_code": postal_codes(rng, pop.place),
        "acquisition_channel": take(CHANNELS, pop.channel),
        "birth_date": dates(birth, mask=~pop.has_birth_date),
        "accepts_email": accepts_email, "accepts_sms": accepts_sms, "accepts_personalization": accepts_pers,
        "tags": tags,
    }, CUSTOMERS_SCHEMA)


def _write_orders(path, cal: Calendar, o: purchases.Orders, codes, customer_ids, order_ids, emails) -> int:
    by_time = np.argsort(o.number, kind="stable")
    sink = CsvSink(path, ORDERS_SCHEMA)
    locations = ["online", "online", *STORES]
    for a in range(0, by_time.size, WRITE_BATCH):
        i = by_time[a : a + WRITE_BATCH]
        loc = np.where(o.channel[i] == purchases.POS, 2 + o.store[i], o.channel[i])
        sink.write({
            "order_id": coded(i, order_ids),
            "customer_id": coded(o.cust[i], customer_ids),
            "ordered_at": timestamps(cal.to_utc(o.t[i])),
            "status": coded(o.status[i], purchases.STATUSES),
            "currency": coded(np.zeros(i.size, dtype=np.int64), ["USD"]),
            "subtotal": money(o.subtotal[i]), "discount": money(o.discount[i]), "shipping": money(o.shipping[i]),
            "tax": money(o.tax[i]), "total": money(o.total[i]),
            "refunded": pa.array(o.refunded[i] / 100.0, mask=o.refunded[i] < 0).cast(pa.decimal128(18, 2)),
            "channel": coded(o.channel[i], purchases.ORDER_CHANNELS),
            "location": coded(loc, locations),
            "discount_code": coded(o.code[i], codes, mask=o.code[i] < 0),
            "refunded_at": timestamps(cal.to_utc(np.maximum(o.refunded_t[i], 0)), mask=o.refunded_t[i] < 0),
            "email": pa.array(emails[i].astype(str), mask=emails[i] == ""),
        })
    sink.close()
    return sink.rows


def _write_lines(path, cat: Catalog, o: purchases.Orders, lines: purchases.Lines, order_ids) -> int:
    number = o.number[lines.order]
    by_order = np.argsort(number * 64 + lines.line_number, kind="stable")
    del number
    sink = CsvSink(path, LINES_SCHEMA)
    for a in range(0, by_order.size, WRITE_BATCH):
        i = by_order[a : a + WRITE_BATCH]
        p = lines.product[i]
        sink.write({
            "order_id": coded(lines.order[i], order_ids),
            "line_number": pa.array(lines.line_number[i]),
            "product_id": coded(p, cat.product_id), "sku": coded(p, cat.sku), "product_name": coded(p, cat.name),
            "category": coded(p, cat.category_names),
            "quantity": pa.array(lines.quantity[i]),
            "unit_price": money(lines.unit[i]), "discount": money(lines.discount[i]),
        })
    sink.close()
    return sink.rows


def _anomaly_frame(planted: list[dict], customer_ids, order_ids, o: purchases.Orders) -> pd.DataFrame:
    rows = []
    cust = customer_ids.to_pylist()
    for p in planted:
        if p["entity"] == "order":
            rows.append({"entity": "order", "entity_id": order_ids[p["number"]].as_py(),
                         "customer_id": cust[int(o.cust[p["number"]])], "kind": p["kind"]})
        elif p["entity"] == "customer":
            rows.append({"entity": "customer", "entity_id": cust[p["number"]], "customer_id": cust[p["number"]],
                         "kind": p["kind"]})
        else:
            rows.append({"entity": p["entity"], "entity_id": p["id"], "customer_id": None, "kind": p["kind"]})
    return pd.DataFrame(rows, columns=["entity", "entity_id", "customer_id", "kind"])


def _truth_frame(cal: Calendar, pop, truth: purchases.Truth, customer_ids) -> pd.DataFrame:
    churned = np.isfinite(truth.churned)
    return pd.DataFrame({
        "customer_id": customer_ids.to_numpy(zero_copy_only=False),
        "latent_type": np.array(TYPE_NAMES, dtype=object)[pop.type],
        "purchase_rate": pop.rate,
        "dropout_probability": pop.dropout,
        "favourite_category": np.array(CATEGORIES, dtype=object)[pop.favourite],
        "discount_affinity": pop.discount_affinity,
        "email_engagement": pop.email_engagement,
        "acquired_at": pd.to_datetime(cal.to_utc(truth.acquired), unit="s"),
        "churned_at": pd.Series(pd.to_datetime(cal.to_utc(np.where(churned, truth.churned, 0.0)), unit="s")).where(churned),
        "is_alive": truth.alive,
        "orders_next_365d": truth.orders_next_365d,
    })
