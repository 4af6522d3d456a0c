"""Load benchmark of the server on the demo shop: profile lookups, event throughput and latency, page loads.

Runs ``python -m regulars.api`` in a subprocess on a copy of a demo workspace
(built with ``regulars.demo.build_demo`` into ``bench-data/`` when missing) and
drives it over loopback:

1. **profile lookups**: ``GET /api/customers/{id}`` for random customers at a
   constant arrival rate (open loop: a late answer does not delay the next
   request, and latency counts from when the request was due), p50/p90/p99/max
   and errors; the reference is building the same profile directly with
   :func:`regulars.reports.customers.customer_profile`, in this process;
2. **events**: sustained ``POST /api/events`` throughput in batches from
   concurrent clients, then event-to-profile latency (the event in the
   profile) and event-to-segment latency (the customer in
   ``engagement:cart_abandoner``);
3. **pages**: each dashboard page in Chromium (signed in), time to
   ``DOMContentLoaded`` and until every chart is drawn.

Usage::

    python benchmarks/api_load.py [--customers 20000] [--rate 200] [--duration 60] [--no-pages]

Client and server share this machine's cores, so the client's own cost is in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench-data"
PAGES = ["/", "/segments", "/customers", "/cohorts", "/funnel", "/predictions", "/data"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_workspace(customers: int, seed: int) -> Path:
    """A demo shop with segments and predictions, built once and reused."""
    from regulars import Workspace

    path = BENCH / f"demo-{customers}-{seed}.duckdb"
    if path.exists():
        return path
    BENCH.mkdir(exist_ok=True)
    from regulars.demo import build_demo

    started = time.perf_counter()
    with Workspace(path) as ws:
        build_demo(ws, n_customers=customers, seed=seed)
        try:
            from regulars.jobs.segments import refresh

            refresh(ws)
            from regulars.jobs.predict import predict

            predict(ws)
            from regulars.jobs.backtest import backtest

            backtest(ws)
        except ImportError as exc:  # a module of another area not installed: fewer pages have data
            print(f"note: {exc}")
    print(f"built {path.name} in {time.perf_counter() - started:.0f}s")
    return path


def start_server(source: Path) -> tuple[subprocess.Popen, str, str, Path, list[str]]:
    from regulars import Workspace
    from regulars.data import auth

    BENCH.mkdir(exist_ok=True)
    run = BENCH / "run.duckdb"
    for p in (run, Path(str(run) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copy(source, run)
    with Workspace(run) as ws:
        with ws.transaction():
            _key, secret = auth.create_key(ws, "admin", name="benchmark", created_by="benchmark")
        ids = [r[0] for r in ws._con.execute("SELECT customer_id FROM customers ORDER BY 1").fetchall()]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "regulars.api", "--workspace", str(run), "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {secret}"}
    started = time.perf_counter()
    while True:
        try:
            s = httpx.get(base + "/api/status", headers=headers, timeout=5).json()
            if not s["profiles"]["warming"] and not s.get("reports_warming") and s["profiles"]["cached_profiles"]:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read()}")
        time.sleep(0.5)
    print(f"server ready (profiles and reports warmed) in {time.perf_counter() - started:.1f}s: "
          f"{s['profiles']['cached_profiles']:,} profiles cached")
    return proc, base, secret, run, ids


def rss_mb(pid: int) -> float | None:
    """Resident memory of the server process (Linux /proc), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def pct(values, q) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# -- 1. profile lookups ---------------------------------------------------------------------------
async def open_loop(base: str, key: str, ids: list[str], rate: float, duration: float) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    latencies, service, errors = [], [], []
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        # warm the connection pool
        await asyncio.gather(*[client.get(f"/api/customers/{ids[i]}") for i in range(32)])
        n = int(rate * duration)
        t0 = time.perf_counter() + 0.2

        async def one(i: int) -> None:
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            try:
                r = await client.get(f"/api/customers/{random.choice(ids)}")
                ok = r.status_code == 200 and r.content[:1] == b"{"
            except httpx.HTTPError as exc:
                ok, r = False, exc
            done = time.perf_counter()
            if ok:
                latencies.append((done - due) * 1000)
                service.append((done - sent) * 1000)
            else:
                errors.append(getattr(r, "status_code", type(r).__name__))

        await asyncio.gather(*[one(i) for i in range(n)])
        elapsed = time.perf_counter() - t0
    return {"requests": n, "achieved_rate": round(n / elapsed, 1), "errors": len(errors),
            "p50_ms": round(pct(latencies, 50), 2), "p90_ms": round(pct(latencies, 90), 2),
            "p99_ms": round(pct(latencies, 99), 2), "max_ms": round(max(latencies), 2) if latencies else None,
            "service_p50_ms": round(pct(service, 50), 2), "service_p99_ms": round(pct(service, 99), 2)}


def reference_profile_ms(workspace: Path, ids: list[str], n: int = 30) -> float:
    """Building the same profile directly from the tables (no server, no cache), median ms."""
    from regulars import Workspace
    from regulars.reports.customers import customer_profile

    ref = BENCH / "ref.duckdb"
    shutil.copy(workspace, ref)
    times = []
    with Workspace(ref, read_only=True) as ws:
        for cid in ids[:n]:
            t = time.perf_counter()
            customer_profile(ws, cid)
            times.append((time.perf_counter() - t) * 1000)
    ref.unlink()
    return statistics.median(times)


