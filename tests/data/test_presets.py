"""Vendor presets: each sample export in tests/samples loads with no mapping file.

Every expected figure below was computed by hand from the sample files (the
arithmetic is in the comments), not read back from a first run.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from regulars.data import keyed
from regulars.data.identity import fingerprint
from regulars.data.ingest.options import MappingError
from regulars.data.ingest.pipeline import ingest
from regulars.data.presets import PRESETS, detect_preset

SAMPLES = Path(__file__).resolve().parents[1] / "samples"  # same as tests/conftest.py

SHOPIFY_ORDERS = SAMPLES / "shopify_orders.csv"
SHOPIFY_CUSTOMERS = SAMPLES / "shopify_customers.csv"
WOO_ORDERS = SAMPLES / "woocommerce_orders.csv"
KLAVIYO = SAMPLES / "klaviyo_events.csv"
MAILCHIMP = SAMPLES / "mailchimp_activity.csv"
GA4 = SAMPLES / "ga4_events.jsonl"


def provisional(ws, email: str) -> str:
    """The provisional id of a customer known only by *email*: ``e-`` + its keyed hash (16 characters)."""
    return "e-" + fingerprint(keyed.for_connection(ws._con), "email", email)[:16]


def one(ws, sql, params=None):
    return ws._con.execute(sql, params or []).fetchall()[0][0]


def rows(ws, sql, params=None):
    return ws._con.execute(sql, params or []).fetchall()


def quarantined(ws):
    """row number -> reason, for the quarantined rows."""
    return dict(rows(ws, "SELECT row_number, reason FROM quarantine ORDER BY row_number"))


def assert_reload_changes_nothing(ws, kind, path, expected_unchanged):
    before = {t: one(ws, f"SELECT count(*) FROM {t}") for t in ("customers", "identities", "quarantine", "consents")}
    again = ingest(ws, kind, [path])
    assert (again.rows_new, again.rows_updated) == (0, 0)
    assert again.rows_unchanged == expected_unchanged
    assert again.customers_created == 0 and again.customers_merged == 0
    assert {t: one(ws, f"SELECT count(*) FROM {t}") for t in before} == before


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    "path, kind, preset",
    [
        (SHOPIFY_ORDERS, "orders", "shopify"),
        (SHOPIFY_CUSTOMERS, "customers", "shopify"),
        (WOO_ORDERS, "orders", "woocommerce"),
        (KLAVIYO, "messages", "klaviyo"),
        (MAILCHIMP, "messages", "mailchimp"),
        (GA4, "events", "ga4"),
    ],
)
def test_each_sample_is_recognised_by_its_header_and_by_no_other_preset(path, kind, preset):
    assert detect_preset(str(path), kind).name == preset
    from regulars.data.presets import _header

    header = _header(str(path))
    claimed = [p.name for p in PRESETS.values() if kind in p.builders and p.matches(header)]
    assert claimed == [preset]


def test_a_canonical_file_is_left_to_the_generic_loader(tmp_path):
    f = tmp_path / "orders.csv"
    f.write_text("order_id,customer_id,ordered_at,total\nA1,C1,2024-01-01,10.00\n")
    assert detect_preset(str(f), "orders") is None


def test_shopify_customers_export_loaded_as_orders_says_which_command_to_use(workspace):
    with pytest.raises(MappingError, match="regulars ingest customers"):
        ingest(workspace, "orders", [SHOPIFY_CUSTOMERS])
    assert one(workspace, "SELECT count(*) FROM ingest_runs") == 0


# --------------------------------------------------------------------------- Shopify orders


def test_shopify_orders(workspace):
    res = ingest(workspace, "orders", [SHOPIFY_ORDERS])  # no --format: detected from the header
    ws = workspace
    assert res.format == "shopify"
    # 12 data rows = 8 orders (#1001..#1008); #1006 (rows 8-9) has an impossible date (30 February).
    assert res.rows_read == 12
    assert res.rows_quarantined == 2
    assert res.tables["orders"]["new"] == 7
    assert res.tables["order_lines"]["new"] == 10  # 2+1+2+1+1+2+1
    assert res.tables["products"]["stubs_created"] == 7  # COF-1KG MUG-01 FP-350 coaster GRN-200 KET-01 FIL-100

    q = quarantined(ws)
    assert sorted(q) == [8, 9]
    assert 'column "Created at": cannot read "2024-02-30 11:00:00 -0500"' in q[8]
    assert "order #1006 is not loaded" in q[9]

    assert one(ws, "SELECT string_agg(order_id, ',' ORDER BY order_id) FROM orders") == (
        "#1001,#1002,#1003,#1004,#1005,#1007,#1008"
    )
    # Totals: 63.32 + 28.76 + 34.56 + 160.92 + 25.92 + 48.54 + 12.96
    assert one(ws, "SELECT sum(total) FROM orders") == Decimal("374.98")
    # Refunds: #1002 fully (28.76), #1003 partly (12.00)
    assert one(ws, "SELECT sum(refunded) FROM orders") == Decimal("40.76")
    # Net revenue without the cancelled #1004: (374.98 - 160.92) - 40.76
    assert one(ws, "SELECT sum(total - coalesce(refunded, 0)) FROM orders WHERE status <> 'cancelled'") == Decimal("173.30")
    assert dict(rows(ws, "SELECT status, count(*) FROM orders GROUP BY 1")) == {
        "paid": 4, "refunded": 1, "partially_refunded": 1, "cancelled": 1,
    }
    # Cancelled wins over the financial status (#1004 is "voided" and cancelled).
    assert one(ws, "SELECT status FROM orders WHERE order_id = '#1004'") == "cancelled"
    assert dict(rows(ws, "SELECT channel, count(*) FROM orders GROUP BY 1")) == {"web": 4, "pos": 2, "draft_order": 1}
    assert rows(ws, "SELECT order_id, location FROM orders WHERE location IS NOT NULL ORDER BY 1") == [
        ("#1005", "Main Street Store"), ("#1008", "Main Street Store"),
    ]
    assert dict(rows(ws, "SELECT order_id, discount_code FROM orders WHERE discount_code IS NOT NULL")) == {
        "#1001": "WELCOME10", "#1007": "VIP20",
    }
    first = rows(ws, "SELECT ordered_at, currency, subtotal, discount, shipping, tax, total FROM orders WHERE order_id = '#1001'")[0]
    # 2024-01-05 10:23:11 -0500 is 15:23:11 UTC
    assert str(first[0]) == "2024-01-05 15:23:11"
    # subtotal is before discounts: 2*24.00 + 12.00 (Shopify's own "Subtotal" column says 54.00, after discounts)
    assert first[1:] == ("USD", Decimal("60.00"), Decimal("6.00"), Decimal("5.00"), Decimal("4.32"), Decimal("63.32"))
    assert one(ws, "SELECT count(*) FROM orders WHERE subtotal - discount + shipping + tax <> total") == 0

    # Lines: 2*24 + 12 + 22 + 2*12 + 8 + 149 + 24 + 45 + 2*6.50 + 12 = 357; line discounts 4.80+1.20+15.52+4.48
    assert one(ws, "SELECT sum(quantity * unit_price) FROM order_lines") == Decimal("357.00")
    assert one(ws, "SELECT sum(discount) FROM order_lines") == Decimal("26.00")
    assert rows(ws, "SELECT line_number, product_id, quantity, unit_price FROM order_lines WHERE order_id = '#1001' ORDER BY 1") == [
        (1, "COF-1KG", 2, Decimal("24.00")), (2, "MUG-01", 1, Decimal("12.00")),
    ]
    # A line without SKU gets a stable id from its name.
    coaster = "n-" + hashlib.md5(b"handmade coaster set").hexdigest()[:16]
    assert one(ws, "SELECT product_id FROM order_lines WHERE order_id = '#1003' AND line_number = 2") == coaster
    assert one(ws, "SELECT name FROM products WHERE product_id = ?", [coaster]) == "Handmade Coaster Set"

    # Customers by e-mail (alice, bob, carol, dave, frank) and by phone (#1008 has no e-mail); erin was rejected.
    assert one(ws, "SELECT count(*) FROM customers") == 6
    assert one(ws, "SELECT count(DISTINCT customer_id) FROM orders WHERE order_id IN ('#1001', '#1005')") == 1
    assert one(ws, "SELECT customer_id FROM orders WHERE order_id = '#1008'").startswith("p-")
    assert one(ws, "SELECT phone FROM customers WHERE email = 'alice@example.com'") == "+16135550101"

    assert_reload_changes_nothing(ws, "orders", SHOPIFY_ORDERS, expected_unchanged=17)


def test_shopify_orders_explicit_format(workspace):
    res = ingest(workspace, "orders", [SHOPIFY_ORDERS], format="shopify")
    assert (res.format, res.tables["orders"]["new"]) == ("shopify", 7)


def test_shopify_order_fields_are_taken_from_the_row_that_has_them(workspace, tmp_path):
    # A file re-sorted in a spreadsheet: #1001's second line now comes before its first.
    lines = SHOPIFY_ORDERS.read_text().splitlines(keepends=True)
    f = tmp_path / "orders_export.csv"
    f.write_text(lines[0] + lines[2] + lines[1] + "".join(lines[3:]))
    res = ingest(workspace, "orders", [f])
    assert res.tables["orders"]["new"] == 7
    assert rows(workspace, "SELECT total, discount_code, status FROM orders WHERE order_id = '#1001'") == [
        (Decimal("63.32"), "WELCOME10", "paid"),
    ]
    assert rows(workspace, "SELECT line_number, product_id FROM order_lines WHERE order_id = '#1001' ORDER BY 1") == [
        (1, "MUG-01"), (2, "COF-1KG"),  # line numbers follow the file
    ]


# --------------------------------------------------------------------------- Shopify customers


def test_shopify_customers(workspace):
    ws = workspace
    res = ingest(ws, "customers", [SHOPIFY_CUSTOMERS])
    assert res.format == "shopify"
    # A malformed e-mail does not reject the customer: the value is dropped with a field warning.
    assert (res.rows_read, res.rows_quarantined, res.tables["customers"]["new"], res.field_warnings) == (5, 0, 5, 1)
    warned = rows(ws, "SELECT row_number, value, reason, customer_id FROM ingest_warnings")
    assert warned == [(4, "ivan.petrov(at)example.com",
                       'column "Email": cannot read "ivan.petrov(at)example.com" as an e-mail address', "7001004")]

    got = {r[0]: r[1:] for r in rows(
        ws, "SELECT customer_id, email, phone, city, region, country, postal_code, accepts_email, accepts_sms, tags FROM customers"
    )}
    # Shopify's leading apostrophes (spreadsheet protection) are stripped from ids, phones and zips.
    assert got["7001001"] == ("alice@example.com", "+16135550101", "Albany", "NY", "US", "12207", True, True, "vip, coffee")
    assert got["7001002"][6:8] == (False, False)
    assert got["7001003"][0] == "hank.olsen@example.com"  # lower-cased and trimmed
    assert got["7001003"][6:8] == (True, None)  # SMS never stated
    assert got["7001005"][1] == "+16045550177"  # from Default Address Phone when Phone is empty
    # Consent history: 5 e-mail decisions and 4 SMS decisions (Hank stated none for SMS).
    assert dict(rows(ws, "SELECT purpose, count(*) FROM consents GROUP BY 1")) == {"email": 5, "sms": 4}

    assert rows(ws, "SELECT email, first_name FROM customers WHERE customer_id = '7001004'") == [(None, "Ivan")]
    assert_reload_changes_nothing(ws, "customers", SHOPIFY_CUSTOMERS, expected_unchanged=5)


def test_shopify_customers_older_layout(workspace, tmp_path):
    f = tmp_path / "customers_export.csv"
    f.write_text(
        "First Name,Last Name,Email,Company,Address1,Address2,City,Province,Province Code,Country,Country Code,Zip,"
        "Phone,Accepts Marketing,Total Spent,Total Orders,Tags,Note,Tax Exempt\n"
        "Kim,Lee,kim@example.com,,1 Main St,,Portland,Oregon,OR,United States,US,97201,,yes,10.00,1,,,no\n"
        "Lou,Ma,lou@example.com,,,,,,,,,,,no,0.00,0,,,no\n"
    )
    res = ingest(workspace, "customers", [f])
    assert (res.format, res.tables["customers"]["new"]) == ("shopify", 2)
    got = dict(rows(workspace, "SELECT email, (customer_id, region, country, accepts_email) FROM customers"))
    # No Customer ID column: the customer is identified by e-mail.
    kim_id = provisional(workspace, "kim@example.com")
    assert kim_id != "e-" + hashlib.sha256(b"kim@example.com").hexdigest()[:16]  # keyed: no existence oracle
    assert got["kim@example.com"] == (kim_id, "OR", "US", True)
    assert got["lou@example.com"][3] is False


@pytest.mark.parametrize("first", ["orders", "customers"])
def test_one_customer_across_the_orders_and_customers_exports(workspace, first):
    ws = workspace
    loads = [("orders", SHOPIFY_ORDERS), ("customers", SHOPIFY_CUSTOMERS)]
    if first == "customers":
        loads.reverse()
    results = [ingest(ws, kind, [path]) for kind, path in loads]
    # 6 customers from the orders + 5 from the customers file - Alice, who is in both.
    assert one(ws, "SELECT count(*) FROM customers") == 10
    assert rows(ws, "SELECT customer_id FROM customers WHERE email = 'alice@example.com'") == [("7001001",)]
    assert rows(ws, "SELECT DISTINCT customer_id FROM orders WHERE order_id IN ('#1001', '#1005')") == [("7001001",)]
    assert one(ws, "SELECT count(*) FROM identities WHERE customer_id LIKE 'e-%' AND customer_id NOT IN (SELECT customer_id FROM customers)") == 0
    # Alice's e-mail and phone both point to her shop id.
    alice = [fingerprint(keyed.for_connection(ws._con), k, v) for k, v in (("email", "alice@example.com"),
                                                                           ("phone", "+16135550101"))]
    assert dict(rows(ws, "SELECT kind, customer_id FROM identities WHERE value IN (?, ?)", alice)) == {
        "email": "7001001", "phone": "7001001",
    }
    if first == "orders":
        assert results[1].customers_merged == 1  # the provisional e-mail customer became 7001001


# --------------------------------------------------------------------------- WooCommerce


def test_woocommerce_orders(workspace):
    ws = workspace
    res = ingest(ws, "orders", [WOO_ORDERS])
    assert res.format == "woocommerce"
    # 9 rows: 6 orders; row 8 (the 3rd line of 5005) has quantity "two".
    assert (res.rows_read, res.rows_quarantined) == (9, 1)
    assert (res.tables["orders"]["new"], res.tables["order_lines"]["new"]) == (6, 8)
    assert quarantined(ws) == {8: 'column "Quantity": cannot read "two" as a whole number'}

    # 96.09 + 24.30 + 77.00 + 36.80 + 79.15 + 44.10
    assert one(ws, "SELECT sum(total) FROM orders") == Decimal("357.44")
    assert one(ws, "SELECT count(*) FROM orders WHERE subtotal - discount + shipping + tax <> total") == 0
    assert one(ws, "SELECT sum(refunded) FROM orders") == Decimal("34.30")  # 24.30 + 10.00
    # (357.44 - 36.80 cancelled) - 34.30
    assert one(ws, "SELECT sum(total - coalesce(refunded, 0)) FROM orders WHERE status <> 'cancelled'") == Decimal("286.34")
    assert dict(rows(ws, "SELECT order_id, status FROM orders")) == {
        "5001": "paid", "5002": "refunded", "5003": "partially_refunded", "5004": "cancelled",
        "5005": "paid", "5006": "pending",
    }
    assert rows(ws, "SELECT subtotal, discount, shipping, tax, currency, discount_code FROM orders WHERE order_id = '5001'") == [
        (Decimal("91.00"), Decimal("9.10"), Decimal("6.00"), Decimal("8.19"), "EUR", "spring10"),
    ]
    # Registered customers keep their WooCommerce user id; guests (user id 0) are identified by e-mail.
    assert dict(rows(ws, "SELECT order_id, customer_id FROM orders WHERE order_id IN ('5001', '5003', '5005')")) == {
        "5001": "12", "5003": "12", "5005": "27",
    }
    ben = provisional(ws, "ben@example.org")
    assert rows(ws, "SELECT DISTINCT customer_id FROM orders WHERE order_id IN ('5002', '5006')") == [(ben,)]
    assert one(ws, "SELECT count(*) FROM customers") == 4

    # Lines: 35 + 2*28 + 18 + 2*35 + 28 + 3*9.50 + 35 + 2*18 (the gift wrap line was rejected)
    assert one(ws, "SELECT sum(quantity * unit_price) FROM order_lines") == Decimal("306.50")
    assert rows(ws, "SELECT line_number, product_id, category FROM order_lines WHERE order_id = '5005' ORDER BY 1") == [
        (1, "311", "Kitchen"), (2, "TOTE-L", "Bags"),  # no SKU: WooCommerce's product id
    ]
    assert_reload_changes_nothing(ws, "orders", WOO_ORDERS, expected_unchanged=14)


def test_woocommerce_other_spellings_and_negative_refunds(workspace, tmp_path):
    # Another plugin's spelling of the same columns, lower-cased, with refunds written as negative amounts.
    text = WOO_ORDERS.read_text()
    header, body = text.split("\n", 1)
    header = (header.replace("Billing Email", "Email (Billing)").replace("Billing Phone", "Phone (Billing)")
              .replace("Order ID,Order Number", "order_id,Order No").lower())
    f = tmp_path / "orders-export.csv"
    f.write_text(header + "\n" + body.replace(",24.30,,1,103", ",-24.30,,1,103").replace(",10.00,,1,101", ",-10.00,,1,101"))
    res = ingest(workspace, "orders", [f])
    assert (res.format, res.tables["orders"]["new"]) == ("woocommerce", 6)
    # "Order No" is not a known spelling of the order number, so the internal Order ID is used.
    assert one(workspace, "SELECT string_agg(order_id, ',' ORDER BY order_id) FROM orders") == "2301,2302,2303,2304,2305,2306"
    assert one(workspace, "SELECT sum(refunded) FROM orders") == Decimal("34.30")
    assert one(workspace, "SELECT status FROM orders WHERE order_id = '2303'") == "partially_refunded"
    assert one(workspace, "SELECT count(*) FROM customers") == 4


# --------------------------------------------------------------------------- e-mail platforms


def test_klaviyo_events(workspace):
    ws = workspace
    res = ingest(ws, "messages", [KLAVIYO])
    assert res.format == "klaviyo"
    assert (res.rows_read, res.rows_quarantined, res.tables["messages"]["new"]) == (17, 1, 16)
    assert list(quarantined(ws)) == [13]  # an open without an e-mail address
    assert "no customer identifier" in quarantined(ws)[13]

    assert dict(rows(ws, "SELECT event_type, count(*) FROM messages GROUP BY 1")) == {
        "delivered": 5,  # 4 Received Email + 1 Received SMS
        "opened": 3,  # the two identical opens at 18:00 are two events
        "clicked": 1, "bounced": 1, "unsubscribed": 2, "converted": 1, "spam_complaint": 1,
        "dropped_email": 1,  # not in the canonical vocabulary: kept, in snake_case
        "subscribed": 1,
    }
    assert dict(rows(ws, "SELECT channel, count(*) FROM messages GROUP BY 1")) == {"email": 14, "sms": 2}
    campaigns = {r[0]: r[1:] for r in rows(ws, "SELECT name, campaign_id, channel, sent_at::VARCHAR FROM campaigns")}
    assert campaigns == {
        "Spring Launch": ("kl-" + hashlib.md5(b"Spring Launch").hexdigest()[:12], "email", "2024-04-02 14:00:05"),
        "April Newsletter": ("kl-" + hashlib.md5(b"April Newsletter").hexdigest()[:12], "email", "2024-04-09 14:00:00"),
        "Flash Sale SMS": ("kl-" + hashlib.md5(b"Flash Sale SMS").hexdigest()[:12], "sms", "2024-04-12 12:00:00"),
    }
    # Unsubscribes and the spam complaint withdraw consent, at the event's time; Ben opted in again later.
    assert rows(ws, "SELECT c.email, k.purpose, k.is_granted, k.recorded_at::VARCHAR FROM consents k JOIN customers c USING (customer_id) ORDER BY 4") == [
        ("ben@example.org", "email", False, "2024-04-03 09:01:00"),
        ("fay@example.org", "email", False, "2024-04-09 18:22:00"),
        ("ann@example.org", "sms", False, "2024-04-12 12:30:00"),
        ("ben@example.org", "email", True, "2024-04-20 08:15:00"),
    ]
    assert dict(rows(ws, "SELECT email, (accepts_email, accepts_sms) FROM customers")) == {
        "ann@example.org": (None, False),
        "ben@example.org": (True, None),  # the latest decision wins
        "eve@example.org": (None, None),
        "fay@example.org": (False, None),
        "gus@example.org": (None, None),
    }
    assert_reload_changes_nothing(ws, "messages", KLAVIYO, expected_unchanged=16 + 3 + 4)  # messages, campaigns, consents


def test_mailchimp_activity(workspace):
    ws = workspace
    res = ingest(ws, "messages", [MAILCHIMP])
    assert res.format == "mailchimp"
    assert (res.rows_read, res.rows_quarantined, res.tables["messages"]["new"]) == (10, 1, 9)
    assert 'column "Timestamp": cannot read "04/31/2024 10:00"' in quarantined(ws)[8]
    assert dict(rows(ws, "SELECT event_type, count(*) FROM messages GROUP BY 1")) == {
        "sent": 3, "opened": 2, "clicked": 1, "unsubscribed": 1, "bounced": 1, "spam_complaint": 1,
    }
    assert dict(rows(ws, "SELECT name, sent_at::VARCHAR FROM campaigns")) == {
        "Spring Launch": "2024-04-02 14:00:00", "Summer Teaser": "2024-06-01 09:00:00",
    }
    assert one(ws, "SELECT count(DISTINCT customer_id) FROM messages") == 4  # ann, ben, cara, dan
    assert sorted(rows(ws, "SELECT c.email, k.source FROM consents k JOIN customers c USING (customer_id)")) == [
        ("ben@example.org", "mailchimp: unsub"), ("dan@example.org", "mailchimp: abuse"),
    ]
    assert_reload_changes_nothing(ws, "messages", MAILCHIMP, expected_unchanged=9 + 2 + 2)  # messages, campaigns, consents


# --------------------------------------------------------------------------- GA4


def test_ga4_events(workspace):
    ws = workspace
    res = ingest(ws, "events", [GA4])
    assert res.format == "ga4"
    # 19 lines: line 18 is cut off (not JSON), line 19 has event_timestamp "yesterday".
    assert (res.rows_read, res.rows_quarantined, res.tables["events"]["new"]) == (19, 2, 17)
    q = quarantined(ws)
    assert q[18] == "not valid JSON"
    assert 'field "event_timestamp" (microseconds since 1970): cannot read "yesterday"' in q[19]

    assert dict(rows(ws, "SELECT event_type, count(*) FROM events GROUP BY 1")) == {
        "session_start": 1, "page_view": 3, "search": 1, "product_view": 1, "add_to_cart": 1, "login": 1,
        "begin_checkout": 1, "add_shipping_info": 1, "add_payment_info": 1, "purchase": 1, "scroll": 1,
        "wishlist_add": 1, "video_play": 1, "download": 1, "form_submit": 1,
    }
    # Visitor 1187654321.1714989600 browsed anonymously, logged in as 7001001 at event 6:
    # all 10 of their events belong to 7001001, including the 5 before the login.
    assert dict(rows(ws, "SELECT anonymous_id, (count(*), count(DISTINCT customer_id), min(customer_id)) FROM events GROUP BY 1")) == {
        "1187654321.1714989600": (10, 1, "7001001"),
        "2099887766.1714993200": (3, 0, None),  # never identified
        "3311223344.1715000000": (4, 1, "7001005"),
    }
    assert one(ws, "SELECT count(*) FROM customers") == 2
    assert one(ws, "SELECT customer_id FROM identities WHERE kind = 'anonymous_id' AND value = '1187654321.1714989600'") == "7001001"

    # event_timestamp is microseconds (a number, or a string on the purchase line).
    assert rows(ws, "SELECT min(occurred_at)::VARCHAR, max(occurred_at)::VARCHAR FROM events") == [
        ("2024-05-06 10:00:00", "2024-05-06 13:01:00"),
    ]
    assert one(ws, "SELECT occurred_at::VARCHAR FROM events WHERE event_type = 'page_view' AND anonymous_id LIKE '1187%'") == "2024-05-06 10:00:00.12"
    search = rows(ws, "SELECT search_query, page_url, session_id, traffic_source FROM events WHERE event_type = 'search'")[0]
    assert search == (
        "pour over kettle", "https://shop.example.org/search?q=pour+over+kettle",
        "1187654321.1714989600-1714989600", "google / organic",
    )
    assert dict(rows(ws, "SELECT event_type, product_id FROM events WHERE product_id IS NOT NULL")) == {
        "product_view": "KET-01", "add_to_cart": "KET-01", "begin_checkout": "KET-01", "add_shipping_info": "KET-01",
        "add_payment_info": "KET-01", "purchase": "KET-01", "wishlist_add": "MUG-01",
    }
    props = rows(ws, "SELECT properties->>'$.transaction_id', properties->>'$.ecommerce.purchase_revenue', "
                     "json_array_length(properties->'$.items'), properties->>'$.page_location' FROM events WHERE event_type = 'purchase'")[0]
    assert props == ("#1009", "58.0", 2, None)  # mapped parameters are not repeated in properties
    assert one(ws, "SELECT properties->>'$.percent_scrolled' FROM events WHERE event_type = 'scroll'") == "90"

    assert_reload_changes_nothing(ws, "events", GA4, expected_unchanged=17)


# --------------------------------------------------------------------------- across sources


def test_shopify_export_saved_by_excel_with_bom_and_crlf(workspace, tmp_path):
    f = tmp_path / "orders_export_1.csv"
    f.write_bytes(b"\xef\xbb\xbf" + SHOPIFY_ORDERS.read_bytes().replace(b"\n", b"\r\n"))
    res = ingest(workspace, "orders", [f])
    assert res.format == "shopify"
    assert (res.tables["orders"]["new"], res.tables["order_lines"]["new"], res.rows_quarantined) == (7, 10, 2)


def test_ga4_user_id_is_the_shop_customer_id(workspace):
    ingest(workspace, "customers", [SHOPIFY_CUSTOMERS])
    res = ingest(workspace, "events", [GA4])
    assert res.customers_created == 0  # 7001001 (Alice) and 7001005 (Jade) are already known
    assert dict(rows(workspace, "SELECT c.email, count(*) FROM events e JOIN customers c USING (customer_id) GROUP BY 1")) == {
        "alice@example.com": 10, "jade@example.com": 4,
    }


def test_engagement_joins_the_shop_customers_by_email(workspace):
    ingest(workspace, "orders", [WOO_ORDERS])
    res = ingest(workspace, "messages", [MAILCHIMP])
    # ann, ben, cara and dan all bought in the WooCommerce sample; eve's only row was rejected.
    assert res.customers_created == 0
    assert dict(rows(workspace, "SELECT c.email, min(m.customer_id) FROM messages m JOIN customers c USING (customer_id) GROUP BY 1")) == {
        "ann@example.org": "12",
        "ben@example.org": provisional(workspace, "ben@example.org"),
        "cara@example.org": provisional(workspace, "cara@example.org"),
        "dan@example.org": "27",
    }
    assert dict(rows(workspace, "SELECT customer_id, accepts_email FROM customers WHERE accepts_email IS NOT NULL")) == {
        provisional(workspace, "ben@example.org"): False,  # unsubscribed
        "27": False,  # dan reported the campaign as abuse
    }
