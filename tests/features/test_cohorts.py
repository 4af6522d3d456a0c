"""Cohort matrices on a tiny shop, checked against numbers worked out by hand.

The shop (monthly periods, data ends in April 2024):

=====  ==========  ======  ===============================================
order  customer    date    what
=====  ==========  ======  ===============================================
o1     c1          01-05   100, full price, shoes
o2     c1          02-10   50, code SALE, 10 refunded on 02-20 -> net 40
o3     c1          04-01   30
o4     c2          01-20   80 with 10 discount: bags 40 + hats 2 x 25 -> hats
o5     c2          01-25   20 (same month as the first order)
o6     c3          02-03   60, the shoes line has a 5 discount (category from products)
o7     c3          03-15   -20, a return: revenue but not a purchase
o8     c3          03-20   100 cancelled: ignored
o9     c4          02-28   40, no lines -> category unknown
o10    c4          04-30   40
=====  ==========  ======  ===============================================
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.optional import engine

from regulars.data.ingest.pipeline import ingest
from regulars.features import cohorts
from regulars.reports.cohorts import cohort_matrix

ORDERS = """order_id,customer_id,ordered_at,status,total,refunded,discount,discount_code,refunded_at
o1,c1,2024-01-05 10:00:00,paid,100.00,,0,,
o2,c1,2024-02-10 10:00:00,partially_refunded,50.00,10.00,0,SALE,2024-02-20 09:00:00
o3,c1,2024-04-01 09:00:00,paid,30.00,,,,
o4,c2,2024-01-20 10:00:00,paid,80.00,,10.00,,
o5,c2,2024-01-25 10:00:00,paid,20.00,,,,
o6,c3,2024-02-03 10:00:00,paid,60.00,,,,
o7,c3,2024-03-15 10:00:00,refunded,-20.00,,,,
o8,c3,2024-03-20 10:00:00,cancelled,100.00,,,,
o9,c4,2024-02-28 23:59:00,paid,40.00,,,,
o10,c4,2024-04-30 12:00:00,paid,40.00,,,,
"""

LINES = """order_id,line_number,product_id,category,quantity,unit_price,discount
o1,1,p1,shoes,1,100.00,
o2,1,p2,bags,1,50.00,
o4,1,p2,bags,1,40.00,
o4,2,p3,hats,2,25.00,
o5,1,p3,hats,1,20.00,
o6,1,p1,,1,60.00,5.00
"""

PRODUCTS = """product_id,name,category,price
p1,Runner,shoes,100.00
p2,Tote,bags,50.00
p3,Cap,hats,25.00
"""


@pytest.fixture
def shop(workspace, tmp_path):
    for kind, text in (("products", PRODUCTS), ("orders", ORDERS), ("order-lines", LINES)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text)
        result = ingest(workspace, kind, [path])
        assert result.rows_quarantined == 0, result
    return workspace


def _matrix(ws, **kw):
    df = ws.execute(cohorts.retention(ws, **kw))
    return {(r.cohort, r.period): r for r in df.itertuples()}


def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_first_orders_flags_promotion_and_dominant_category(shop):
    f = shop.execute(cohorts.first_orders(shop)).set_index("customer_id")
    assert f.first_order_id.to_dict() == {"c1": "o1", "c2": "o4", "c3": "o6", "c4": "o9"}
    # c2: order discount; c3: a discounted line; c1 and c4 paid full price
    assert f.first_on_promotion.to_dict() == {"c1": False, "c2": True, "c3": True, "c4": False}
    # c2: hats (50) beat bags (40); c3: category taken from products; c4: no lines
    assert f.first_category.to_dict() == {"c1": "shoes", "c2": "hats", "c3": "shoes", "c4": cohorts.UNKNOWN_CATEGORY}


def test_acquisition_retention_and_revenue_by_month(shop):
    m = _matrix(shop)
    assert sorted(m) == [("2024-01", 0), ("2024-01", 1), ("2024-01", 2), ("2024-01", 3),
                         ("2024-02", 0), ("2024-02", 1), ("2024-02", 2)]
    expected = {
        # (cohort, k): (customers, active, retention, net revenue, revenue retention)
        ("2024-01", 0): (2, 2, 1.0, 200.0, 1.0),
        ("2024-01", 1): (2, 1, 0.5, 40.0, 0.2),
        ("2024-01", 2): (2, 0, 0.0, 0.0, 0.0),
        ("2024-01", 3): (2, 1, 0.5, 30.0, 0.15),
        ("2024-02", 0): (2, 2, 1.0, 100.0, 1.0),
        ("2024-02", 1): (2, 0, 0.0, -20.0, -0.2),  # the return counts, the cancelled order does not
        ("2024-02", 2): (2, 1, 0.5, 40.0, 0.4),
    }
    for key, (size, active, ret, rev, rev_ret) in expected.items():
        row = m[key]
        assert (row.cohort_customers, row.active_customers) == (size, active), key
        assert _close(row.customer_retention, ret), key
        assert _close(row.net_revenue, rev), key
        assert _close(row.revenue_retention, rev_ret), key


def test_behavioural_cohorts_divide_by_observable_customers(shop):
    m = _matrix(shop, kind="promotion")
    full, promo = cohorts.PROMOTION_LABELS[False], cohorts.PROMOTION_LABELS[True]
    # full price: c1 (Jan) and c4 (Feb); only c1 can be seen 3 months later
    assert [m[(full, k)].cohort_customers for k in range(4)] == [2, 2, 2, 1]
    assert [m[(full, k)].active_customers for k in range(4)] == [2, 1, 1, 1]
    assert [round(m[(full, k)].customer_retention, 9) for k in range(4)] == [1.0, 0.5, 0.5, 1.0]
    # revenue per observable customer 70, 20, 20, 30 -> relative to 70
    for k, value in enumerate([1.0, 2 / 7, 2 / 7, 3 / 7]):
        assert _close(m[(full, k)].revenue_retention, value)
    assert [m[(promo, k)].active_customers for k in range(4)] == [2, 0, 0, 0]
    assert _close(m[(promo, 1)].revenue_retention, -10 / 80)
    assert (promo, 4) not in m


def test_product_cohorts(shop):
    m = _matrix(shop, kind="category")
    assert sorted({c for c, _ in m}) == ["(unknown)", "hats", "shoes"]
    assert [m[("shoes", k)].active_customers for k in range(4)] == [2, 1, 0, 1]
    assert [m[("shoes", k)].net_revenue for k in range(4)] == [160.0, 20.0, 0.0, 30.0]
    assert _close(m[("shoes", 3)].revenue_retention, 30 / 80)
    assert [m[("(unknown)", k)].customer_retention for k in range(3)] == [1.0, 0.0, 1.0]
    assert ("(unknown)", 3) not in m


def test_weekly_cohorts_start_on_monday(shop):
    m = _matrix(shop, by="week")
    # c1's first order is Friday 2024-01-05: week of Monday 2024-01-01; o2 (Sat 02-10) is 5 weeks later
    c1 = {k: r for (c, k), r in m.items() if c == "2024-01-01"}
    assert c1[0].cohort_customers == 1 and c1[0].net_revenue == 100.0
    assert [k for k, r in sorted(c1.items()) if r.active_customers] == [0, 5, 13]
    # c2 (Sat 01-20) belongs to the week of 2024-01-15 and its two January orders to week 0 and 1
    assert m[("2024-01-15", 0)].net_revenue == 80.0 and m[("2024-01-15", 1)].net_revenue == 20.0


def test_as_of_cuts_orders_and_the_right_edge(shop):
    m = _matrix(shop, as_of="2024-03-01")  # strictly before, as in the features mart
    assert sorted(m) == [("2024-01", 0), ("2024-01", 1), ("2024-02", 0)]
    assert m[("2024-02", 0)].net_revenue == 100.0  # o9 at 23:59 on the 28th is in
    # February is not complete on the 28th: only January is shown, with its first month
    assert sorted(_matrix(shop, as_of="2024-02-28")) == [("2024-01", 0)]


def test_report_pivots_matrix_and_marks_unobservable_cells(shop):
    customers = cohort_matrix(shop, metric="customers")
    assert list(customers.matrix.columns) == [0, 1, 2, 3]
    assert customers.matrix.loc["2024-01"].tolist() == [1.0, 0.5, 0.0, 0.5]
    assert customers.sizes.to_dict() == {"2024-01": 2, "2024-02": 2}
    assert math.isnan(customers.matrix.loc["2024-02", 3])  # not observable yet, not a zero
    revenue = cohort_matrix(shop, metric="revenue")
    assert revenue.matrix.loc["2024-02"].tolist()[:3] == pytest.approx([1.0, -0.2, 0.4])
    d = revenue.to_dict()
    assert d["metric"] == "revenue" and d["cohorts"] == ["2024-01", "2024-02"] and d["periods"] == [0, 1, 2, 3]
    assert d["values"][1][3] is None


def test_bad_arguments_are_refused(shop):
    with pytest.raises(ValueError, match="by must be one of month, week"):
        cohorts.retention(shop, by="day")
    with pytest.raises(ValueError, match="kind must be one of"):
        cohorts.retention(shop, kind="region")


@pytest.mark.slow
def test_same_matrices_on_spark(shop):
    engine("pyspark")
    from regulars.data.engines import spark_tables

    with spark_tables(shop, ["orders", "order_lines", "products"]) as spark:
        # Spark needs ~15 s per matrix here (query planning), so two that cover every branch
        for kw in ({"by": "week", "kind": "promotion"}, {"kind": "category", "as_of": "2024-04-01"}):
            duck = shop.execute(cohorts.retention(shop, **kw)).reset_index(drop=True)
            other = spark.execute(cohorts.retention(spark, **kw)).reset_index(drop=True)
            pd.testing.assert_frame_equal(duck, other, check_dtype=False, obj=str(kw))


def test_cli_prints_the_matrix(shop):
    import json

    import typer
    from typer.testing import CliRunner

    from regulars.cli import explore

    app = typer.Typer()
    explore.register(app)
    shop.close()  # the command opens the file read-only
    result = CliRunner().invoke(app, ["cohorts", "--metric", "revenue", "--format", "json", "-w", str(shop.path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["cohorts"] == ["2024-01", "2024-02"] and out["values"][0] == pytest.approx([1.0, 0.2, 0.0, 0.15])
    bad = CliRunner().invoke(app, ["cohorts", "--by", "day", "-w", str(shop.path)])
    assert bad.exit_code == 1 and "--by 'day' is not one of: month, week" in bad.output
