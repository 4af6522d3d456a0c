"""Benchmark: the same orders CSV loaded by the DuckDB ingest and by the Spark ingest into a lake.

Run:
  python benchmarks/lake_ingest_bench.py                  # 1M rows, local[2]
  python benchmarks/lake_ingest_bench.py --rows 200000    # a quicker look
  REGULARS_SPARK_MASTER=spark://host:7077 python benchmarks/lake_ingest_bench.py --data /shared/folder

Steps (in one run, so both sides see the same machine load):

1. write an orders CSV of ``--rows`` rows (24 months, 1 row in 5,000 with an unreadable amount, 1 in
   10,000 repeating an earlier order id) into ``--data``;
2. **DuckDB**: ``regulars.data.ingest.pipeline.ingest`` into a fresh workspace (validation, quarantine,
   upsert, the invariant, one transaction);
3. **Spark**: an empty workspace promoted to a lake (setup, not timed), then
   ``regulars.data.lake_ingest.ingest_into_lake`` of the same file (read and validated on the
   executors, merged, months staged and swapped in); then the same file again (a re-load: every
   month rewritten, every row unchanged).

Prints rows/s of each and the ratio Spark / DuckDB, with the machine's load average. Spark's own
start-up (the JVM and the session) is timed apart and not counted in the load.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def write_orders(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "w") as out:
        out.write("order_id,customer_id,ordered_at,status,currency,total\n")
        for i in range(rows):
            month, day = 1 + i % 24, 1 + rng.randrange(28)
            year = 2023 + (month - 1) // 12
            order = f"O{i:08d}" if i % 10_000 != 1_234 else f"O{i - 1:08d}"
            total = f"{rng.randrange(100, 50_000) / 100:.2f}" if i % 5_000 != 4_999 else "n/a"
            status = "refunded" if i % 50 == 0 else "paid"
            out.write(f"{order},c{rng.randrange(rows // 5):07d},{year}-{1 + (month - 1) % 12:02d}-{day:02d} "
                      f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00,{status},EUR,{total}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", default=None, help="folder for the file, workspaces and lake (default: a temp folder)")
    args = parser.parse_args()

    from regulars import Workspace
    from regulars.data.engines import spark_session
    from regulars.data.ingest.pipeline import ingest
    from regulars.data.lake import promote
    from regulars.data.lake_ingest import ingest_into_lake

    folder = Path(args.data or tempfile.mkdtemp(prefix="lake-ingest-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "orders.csv"
    try:
        start = time.perf_counter()
        write_orders(csv, args.rows)
        print(f"wrote {args.rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")

        for name in ("duck.duckdb", "empty.duckdb"):
            (folder / name).unlink(missing_ok=True)
        with Workspace(folder / "duck.duckdb") as ws:
            start = time.perf_counter()
            duck = ingest(ws, "orders", [str(csv)])
            duck_s = time.perf_counter() - start
        print(f"DuckDB: {duck.rows_read:,} read, {duck.rows_loaded:,} loaded, {duck.rows_quarantined:,} quarantined "
              f"in {duck_s:.1f} s = {duck.rows_read / duck_s:,.0f} rows/s")

        start = time.perf_counter()
        session = spark_session()
        session.range(1).count()
        print(f"Spark session ({session.sparkContext.master}): {time.perf_counter() - start:.1f} s (not counted)")
        lake = folder / "lake"
        shutil.rmtree(lake, ignore_errors=True)
        with Workspace(folder / "empty.duckdb") as ws:
            promote(ws, lake, session=session)
        start = time.perf_counter()
        spark = ingest_into_lake(lake, "orders", [str(csv)], session=session)
        spark_s = time.perf_counter() - start
        print(f"Spark:  {spark.rows_read:,} read, {spark.rows_loaded:,} loaded, {spark.rows_quarantined:,} quarantined "
              f"in {spark_s:.1f} s = {spark.rows_read / spark_s:,.0f} rows/s, {len(spark.months_rewritten)} months")
        start = time.perf_counter()
        again = ingest_into_lake(lake, "orders", [str(csv)], session=session)
        again_s = time.perf_counter() - start
        print(f"Spark re-load: {again.rows_unchanged:,} unchanged in {again_s:.1f} s = "
              f"{again.rows_read / again_s:,.0f} rows/s")
        same = (duck.rows_loaded, duck.rows_quarantined) == (spark.rows_loaded, spark.rows_quarantined)
        print(f"same counts on both engines: {same}")
        print(f"ratio Spark / DuckDB rows/s: {duck_s / spark_s:.2f} (first load), {duck_s / again_s:.2f} (re-load)")
        print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        if args.data is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
