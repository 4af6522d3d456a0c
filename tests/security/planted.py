"""A planted customer, Zelda Quixotic, whose personal data is in every table and in every shape.

She is loaded through the real ingest path on top of a test shop: customer row (e-mail written
with spaces and capitals, phone formatted), orders with a personal discount code, events whose
search query, page URL, session id, event id and properties hold her e-mail, name and phone,
tickets/reviews/surveys text, a consent source, and rejected rows that keep raw text in the
quarantine (a ragged CSV line, a bad JSON line, an order row with her padded e-mail, one with
her phone written ``001-201-555-0916``). :data:`SECRETS` are the strings that must never reach
a viewer and must be gone from the workspace file after she is erased.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest

CID = "PLANT1"
EMAIL = "zelda.quux@example.org"
PHONE = "+1 (201) 555-0916"
#: Strings that identify her (compared case-insensitively).
SECRETS = ("zelda", "quixotic", "quux", "zq-99817", "2015550916", "555-0916", "555 0916", "zeldaquix")
POSTAL = "ZQ-99817"


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def files(folder: Path) -> dict[str, list[Path]]:
    """Her export files, by ingest kind (load them in this order)."""
    folder.mkdir(parents=True, exist_ok=True)
    customers = _csv(folder / "zq_customers.csv",
                     ["customer_id", "email", "phone", "first_name", "last_name", "created_at", "city", "country",
                      "postal_code", "acquisition_channel", "birth_date", "accepts_email", "accepts_sms", "tags"],
                     [[CID, " Zelda.Quux@Example.ORG ", PHONE, "Zelda", "Quixotic", "2023-02-01 10:00:00", "Lyon",
                       "FR", POSTAL, "organic", "1981-07-13", "true", "true", "vip zeldaquix"]]
                     + [[f"ZF{i}", f"filler{i}@example.net", "", "Filler", f"Person{i}", "2023-03-01 10:00:00", "Porto",
                         "PT", f"P-{i}", "social", "1990-01-01", "false", "false", ""] for i in range(1, 9)])
    # a ragged line (one field too many): the reader cannot split it, its raw text is kept (csv.writer ends lines
    # with CRLF: so do these, mixed line ends would defeat DuckDB's dialect sniffer)
    with customers.open("a", encoding="utf-8") as fh:
        fh.write(f"PLANT1,{EMAIL},{PHONE},Zelda,Quixotic,2023-02-01,Lyon,FR,{POSTAL},organic,1981-07-13,true,true,x,extra\r\n")
        fh.write("ZF9,filler9@example.net,,Filler,Person9,2023-03-01 10:00:00,Porto,PT,P-9,social,1990-01-01,false,false,\r\n")
    orders = _csv(folder / "zq_orders.csv",
                  ["order_id", "customer_id", "email", "phone", "ordered_at", "status", "currency", "total", "channel",
                   "discount_code"],
                  [["OZ-1", CID, "", "", "2024-03-01 12:00:00", "paid", "EUR", "42.00", "web", "ZELDAQUIX10"],
                   ["OZ-2", CID, "", "", "2024-06-01 12:00:00", "paid", "EUR", "58.00", "pos", ""],
                   ["OZ-3", CID, "", "", "2024-09-01 12:00:00", "paid", "EUR", "31.50", "web", ""],
                   ["OZ-BAD1", "", " Zelda.Quux@example.org ", "", "not a date", "paid", "EUR", "10.00", "web", ""],
                   ["OZ-BAD2", "", "", "001-201-555-0916", "2024-07-01 10:00:00", "paid", "EUR", "lots", "web", ""]])
    lines = _csv(folder / "zq_lines.csv",
                 ["order_id", "line_number", "product_id", "sku", "product_name", "category", "quantity", "unit_price"],
                 [["OZ-1", 1, "P01", "SKU-01", "Tea no. 1", "tea", 2, "21.00"],
                  ["OZ-2", 1, "P02", "SKU-02", "Mugs no. 2", "mugs", 1, "58.00"],
                  ["OZ-3", 1, "P03", "SKU-03", "Grinders no. 3", "grinders", 1, "31.50"]])
    events = folder / "zq_events.jsonl"
    with events.open("w", encoding="utf-8") as fh:
        for i, (et, query, url) in enumerate([
            ("search", EMAIL, "/search?q=zelda.quux%40example.org"),
            ("page_view", None, "/account?email=zelda.quux@example.org&name=Zelda+Quixotic"),
            ("product_view", "Zelda Quixotic gift", "/products/P01"),
            ("add_to_cart", None, "/products/P01"),
        ]):
            fh.write(json.dumps({
                "event_id": f"ev-zelda-quixotic-{i}", "customer_id": CID, "anonymous_id": "anon-zq-7",
                "session_id": "sess-Quixotic", "event_type": et, "occurred_at": f"2024-08-0{i + 1}T10:00:00Z",
                "page_url": url, "product_id": "P01", "search_query": query, "traffic_source": "newsletter",
                "properties": {"full_name": "Zelda Quixotic", "phone": "+1 201 555 0916", "note": "zelda.quux"},
            }) + "\n")
        fh.write('{"customer_id": "PLANT1", "email": "zelda.quux@example.org", "event_type": "page_view", \n')
    tickets = _csv(folder / "zq_tickets.csv",
                   ["ticket_id", "customer_id", "opened_at", "closed_at", "channel", "topic", "body", "csat"],
                   [["TZ-1", CID, "2024-04-01 09:00:00", "2024-04-02 09:00:00", "email", "Zelda Quixotic refund",
                     "Hi, Zelda Quixotic here, call me on +1 201 555 0916 (postcode ZQ-99817)", 2]])
    reviews = _csv(folder / "zq_reviews.csv", ["review_id", "customer_id", "product_id", "rating", "body", "created_at"],
                   [["RZ-1", CID, "P01", 5, "Lovely tea - Zelda Quixotic", "2024-05-01 10:00:00"]])
    surveys = _csv(folder / "zq_surveys.csv", ["response_id", "customer_id", "survey", "score", "comment", "answered_at"],
                   [["SZ-1", CID, "nps", 9, "Zelda Quixotic says hi, zelda.quux@example.org", "2024-05-02 10:00:00"]])
    consents = _csv(folder / "zq_consents.csv", ["customer_id", "purpose", "is_granted", "recorded_at", "source"],
                    [[CID, "email", "true", "2024-01-05 10:00:00", "Zelda Quixotic preference centre"]])
    return {"customers": [customers], "orders": [orders], "order-lines": [lines], "events": [events],
            "tickets": [tickets], "reviews": [reviews], "surveys": [surveys], "consents": [consents]}


def plant(path: Path, folder: Path) -> dict[str, list[Path]]:
    """Load her files into the workspace at *path*; return them (to load again later)."""
    found = files(folder)
    with Workspace(path) as ws:
        for kind, paths in found.items():
            ingest(ws, kind, paths)
    return found


#: Events an analyst posts for her through the API: her phone and e-mail written differently.
POSTED = [
    {"phone": "1-201-555-0916", "event_type": "search", "search_query": "zelda quixotic birthday",
     "page_url": "/search?q=Zelda+Quixotic", "properties": {"typed": "zelda.quux@example.org"}},
    {"email": " ZELDA.QUUX@example.org ", "event_type": "page_view", "page_url": "/hello/zelda",
     "event_id": "ev-zq-api-2", "properties": {"who": "Zelda Quixotic", "tel": "0012015550916"}},
]


def leaks(text: str) -> list[str]:
    """Which of her identifying strings *text* holds."""
    low = text.lower()
    return [s for s in SECRETS if s in low]
