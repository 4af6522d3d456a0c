"""Benchmark: recommendations and next best actions on a large shop.

Targets (1M customers, ~10M order lines): fit every recommender <= 60 s and <= 4 GB;
``regulars recommend --all --k 10`` <= 60 s; one customer's recommendations through the API
p99 <= 50 ms at 100 requests/s; next actions for every customer <= 30 s.

Usage::

    python benchmarks/recommend_bench.py [--customers 1000000] [--workspace /tmp/rec-bench.duckdb]
                                         [--rate 100] [--duration 30] [--skip-api] [--mlxtend]
                                         [--skip-evaluate]

The shop is the vectorised synthetic one of ``benchmarks/predict_synth.py`` (one line per order,
a staple product re-bought by 40 % of the customers), enriched here for recommendations: a second
line on 40 % of the orders (a complementary product, so pairs exist), categories, brands, prices
and a few inactive products, product ids on product views and cart adds. It is built once and
reused. Each measured step runs in a child process so its peak memory (``VmHWM``) is its own.
The reference, in a child of its own, reads the order lines joined to their orders into pandas:
the floor of any Python analysis of these purchases; every step is printed as a ratio of it.
With ``--mlxtend``, ``mlxtend``'s apriori (pairs only) is timed on a sample of the baskets
against our sparse pair counts on the same sample, and their supports compared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

PEAK = r"""
import resource
def peak_gb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
def cpu_s():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
"""

REFERENCE = PEAK + r"""
import json, sys, time
from regulars import Workspace
ws = Workspace(sys.argv[1], memory_limit="4GB")
t = time.perf_counter()
df = ws.sql("SELECT o.customer_id, l.product_id, o.ordered_at FROM order_lines l JOIN orders o USING (order_id)")
print(json.dumps({"seconds": time.perf_counter() - t, "rows": len(df), "peak_gb": peak_gb(), "cpu_s": cpu_s()}))
"""

FIT = PEAK + r"""
import json, sys, time
from regulars import Workspace
from regulars.data.as_of import ORDERS, resolve_as_of
from regulars.jobs.recommend import fit, load_inputs
ws = Workspace(sys.argv[1], memory_limit="2GB")
as_of = resolve_as_of(ws, basis=ORDERS)
t = time.perf_counter()
inputs = load_inputs(ws, as_of)
load = time.perf_counter() - t
ws.release_memory()
t = time.perf_counter()
hybrid, popularity = fit(inputs)
fit_s = time.perf_counter() - t
print(json.dumps({"seconds": load + fit_s, "load_s": load, "fit_s": fit_s, "peak_gb": peak_gb(), "cpu_s": cpu_s(),
                  "customers": int(inputs.matrix.n_customers), "products": int(inputs.matrix.n_products),
                  "interactions": int(inputs.matrix.weights.nnz), "rules": int(len(hybrid.parts_["together"].rules_))}))
"""

EVALUATE = PEAK + r"""
import json, sys, time
from regulars import Workspace
from regulars.jobs.recommend_eval import evaluate
ws = Workspace(sys.argv[1], memory_limit="2GB")
t = time.perf_counter()
r = evaluate(ws)
print(json.dumps({"seconds": time.perf_counter() - t, "served": r.served, "peak_gb": peak_gb(),
                  "recall": {k: round(v["recall"], 4) for k, v in r.metrics.items()}}))
"""

RECOMMEND_ALL = PEAK + r"""
import json, sys, time
from regulars import Workspace
from regulars.jobs.recommend import recommend
ws = Workspace(sys.argv[1], memory_limit="2GB")
t = time.perf_counter()
r = recommend(ws, k=10, evaluate_if_missing=False)
print(json.dumps({"seconds": time.perf_counter() - t, "timings": r.timings, "rows": r.rows, "served": r.served,
                  "peak_gb": peak_gb(), "cpu_s": cpu_s()}))
