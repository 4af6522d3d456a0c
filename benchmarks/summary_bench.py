"""Benchmark: the BTYD transaction summary from the workspace, and from a DataFrame, against lifetimes.

Run:
  python benchmarks/summary_bench.py                        # 1M customers, 10M orders (synthetic, built once)
  python benchmarks/summary_bench.py --orders 1000000 --customers 100000
  python benchmarks/summary_bench.py --in-memory            # the lifetimes user's path only (target: >= 30x)

``--in-memory``: ``regulars.models.summarize`` on a pandas DataFrame of ``--orders`` transactions
(integer customer ids, timestamps with a time of day, amounts) built in memory, against
``lifetimes.utils.summary_data_from_transaction_data`` on the same DataFrame in the same run, and
a plain numpy pass (sort the customer-day keys, count) as the floor. Target: at least 30x lifetimes.

Two regulars runs, both in DuckDB through Ibis, over the shop's purchases (orders with
``total > 0`` and a counted status, value = net of refunds): ``purchase_summary(ws, as_of)``
(what ``regulars predict`` uses: it reads the per-customer totals the workspace keeps current on
every load, one row per customer) and the general ``summarize`` straight on the orders (groups
every order by customer and day; what any other table or an earlier date costs). The reference, if ``lifetimes`` is importable (``pip install lifetimes==0.11.3
"setuptools<81"``: a benchmark reference only, not a dependency), is
``lifetimes.utils.summary_data_from_transaction_data`` (``freq="D"``) on the same orders read into pandas
(the read is timed separately and not charged to lifetimes). Both results are compared
customer by customer. Target: <= 0.5 s after warm-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synth import build  # noqa: E402

from regulars.models import summarize  # noqa: E402
from regulars.features.purchase_history import purchase_summary, purchases  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "regulars-rfm-bench.duckdb")
    parser.add_argument("--skip-lifetimes", action="store_true")
    parser.add_argument("--in-memory", action="store_true", help="summarize a DataFrame (the lifetimes user's path)")
    args = parser.parse_args()
    if args.in_memory:
        return in_memory(args)

    ws = build(args.workspace, args.orders, args.customers)
    bought = purchases(ws.table("orders"))
    end = ws.sql("SELECT max(ordered_at)::DATE AS d FROM orders").d[0]
    as_of = end + dt.timedelta(days=1)
    print(f"{ws.count('orders'):,} orders of {ws.count('customers'):,} customers; load average {os.getloadavg()[0]:.1f}")

    def stored():
        return ws.frame(purchase_summary(ws, as_of).order_by("customer_id")).set_index("customer_id")

    def general():
        return summarize(bought, "customer_id", "ordered_at", "net", freq="D", observation_end=end)

    def timed(fn):
        times = []
        for _ in range(args.repeat + 1):  # the first run warms up
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return (statistics.median(times[1:]) if len(times) > 1 else times[0]), times[0], out

    assert ws.order_stats(as_of) is not None, "the stored totals should cover the day after the last order"
    warm, first, result = timed(stored)
    print(f"{'regulars purchase_summary (stored totals)':42}{warm:>9.2f} s  (first run {first:.2f} s; "
          f"{len(result):,} customers; target 0.5 s: {'met' if warm <= 0.5 else 'NOT met'})")
    general_s, general_first, general_result = timed(general)
    print(f"{'regulars summarize (every order)':42}{general_s:>9.2f} s  (first run {general_first:.2f} s)")
    same = general_result.index.equals(result.index) and all(
        float((general_result[c] - result[c]).abs().max()) < 1e-6 for c in result.columns)
    print(f"  both regulars results identical: {same}")

    try:
        from lifetimes.utils import summary_data_from_transaction_data
    except ImportError:
        print("lifetimes not installed: no reference run (pip install lifetimes==0.11.3 'setuptools<81')")
        return
    if args.skip_lifetimes:
        return
    t = time.perf_counter()
    frame = ws.frame(bought.select("customer_id", "ordered_at", "net"))
    read = time.perf_counter() - t
    t = time.perf_counter()
    ref = summary_data_from_transaction_data(frame, "customer_id", "ordered_at", monetary_value_col="net",
                                             observation_period_end=str(end), freq="D")
    theirs = time.perf_counter() - t
    print(f"{'lifetimes summary_data_from_transaction_data':42}{theirs:>9.2f} s  (+ {read:.2f} s to read the purchases into pandas)")
    print(f"ratio: purchase_summary is {theirs / warm:.0f}x faster, summarize {theirs / general_s:.0f}x")
    common = result.index.intersection(ref.index)
    for ours_col, their_col in [("frequency", "frequency"), ("recency", "recency"), ("T", "T"),
                                ("monetary_value", "monetary_value")]:
        diff = (result.loc[common, ours_col] - ref.loc[common, their_col]).abs().max()
        print(f"  max |difference| in {ours_col:15}: {diff:.6g} over {len(common):,} customers")


def in_memory(args) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n, c = args.orders, args.customers
    frame = pd.DataFrame({
        "customer_id": rng.integers(0, c, n),
        "ordered_at": np.datetime64("2023-01-01T00:00:00") + rng.integers(0, 730 * 86400, n).astype("timedelta64[s]"),
        "total": rng.gamma(2.0, 30.0, n).round(2),
    })
    end = "2024-12-31"
    print(f"{n:,} transactions of {c:,} customers in a DataFrame; load average {os.getloadavg()[0]:.1f}")

    def ours():
        return summarize(frame, "customer_id", "ordered_at", "total", freq="D", observation_end=end)

    def floor():  # the least any summary must do: sort the customer-day keys once
        day = frame["ordered_at"].to_numpy().astype("datetime64[D]").astype(np.int64)
        keys = np.sort(frame["customer_id"].to_numpy() * 1024 + (day - day.min()))
        return np.count_nonzero(keys[1:] != keys[:-1])

    times = {}
    for name, fn in (("numpy floor", floor), ("regulars summarize", ours)):
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = fn()
            runs.append(time.perf_counter() - t)
        times[name] = statistics.median(runs)
        print(f"{name:42}{times[name]:>9.2f} s  (median of {args.repeat}: {', '.join(f'{r:.2f}' for r in runs)})")
    try:
        from lifetimes.utils import summary_data_from_transaction_data
    except ImportError:
        print("lifetimes not installed: no reference run (pip install lifetimes==0.11.3 'setuptools<81')")
        return
    if args.skip_lifetimes:
        return
    t = time.perf_counter()
    ref = summary_data_from_transaction_data(frame, "customer_id", "ordered_at", monetary_value_col="total",
                                             observation_period_end=end, freq="D")
    theirs = time.perf_counter() - t
    print(f"{'lifetimes summary_data_from_transaction_data':42}{theirs:>9.2f} s")
    print(f"ratio: summarize is {theirs / times['regulars summarize']:.0f}x faster than lifetimes "
          f"(target 30x: {'met' if theirs / times['regulars summarize'] >= 30 else 'NOT met'}); "
          f"{times['regulars summarize'] / times['numpy floor']:.1f}x the numpy floor")
    result = ours()
    for col in ("frequency", "recency", "T", "monetary_value"):
        diff = (result[col] - ref.loc[result.index, col]).abs().max()
        print(f"  max |difference| in {col:15}: {diff:.6g} over {len(result):,} customers")


if __name__ == "__main__":
    main()
