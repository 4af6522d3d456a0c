"""The same expressions on DuckDB and on local PySpark give the same results.

Compared after sorting by the key columns, with money and ratios rounded. To add another
feature module to the parity suite (cohorts, funnels, …) append a case to :data:`CASES`:
``(name, builder(tables, as_of) -> ibis.Table, sort keys)``.
"""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pytest

from tests.optional import engine

engine("pyspark")

from regulars import Workspace  # noqa: E402
from regulars.data.engines import spark_tables  # noqa: E402
from regulars.features.mart import customer_features, shop_categories  # noqa: E402
from regulars.segments import rfm  # noqa: E402
from regulars.segments.lifecycle import lifecycle, lifecycle_thresholds  # noqa: E402
from regulars.segments.tiers import tiers  # noqa: E402
from tests.parity.shop import CATEGORIES, build_random_shop  # noqa: E402

pytestmark = pytest.mark.slow

AS_OF = dt.date(2024, 6, 1)


def _cohorts(tables, as_of):
    from regulars.features.cohorts import retention

    return retention(tables, by="month", as_of=as_of)


def _funnel(tables, as_of):
    from regulars.features.funnel import funnel

    return funnel(tables, as_of=as_of)


def _funnel_by_source_per_visitor(tables, as_of):
    from regulars.features.funnel import funnel

    return funnel(tables, by="source", unit="visitor", as_of=as_of)


def _sessions(tables, as_of):
    from regulars.features.sessions import sessions

    return sessions(tables, as_of=as_of)


def _top_paths(tables, as_of):
    from regulars.features.sessions import top_paths

    return top_paths(tables, n=20, as_of=as_of)


def _cart_abandonment(tables, as_of):
    from regulars.features.funnel import cart_abandonment

    return cart_abandonment(tables, as_of=as_of)


def _rule_segment(tables, as_of):
    from regulars.segments.rules import compile_rule

    mart = customer_features(tables, as_of, CATEGORIES)
    return mart.filter(compile_rule("orders >= 2 and days_since_last_order <= 120", mart)).select("customer_id")


def _purchase_summary(tables, as_of):
    from regulars.features.purchase_history import purchase_summary

    return purchase_summary(tables, as_of)


#: (name, builder, sort keys). Builders get the provider and AS_OF.
CASES = [
    ("mart", lambda t, a: customer_features(t, a, CATEGORIES), ["customer_id"]),
    ("mart_default_as_of", lambda t, a: customer_features(t, None, CATEGORIES), ["customer_id"]),
    ("rfm", lambda t, a: rfm(t, a), ["customer_id"]),
    ("lifecycle", lambda t, a: lifecycle(t, a), ["customer_id"]),
    ("tiers", lambda t, a: tiers(t, a, categories=CATEGORIES), ["customer_id"]),
    # hooks for the cohort and funnel features (owned by the cohorts/funnels area)
    ("cohorts", _cohorts, None),
    ("funnel", _funnel, None),
    ("funnel_by_source_per_visitor", _funnel_by_source_per_visitor, None),
    ("sessions", _sessions, ["session"]),
    ("top_paths", _top_paths, ["path"]),
    ("cart_abandonment", _cart_abandonment, ["step_number"]),
    ("rule_segment", _rule_segment, ["customer_id"]),
    ("purchase_summary", _purchase_summary, ["customer_id"]),
]


def normalise(df: pd.DataFrame, keys: list[str] | None) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        s = df[col]
        if s.dtype == object and s.map(lambda v: isinstance(v, decimal.Decimal)).any():
            df[col] = s.map(lambda v: None if v is None else float(v)).astype("float64").round(2)
        elif pd.api.types.is_float_dtype(s):
            df[col] = s.round(6)
        elif pd.api.types.is_datetime64_any_dtype(s):
            df[col] = pd.to_datetime(s).astype("datetime64[us]")
        elif pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s):
            df[col] = s.astype("float64") if s.isna().any() else s.astype("int64")
    keys = keys or list(df.columns)
    return df.sort_values(keys).reset_index(drop=True)


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("parity") / "shop.duckdb")
    build_random_shop(ws)
    with spark_tables(ws) as spark:
        yield ws, spark
    ws.close()


@pytest.mark.parametrize("name, build, keys", CASES, ids=[c[0] for c in CASES])
def test_same_results_on_duckdb_and_spark(engines, name, build, keys):
    ws, spark = engines
    ours = normalise(ws.execute(build(ws, AS_OF)), keys)
    theirs = normalise(spark.execute(build(spark, AS_OF)), keys)
    assert len(ours) > 0
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, check_exact=False, atol=1e-6)


def test_categories_and_thresholds_agree(engines):
    ws, spark = engines
    assert shop_categories(ws) == shop_categories(spark) == sorted(CATEGORIES)
    assert lifecycle_thresholds(ws, AS_OF) == lifecycle_thresholds(spark, AS_OF)


def test_tiny_shop_mart_parity(tmp_path):
    from tests.features.test_mart import TINY_SHOP_SQL

    ws = Workspace(tmp_path / "tiny.duckdb")
    for stmt in TINY_SHOP_SQL:
        ws._con.execute(stmt)
    with spark_tables(ws) as spark:
        a = normalise(ws.execute(customer_features(ws, dt.date(2024, 7, 1))), ["customer_id"])
        b = normalise(spark.execute(customer_features(spark, dt.date(2024, 7, 1))), ["customer_id"])
    ws.close()
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_cdnow_rfm_parity(cdnow_path, tmp_path):
    from regulars.data.ingest.pipeline import ingest
    from tests.segments.conftest import CDNOW_MAPPING

    mapping = tmp_path / "cdnow.toml"
    mapping.write_text(CDNOW_MAPPING)
    ws = Workspace(tmp_path / "cdnow.duckdb")
    ingest(ws, "orders", [str(cdnow_path)], mapping=str(mapping))
    with spark_tables(ws, tables=["orders", "customers", "events", "messages"]) as spark:
        a = normalise(ws.execute(rfm(ws, dt.date(1998, 7, 1))), ["customer_id"])
        b = normalise(spark.execute(rfm(spark, dt.date(1998, 7, 1))), ["customer_id"])
    ws.close()
    assert len(a) == 23_502
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert np.isclose(a.monetary.sum(), 2_500_315.63)


@pytest.fixture
def cdnow_path():
    from tests.conftest import CDNOW

    return CDNOW / "CDNOW_master.txt"
