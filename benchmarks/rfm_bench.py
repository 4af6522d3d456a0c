"""RFM on a large order history: regulars (Ibis on DuckDB) vs the pandas tutorial vs vectorised pandas.

    python benchmarks/rfm_bench.py [--orders 10000000] [--customers 1000000] [--repeat 3]

Prints seconds (best of --repeat, after one warm-up) and each approach's time as a ratio of
ours. The pandas approaches start from a DataFrame already in memory (the load from the
workspace is timed separately); ours starts from the workspace file and ends with an Arrow
table of scores and segments. Target: ours <= 0.5 s at 10M orders / 1M customers.

The "tutorial" approach is the one most RFM tutorials show: ``groupby().agg()`` with a
lambda per column and ``pd.qcut`` on ranks. It is run on at most --tutorial-customers
customers (default: all) because it is slow; its time is then scaled linearly and marked.
"""

from __future__ import annotations

import argparse
import os
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synth import build  # noqa: E402

from regulars.segments.rfm import load_config, rfm  # noqa: E402

AS_OF = dt.date(2024, 1, 1)


def best(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall-clock time of *repeat* runs after a warm-up; and its CPU time (all threads).

    On a busy machine wall time grows with the load while CPU time does not, so both are printed.
    """
    fn()  # warm-up
    times, cpus, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    i = times.index(min(times))
    return times[i], cpus[i], out


def quintile(values: pd.Series, ascending: bool = True) -> pd.Series:
    ranks = values.rank(method="first", ascending=ascending)
    return pd.qcut(ranks, 5, labels=[1, 2, 3, 4, 5]).astype(int)


def pandas_tutorial(df: pd.DataFrame) -> pd.DataFrame:
    ts = pd.Timestamp(AS_OF)
    g = df.groupby("customer_id").agg({
        "ordered_at": lambda x: (ts - x.max()).days,
        "order_id": lambda x: len(x),
        "total": lambda x: x.sum(),
    })
    g.columns = ["recency", "frequency", "monetary"]
    g["r"] = quintile(g["recency"], ascending=False)
    g["f"] = quintile(g["frequency"])
    g["m"] = quintile(g["monetary"])
    return g


def pandas_vectorised(df: pd.DataFrame) -> pd.DataFrame:
    ts = pd.Timestamp(AS_OF)
    g = df.groupby("customer_id", sort=False).agg(last=("ordered_at", "max"), frequency=("order_id", "size"),
                                                   monetary=("total", "sum"))
    g["recency"] = (ts - g.pop("last").dt.normalize()).dt.days  # calendar days, as regulars counts them
    g["r"] = quintile(g["recency"], ascending=False)
    g["f"] = quintile(g["frequency"])
    g["m"] = quintile(g["monetary"])
    return g


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tutorial-customers", type=int, default=None)
    ap.add_argument("--workspace", default="/tmp/regulars-bench/rfm.duckdb")
    ap.add_argument("--fresh", action="store_true")
    args = ap.parse_args(argv)

    Path(args.workspace).parent.mkdir(parents=True, exist_ok=True)
    ws = build(args.workspace, args.orders, args.customers, fresh=args.fresh)
    cfg = load_config()
    expr = rfm(ws, AS_OF, cfg)
    ours_s, ours_c, ours = best(lambda: ws.ibis.to_pyarrow(expr), args.repeat)
    with_build_s, with_build_c, _ = best(lambda: ws.ibis.to_pyarrow(rfm(ws, AS_OF, cfg)), args.repeat)

    t, c = time.perf_counter(), time.process_time()
    df = ws.sql("SELECT order_id, customer_id, ordered_at, total::DOUBLE AS total FROM orders "
                "WHERE total > 0 AND status <> 'cancelled' AND ordered_at < ?", [AS_OF])
    load_s, load_c = time.perf_counter() - t, time.process_time() - c
    vec_s, vec_c, vec = best(lambda: pandas_vectorised(df), args.repeat)

    sub, scale = df, 1.0
    if args.tutorial_customers and args.tutorial_customers < args.customers:
        keep = df["customer_id"].isin(df["customer_id"].drop_duplicates().iloc[: args.tutorial_customers])
        sub, scale = df[keep], args.customers / args.tutorial_customers
    t, c = time.perf_counter(), time.process_time()
    pandas_tutorial(sub)
    tut_s, tut_c = (time.perf_counter() - t) * scale, (time.process_time() - c) * scale

    assert len(ours) == len(vec), (len(ours), len(vec))
    ours_df = ours.to_pandas().set_index("customer_id").sort_index()
    vec = vec.sort_index()
    same_fr = (np.array_equal(ours_df["frequency"].to_numpy(), vec["frequency"].to_numpy())
               and np.array_equal(ours_df["recency_days"].to_numpy(), vec["recency"].to_numpy()))

    rows = [
        ("regulars rfm() on DuckDB (expression prebuilt)", ours_s, ours_c),
        ("regulars rfm() incl. building the expression", with_build_s, with_build_c),
        ("pandas vectorised groupby + qcut", vec_s, vec_c),
        ("pandas tutorial groupby(lambda) + qcut" + (" (scaled)" if scale != 1 else ""), tut_s, tut_c),
        ("  (load orders into pandas, not in the pandas times)", load_s, load_c),
    ]
    print(f"\nRFM on {args.orders:,} orders / {len(ours):,} scored customers (best of {args.repeat} after warm-up)")
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall time grows with it, CPU time does not)")
    print(f"{'approach':58s} {'wall s':>8s} {'x ours':>7s} {'CPU s':>8s} {'x ours':>7s}")
    for name, s, c in rows:
        print(f"{name:58s} {s:8.3f} {s / ours_s:7.1f} {c:8.3f} {c / ours_c:7.1f}")
    print(f"recency and frequency identical to vectorised pandas: {same_fr}")
    print(f"target <= 0.5 s: {'met' if ours_s <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
