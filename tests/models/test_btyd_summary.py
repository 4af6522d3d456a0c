"""summarize: hand-computed cases, the published CDNOW summary, and a real DuckDB table."""

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from regulars.models import summarize, summary_expression


@pytest.fixture
def small():
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "a", "b", "c", "c"],
            "ordered_at": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 23:00",  # same day as the first: merged into one purchase of 15
                    "2024-01-04 00:30",
                    "2024-01-11 12:00",
                    "2024-02-01 10:00",  # after observation_end: ignored
                    "2024-01-05 08:00",
                    "2024-01-02 10:00",
                    "2024-01-16 10:00",  # holdout purchase
                ]
            ),
            "total": [10.0, 5.0, 20.0, 40.0, 999.0, 7.0, 3.0, 8.0],
        }
    )


def test_days_hand_computed(small):
    out = summarize(small, "customer_id", "ordered_at", "total", freq="D", observation_end="2024-01-20")
    expected = pd.DataFrame(
        {
            "frequency": [2, 0, 1],
            "recency": [10.0, 0.0, 14.0],
            "T": [19.0, 15.0, 18.0],
            "monetary_value": [30.0, 0.0, 8.0],  # mean of the repeat purchases only
        },
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )
    pd.testing.assert_frame_equal(out, expected, check_index_type=False)


def test_weeks_and_holdout_hand_computed(small):
    out = summarize(
        small, "customer_id", "ordered_at", "total", freq="W", observation_end="2024-01-20", calibration_end="2024-01-06"
    )
    assert list(out.columns) == [
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "frequency_holdout",
        "monetary_value_holdout",
        "duration_holdout",
    ]
    a, b, c = (out.loc[k] for k in "abc")
    cols = ["frequency", "recency", "T", "monetary_value", "frequency_holdout", "monetary_value_holdout"]
    assert a[cols].tolist() == pytest.approx([1, 3 / 7, 5 / 7, 20.0, 1, 40.0])
    assert b[cols].tolist() == pytest.approx([0, 0.0, 1 / 7, 0.0, 0, 0.0])
    assert c[cols].tolist() == pytest.approx([0, 0.0, 4 / 7, 0.0, 1, 8.0])
    assert np.allclose(out["duration_holdout"], 14 / 7)


def test_customers_first_seen_in_holdout_are_left_out(small):
    out = summarize(small, "customer_id", "ordered_at", freq="D", observation_end="2024-01-20", calibration_end="2024-01-03")
    assert list(out.index) == ["a", "c"]  # b first buys on 2024-01-05
    assert "monetary_value" not in out.columns


def test_observation_end_defaults_to_last_transaction_day(small):
    out = summarize(small, "customer_id", "ordered_at", freq="D")
    assert out.loc["b", "T"] == (dt.date(2024, 2, 1) - dt.date(2024, 1, 5)).days


def test_identical_rows_are_two_purchases_on_one_day(small):
    doubled = pd.concat([small.iloc[[0]], small])
    out = summarize(doubled, "customer_id", "ordered_at", "total", observation_end="2024-01-20")
    assert out.loc["a", "frequency"] == 2  # still one purchase day
    assert out.loc["a", "monetary_value"] == 30.0


def test_reproduces_published_cdnow_summary(cdnow_rfm, cdnow_summary):
    assert len(cdnow_summary) == len(cdnow_rfm) == 2357
    joined = cdnow_summary.merge(cdnow_rfm, left_index=True, right_index=True, suffixes=("", "_published"))
    assert (joined["frequency"] == joined["frequency_published"]).all()
    # The published file rounds weeks to 2 decimals.
    np.testing.assert_allclose(joined["recency"].round(2), joined["recency_published"], atol=1e-9)
    np.testing.assert_allclose(joined["T"].round(2), joined["T_published"], atol=1e-9)
    assert (cdnow_summary["duration_holdout"] == 39.0).all()
    assert cdnow_summary["frequency_holdout"].sum() > 0


def test_works_on_a_duckdb_table(small):
    con = ibis.duckdb.connect()
    table = con.create_table("orders", small)
    out = summarize(table, "customer_id", "ordered_at", "total", freq="D", observation_end="2024-01-20")
    expected = summarize(small, "customer_id", "ordered_at", "total", freq="D", observation_end="2024-01-20")
    pd.testing.assert_frame_equal(out, expected)


