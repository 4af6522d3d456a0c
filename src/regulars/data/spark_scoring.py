"""Running a Python function over every row of an Ibis expression on the Spark executors.

:func:`map_to_parquet` turns an Ibis expression into a Spark DataFrame, broadcasts a
function (with whatever it holds: fitted models) to the executors once, applies it to each
partition with ``mapInPandas`` and writes what it returns as Parquet. Nothing of the rows
comes back to the driver: the driver only plans the job and ships the function.

The rows reach the function as pandas frames typed like
:meth:`Workspace.frame <regulars.data.workspace.Workspace.frame>` returns them on DuckDB
(decimals and booleans as float64), so the same pandas code scores a partition here and
a whole frame there. What the function returns is conformed to the declared columns
(``(name, DuckDB type)`` pairs, e.g. :data:`regulars.data.predictions_store.CUSTOMER_PREDICTIONS`).

The executors unpickle the function: they need regulars installed (the same version) in
the Python they run (``PYSPARK_PYTHON``; on a laptop and in the tests the driver's own).
"""

from __future__ import annotations

import glob
import json
import os

import ibis
import pandas as pd

__all__ = ["conform_batch", "map_to_parquet", "parquet_files", "spark_dataframe", "spark_schema"]


def spark_schema(columns):
    """The Spark schema of ``(name, DuckDB type)`` columns (JSON is text on Spark)."""
    from pyspark.sql import types as T

    kinds = {"VARCHAR": T.StringType, "JSON": T.StringType, "DATE": T.DateType, "INTEGER": T.IntegerType,
             "BIGINT": T.LongType, "DOUBLE": T.DoubleType, "BOOLEAN": T.BooleanType,
             "TIMESTAMP": T.TimestampNTZType}
    return T.StructType([T.StructField(name, kinds[kind](), True) for name, kind in columns])


def conform_batch(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """*frame*'s columns in the order and types of *columns* (missing ones empty).

    Examples
    --------
    >>> out = conform_batch(pd.DataFrame({"day": pd.to_datetime(["2024-01-02"]), "n": [1.0]}),
    ...                     [("day", "DATE"), ("n", "INTEGER"), ("why", "JSON")])
    >>> out["day"].iloc[0], out.dtypes.astype(str).tolist(), out["why"].iloc[0]
    (datetime.date(2024, 1, 2), ['object', 'Int64', 'object'], None)
    """
    out = {}
    for name, kind in columns:
        if name not in frame.columns:
            out[name] = pd.Series([None] * len(frame), dtype=object, index=frame.index)
            continue
        values = frame[name]
        if kind == "DATE":
            values = pd.to_datetime(values).dt.date.astype(object).where(values.notna(), None)
        elif kind == "TIMESTAMP":
            values = pd.to_datetime(values).astype("datetime64[us]")
        elif kind in ("INTEGER", "BIGINT"):
            values = pd.to_numeric(values).astype("Int64")
        elif kind == "DOUBLE":
            values = pd.to_numeric(values).astype("float64")
        elif kind in ("JSON", "VARCHAR"):
            values = values.map(lambda v: v if v is None or isinstance(v, str) or v != v
                                else json.dumps(v, default=str)).astype(object)
            values = values.where(values.notna(), None)
        out[name] = values
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def spark_dataframe(provider, expr: ibis.Table):
    """The Spark DataFrame of *expr* on *provider* (:class:`~regulars.data.engines.SparkTables`),
    not run: decimals and booleans cast to double (as :meth:`Workspace.frame` converts them)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    con = provider.ibis
    con._run_pre_execute_hooks(expr)
    frame = con.raw_sql(con.compile(expr))
    cast = [F.col(f"`{f.name}`").cast("double").alias(f.name)
            if isinstance(f.dataType, (T.DecimalType, T.BooleanType)) else F.col(f"`{f.name}`")
            for f in frame.schema.fields]
    return frame.select(*cast)


def map_to_parquet(provider, expr: ibis.Table, fn, columns, path: str, joins=(), key: str = "customer_id") -> None:
    """Apply *fn* (a pickleable ``pandas.DataFrame -> pandas.DataFrame``) to every partition of
    *expr* on the executors and write the results, conformed to *columns*, as Parquet at *path*
    (replacing what was there).

    *joins* are small pandas frames (one row per *key*, e.g. the features of the customers who
    wrote a review) left-joined to the rows on the engine before *fn* sees them.
    """
    session = provider.session
    frame = spark_dataframe(provider, expr)
    for extra in joins:
        if len(extra):
            frame = frame.join(session.createDataFrame(extra), on=key, how="left")
        else:  # nobody: the columns, empty
            from pyspark.sql import functions as F

            for col in extra.columns:
                if col != key:
                    frame = frame.withColumn(col, F.lit(None).cast("double"))
    shared = session.sparkContext.broadcast(fn)  # shipped to each executor once, not with every task
    wanted = list(columns)

    def run(batches):
        score = shared.value
        for batch in batches:
            yield conform_batch(score(batch), wanted)

    try:
        frame.mapInPandas(run, spark_schema(wanted)).write.mode("overwrite").parquet(path)
    finally:
        shared.unpersist()


def parquet_files(path: str) -> list[str]:
    """The data files Spark wrote at *path* (a local or mounted folder)."""
    return sorted(glob.glob(os.path.join(path, "*.parquet")))
