"""Sessions and paths on a tiny clickstream, checked against a hand count.

Inactivity sessions (30 minutes), by visitor:

====  =========  ======================================================  =========
S     visitor    events                                                  source
====  =========  ======================================================  =========
S1    c1 (a1)    09:00 home, 09:02 + 09:03 products, 09:05 cart          google
S2    c1         09:40 begin_checkout, 09:41 add_shipping_info (35 min)  -
S3    a2         category, product, cart, checkout, payment              facebook
S4    c2         purchase (!), product, cart, checkout, purchase         email
S5    c2         15:00 product, 15:30 product (exactly 30 min: same)     google
S6    a3         search, blog post                                       -
S7    a4         product                                                 google
====  =========  ======================================================  =========

Events e01-e03 are anonymous (a1) and belong to c1 once e04 links a1 to c1. S1 and S2
share the source session id ``s1``.
"""

from __future__ import annotations

import pytest

from regulars.data.ingest.pipeline import ingest
from regulars.features import sessions as sz

EVENTS = """event_id,customer_id,anonymous_id,session_id,event_type,occurred_at,page_url,traffic_source
e01,,a1,s1,page_view,2024-01-05 09:00:00,https://shop.example/,google
e02,,a1,s1,product_view,2024-01-05 09:02:00,/products/mug,
e03,,a1,s1,product_view,2024-01-05 09:03:00,/products/cup,
e04,c1,a1,s1,add_to_cart,2024-01-05 09:05:00,/cart,
e05,c1,a1,s1,begin_checkout,2024-01-05 09:40:00,/checkout,
e06,c1,a1,s1,add_shipping_info,2024-01-05 09:41:00,/checkout/shipping,
e07,,a2,,page_view,2024-01-06 10:00:00,/collections/bags,facebook
e08,,a2,,product_view,2024-01-06 10:01:00,/products/tote,
e09,,a2,,add_to_cart,2024-01-06 10:02:00,/cart,
e10,,a2,,begin_checkout,2024-01-06 10:04:00,/checkout,
e11,,a2,,add_payment_info,2024-01-06 10:06:00,/checkout/payment,
e12,c2,,,purchase,2024-01-07 10:00:00,/checkout/thanks,email
e13,c2,,,product_view,2024-01-07 10:01:00,/products/z,
e14,c2,,,add_to_cart,2024-01-07 10:01:00,/cart,
e15,c2,,,begin_checkout,2024-01-07 10:03:00,/checkout,
e16,c2,,,purchase,2024-01-07 10:05:00,/checkout/thanks,
e17,c2,,,product_view,2024-01-07 15:00:00,/products/z,GOOGLE
e18,c2,,,product_view,2024-01-07 15:30:00,/products/y,
e19,,a3,,search,2024-01-07 11:00:00,/search?q=mug,
e20,,a3,,page_view,2024-01-07 11:10:00,https://shop.example/blog/post-1,
e21,,a4,,product_view,2024-01-08 08:00:00,/products/mug,google
"""


@pytest.fixture
def clicks(workspace, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(EVENTS)
    assert ingest(workspace, "events", [path]).rows_quarantined == 0
    return workspace


def test_inactivity_sessions_cut_after_more_than_the_gap(clicks):
    e = clicks.execute(sz.sessionize(clicks)).set_index("event_id")
    assert e.loc[["e01", "e02", "e03", "e04"], "session_key"].tolist() == ["c:c1#1"] * 4  # stitched to c1
    assert e.loc[["e05", "e06"], "session_key"].tolist() == ["c:c1#2"] * 2
    assert e.loc["e17", "session_key"] == e.loc["e18", "session_key"]  # exactly 30 minutes apart
    assert e.loc["e16", "session_key"] != e.loc["e17", "session_key"]
    assert e.session_key.nunique() == 7
    assert e.loc[["e01", "e02", "e03", "e04"], "event_number"].tolist() == [0, 1, 2, 3]
    # a shorter gap splits S5 too; a longer one merges S1 and S2
    assert clicks.execute(sz.sessionize(clicks, gap_minutes=20)).session_key.nunique() == 8
    assert clicks.execute(sz.sessionize(clicks, gap_minutes=40)).session_key.nunique() == 6


def test_page_types(clicks):
    e = clicks.execute(sz.sessionize(clicks)).set_index("event_id").page_type
    assert e[["e01", "e02", "e04", "e05", "e07", "e12", "e19", "e20"]].tolist() == [
        "home", "product", "cart", "checkout", "category", "purchase", "search", "content"
    ]


def test_session_table(clicks):
    s = clicks.execute(sz.sessions(clicks)).set_index("session")
    assert len(s) == 7
    s1 = s.loc["c:c1#1"]
    assert (s1.customer_id, s1.events, s1.product_views, s1.duration_seconds) == ("c1", 4, 2, 300)
    assert (s1.traffic_source, s1.landing_page_type, bool(s1.has_purchase)) == ("google", "home", False)
    assert s.loc["c:c1#2", "traffic_source"] == sz.DIRECT
    assert s.loc["c:c2#2", "traffic_source"] == "google"  # lower-cased
    assert bool(s.loc["c:c2#1", "has_purchase"])


def test_source_sessions_are_used_when_asked(clicks):
    s = clicks.execute(sz.sessions(clicks, session="source")).set_index("session")
    assert len(s) == 6  # S1 and S2 share source session s1
    assert s.loc["c:c1#src:s1", "events"] == 6
    with pytest.raises(ValueError, match="session must be one of"):
        sz.sessions(clicks, session="cookie")


def test_paths_collapse_repeats_and_truncate(clicks):
    p = clicks.execute(sz.paths(clicks, max_steps=3)).set_index("session")
    assert p.loc["c:c1#1", "path"] == "home > product > cart"
    assert p.loc["c:c1#2", "path"] == "checkout"
    assert p.loc["c:c2#1", "path"] == "purchase > product > cart > …"
    assert p.loc["c:c2#1", "steps"] == 5
    assert p.loc["a:a3#1", "path"] == "search > content"


def test_top_paths(clicks):
    top = clicks.execute(sz.top_paths(clicks, n=2))
    assert len(top) == 2
    first = top.iloc[0]
    assert (first.path, first.sessions) == ("product", 2)  # S5 and S7
    assert first.share == pytest.approx(2 / 7)
    assert first.conversion_rate == 0


def test_as_of_excludes_later_events(clicks):
    assert clicks.execute(sz.sessions(clicks, as_of="2024-01-07")).shape[0] == 3
