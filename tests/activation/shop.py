"""Tiny shops for journey tests, loaded through the real ingest path, and a scripted clock."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from regulars import Workspace
from regulars.data.access import LocalAccess
from regulars.data.ingest.pipeline import ingest

T0 = dt.datetime(2025, 3, 3, 12, 0)  # a Monday, 12:00 UTC


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = when


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def customer(cid: str, email_ok="true", sms_ok="false", phone="+4915112345678", created=T0 - dt.timedelta(days=400),
             birth="1990-07-15", first=None) -> list:
    return [cid, f"{cid.lower()}@example.com", phone, first or f"Name{cid}", "Tester", created.strftime("%Y-%m-%d %H:%M:%S"),
            "Lyon", "FR", birth, email_ok, sms_ok]


CUSTOMER_HEADER = ["customer_id", "email", "phone", "first_name", "last_name", "created_at", "city", "country",
                   "birth_date", "accepts_email", "accepts_sms"]


def build(folder: Path, customers: list[list], orders: list[list] = (), events: list[list] = (),
          products: list[list] = ()) -> Path:
    """A workspace at ``folder/shop.duckdb`` loaded from the given rows."""
    path = folder / "shop.duckdb"
    files = folder / "files"
    files.mkdir(parents=True, exist_ok=True)
    with Workspace(path) as ws:
        ingest(ws, "customers", [str(_csv(files / "customers.csv", CUSTOMER_HEADER, customers))])
        if products:
            ingest(ws, "products", [str(_csv(files / "products.csv", ["product_id", "name", "category", "price"],
                                             products))])
        if orders:
            ingest(ws, "orders", [str(_csv(files / "orders.csv", ["order_id", "customer_id", "ordered_at", "total"],
                                           orders))])
        if events:
            ingest(ws, "events", [str(_csv(files / "events.csv", ["event_id", "customer_id", "event_type",
                                                                   "occurred_at", "product_id"], events))])
    return path


def ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def approve(ws, *journey_ids: str) -> None:
    from regulars.data import journey_store
    from regulars.jobs.journeys import install_templates

    with ws.transaction():
        install_templates(ws)
        for jid in journey_ids:
            journey_store.set_status(ws, jid, "approved", "tests")


def configure(ws, **settings) -> None:
    from regulars.activation.settings import validate
    from regulars.data import activation_store

    with ws.transaction():
        activation_store.write_settings(ws, validate(settings), "tests")


def local(ws) -> LocalAccess:
    return LocalAccess(ws)
