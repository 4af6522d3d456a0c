"""Benchmark: the BTYD transaction summary from the workspace, against lifetimes.

Run:
  python benchmarks/summary_bench.py                        # 1M customers, 10M orders (synthetic, built once)
  python benchmarks/summary_bench.py --orders 1000000 --customers 100000

``regulars.models.summarize`` runs in DuckDB through Ibis, straight on the ``orders`` table
(frequency, recency, T and monetary value per customer, in days). The reference, if ``lifetimes`` is importable (``pip install lifetimes==0.11.3
"setuptools<81"``: a benchmark reference only, not a dependency), is
``lifetimes.utils.summary_data_from_transaction_data`` (``freq="D"``) on the same orders read into pandas
(the read is timed separately and not charged to lifetimes). Both results are compared
customer by customer. Target: <= 0.5 s after warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synth import build  # noqa: E402

from regulars.models import summarize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "regulars-rfm-bench.duckdb")
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()

    ws = build(args.workspace, args.orders, args.customers)
    orders = ws.table("orders").filter(lambda t: t.total > 0)
    end = ws.sql("SELECT max(ordered_at)::DATE AS d FROM orders").d[0]
    print(f"{ws.count('orders'):,} orders of {ws.count('customers'):,} customers; load average {os.getloadavg()[0]:.1f}")

    def ours():
        return summarize(orders, "customer_id", "ordered_at", "total", freq="D", observation_end=end)

    times = []
    for _ in range(args.repeat + 1):  # the first run warms up
        t = time.perf_counter()
        result = ours()
        times.append(time.perf_counter() - t)
    warm = statistics.median(times[1:]) if len(times) > 1 else times[0]
    print(f"{'regulars summarize (DuckDB)':42}{warm:>9.2f} s  (first run {times[0]:.2f} s; {len(result):,} customers)")

    try:
        from lifetimes.utils import summary_data_from_transaction_data
    except ImportError:
        print("lifetimes not installed: no reference run (pip install lifetimes==0.11.3 'setuptools<81')")
        return
    if args.skip_lifetimes:
        return
    t = time.perf_counter()
    frame = ws.sql("SELECT customer_id, ordered_at, total::DOUBLE AS total FROM orders WHERE total > 0")
    read = time.perf_counter() - t
    t = time.perf_counter()
    ref = summary_data_from_transaction_data(frame, "customer_id", "ordered_at", monetary_value_col="total",
                                             observation_period_end=str(end), freq="D")
    theirs = time.perf_counter() - t
    print(f"{'lifetimes summary_data_from_transaction_data':42}{theirs:>9.2f} s  (+ {read:.2f} s to read the orders into pandas)")
    print(f"ratio: regulars is {theirs / warm:.0f}x faster")
    common = result.index.intersection(ref.index)
    for ours_col, their_col in [("frequency", "frequency"), ("recency", "recency"), ("T", "T"),
                                ("monetary_value", "monetary_value")]:
        diff = (result.loc[common, ours_col] - ref.loc[common, their_col]).abs().max()
        print(f"  max |difference| in {ours_col:15}: {diff:.6g} over {len(common):,} customers")


if __name__ == "__main__":
    main()
