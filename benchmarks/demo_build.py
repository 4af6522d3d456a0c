"""Benchmark: build the demo shop, or write big demo files for the ingest benchmark.

Run:
  python benchmarks/demo_build.py                      # build_demo at the default size (20,000 customers):
                                                       # generation vs load seconds per step
  python benchmarks/demo_build.py --customers 1000000 --out /tmp/demo1m
                                                       # write the files only (~10M order lines):
                                                       # rows, sizes, seconds, peak RSS
  python benchmarks/demo_build.py --customers 1000000 --out /tmp/demo1m --kinds customers,products,orders,order-lines

The load average is printed too: on a shared 2-core machine it moves the figures a lot.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from regulars import Workspace
from regulars.demo import build_demo, generate


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def bench_build(customers: int, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="regulars-demo-bench-") as tmp:
        ws = Workspace(Path(tmp) / "shop.duckdb")
        started = time.perf_counter()
        summary = build_demo(ws, n_customers=customers, seed=seed,
                             progress=lambda step: print(f"  {time.perf_counter() - started:6.1f}s  {step}", flush=True))
        ws.close()
        db_mb = (Path(tmp) / "shop.duckdb").stat().st_size / 2**20
    s = summary["seconds"]
    print(f"\nbuild_demo, {customers:,} customers (load average {load_average()})")
    print(f"{'step':<28}{'rows':>12}{'seconds':>10}")
    for key, sec in s.items():
        if key.startswith("load "):
            kind = key[5:]
            print(f"{key:<28}{summary['loaded'][kind]:>12,}{sec:>10.2f}")
        elif key.startswith("generate "):
            print(f"{key:<28}{'':>12}{sec:>10.2f}")
    print(f"{'store truth':<28}{summary['truth_rows']:>12,}{s['store truth']:>10.2f}")
    print(f"\ngeneration {s['generate']:.1f}s + load {s['load']:.1f}s = total {s['total']:.1f}s "
          f"(target < 60s); quarantined {sum(summary['quarantined'].values())}; workspace {db_mb:.0f} MB; "
          f"peak RSS {peak_rss_mb():.0f} MB")


def bench_files(customers: int, seed: int, out: Path, kinds: list[str] | None) -> None:
    started = time.perf_counter()
    files = generate(out, n_customers=customers, seed=seed, kinds=kinds,
                     progress=lambda step: print(f"  {time.perf_counter() - started:6.1f}s  {step}", flush=True))
    elapsed = time.perf_counter() - started
    print(f"\ngenerate, {customers:,} customers -> {out} (load average {load_average()})")
    print(f"{'kind':<14}{'file':<22}{'rows':>14}{'MB':>10}")
    for kind, path in files:
        print(f"{kind:<14}{path.name:<22}{files.rows[kind]:>14,}{path.stat().st_size / 2**20:>10.1f}")
    print(f"{'truth':<14}{files.truth_path.name:<22}{files.rows['truth']:>14,}{files.truth_path.stat().st_size / 2**20:>10.1f}")
    print("\nseconds per step: " + ", ".join(f"{k} {v:.1f}" for k, v in files.seconds.items()))
    print(f"total {elapsed:.1f}s, peak RSS {peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the files here (no load), e.g. for the 10M-line ingest benchmark")
    parser.add_argument("--kinds", help="with --out: comma-separated kinds to write (default: all)")
    args = parser.parse_args()
    if args.out:
        bench_files(args.customers, args.seed, args.out, args.kinds.split(",") if args.kinds else None)
    else:
        bench_build(args.customers, args.seed)


if __name__ == "__main__":
    main()