"""

NEXT_ACTIONS = PEAK + r"""
import json, sys, time
from regulars import Workspace
from regulars.jobs.next_actions import next_actions
ws = Workspace(sys.argv[1], memory_limit="2GB")
t = time.perf_counter()
r = next_actions(ws)
print(json.dumps({"seconds": time.perf_counter() - t, "timings": r.timings, "counts": r.counts, "peak_gb": peak_gb(), "cpu_s": cpu_s()}))
"""


def child(code: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=os.environ.copy())
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    # DuckDB may draw a progress bar on the same stream: the result is the last line that is JSON
    lines = out.stdout.replace("\r", "\n").splitlines()
    return json.loads(next(line for line in reversed(lines) if line.startswith("{")))


def cpu(step: dict, ref: dict) -> str:
    """CPU seconds of a step's process and their ratio to the reference's: on a loaded machine these move
    far less than wall-clock seconds (a process that waits for a core spends no CPU)."""
    return f"{step['cpu_s']:.1f} CPU-s = {step['cpu_s'] / ref['cpu_s']:.1f}x reference CPU"


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build(path: Path, customers: int) -> None:
    sys.path.insert(0, str(HERE))
    from predict_synth import synthesize_shop

    from regulars import Workspace
    from regulars.data import order_stats

    t = time.perf_counter()
    with Workspace(path) as ws:
        counts = synthesize_shop(ws, customers)
        con = ws._con
        # a complementary second line on 40% of the orders: product p comes with p + 100 (mod 200) or p + 1
        con.execute("""
            INSERT INTO order_lines (order_id, line_number, product_id, product_name, quantity, unit_price)
            SELECT order_id, 2, 'p' || ((CAST(substr(product_id, 2) AS INTEGER)
                                         + CASE WHEN hash(order_id) % 2 = 0 THEN 100 ELSE 1 END) % 200),
                   'Product ' || ((CAST(substr(product_id, 2) AS INTEGER)
                                   + CASE WHEN hash(order_id) % 2 = 0 THEN 100 ELSE 1 END) % 200), 1, 9.5
            FROM order_lines WHERE line_number = 1 AND hash(order_id || 'x') % 10 < 4""")
        con.execute("""
            UPDATE products SET category = 'category ' || (CAST(substr(product_id, 2) AS INTEGER) % 10),
                   brand = 'brand ' || (CAST(substr(product_id, 2) AS INTEGER) % 7),
                   price = 5 + CAST(substr(product_id, 2) AS INTEGER) % 40,
                   is_active = CAST(substr(product_id, 2) AS INTEGER) % 25 <> 7,
                   name = 'Product ' || substr(product_id, 2) || ' ' || (['roast', 'blend', 'tea', 'mug', 'kettle'])
                          [1 + CAST(substr(product_id, 2) AS INTEGER) % 5]""")
        con.execute("""
            UPDATE events SET product_id = 'p' || (hash(event_id) % 200)
            WHERE event_type IN ('product_view', 'add_to_cart')""")
        order_stats.rebuild(con)
        lines = con.execute("SELECT count(*) FROM order_lines").fetchall()[0][0]
    print(f"built {path}: {counts}, {lines:,} order lines in {time.perf_counter() - t:.0f}s")


def predict(path: Path) -> None:
    """Predictions first (next actions and rules read them), as `regulars predict` would."""
    code = PEAK + r"""
