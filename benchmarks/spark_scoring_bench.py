"""Scoring on the Spark executors against scoring on the driver, on a synthetic shop.

Builds a synthetic shop (``benchmarks/predict_synth.py``, ``--customers``, default 5,000) in a
DuckDB workspace and runs ``regulars predict`` three times: on DuckDB (the reference), on Spark
scoring on the driver (``REGULARS_SCORING=driver``: every customer's features collected) and on
Spark scoring on the executors (the default: models broadcast, ``mapInPandas``), with a
fitting sample of ``--fit-sample`` customers (default: a fifth of the shop, so the stratified
sample is used). Prints the wall time of each run, its main steps, the ratios to DuckDB, and
the largest number of rows any single collect brought back to the Spark driver in each Spark run
(the executors' run must stay at a handful, whatever the shop's size).

Spark runs on ``--master`` (default ``local[2]``) with the driver at ``--driver-memory`` (default
1g). The issue's 5M-customer run on a loopback cluster is not what this default measures.

    python benchmarks/spark_scoring_bench.py [--customers 5000] [--fit-sample N] [--master local[2]]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from predict_synth import synthesize_shop  # noqa: E402

from regulars import Workspace  # noqa: E402
from regulars.data.engine_workspace import engine_workspace  # noqa: E402
from regulars.jobs.predict import predict  # noqa: E402


def _caller() -> str:
    """The innermost regulars function (below the job) that asked for the rows."""
    import traceback

    names = [f.name for f in traceback.extract_stack() if "/regulars/" in f.filename and "/data/" not in f.filename]
    return names[-1] if names else "?"


class LargestCollect:
    """The largest number of rows one collect brought to the Spark driver while active."""

    def __init__(self):
        from pyspark.sql.classic.dataframe import DataFrame

        self.largest, self.where, self._saved = 0, "", {}
        for name in ("_collect_as_arrow", "collect"):
            original = self._saved[name] = getattr(DataFrame, name)

            def wrapped(frame, *args, _original=original, **kwargs):
                out = _original(frame, *args, **kwargs)
                rows = sum(getattr(b, "num_rows", 1) for b in out)
                if rows > self.largest:
                    self.largest, self.where = rows, _caller()
                return out

            setattr(DataFrame, name, wrapped)

    def stop(self) -> None:
        from pyspark.sql.classic.dataframe import DataFrame

        for name, original in self._saved.items():
            setattr(DataFrame, name, original)


def run(path: Path, engine: str, where: str | None, fit_sample: int) -> tuple[float, dict, int]:
    if where:
        os.environ["REGULARS_SCORING"] = where
    largest = LargestCollect() if engine == "spark" else None
    try:
        start = time.perf_counter()
        with Workspace(path) as ws, engine_workspace(ws, engine) as reads:
            result = predict(reads, fit_sample=fit_sample)
        return time.perf_counter() - start, result.timings, (largest.largest, largest.where) if largest else (0, "")
    finally:
        if largest:
            largest.stop()
        os.environ.pop("REGULARS_SCORING", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--fit-sample", type=int, default=None)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="1g")
    parser.add_argument("--only-executors", action="store_true", help="skip the Spark run that scores on the driver")
    args = parser.parse_args()
    fit_sample = args.fit_sample or max(100, args.customers // 5)
    os.environ.update(REGULARS_SPARK_MASTER=args.master, REGULARS_SPARK_DRIVER_MEMORY=args.driver_memory)
    folder = Path(tempfile.mkdtemp(prefix="spark-scoring-bench-"))
    try:
        base = folder / "shop.duckdb"
        with Workspace(base) as ws:
            synthesize_shop(ws, n_customers=args.customers, seed=0)
        print(f"synthetic shop: {args.customers:,} customers; fitting sample {fit_sample:,}; Spark {args.master}, "
              f"driver {args.driver_memory}; load {os.getloadavg()[0]:.1f}")
        rows = {}
        for name, engine, where in (("duckdb", "duckdb", None), ("spark, driver scores", "spark", "driver"),
                                    ("spark, executors score", "spark", "executors")):
            if args.only_executors and where == "driver":
                continue
            path = folder / f"{engine}-{where}.duckdb"
            shutil.copy(base, path)
            rows[name] = run(path, engine, where, fit_sample)
        reference = rows["duckdb"][0]
        for name, (seconds, timings, largest) in rows.items():
            steps = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()
                              if k in ("features", "sample_features", "fit_churn", "fit_propensity", "value",
                                       "score_executors", "score_churn", "score_propensity", "write"))
            collect = f"; largest collect {largest[0]:,} rows (in {largest[1]})" if name != "duckdb" else ""
            print(f"{name:24s} {seconds:7.1f}s  x{seconds / reference:4.2f} of DuckDB{collect}\n    {steps}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
