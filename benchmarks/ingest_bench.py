"""Benchmark: ingest a ~10M-line order-lines CSV (demo generator, 1M customers), against pandas.

Run:
  python benchmarks/ingest_bench.py                       # 1M customers (~10M order lines)
  python benchmarks/ingest_bench.py --customers 100000    # a quicker look (~1M lines)

Steps, each in its own process so that peak RSS belongs to one load only:

1. write the demo files (customers, products, orders, order lines) into ``--data``
   (kept between runs; delete the folder to regenerate);
2. load customers, products and orders into a fresh workspace (setup, timed but not the target);
3. **regulars**: ``ingest(ws, "order-lines", [file])`` with full validation (types, required
   fields, duplicate keys, orders exist, product stubs, quarantine, upsert, one transaction);
4. **reference**: the common plain load: ``pandas.read_csv`` of the same file and
   ``DataFrame.to_sql`` into SQLite (no validation, no upsert, no quarantine).

Prints rows/s and peak RSS side by side, and the ratio. Targets: >= 1M rows/s, < 4 GB RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD_SETUP = """
import json, sys, time
from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
ws = Workspace(sys.argv[1]); out = {}
for kind, path in json.loads(sys.argv[2]):
    t = time.perf_counter(); r = ingest(ws, kind, [path]); out[kind] = [r.rows_read, round(time.perf_counter() - t, 2)]
ws.close(); print(json.dumps(out))
"""

CHILD_REGULARS = """
import json, resource, sys, time
from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
ws = Workspace(sys.argv[1])
t = time.perf_counter(); r = ingest(ws, "order-lines", [sys.argv[2]]); s = time.perf_counter() - t
ws.close()
print(json.dumps({"rows": r.rows_read, "loaded": r.rows_loaded, "quarantined": r.rows_quarantined, "seconds": s,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CHILD_PANDAS = """
import json, resource, sqlite3, sys, time
import pandas as pd
t = time.perf_counter()
df = pd.read_csv(sys.argv[2])
con = sqlite3.connect(sys.argv[1])
df.to_sql("order_lines", con, index=False, chunksize=100_000)
con.commit(); con.close(); s = time.perf_counter() - t
print(json.dumps({"rows": len(df), "seconds": s, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_files(data: Path, customers: int, seed: int) -> dict[str, Path]:
    from regulars.demo import generate

    names = {"customers": "customers.csv", "products": "products.csv", "orders": "orders.csv", "order-lines": "order_lines.csv"}
    marker = data / "generated.json"
    if marker.exists() and json.loads(marker.read_text()) == {"customers": customers, "seed": seed}:
        files = {k: data / v for k, v in names.items()}
        if all(p.exists() for p in files.values()):
            return files
    print(f"writing demo files for {customers:,} customers into {data} …", flush=True)
    t = time.perf_counter()
    written = generate(data, n_customers=customers, seed=seed, kinds=list(names))
    print(f"  written in {time.perf_counter() - t:.0f}s", flush=True)
    marker.write_text(json.dumps({"customers": customers, "seed": seed}))
    return {kind: Path(path) for kind, path in written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "regulars-ingest-bench")
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()

    files = ensure_files(args.data / str(args.customers), args.customers, args.seed)
    lines = files["order-lines"]
    print(f"order lines file: {lines} ({lines.stat().st_size / 1e6:,.0f} MB); load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="regulars-ingest-bench-") as tmp:
        ws = str(Path(tmp) / "shop.duckdb")
        setup = child(CHILD_SETUP, ws, json.dumps([[k, str(files[k])] for k in ("customers", "products", "orders")]))
        print("setup (not the target): " + ", ".join(f"{k} {n:,} rows in {s}s" for k, (n, s) in setup.items()))
        ours = child(CHILD_REGULARS, ws, str(lines))
        ref = None if args.skip_pandas else child(CHILD_PANDAS, str(Path(tmp) / "ref.sqlite"), str(lines))

    rate = ours["rows"] / ours["seconds"]
    print()
    print(f"{'':34}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'peak RSS':>11}")
    print(f"{'regulars ingest (validated)':34}{ours['rows']:>12,}{ours['seconds']:>10.1f}{rate:>12,.0f}{ours['rss_mb']:>9,.0f}MB")
    if ref:
        ref_rate = ref["rows"] / ref["seconds"]
        print(f"{'pandas read_csv + to_sql (sqlite)':34}{ref['rows']:>12,}{ref['seconds']:>10.1f}{ref_rate:>12,.0f}{ref['rss_mb']:>9,.0f}MB")
        print(f"\nregulars is {rate / ref_rate:.1f}x the reference's rows/s with {ours['rss_mb'] / ref['rss_mb']:.2f}x its memory")
    print(f"loaded {ours['loaded']:,}, quarantined {ours['quarantined']:,}")
    print(f"targets: >= 1,000,000 rows/s -> {'met' if rate >= 1e6 else 'MISSED'}; "
          f"peak RSS < 4 GB -> {'met' if ours['rss_mb'] < 4096 else 'MISSED'}")


if __name__ == "__main__":
    main()
