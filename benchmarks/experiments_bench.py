"""Experiments at scale: analysing 1M assigned customers (with CUPED) and 500 bootstrap resamples.

    python benchmarks/experiments_bench.py [--customers 1000000] [--repeat 3] [--keep PATH]

Builds a workspace (in a temp dir, or --keep PATH) with --customers customers and 1.5 orders per
customer in the 180 days before the experiment (regulars buy more often), then a 30-day window
after it in which about 12.5 % of the control and 14 % of the offer arm buy (regulars more
often, so pre-period spend predicts window spend as in a real shop), assigns everyone with ``create_experiment`` (keyed hashing)
and times, best of --repeat after a warm-up, wall and CPU seconds:

- **create**: hashing and logging 1M assignments (once);
- **analysis**: ``reports.experiments.analyze`` end to end: outcomes read from the workspace
  (the mart's purchase definition, per-customer windows), CUPED, Welch, Wilson/Newcombe, 500
  bootstrap resamples, Bayesian view, always-valid interval, SRM. Target <= 5 s. Reference: the
  outcome query alone, and a plain pandas per-arm mean of the same frame;
- **bootstrap**: 500 resamples of 1M revenue values (mostly zero, as revenue per customer is).
  Target <= 10 s. Reference: the textbook index-resampling bootstrap (``rng.integers`` + gather)
  run for 50 resamples and scaled x10 (marked), and the worst case for ours (no zeros).

Prints ratios against the references and the machine's load average (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from regulars import Workspace  # noqa: E402
from regulars.data import order_stats  # noqa: E402
from regulars.experiments.estimates import bootstrap_difference  # noqa: E402
from regulars.features.outcomes import experiment_outcomes  # noqa: E402
from regulars.jobs.experiments import create_experiment  # noqa: E402
from regulars.reports.experiments import analyze  # noqa: E402

START = dt.datetime(2024, 3, 1)
AS_OF = dt.date(2024, 4, 15)


def timed(fn, repeat: int = 1, warm: bool = True):
    if warm:
        fn()
    best = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        run = (time.perf_counter() - t, time.process_time() - c, out)
        best = run if best is None or run[0] < best[0] else best
    return best


def build(path: Path, n: int) -> tuple[Workspace, float]:
    ws = Workspace(path)
    con = ws._con
    con.execute("SELECT setseed(0.42)").fetchall()
    con.execute(f"INSERT INTO customers (customer_id) SELECT 'c' || lpad(i::VARCHAR, 7, '0') FROM range({n}) t(i)")
    con.execute(
        "INSERT INTO orders (order_id, customer_id, ordered_at, total, currency) "
        f"SELECT 'p' || i, 'c' || lpad(least(floor(pow(random(), 2) * {n}), {n - 1})::BIGINT::VARCHAR, 7, '0'), "
        "TIMESTAMP '2024-03-01' - to_seconds((random() * 180 * 86400)::BIGINT), round(5 + random() * 80, 2), 'EUR' "
        f"FROM range({int(n * 1.5)}) t(i)")
    t = time.perf_counter()
    create_experiment(ws, "Bench offer", "control:0.5,offer:0.5", everyone=True, starts_at=START, salt="bench")
    created = time.perf_counter() - t
    con.execute(
        "INSERT INTO orders (order_id, customer_id, ordered_at, total, currency) "
        "SELECT 'w' || customer_id, customer_id, TIMESTAMP '2024-03-01' + to_seconds((random() * 29 * 86400)::BIGINT), "
        "round(10 + random() * 90, 2), 'EUR' FROM experiment_assignments "
        f"WHERE random() < 0.04 + 0.8 * pow(1 - substr(customer_id, 2)::BIGINT / {n}, 12) "
        "+ CASE WHEN arm = 'offer' THEN 0.015 ELSE 0 END")
    order_stats.rebuild(con)
    return ws, created


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="Keep the workspace at this path.")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="i19-experiments-bench-"))
    path = args.keep or folder / "bench.duckdb"
    try:
        t = time.perf_counter()
        ws, created = build(path, args.customers)
        orders = ws.count("orders")
        print(f"built {args.customers:,} customers, {orders:,} orders in {time.perf_counter() - t:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"create (hash + log {args.customers:,} assignments): {created:.2f} s")

        q_wall, q_cpu, frame = timed(lambda: ws.frame(experiment_outcomes(ws, "bench-offer", 30, 90, AS_OF)), args.repeat)
        p_wall, p_cpu, _ = timed(lambda: frame.groupby("arm")[["converted", "revenue"]].mean(), args.repeat)
        a_wall, a_cpu, report = timed(lambda: analyze(ws, "bench-offer", as_of=AS_OF), args.repeat)
        c = report.result.comparisons[0]
        print(f"analysis of {report.analysed:,} customers incl. CUPED ({c.cuped.variance_reduction:.1%} variance removed) "
              f"and 500 bootstrap resamples: {a_wall:.2f} s wall, {a_cpu:.2f} s CPU (target <= 5 s)")
        print(f"  reference: outcome query alone {q_wall:.2f} s ({a_wall / q_wall:.2f}x of it); "
              f"pandas per-arm means {p_wall:.3f} s")
        print(f"  {c.sentence}")

        rev = frame["revenue"].to_numpy()
        half = len(rev) // 2
        b_wall, b_cpu, _ = timed(lambda: bootstrap_difference(rev[:half], rev[half:], 500, seed=1), args.repeat)
        dense = rev + 1.0
        d_wall, d_cpu, _ = timed(lambda: bootstrap_difference(dense[:half], dense[half:], 500, seed=1), 1)

        def textbook(k: int = 50):
            rng = np.random.default_rng(1)
            a, b = rev[:half], rev[half:]
            return [a[rng.integers(0, len(a), len(a))].mean() - b[rng.integers(0, len(b), len(b))].mean() for _ in range(k)]

        r_wall, r_cpu, _ = timed(textbook, 1, warm=False)
        share = (rev != 0).mean()
        print(f"bootstrap 500 resamples of {len(rev):,} revenue values ({share:.1%} non-zero): {b_wall:.2f} s wall, "
              f"{b_cpu:.2f} s CPU (target <= 10 s)")
        print(f"  worst case, no zeros: {d_wall:.2f} s; textbook index resampling: {r_wall * 10:.2f} s "
              f"(50 resamples x10, marked) = {r_wall * 10 / b_wall:.1f}x ours")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        ws.close()
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