# -- 2. events ------------------------------------------------------------------------------------
def event_throughput(base: str, key: str, ids: list[str], seconds: float = 20, batch: int = 1000,
                     clients: int = 4) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    sent, errors, lat = [0], [0], []
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker(w: int) -> None:
        rng = random.Random(w)
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            k = 0
            while time.perf_counter() < stop:
                events = [{"event_id": f"bench-{w}-{k}-{i}", "customer_id": rng.choice(ids),
                           "event_type": rng.choice(["page_view", "product_view", "search", "add_to_cart"]),
                           "page_url": "/bench", "session_id": f"bench-{w}-{k}"} for i in range(batch)]
                t = time.perf_counter()
                r = c.post("/api/events", content=json.dumps({"events": events}),
                           headers={"content-type": "application/json"})
                with lock:
                    lat.append((time.perf_counter() - t) * 1000)
                    if r.status_code == 200 and r.json()["new"] == batch:
                        sent[0] += batch
                    else:
                        errors[0] += 1
                k += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"events": sent[0], "seconds": round(elapsed, 1), "events_per_s": round(sent[0] / elapsed),
            "batch": batch, "clients": clients, "errors": errors[0],
            "batch_p50_ms": round(pct(lat, 50), 1), "batch_p99_ms": round(pct(lat, 99), 1)}


def wait_refresh_idle(base: str, key: str, timeout: float = 300) -> float:
    """Seconds until the real-time refresher has caught up after the throughput run."""
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        while time.perf_counter() - started < timeout and not c.get("/api/status").json().get("refresh_idle"):
            time.sleep(0.2)
    return round(time.perf_counter() - started, 1)


def event_latency(base: str, key: str, ids: list[str], n: int = 20) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    to_profile, to_segment = [], []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        for i in range(n):
            cid = ids[i]
            url = f"/bench/latency/{i}"
            t = time.perf_counter()
            c.post("/api/events", json={"customer_id": cid, "event_type": "page_view", "page_url": url})
            while url not in c.get(f"/api/customers/{cid}").text:
                time.sleep(0.005)
            to_profile.append((time.perf_counter() - t) * 1000)
        fresh = [f"bench-new-{i}" for i in range(n)]
        for cid in fresh:
            c.post("/api/events", json={"customer_id": cid, "event_type": "page_view"})  # create the customer
        time.sleep(2)
        for cid in fresh:
            t = time.perf_counter()
            c.post("/api/events", json={"events": [
                {"customer_id": cid, "session_id": f"{cid}-s", "event_type": "product_view", "product_id": "x"},
                {"customer_id": cid, "session_id": f"{cid}-s", "event_type": "add_to_cart", "product_id": "x"}]})
            deadline = t + 10
            while time.perf_counter() < deadline:
                segs = c.get(f"/api/customers/{cid}").json().get("segments", {}).get("current", [])
                if any(s["segment_id"] == "engagement:cart_abandoner" for s in segs):
                    to_segment.append((time.perf_counter() - t) * 1000)
                    break
                time.sleep(0.02)
    return {"event_to_profile_p50_ms": round(pct(to_profile, 50), 1),
            "event_to_profile_max_ms": round(max(to_profile), 1),
            "event_to_segment_p50_ms": round(pct(to_segment, 50), 1) if to_segment else None,
            "event_to_segment_max_ms": round(max(to_segment), 1) if to_segment else None,
            "segment_updates_seen": f"{len(to_segment)}/{n}"}


# -- 3. pages -------------------------------------------------------------------------------------
def page_loads(base: str, key: str, customer: str, repeats: int = 3) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("REGULARS_CHROMIUM", "/usr/bin/chromium")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(base + "/login")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/")
        for path in PAGES + [f"/customers/{customer}"]:
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                page.goto(base + path, wait_until="domcontentloaded")
                page.wait_for_function(
                    "document.body.dataset.ready === '1' && Array.from(document.querySelectorAll('[data-chart]'))"
                    ".every(e => e.dataset.drawn === '1')")
                times.append((time.perf_counter() - t) * 1000)
            out[path if not path.startswith("/customers/") or path == "/customers" else "/customers/{id}"] = {
                "first_ms": round(times[0]), "median_ms": round(statistics.median(times))}
        browser.close()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workspace", type=Path, help="use this workspace instead of building a demo shop")
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--no-pages", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)

    source = args.workspace or demo_workspace(args.customers, args.seed)
    proc, base, key, run, ids = start_server(source)
    results: dict = {"workspace": source.name}
    try:
        results["customers"] = len(ids)
        results["server_rss_mb_after_warmup"] = rss_mb(proc.pid)
        random.seed(1)
        results["profile_lookup"] = asyncio.run(open_loop(base, key, ids, args.rate, args.duration))
        results["profile_reference_direct_ms"] = round(reference_profile_ms(run, random.sample(ids, 30)), 1)
        results["events_throughput"] = event_throughput(base, key, ids)
        results["backlog_drained_s"] = wait_refresh_idle(base, key)
        results["event_latency"] = event_latency(base, key, random.sample(ids, 20))
        if not args.no_pages:
            results["pages"] = page_loads(base, key, ids[0])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
    pl = results["profile_lookup"]
    print(json.dumps(results, indent=2))
    print(f"\nprofile lookup at {pl['achieved_rate']}/s for {args.duration:.0f}s: p50 {pl['p50_ms']} ms, "
          f"p99 {pl['p99_ms']} ms, {pl['errors']} errors; building a profile directly takes "
          f"{results['profile_reference_direct_ms']} ms ({results['profile_reference_direct_ms'] / pl['p50_ms']:.0f}x "
          f"the served p50)")
    ev = results["events_throughput"]
    print(f"events: {ev['events_per_s']:,}/s sustained in batches of {ev['batch']} ({ev['errors']} errors); "
          f"event to profile p50 {results['event_latency']['event_to_profile_p50_ms']} ms, to segment p50 "
          f"{results['event_latency']['event_to_segment_p50_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
