"""summarize gives identical results on PySpark (ANSI mode, UTC) and DuckDB."""

import ibis
import pandas as pd
import pytest

from regulars.models import summarize
from tests.optional import engine

pyspark = engine("pyspark")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark_con(tmp_path_factory):
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("regulars-btyd-summary")
        .config("spark.sql.shuffle.partitions", 2)
        .config("spark.ui.enabled", False)
        .config("spark.ui.showConsoleProgress", False)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", True)
        .config("spark.sql.execution.arrow.pyspark.enabled", True)
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    return session, ibis.pyspark.connect(session)


def test_cdnow_summary_is_identical_on_spark(spark_con, cdnow_transactions, cdnow_summary):
    session, con = spark_con
    rows = cdnow_transactions[["customer_id", "ordered_at", "dollar_value"]]
    session.createDataFrame(rows).createOrReplaceTempView("btyd_cdnow")
    on_spark = summarize(
        con.table("btyd_cdnow"),
        "customer_id",
        "ordered_at",
        "dollar_value",
        freq="W",
        observation_end="1998-06-30",
        calibration_end="1997-09-30",
    )
    pd.testing.assert_frame_equal(on_spark, cdnow_summary, check_dtype=False)
