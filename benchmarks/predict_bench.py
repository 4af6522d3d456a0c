"""Benchmark: full `regulars predict` on a large shop (target: 1M customers in <= 60 s and <= 4 GB).

Usage::

    python benchmarks/predict_bench.py [--customers 1000000] [--workspace /tmp/bench.duckdb] [--demo]

The shop is the vectorised synthetic one (``benchmarks/predict_synth.py``) unless ``--demo`` asks
for the demo generator. It is built once and reused. The prediction runs in a child process so
that its peak memory (``ru_maxrss`` of the child) excludes building the shop. As the reference run
in the same process tree, the child first reads the orders table into pandas once: the floor of
what any Python analysis of these orders costs; the prediction is printed as a ratio of it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
from regulars import Workspace
from regulars.jobs.predict import predict
path = sys.argv[1]
ws = Workspace(path, memory_limit=sys.argv[2])
t = time.perf_counter()
orders = ws.sql("SELECT order_id, customer_id, ordered_at, total FROM orders")
reference = time.perf_counter() - t
n_orders = len(orders)
del orders
t = time.perf_counter()
result = predict(ws)
seconds = time.perf_counter() - t
print(json.dumps({"reference_s": reference, "orders": n_orders, "predict_s": seconds,
                  "rows": result.rows, "timings": result.timings,
                  "readiness": {k: v.status for k, v in result.verdicts.items()}}))
"""


def build(path: Path, customers: int, demo: bool) -> float:
    from regulars import Workspace

    t = time.perf_counter()
    with Workspace(path) as ws:
        if demo:
            from regulars.demo import build_demo

            build_demo(ws, n_customers=customers, seed=0)
        else:
            sys.path.insert(0, str(HERE))
            from predict_synth import synthesize_shop

            print(synthesize_shop(ws, customers, seed=0), file=sys.stderr)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--demo", action="store_true", help="build the shop with regulars.demo instead")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory limit inside the run")
    args = parser.parse_args()
    path = args.workspace or Path(f"/tmp/regulars-predict-bench-{args.customers}.duckdb")
    if not path.exists():
        print(f"building a shop of {args.customers:,} customers at {path} ...", file=sys.stderr)
        print(f"built in {build(path, args.customers, args.demo):.1f}s", file=sys.stderr)
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), args.memory_limit],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(out.returncode)
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"customers: {args.customers:,}  orders: {figures['orders']:,}")
    print(f"regulars predict: {figures['predict_s']:.1f} s (target <= 60 s), peak memory {peak_gb:.2f} GB "
          f"(target <= 4 GB)")
    print(f"reference (read orders into pandas once): {figures['reference_s']:.2f} s -> predict is "
          f"{figures['predict_s'] / figures['reference_s']:.1f}x the reference")
    print("steps:", ", ".join(f"{k} {v:.1f}s" for k, v in figures["timings"].items()))
    print("rows:", figures["rows"], "readiness:", figures["readiness"])


if __name__ == "__main__":
    main()
