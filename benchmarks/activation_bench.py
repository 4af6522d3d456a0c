"""Benchmark: activation at scale (targets from issue 18).

1. **Journeys**: every shipped journey approved, 1M customers (4 years of orders, two months of web
   events, a segment refresh, replenishment predictions); a batch of 10,000 new events arrives; one
   runner round (triggers of all journeys, due steps, topics, schedules) must take <= 5 s.
   Reference: one scan of the whole events table (``count(DISTINCT customer_id)``).
2. **E-mail**: 10,000 cart reminders due at once, sent to a local SMTP server (aiosmtpd in its own
   process, discarding messages) through the send log and journal: <= 60 s. Reference: the same
   number of messages sent with bare ``smtplib`` over one connection.
3. **Webhooks**: added latency of a delivery (queue it, read it, sign it, POST it, record the
   attempt) over a bare ``httpx`` POST of the same body to the same local receiver: <= 100 ms.

Usage::

    python benchmarks/activation_bench.py [--customers 1000000] [--emails 10000] [--workspace /tmp/act.duckdb]

The shop is built with SQL once and reused (a copy is taken for each part so runs start equal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from regulars import Workspace
from regulars.data import journey_store, order_stats
from regulars.data.access import LocalAccess

NOW = dt.datetime(2025, 6, 2, 12, 0)   # the shop's "now": data ends here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(path: Path, customers: int) -> None:
    if path.exists():
        with Workspace(path) as ws:
            if ws.count("customers") == customers:
                return
        path.unlink()
    t = time.perf_counter()
    with Workspace(path) as ws:
        con = ws._con
        con.execute(f"""
            INSERT INTO customers (customer_id, email, phone, first_name, created_at, birth_date, country,
                                   accepts_email, accepts_sms)
            SELECT 'c' || lpad(i::VARCHAR, 8, '0'), 'c' || i || '@example.com', '+4915' || (10000000 + i),
                   'Name' || (i % 997), TIMESTAMP '2021-06-01' + to_seconds((hash(i, 1) % (1461 * 86400))::BIGINT),
                   DATE '1950-01-01' + to_days((hash(i, 2) % 20000)::INTEGER), 'DE',
                   hash(i, 3) % 10 < 7, hash(i, 4) % 10 < 3
            FROM range({customers}) r(i)""")
        con.execute(f"""
            INSERT INTO orders (order_id, customer_id, ordered_at, status, total)
            SELECT 'o' || i, 'c' || lpad((hash(i, 10) % {customers})::VARCHAR, 8, '0'),
                   TIMESTAMP '2021-06-01' + to_seconds((hash(i, 11) % (1461 * 86400))::BIGINT), 'paid',
                   ((1 + hash(i, 13) % 20000) / 100.0)::DECIMAL(18, 2)
            FROM range({customers * 3}) r(i)""")
        con.execute(f"""
            INSERT INTO events (event_id, customer_id, session_id, event_type, occurred_at, product_id)
            SELECT 'v' || i, 'c' || lpad((hash(i, 20) % {customers})::VARCHAR, 8, '0'), 's' || (i // 4),
                   ['page_view', 'product_view', 'add_to_cart', 'page_view', 'purchase'][(hash(i, 21) % 5)::INTEGER + 1],
                   TIMESTAMP '{NOW - dt.timedelta(days=60)}' + to_seconds((hash(i, 22) % (60 * 86400 - 7200))::BIGINT),
                   'p' || (hash(i, 23) % 500)
            FROM range({customers * 5}) r(i)""")
        con.execute(f"INSERT INTO products (product_id, name) SELECT 'p' || i, 'Product ' || i FROM range(500) r(i)")
        con.execute("INSERT INTO segment_refreshes VALUES (1, ?, ?, 'duckdb', 1, 0, 0, '{}')",
                    [NOW - dt.timedelta(days=1), (NOW - dt.timedelta(days=1)).date()])
        con.execute(f"""INSERT INTO segment_memberships SELECT CASE WHEN hash(i, 30) % 10 < 2 THEN 'spend:high'
                        ELSE 'spend:low' END, 'c' || lpad(i::VARCHAR, 8, '0'), 0, 1, ? FROM range({customers}) r(i)""",
                    [(NOW - dt.timedelta(days=1)).date()])
        con.execute("INSERT INTO replenishments (customer_id, product_id, as_of, product_name, due_date) "
                    f"SELECT 'c' || lpad(i::VARCHAR, 8, '0'), 'p1', ?, 'Beans', ? + to_days((hash(i, 40) % 30)::INTEGER) "
                    f"FROM range(0, {customers}, 10) r(i)", [NOW.date(), NOW.date()])
        order_stats.rebuild(con)
    print(f"built a shop of {customers:,} customers in {time.perf_counter() - t:.0f}s")


def copy(src: Path, name: str) -> Path:
    dst = src.with_name(name)
    if dst.exists():
        dst.unlink()
    shutil.copy(src, dst)
    return dst


def settings(ws, **values) -> None:
    from regulars.activation.settings import validate
    from regulars.data import activation_store

    with ws.transaction():
        activation_store.write_settings(ws, validate(values), "bench")


def approve_all(ws) -> None:
    from regulars.jobs.journeys import install_templates

    with ws.transaction():
        install_templates(ws)
        for j in journey_store.list_journeys(ws):
            journey_store.set_status(ws, j["journey_id"], "approved", "bench")


def smtp_server() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                             "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, port


def journeys_part(base: Path) -> None:
    from regulars.jobs.activation import Runner

    path = copy(base, "journeys.duckdb")
    with Workspace(path) as ws:
        settings(ws, quiet_hours="", max_lateness_hours=12)
        approve_all(ws)
        clock = [NOW]
        runner = Runner(LocalAccess(ws), lambda: clock[0])
        runner.run_once()                                   # settle: the backlog of the last 48 hours enters
        t = time.perf_counter()
        ref = ws._con.execute("SELECT count(DISTINCT customer_id) FROM events").fetchall()
        reference = time.perf_counter() - t
        n = ws.count("customers")
        ws._con.execute(f"""
            INSERT INTO events (event_id, customer_id, session_id, event_type, occurred_at, product_id)
            SELECT 'new' || i, 'c' || lpad((hash(i, 50) % {n})::VARCHAR, 8, '0'), 'ns' || (i // 3),
                   ['page_view', 'add_to_cart', 'product_view'][(i % 3)::INTEGER + 1],
                   TIMESTAMP '{NOW}' + to_seconds((i % 300)::BIGINT), 'p' || (i % 500)
            FROM range(10000) r(i)""")
        clock[0] = NOW + dt.timedelta(minutes=5)
        times = []
        for _ in range(1):
            t = time.perf_counter()
            out = runner.run_once()
            times.append(time.perf_counter() - t)
        runner.close()
        entered = sum(out["enrolled"].values())
    print(f"journeys: one round over {n:,} customers after 10,000 new events: {times[0]:.2f}s (target <= 5 s); "
          f"{entered:,} entered, steps {dict(out['steps'])}; reference full events scan {reference:.2f}s "
          f"(ratio {times[0] / reference:.1f}x); phases {out['timings']}")


def emails_part(base: Path, n_emails: int) -> None:
    from regulars.jobs.activation import Runner

    path = copy(base, "emails.duckdb")
    proc, port = smtp_server()
    try:
        body = "Hello Name1,\n\nyou left Product 1 in your cart at My shop. It is still there for you.\n"
        t = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as s:
            for i in range(n_emails):
                s.sendmail("shop@example.com", [f"c{i}@example.com"],
                           f"From: shop@example.com\r\nTo: c{i}@example.com\r\nSubject: x\r\n\r\n{body}")
        reference = time.perf_counter() - t
        with Workspace(path) as ws:
            settings(ws, quiet_hours="", cap_per_day=0, cap_per_week=0, smtp_host="127.0.0.1", smtp_port=port,
                     mail_from="shop@example.com")
            ws._con.execute("UPDATE customers SET accepts_email = TRUE")
            with ws.transaction():
                from regulars.jobs.journeys import install_templates

                install_templates(ws)
                journey_store.set_status(ws, "cart_abandonment", "approved", "bench")
            holdout_pad = int(n_emails / 0.9) + 50
            ws._con.execute("DELETE FROM events WHERE event_type IN ('add_to_cart', 'purchase')")
            ws._con.execute(f"""
                INSERT INTO events (event_id, customer_id, session_id, event_type, occurred_at, product_id)
                SELECT 'cart' || i, 'c' || lpad(i::VARCHAR, 8, '0'), 'cs' || i, 'add_to_cart',
                       TIMESTAMP '{NOW - dt.timedelta(minutes=61)}', 'p1' FROM range({holdout_pad}) r(i)""")
            ws._con.execute("DELETE FROM orders WHERE ordered_at > ?", [NOW - dt.timedelta(hours=2)])
            runner = Runner(LocalAccess(ws), lambda: NOW)
            t = time.perf_counter()
            out = runner.run_once()
            took = time.perf_counter() - t
            runner.close()
            sent = ws.sql("SELECT count(*) AS n FROM journey_sends WHERE status = 'sent' AND channel = 'email'")["n"][0]
    finally:
        proc.terminate()
        proc.wait()
    print(f"e-mail: {sent:,} reminders through the send log to a local SMTP server in {took:.1f}s "
          f"(target <= 60 s; {sent / took:,.0f}/s, includes entering {sum(out['enrolled'].values()):,} customers); "
          f"bare smtplib reference for {n_emails:,}: {reference:.1f}s (ratio {took / reference * n_emails / max(sent, 1):.2f}x "
          f"per message); phases {out['timings']}")


RECEIVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def webhooks_part(base: Path, n: int = 200) -> None:
    import httpx

    from regulars.activation.webhooks import body_for
    from regulars.data import webhook_store
    from regulars.jobs.activation import deliver_webhooks, emit, load_settings

    path = copy(base, "webhooks.duckdb")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    url = f"http://127.0.0.1:{port}/hook"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        with Workspace(path) as ws, httpx.Client(timeout=10) as client:
            db = LocalAccess(ws)
            with ws.transaction():
                webhook_store.add_subscription(ws, "bench", url, "whsec_bench", ["alert.fired"], {}, 8, "bench")
            s = load_settings(ws)
            payload = {"key": "traffic_drop", "message": "sessions of the last 7 days fell 40%"}
            body = body_for("x", "alert.fired", payload, NOW)
            bare, ours = [], []
            for i in range(n):
                t = time.perf_counter()
                client.post(url, content=body, headers={"Content-Type": "application/json"})
                bare.append(time.perf_counter() - t)
                t = time.perf_counter()
                db.write(lambda w, i=i: emit(w, "alert.fired", f"bench-{i}", payload, NOW))
                deliver_webhooks(db, s, client, lambda: NOW + dt.timedelta(seconds=1))
                ours.append(time.perf_counter() - t)
    finally:
        proc.terminate()
        proc.wait()
    b, o = statistics.median(bare) * 1000, statistics.median(ours) * 1000
    p95 = sorted(ours)[int(0.95 * n)] * 1000 - sorted(bare)[int(0.95 * n)] * 1000
    print(f"webhooks: bare POST {b:.1f} ms, queued + signed + delivered + logged {o:.1f} ms (median of {n}): "
          f"added latency {o - b:.1f} ms (target <= 100 ms; p95 added {p95:.1f} ms)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--emails", type=int, default=10_000)
    ap.add_argument("--workspace", default="/tmp/activation-bench/shop.duckdb")
    ap.add_argument("--only", choices=["journeys", "emails", "webhooks"], default=None)
    args = ap.parse_args()
    base = Path(args.workspace)
    base.parent.mkdir(parents=True, exist_ok=True)
    build(base, args.customers)
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    if args.only in (None, "journeys"):
        journeys_part(base)
    if args.only in (None, "emails"):
        emails_part(base, args.emails)
    if args.only in (None, "webhooks"):
        webhooks_part(base)
    print(f"load: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
