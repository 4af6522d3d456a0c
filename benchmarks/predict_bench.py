"""Benchmark: full `regulars predict` on a large shop (target: 1M customers in <= 60 s and <= 4 GB).

Usage::

    python benchmarks/predict_bench.py [--customers 1000000] [--workspace /tmp/bench.duckdb] [--demo] [--repeat 3]

The shop is the vectorised synthetic one (``benchmarks/predict_synth.py``) unless ``--demo`` asks
for the demo generator. It is built once and reused. The prediction runs in a child process so
that its peak memory (``ru_maxrss`` of that child) excludes building the shop. The reference run,
in a child of its own, reads the orders table into pandas once: the floor of what any Python
analysis of these orders costs; the prediction is printed as a ratio of it. With ``--repeat N``
the reference and the prediction alternate N times (each prediction in a fresh process) and
every run is printed with the median and the slowest: on a shared machine one run says little.
"""

from __future__ import annotations

import argparse
import os
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# VmHWM is the peak resident memory of this process image only; ru_maxrss would also count
# what the parent held when it forked the child.
PEAK = r"""
import resource
def cpu_s():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
def peak_gb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
"""

REFERENCE = r"""
import json, sys, time
""" + PEAK + r"""
from regulars import Workspace
ws = Workspace(sys.argv[1], memory_limit=sys.argv[2])
t, c = time.perf_counter(), cpu_s()
orders = ws.sql("SELECT order_id, customer_id, ordered_at, total FROM orders")
print(json.dumps({"reference_s": time.perf_counter() - t, "orders": len(orders),
                  "peak_gb": peak_gb(), "cpu_s": cpu_s() - c}))
"""

CHILD = r"""
import json, sys, time
""" + PEAK + r"""
from regulars import Workspace
from regulars.jobs.predict import predict
ws = Workspace(sys.argv[1], memory_limit=sys.argv[2])
t, c = time.perf_counter(), cpu_s()
result = predict(ws)
seconds = time.perf_counter() - t
print(json.dumps({"predict_s": seconds, "rows": result.rows, "timings": result.timings,
                  "peak_gb": peak_gb(), "cpu_s": cpu_s() - c,
                  "readiness": {k: v.status for k, v in result.verdicts.items()}}))
"""


def run_child(code: str, path: Path, memory_limit: str) -> dict:
    """Run *code* in a fresh interpreter (its own peak memory) and parse its last JSON line."""
    out = subprocess.run([sys.executable, "-c", code, str(path), memory_limit],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    parser.add_argument("--repeat", type=int, default=1, help="alternate reference and prediction this many times")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory limit inside the run")
    args = parser.parse_args()
    path = args.workspace or Path(f"/tmp/regulars-predict-bench-{args.customers}.duckdb")
    if not path.exists():
        print(f"building a shop of {args.customers:,} customers at {path} ...", file=sys.stderr)
        print(f"built in {build(path, args.customers, args.demo):.1f}s", file=sys.stderr)
    runs = []
    for _ in range(args.repeat):
        reference = run_child(REFERENCE, path, args.memory_limit)
        figures = run_child(CHILD, path, args.memory_limit)
        runs.append((reference, figures))
    print(f"customers: {args.customers:,}  orders: {reference['orders']:,}")
    for i, (reference, figures) in enumerate(runs, 1):
        label = f"run {i}/{len(runs)}: " if len(runs) > 1 else ""
        print(f"{label}regulars predict: {figures['predict_s']:.1f} s (target <= 60 s), peak memory "
              f"{figures['peak_gb']:.2f} GB (target <= 4 GB); {figures['cpu_s']:.1f} CPU-s")
        print(f"  reference (read the orders into pandas once, its own process): {reference['reference_s']:.2f} s, "
              f"{reference['peak_gb']:.2f} GB, {reference['cpu_s']:.1f} CPU-s -> predict is "
              f"{figures['predict_s'] / reference['reference_s']:.1f}x the time, "
              f"{figures['cpu_s'] / reference['cpu_s']:.1f}x the CPU and {figures['peak_gb'] / reference['peak_gb']:.1f}x "
              "the memory of the reference")
        print(f"  load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("  steps:", ", ".join(f"{k} {v:.1f}s" for k, v in figures["timings"].items()))
    if len(runs) > 1:
        seconds = sorted(f["predict_s"] for _, f in runs)
        peaks = [f["peak_gb"] for _, f in runs]
        print(f"predict over {len(runs)} runs: median {statistics.median(seconds):.1f} s, slowest {seconds[-1]:.1f} s; "
              f"peak memory at most {max(peaks):.2f} GB")
    print("rows:", figures["rows"], "readiness:", figures["readiness"])


if __name__ == "__main__":
    main()
