"""The customer features mart on a tiny shop, checked against numbers worked out by hand.

as_of = 2024-07-01 (only data strictly before it counts).

==========  ==========================================================================
customer    what
==========  ==========================================================================
c1          created 2023-01-01, north/organic, accepts_email true. Orders o1 01-10 50
            (discount 10, code SALE; lines coffee 2x20, tea 1x20), o2 03-10 30 refunded
            5 (coffee 1x30), o3 06-09 20 (tea via products), return r1 06-20 -10,
            o4 05-01 cancelled 100 (ignored), o5 07-01 00:00 99 (on as_of: ignored).
c2          created 2024-05-01, south, one order o6 06-21 15. E-mail consent granted
            05-01, withdrawn 06-02 (consents table beats the NULL customer flag).
c3          created 2024-06-01, a browser: events only.
c4          created 2024-08-01 with no activity: not in the mart.
c5          no created_at, only an order after as_of: not in the mart.
==========  ==========================================================================
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from regulars.features.mart import category_slug, customer_features, mart_columns, resolve_as_of, shop_categories

AS_OF = dt.date(2024, 7, 1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"

TINY_SHOP_SQL = [
    """INSERT INTO customers (customer_id, created_at, region, acquisition_channel, accepts_email) VALUES
       ('c1', '2023-01-01', 'north', 'organic', true),
       ('c2', '2024-05-01 12:00', 'south', 'paid_search', NULL),
       ('c3', '2024-06-01', NULL, NULL, NULL),
       ('c4', '2024-08-01', NULL, NULL, NULL),
       ('c5', NULL, NULL, NULL, NULL)""",
    """INSERT INTO products (product_id, name, category) VALUES
       ('p1', 'Espresso beans', 'Coffee'), ('p2', 'Green tea', 'Tea')""",
    """INSERT INTO orders (order_id, customer_id, ordered_at, status, total, refunded, discount, discount_code) VALUES
       ('o1', 'c1', '2024-01-10 09:00', 'paid', 50, NULL, 10, 'SALE'),
       ('o2', 'c1', '2024-03-10 18:30', 'partially_refunded', 30, 5, 0, NULL),
       ('o3', 'c1', '2024-06-09 08:00', 'paid', 20, NULL, NULL, ''),
       ('r1', 'c1', '2024-06-20 10:00', 'refunded', -10, NULL, NULL, NULL),
       ('o4', 'c1', '2024-05-01 10:00', 'cancelled', 100, NULL, NULL, NULL),
       ('o5', 'c1', '2024-07-01 00:00', 'paid', 99, NULL, NULL, NULL),
       ('o6', 'c2', '2024-06-21 23:59', 'paid', 15, NULL, NULL, NULL),
       ('o7', 'c5', '2024-07-03 10:00', 'paid', 40, NULL, NULL, NULL)""",
    """INSERT INTO order_lines (order_id, line_number, product_id, category, quantity, unit_price, discount) VALUES
       ('o1', 1, 'p1', 'Coffee', 2, 20, 0), ('o1', 2, 'p2', 'Tea', 1, 20, NULL),
       ('o2', 1, 'p1', 'Coffee', 1, 30, NULL),
       ('o3', 1, 'p2', NULL, 1, 20, NULL),
       ('o4', 1, 'p1', 'Coffee', 5, 20, NULL),
       ('o5', 1, 'p1', 'Coffee', 3, 33, NULL)""",
    """INSERT INTO events (event_id, customer_id, session_id, event_type, occurred_at) VALUES
       ('e1', 'c1', 's1', 'product_view', '2024-06-01 10:00'),
       ('e2', 'c1', 's1', 'add_to_cart', '2024-06-01 10:01'),
       ('e3', 'c1', 's1', 'begin_checkout', '2024-06-01 10:02'),
       ('e4', 'c1', 's2', 'product_view', '2024-06-09 07:50'),
       ('e5', 'c1', 's2', 'add_to_cart', '2024-06-09 07:51'),
       ('e6', 'c1', 's2', 'begin_checkout', '2024-06-09 07:52'),
       ('e7', 'c1', 's2', 'add_shipping_info', '2024-06-09 07:53'),
       ('e8', 'c1', 's2', 'add_payment_info', '2024-06-09 07:54'),
       ('e9', 'c1', 's2', 'purchase', '2024-06-09 08:00'),
       ('e10', 'c3', 's3', 'page_view', '2024-06-15 10:00'),
       ('e11', 'c3', 's3', 'search', '2024-06-15 10:01'),
       ('e12', 'c3', 's3', 'product_view', '2024-06-15 10:02'),
       ('e13', 'c3', 's3', 'product_view', '2024-06-15 10:03'),
       ('e14', 'c3', 's4', 'add_to_cart', '2024-06-16 10:00'),
       ('e15', 'c3', 's4', 'begin_checkout', '2024-06-16 10:01'),
       ('e16', 'c3', 's4', 'add_shipping_info', '2024-06-16 10:02'),
       ('e17', 'c3', 's5', 'product_view', '2024-07-02 10:00'),
       ('e18', NULL, 's6', 'product_view', '2024-06-16 10:00')""",
    """INSERT INTO messages (message_id, customer_id, channel, event_type, occurred_at) VALUES
       ('m1', 'c1', 'email', 'sent', '2024-01-05 08:00'),
       ('m2', 'c1', 'email', 'opened', '2024-01-06 08:00'),
       ('m3', 'c1', 'email', 'sent', '2024-06-01 08:00'),
       ('m4', 'c1', 'email', 'opened', '2024-06-01 09:00'),
       ('m5', 'c1', 'email', 'clicked', '2024-06-02 09:00'),
       ('m6', 'c1', 'sms', 'sent', '2024-06-01 08:00'),
       ('m7', 'c2', 'email', 'sent', '2024-06-01 08:00'),
       ('m8', 'c2', 'email', 'unsubscribed', '2024-06-02 08:00')""",
    """INSERT INTO tickets (ticket_id, customer_id, opened_at, csat) VALUES
       ('t1', 'c1', '2024-02-01', 4), ('t2', 'c1', '2024-03-01', 5), ('t3', 'c2', '2024-06-25', NULL)""",
    """INSERT INTO reviews (review_id, customer_id, rating, created_at) VALUES
       ('v1', 'c1', 5, '2024-02-01'), ('v2', 'c1', 1, '2024-07-05')""",
    """INSERT INTO consents (customer_id, purpose, is_granted, recorded_at) VALUES
       ('c2', 'email', true, '2024-05-01'), ('c2', 'email', false, '2024-06-02'),
       ('c2', 'sms', true, '2024-07-02')""",
]


def build_tiny_shop(ws) -> None:
    for stmt in TINY_SHOP_SQL:
        ws._con.execute(stmt)


@pytest.fixture
def shop(workspace):
    build_tiny_shop(workspace)
    return workspace


@pytest.fixture
def mart(shop):
    df = shop.execute(customer_features(shop, as_of=AS_OF))
    return df.set_index("customer_id")


def test_only_customers_known_before_as_of(mart):
    assert sorted(mart.index) == ["c1", "c2", "c3"]
    assert (mart["as_of"] == pd.Timestamp(AS_OF)).all()


def test_orders_revenue_and_gaps(mart):
    c1 = mart.loc["c1"]
    assert c1.orders == 3 and c1.returns == 1  # cancelled o4 and o5 (on as_of) ignored
    assert float(c1.revenue) == 50 + (30 - 5) + 20 - 10
    assert c1.aov == pytest.approx(85 / 3, abs=0.005)
    assert c1.first_order_date == pd.Timestamp("2024-01-10")
    assert c1.last_order_date == pd.Timestamp("2024-06-09")
    assert c1.mean_days_between_orders == pytest.approx(151 / 2)
    assert c1.last_gap_days == 91  # 03-10 -> 06-09
    assert c1.tenure_days == 365 + 182  # since account creation 2023-01-01
    assert c1.days_since_last_order == 22
    assert c1.discount_share == pytest.approx(round(10 / 110, 4))
    assert c1.discounted_order_share == pytest.approx(round(1 / 3, 4))

    c2 = mart.loc["c2"]
    assert (c2.orders, float(c2.revenue), c2.aov) == (1, 15.0, 15.0)
    assert math.isnan(c2.mean_days_between_orders) and _missing(c2.last_gap_days)
    assert c2.tenure_days == 61 and c2.days_since_last_order == 10

    c3 = mart.loc["c3"]
    assert c3.orders == 0 and float(c3.revenue) == 0
    assert _missing(c3.first_order_date) and _missing(c3.days_since_last_order) and math.isnan(c3.aov)
    assert c3.tenure_days == 30


def test_category_shares(shop, mart):
    assert shop_categories(shop) == ["Coffee", "Tea"]
    c1 = mart.loc["c1"]
    assert c1.category_share_coffee == pytest.approx(round(70 / 110, 4))
    assert c1.category_share_tea == pytest.approx(round(40 / 110, 4))  # o3's line category from products
    assert math.isnan(mart.loc["c2"].category_share_coffee)  # no lines: unknown, not 0


def test_web_behaviour(mart):
    c1, c3 = mart.loc["c1"], mart.loc["c3"]
    assert (c1.sessions, c1.product_views, c1.cart_adds, c1.searches) == (2, 2, 2, 0)
    assert (c1.cart_abandonments, c1.checkout_step_max, c1.abandoned_checkout_step) == (1, 5, 2)
    assert (c3.sessions, c3.product_views, c3.cart_adds, c3.searches) == (2, 2, 1, 1)
    assert (c3.cart_abandonments, c3.checkout_step_max, c3.abandoned_checkout_step) == (1, 3, 3)
    assert mart.loc["c2"].sessions == 0 and mart.loc["c2"].abandoned_checkout_step == 0


def test_email_support_reviews_consent(mart):
    c1, c2 = mart.loc["c1"], mart.loc["c2"]
    assert (c1.email_sends, c1.email_sends_90d, c1.email_opens, c1.email_opens_90d) == (2, 1, 2, 1)
    assert (c1.email_clicks, c1.email_clicks_90d, c1.email_unsubscribes) == (1, 1, 0)
    assert (c2.email_sends, c2.email_unsubscribes, c2.email_unsubscribes_90d) == (1, 1, 1)
    assert (c1.tickets, c1.mean_csat, c1.reviews, c1.mean_rating) == (2, 4.5, 1, 5.0)
    assert c2.tickets == 1 and math.isnan(c2.mean_csat)
    assert bool(c1.accepts_email) and not bool(c2.accepts_email)  # withdrawn 06-02
    assert not bool(c2.accepts_sms)  # granted only after as_of; NULL means not allowed
    assert bool(c2.accepts_personalization)  # never stated: allowed
    assert (c1.region, c1.acquisition_channel) == ("north", "organic")


def test_as_of_moves_the_window(shop):
    early = shop.execute(customer_features(shop, as_of="2024-03-11")).set_index("customer_id")
    assert sorted(early.index) == ["c1"]
    assert early.loc["c1"].orders == 2 and early.loc["c1"].last_gap_days == 60
    assert resolve_as_of(shop) == dt.date(2024, 7, 4)  # the day after the latest order/event/message


def test_categories_can_be_passed_and_merged_by_slug(shop):
    expr = customer_features(shop, as_of=AS_OF, categories=["Coffee", "coffee", "Tea"])
    assert [c for c in expr.columns if c.startswith("category_share")] == [
        "category_share_coffee", "category_share_tea"]
    assert category_slug("Dresses & Skirts") == "dresses_skirts"


def test_empty_workspace_gives_empty_mart(workspace):
    assert workspace.execute(customer_features(workspace, as_of=AS_OF)).empty


def test_every_mart_column_is_documented():
    documented = set(re.findall(r"^\|\s*`([a-z0-9_<>]+)`", DOCS.read_text(), flags=re.M))
    columns = {c if not c.startswith("category_share_") else "category_share_<slug>"
               for c in mart_columns(["Coffee"])}
    missing = sorted(columns - documented)
    assert not missing, f"mart columns missing from docs/features.md: {missing}"


def _missing(value) -> bool:
    return value is None or value != value or str(value) in ("NaT", "<NA>")