def test_expression_is_lazy_and_portable(small):
    expression = summary_expression(small, "customer_id", "ordered_at", "total", observation_end="2024-01-20")
    assert isinstance(expression, ibis.Table)
    sql = ibis.to_sql(expression, dialect="duckdb")
    assert "CAST" in sql and "DATE" in sql  # timestamps are cast to dates before differencing


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"freq": "M"}, "freq must be 'D'"),
        ({"value_col": "amount"}, "no column"),
        ({"observation_end": "2024-01-01", "calibration_end": "2024-01-05"}, "after observation_end"),
        ({"observation_end": "not a date"}, "observation_end must be a date"),
    ],
)
def test_bad_arguments(small, kwargs, message):
    with pytest.raises(ValueError, match=message):
        summarize(small, "customer_id", "ordered_at", **kwargs)


def test_purchase_summary_from_stored_totals_equals_the_order_by_order_summary(workspace, tmp_path):
    from regulars.data.ingest.pipeline import ingest
    from regulars.features.purchase_history import purchase_summary

    csv = tmp_path / "orders.csv"
    csv.write_text(
        "order_id,customer_id,ordered_at,total,status,refunded,refunded_at\n"
        "1,a,2024-01-01 09:00,10.00,paid,,\n"
        "2,a,2024-01-01 23:00,5.00,paid,,\n"        # same day: one purchase of 15
        "3,a,2024-01-04 00:30,20.00,paid,4.00,2024-01-04 12:00\n"   # net 16 (refunded the same day)
        "4,a,2024-01-11 12:00,40.00,paid,,\n"
        "5,a,2024-01-12 12:00,-9.00,paid,,\n"       # a return is not a purchase
        "6,a,2024-01-13 12:00,70.00,cancelled,,\n"  # nor is a cancelled order
        "7,b,2024-01-05 08:00,7.00,paid,,\n"
    )
    ingest(workspace, "orders", [csv])

    class OrdersOnly:
        table = workspace.table

    as_of = dt.date(2024, 1, 16)
    assert workspace.order_stats(as_of) is not None
    stored = workspace.frame(purchase_summary(workspace, as_of)).set_index("customer_id").sort_index()
    scanned = workspace.frame(purchase_summary(OrdersOnly, as_of)).set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(stored, scanned)
    # a: purchase days 1 Jan (15), 4 Jan (16), 11 Jan (40); observation ends 15 Jan
    assert stored.loc["a"].tolist() == [2, 10.0, 14.0, 28.0]
    assert stored.loc["b"].tolist() == [0, 0.0, 10.0, 0.0]
    # before the last orders the stored totals do not hold; the orders are read instead
    assert workspace.order_stats(dt.date(2024, 1, 5)) is None
    early = workspace.frame(purchase_summary(workspace, dt.date(2024, 1, 5))).set_index("customer_id")
    assert early.loc["a"].tolist() == [1, 3.0, 3.0, 16.0]


@pytest.mark.parametrize("ids", ["int", "str", "sparse-int"])
@pytest.mark.parametrize("holdout", [False, True])
def test_dataframe_summary_equals_the_engines(ids, holdout):
    """The numpy path for DataFrames and the engine path give the same table: random
    customers, several orders a day, times of day, values, a holdout."""
    rng = np.random.default_rng(3)
    n = 20_000
    customer = rng.integers(0, 3000, n)
    frame = pd.DataFrame({
        "customer_id": {"int": customer, "str": [f"c{c}" for c in customer], "sparse-int": customer * 10_000_019}[ids],
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400 * 86400, n), unit="s"),
        "total": rng.gamma(2.0, 20.0, n).round(2),
    })
    kwargs = {"freq": "W", "observation_end": "2024-12-31",
              **({"calibration_end": "2024-08-31"} if holdout else {})}
    ours = summarize(frame, "customer_id", "ordered_at", "total", **kwargs)
    engine = summary_expression(frame, "customer_id", "ordered_at", "total", **kwargs)
    ref = engine.order_by("customer_id").to_pandas().set_index("customer_id")
    pd.testing.assert_frame_equal(ours, ref, check_exact=False, rtol=1e-12)