import json, sys, time
from regulars import Workspace
from regulars.jobs.predict import predict
ws = Workspace(sys.argv[1], memory_limit="4GB")
t = time.perf_counter(); predict(ws); print(json.dumps({"seconds": time.perf_counter() - t}))
"""
    print(f"predictions (setup, not measured here): {child(code, str(path))['seconds']:.0f}s")


def api_p99(path: Path, rate: float, duration: float) -> dict:
    import asyncio
    import random

    import httpx

    sys.path.insert(0, str(HERE))
    from api_load import free_port, pct

    from regulars import Workspace
    from regulars.data import auth

    with Workspace(path) as ws:
        with ws.transaction():
            _key, secret = auth.create_key(ws, "viewer", name="recommend bench", created_by="benchmark")
        ids = [r[0] for r in ws._con.execute("SELECT customer_id FROM customers USING SAMPLE 20000 ROWS").fetchall()]
    port = free_port()
    env = {**os.environ, "REGULARS_WARM_PROFILES": "0", "REGULARS_WARM_REPORTS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "regulars.api", "--workspace", str(path), "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/api/status", headers=headers, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise SystemExit("server did not start")

        async def run() -> dict:
            latencies, errors = [], 0
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30,
                                         limits=httpx.Limits(max_connections=64)) as client:
                await asyncio.gather(*[client.get(f"/api/customers/{ids[i]}/recommendations") for i in range(32)])
                n = int(rate * duration)
                server_cpu = proc_cpu_s(proc.pid)
                t0 = time.perf_counter() + 0.2

                async def one(i: int) -> None:
                    nonlocal errors
                    due = t0 + i / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    r = await client.get(f"/api/customers/{random.choice(ids)}/recommendations")
                    if r.status_code == 200 and r.json()["items"]:
                        latencies.append((time.perf_counter() - due) * 1000)
                    else:
                        errors += 1

                await asyncio.gather(*[one(i) for i in range(n)])
                server_cpu = proc_cpu_s(proc.pid) - server_cpu
            return {"requests": n, "errors": errors, "server_cpu_ms_per_request": round(server_cpu / n * 1000, 2), "p50_ms": round(pct(latencies, 50), 2),
                    "p90_ms": round(pct(latencies, 90), 2), "p99_ms": round(pct(latencies, 99), 2),
                    "max_ms": round(max(latencies), 2) if latencies else None}

        return asyncio.run(run())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def mlxtend_compare(path: Path, sample_orders: int = 200_000) -> dict:
    """Pairs from ``sample_orders`` baskets: our sparse counts vs mlxtend apriori (max_len 2)."""
    import pandas as pd
    from mlxtend.frequent_patterns import apriori
    from mlxtend.preprocessing import TransactionEncoder

    from regulars import Workspace
    from regulars.recommend.together import association_rules

    with Workspace(path, read_only=True) as ws:
        baskets = ws.sql(f"SELECT hash(order_id) AS basket, product_id FROM order_lines WHERE order_id IN "
                         f"(SELECT order_id FROM orders USING SAMPLE {sample_orders} ROWS)")
    t = time.perf_counter()
    ours = association_rules(baskets, min_baskets=1)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    items = baskets.groupby("basket")["product_id"].apply(list).tolist()
    enc = TransactionEncoder()
    onehot = pd.DataFrame(enc.fit(items).transform(items), columns=enc.columns_)
    frequent = apriori(onehot, min_support=1 / len(items), max_len=2, use_colnames=True)
    theirs_s = time.perf_counter() - t
    pairs = frequent[frequent["itemsets"].map(len) == 2]
    support = {tuple(sorted(s)): v for s, v in zip(pairs["itemsets"], pairs["support"])}
    mine = {tuple(sorted((a, b))): v for a, b, v in zip(ours["antecedent"], ours["consequent"], ours["support"])}
    worst = max((abs(support[k] - mine.get(k, 0.0)) for k in support), default=0.0)
    return {"baskets": len(items), "ours_s": round(ours_s, 3), "mlxtend_s": round(theirs_s, 3),
            "ratio": round(theirs_s / max(ours_s, 1e-9), 1), "pairs": len(support), "max_support_diff": worst}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--workspace", default="/tmp/rec-bench.duckdb")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--skip-api", action="store_true")
    ap.add_argument("--mlxtend", action="store_true")
    ap.add_argument("--skip-evaluate", action="store_true", help="Skip the offline evaluation (not a target).")
    ap.add_argument("--only-api", action="store_true", help="Only the API latency (on a shop already built and run).")
    args = ap.parse_args()
    path = Path(args.workspace)
    if args.only_api:
        print(f"load: {os.getloadavg()}")
        print(f"API one customer's recommendations at {args.rate:.0f} req/s for {args.duration:.0f}s: "
              f"{json.dumps(api_p99(path, args.rate, args.duration))} [target p99 <= 50 ms]; load {os.getloadavg()}")
        return
    if not path.exists():
        build(path, args.customers)
        predict(path)
    print(f"load: {os.getloadavg()}")
    ref = child(REFERENCE, str(path))
    print(f"reference (purchases into pandas): {ref['seconds']:.1f}s ({ref['cpu_s']:.1f} CPU-s), {ref['rows']:,} rows, "
          f"{ref['peak_gb']:.2f} GB")
    fit = child(FIT, str(path))
    print(f"fit all recommenders: {fit['seconds']:.1f}s (read {fit['load_s']:.1f}s + fit {fit['fit_s']:.1f}s) = "
          f"{fit['seconds'] / ref['seconds']:.1f}x reference, {cpu(fit, ref)}, peak {fit['peak_gb']:.2f} GB "
          f"[target <= 60 s, <= 4 GB]; {fit['customers']:,} customers, {fit['products']:,} products, "
          f"{fit['interactions']:,} interactions, {fit['rules']:,} rules")
    if not args.skip_evaluate:
        ev = child(EVALUATE, str(path))
        print(f"offline evaluation (fit at the cutoff, recommend to the buyers after it): {ev['seconds']:.1f}s, "
              f"peak {ev['peak_gb']:.2f} GB; serves {ev['served']}; recall@10 {json.dumps(ev['recall'])}")
    rec = child(RECOMMEND_ALL, str(path))
    print(f"recommend --all --k 10 (read, fit, recommend, write): {rec['seconds']:.1f}s = "
          f"{rec['seconds'] / ref['seconds']:.1f}x reference, {cpu(rec, ref)}, peak {rec['peak_gb']:.2f} GB [target <= 60 s]; "
          f"{rec['rows']}; steps {json.dumps({k: round(v, 1) for k, v in rec['timings'].items()})}")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "regulars.cli.main", "recommend", "--all", "--k", "10", "--format", "csv",
                          "--workspace", str(path)], capture_output=True)
    lines = out.stdout.count(b"\n")
    print(f"regulars recommend --all --k 10 --format csv (stored, to stdout): {time.perf_counter() - t:.1f}s, "
          f"{lines - 1:,} rows")
    nba = child(NEXT_ACTIONS, str(path))
    print(f"next actions for every customer: {nba['seconds']:.1f}s = {nba['seconds'] / ref['seconds']:.1f}x reference, {cpu(nba, ref)}, "
          f"peak {nba['peak_gb']:.2f} GB [target <= 30 s]; {json.dumps(nba['counts'])}")
    if not args.skip_api:
        api = api_p99(path, args.rate, args.duration)
        print(f"API one customer's recommendations at {args.rate:.0f} req/s for {args.duration:.0f}s: {json.dumps(api)} "
              "[target p99 <= 50 ms]")
    if args.mlxtend:
        print(f"bought together, ours vs mlxtend apriori: {json.dumps(mlxtend_compare(path))}")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
