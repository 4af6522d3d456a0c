"""Funnel conversion and cart drop-off on a tiny clickstream, checked against a hand count.

Inactivity sessions (30 minutes) and the funnel steps each reaches, in order
(product_view -> add_to_cart -> begin_checkout -> purchase):

====  ========  ========  =====================================================  =====
S     visitor   source    events                                                 steps
====  ========  ========  =====================================================  =====
S1    c1 (a1)   google    home, product x2, cart                                 2
S2    c1        (direct)  begin_checkout, add_shipping_info (35 min later)       0
S3    a2        facebook  category, product, cart, checkout, add_payment_info    3
S4    c2        email     purchase (before any view!), product, cart (same       4
                          second), checkout, purchase
S5    c2        google    product x2                                             1
S6    a3        (direct)  search, blog                                           0
S7    a4        google    product                                                1
====  ========  ========  =====================================================  =====

Customers: c1 came through ``organic``, c2 through ``email`` (used as the segment).
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from tests.optional import engine

from regulars.data.ingest.pipeline import ingest
from regulars.features import funnel as fn
from regulars.features.mart import customer_features
from regulars.reports.funnel import funnel_report

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

CUSTOMERS = """customer_id,created_at,acquisition_channel
c1,2024-01-01 00:00:00,organic
c2,2024-01-01 00:00:00,email
"""


@pytest.fixture
def clicks(workspace, tmp_path):
    for kind, text in (("customers", CUSTOMERS), ("events", EVENTS)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text)
        assert ingest(workspace, kind, [path]).rows_quarantined == 0
    return workspace


def _units(df, group=fn.OVERALL):
    return df[df.group == group].sort_values("step_number").units.tolist()


def test_overall_funnel_is_ordered(clicks):
    f = clicks.execute(fn.funnel(clicks))
    assert f.step.tolist() == list(fn.DEFAULT_STEPS)
    assert f.group_units.unique().tolist() == [7]
    assert _units(f) == [5, 3, 2, 1]  # S4's first purchase precedes its product view: counted once, later
    assert f.conversion_from_previous.tolist() == pytest.approx([5 / 7, 3 / 5, 2 / 3, 1 / 2])
    assert f.conversion_from_start.tolist() == pytest.approx([1, 3 / 5, 2 / 5, 1 / 5])
    assert f.drop_off.tolist() == [2, 2, 1, 1]


def test_funnel_reach_times(clicks):
    r = clicks.execute(fn.funnel_reach(clicks)).set_index("unit")
    s4 = r.loc["c:c2#1"]
    assert str(s4.reached_at_0) == "2024-01-07 10:01:00"
    assert str(s4.reached_at_1) == "2024-01-07 10:01:00"  # the same second counts
    assert str(s4.reached_at_3) == "2024-01-07 10:05:00"  # not the 10:00 purchase


def test_configurable_steps_and_units(clicks):
    f = clicks.execute(fn.funnel(clicks, steps=["add_to_cart", "begin_checkout"]))
    assert _units(f) == [3, 2]
    visitors = clicks.execute(fn.funnel(clicks, unit="visitor"))
    assert visitors.group_units.iloc[0] == 5
    assert _units(visitors) == [4, 3, 3, 1]  # c1 reaches checkout across its two sessions
    source_sessions = clicks.execute(fn.funnel(clicks, session="source"))
    assert _units(source_sessions) == [5, 3, 3, 1]
    with pytest.raises(ValueError, match="at least two steps"):
        fn.funnel(clicks, steps=["purchase"])


def test_funnel_by_traffic_source(clicks):
    f = clicks.execute(fn.funnel(clicks, by="source"))
    assert sorted(f.group.unique()) == ["(direct)", "email", "facebook", "google"]
    assert _units(f, "google") == [3, 1, 0, 0]
    assert _units(f, "facebook") == [1, 1, 1, 0]
    assert _units(f, "email") == [1, 1, 1, 1]
    assert _units(f, "(direct)") == [0, 0, 0, 0]


def test_funnel_by_segment_from_the_mart(clicks):
    mart = customer_features(clicks, categories=[])
    f = clicks.execute(fn.funnel(clicks, by="segment", segments=mart, segment_column="acquisition_channel"))
    assert _units(f, "organic") == [1, 1, 0, 0]  # c1: S1, S2
    assert _units(f, "email") == [2, 1, 1, 1]  # c2: S4, S5
    assert _units(f, fn.ANONYMOUS) == [2, 1, 1, 0]  # S3, S6, S7
    members = ibis.memtable({"customer_id": ["c1"], "segment": ["vip"]})
    f = clicks.execute(fn.funnel(clicks, by="segment", segments=members))
    assert _units(f, fn.NO_SEGMENT) == [2, 1, 1, 1]
    with pytest.raises(ValueError, match="no column 'tier'"):
        fn.funnel(clicks, by="segment", segments=members, segment_column="tier")


def test_cart_abandoners_furthest_step(clicks):
    a = clicks.execute(fn.cart_abandonment(clicks)).set_index("furthest_step")
    # S1 stops at the cart, S3 at payment; S4 bought
    assert a.units.to_dict() == {"add_to_cart": 1, "begin_checkout": 0, "add_shipping_info": 0, "add_payment_info": 1}
    assert a.share.tolist() == pytest.approx([0.5, 0, 0, 0.5])
    v = clicks.execute(fn.cart_abandonment(clicks, unit="visitor")).set_index("furthest_step")
    assert v.units.to_dict() == {"add_to_cart": 0, "begin_checkout": 0, "add_shipping_info": 1, "add_payment_info": 1}


def test_report_bundles_funnel_paths_and_drop_off(clicks):
    r = funnel_report(clicks, by="source")
    assert set(r.funnel.group) == {"(direct)", "email", "facebook", "google"}
    assert r.paths.iloc[0].path == "product"
    assert r.abandonment.units.sum() == 2
    d = r.to_dict()
    assert d["steps"] == list(fn.DEFAULT_STEPS) and d["by"] == "source"
    assert {"funnel", "paths", "abandonment"} <= set(d)


@pytest.mark.slow
def test_same_results_on_spark(clicks):
    engine("pyspark")
    from regulars.data.engines import spark_tables
    from regulars.features import sessions as sz

    checks = {
        "funnel by source": lambda t: fn.funnel(t, by="source"),
        "visitor funnel": lambda t: fn.funnel(t, unit="visitor", session="source"),
        "paths": lambda t: sz.paths(t, max_steps=3),
    }
    with spark_tables(clicks, ["events"]) as spark:
        for name, build in checks.items():
            duck, other = clicks.execute(build(clicks)), spark.execute(build(spark))
            keys = list(duck.columns[:2])
            duck = duck.sort_values(keys).reset_index(drop=True)
            other = other.sort_values(keys).reset_index(drop=True)
            pd.testing.assert_frame_equal(duck, other, check_dtype=False, obj=name)


def test_cli_funnel_by_source(clicks):
    import json

    import typer
    from typer.testing import CliRunner

    from regulars.cli import explore

    app = typer.Typer()
    explore.register(app)
    clicks.close()  # the command opens the file read-only
    result = CliRunner().invoke(app, ["funnel", "--by", "source", "--format", "json", "-w", str(clicks.path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    google = [r["units"] for r in out["funnel"] if r["group"] == "google"]
    assert google == [3, 1, 0, 0] and out["paths"][0]["path"] == "product"
    seg = CliRunner().invoke(app, ["funnel", "--by", "segment", "--segment-column", "acquisition_channel",
                                   "--format", "csv", "-w", str(clicks.path)])
    assert seg.exit_code == 0, seg.output
    assert "organic,2,1,product_view,1," in seg.output
