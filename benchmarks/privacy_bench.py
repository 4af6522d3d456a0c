"""Benchmark: what the privacy hardening of issue 13 costs, each figure next to a reference in the same run.

Run:
  python benchmarks/privacy_bench.py                    # 20,000-customer demo shop
  python benchmarks/privacy_bench.py --customers 5000   # a quicker look

1. **erasure** (``regulars.data.erasure.forget``) on a copy of the demo shop: the delete transaction and
   the file rewrite (``data/scrub.py``) timed apart; reference: copying the workspace file with
   ``shutil.copyfile`` (the least any rewrite costs) and a ``FORCE CHECKPOINT``.
2. **ingest with a suppression list**: the demo orders file loaded into two copies of the shop, one
   with an empty suppression list and one with 1,000 suppressed identifiers (every row's identifiers
   hashed and compared); the ratio is the overhead.
3. **events during an upload** (``SharedWorkspace``, in process): latency of single posted events
   (post answered and the event readable) with an idle writer (reference), then while a large orders
   upload holds the writer: p50 and max, and how many were posted during the upload.

Prints one line per figure; the machine load is printed first (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from regulars import Workspace  # noqa: E402
from regulars.data import suppression  # noqa: E402
from regulars.data.erasure import forget  # noqa: E402
from regulars.data.ingest.pipeline import ingest  # noqa: E402
from regulars.data.realtime import SharedWorkspace  # noqa: E402
from regulars.demo import build_demo  # noqa: E402


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def erasure(base: Path, work: Path) -> None:
    path = work / "erase.duckdb"
    shutil.copyfile(base, path)
    _, copy_s = _timed(lambda: shutil.copyfile(base, work / "plain-copy.duckdb"))
    with Workspace(path) as ws:
        cid = ws._con.execute("SELECT customer_id FROM orders GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
        _, ckpt_s = _timed(lambda: ws._con.execute("FORCE CHECKPOINT"))
        record, delete_s = _timed(lambda: forget(ws, cid, rewrite=False))
        from regulars.data import scrub

        _, rewrite_s = _timed(lambda: scrub.rewrite(ws))
    size = path.stat().st_size / 1e6
    rows = sum(record["rows_deleted"].values())
    print(f"erasure: delete {delete_s:.2f}s ({rows} rows), file rewrite {rewrite_s:.2f}s for {size:.0f} MB; "
          f"reference: file copy {copy_s:.2f}s (rewrite = {rewrite_s / max(copy_s, 1e-3):.1f}x), "
          f"FORCE CHECKPOINT {ckpt_s:.2f}s")


def suppressed_ingest(base: Path, work: Path, orders: Path) -> None:
    times = {}
    for label, n in (("empty list", 0), ("1,000 suppressed", 1000)):
        path = work / f"supp-{n}.duckdb"
        shutil.copyfile(base, path)
        with Workspace(path) as ws:
            ws._con.execute("DELETE FROM orders")  # the file loads as new rows in both copies
            if n:
                with ws.transaction():
                    suppression.add(ws, "bench", {"email": [f"gone{i}@example.org" for i in range(n // 2)],
                                                   "shop_id": [f"gone-{i}" for i in range(n // 2)]})
            result, secs = _timed(lambda: ingest(ws, "orders", [orders]))
        times[label] = secs
        print(f"ingest {result.rows_read:,} orders with {label}: {secs:.2f}s ({result.rows_read / secs:,.0f} rows/s)")
    print(f"suppression check overhead: {times['1,000 suppressed'] / times['empty list']:.2f}x")


def events_during_upload(base: Path, work: Path, orders: Path) -> None:
    path = work / "events.duckdb"
    shutil.copyfile(base, path)
    shared = SharedWorkspace(path)
    try:
        with shared.read() as ws:
            cid = ws._con.execute("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1").fetchall()[0][0]

        def post(i: int) -> float:
            t = time.perf_counter()
            shared.post_events([{"customer_id": cid, "event_type": "page_view", "event_id": f"bench-{i}"}])
            with shared.read() as ws:
                assert ws._con.execute("SELECT count(*) FROM events WHERE event_id = ?", [f"bench-{i}"]).fetchall()[0][0]
            return time.perf_counter() - t

        idle = [post(i) for i in range(20)]
        done = threading.Event()

        def upload():
            def run(ws):
                ws._con.execute("DELETE FROM orders")
                return ingest(ws, "orders", [orders])
            shared.write(run)
            done.set()

        t = threading.Thread(target=upload)
        started = time.perf_counter()
        t.start()
        busy, i = [], 100
        while not done.is_set():
            busy.append(post(i))
            i += 1
            time.sleep(0.1)
        t.join()
        took = time.perf_counter() - started
        print(f"event post-to-readable, idle writer: p50 {statistics.median(idle) * 1000:.0f} ms, "
              f"max {max(idle) * 1000:.0f} ms (reference)")
        print(f"... during a {took:.1f}s upload: {len(busy)} events, p50 {statistics.median(busy) * 1000:.0f} ms, "
              f"max {max(busy) * 1000:.0f} ms (target 2,000 ms; without the fast lane an event waits for the "
              f"whole upload: up to {took * 1000:,.0f} ms)")
        shared.wait_idle(120)
    finally:
        shared.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="privacy-bench-") as tmp:
        work = Path(tmp)
        base = work / "demo.duckdb"
        files = work / "files"
        with Workspace(base) as ws:
            _, secs = _timed(lambda: build_demo(ws, n_customers=args.customers, keep_files_in=files))
        print(f"demo shop with {args.customers:,} customers built in {secs:.0f}s")
        orders = next(p for p in files.iterdir() if "orders" in p.name and "lines" not in p.name)
        erasure(base, work)
        suppressed_ingest(base, work, orders)
        events_during_upload(base, work, orders)


if __name__ == "__main__":
    main()
