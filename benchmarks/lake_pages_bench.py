"""The dashboard and API on a lake workspace against the same shop as a DuckDB workspace (issue 21, item 6).

Builds a demo shop (``--customers``, with its analyses: predictions, segments) as a DuckDB
workspace, promotes it to a lake, and puts the same results into the lake's results: by default
the DuckDB workspace's own, written with :class:`regulars.data.lake_results.ResultsWrite` (so
both serve the same numbers, which the benchmark checks); with ``--spark`` the lake's results are
made by ``regulars predict/segments refresh/kpis --engine spark`` instead (much slower to set up).
The lake workspace is a copy of the workspace file with its result tables emptied: every score,
segment and KPI it shows comes from the lake.

Each variant is served by uvicorn on 127.0.0.1 (in this process); every route is timed on its
first request (computed: nothing cached in memory or stored yet) and then warm (median of
``--repeat`` requests; the server's report cache answers). Prints each route's times and the
ratio lake / DuckDB.

Usage::

    python benchmarks/lake_pages_bench.py [--customers 3000] [--repeat 5] [--spark]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from regulars import Workspace  # noqa: E402
from regulars.data import auth  # noqa: E402

ROUTES = ["/api/kpis", "/api/kpis?by=month", "/api/segments", "/api/predictions?limit=50",
          "/api/predictions?limit=50&sort=clv", "/api/predictions/{customer}",
          "/api/segments/rfm:loyal/members?limit=50", "/", "/segments", "/predictions"]
RESULT_TABLES = ("customer_predictions", "prediction_runs", "segment_memberships", "segment_sizes",
                 "segment_refreshes", "segment_history")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _results_from_workspace(ws, lake: Path) -> None:
    """The DuckDB workspace's predictions, segments and KPIs written into the lake's results."""
    from regulars.data.lake_results import RESULT_SETS, ResultsWrite, write_kpi_report
    from regulars.data.rows import jsonable
    from regulars.reports.kpis import kpis

    for name, (tables, _) in RESULT_SETS.items():
        with ResultsWrite(lake, name) as out:
            for table in tables:
                columns = [(c, t) for c, t in ws.sql(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                    "AND table_schema = 'main' ORDER BY ordinal_position", [table]).itertuples(index=False)]
                out.add_frame(table, ws.sql(f'SELECT * FROM "{table}"'), columns)
            as_of = ws.sql(f"SELECT max(as_of) AS d FROM {tables[0] if name == 'predictions' else 'segment_refreshes'}"
                           )["d"].iloc[0]
            out.commit(as_of=as_of, run_id="from-the-duckdb-workspace")
    for by in (None, "month"):
        write_kpi_report(lake, by, jsonable(kpis(ws, by=by).to_dict()))


def _results_on_spark(path: Path, lake: Path) -> None:
    import subprocess

    env = {**os.environ, "REGULARS_LAKE": str(lake), "PYTHONPATH": str(ROOT / "src")}
    for args in (["predict"], ["segments", "refresh"], ["kpis"], ["kpis", "--by", "month"]):
        subprocess.run([sys.executable, "-m", "regulars.cli.main", *args, "--engine", "spark", "--json",
                        "--workspace", str(path)], env=env, check=True, capture_output=True)


def _serve(path: Path, lake: Path | None):
    from regulars.api import Settings, create_app

    with Workspace(path) as ws, ws.transaction():
        key = auth.create_key(ws, "analyst", name="bench", created_by="bench")[1]
    if lake is None:
        os.environ.pop("REGULARS_LAKE", None)
    else:
        os.environ["REGULARS_LAKE"] = str(lake)
    port = _port()
    app = create_app(Settings(workspace=path, port=port, warm_reports=False, warm_profiles=False))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600,
                                        headers={"Authorization": f"Bearer {key}"})


def _time(path: Path, lake: Path | None, customer: str, repeat: int) -> tuple[dict, dict]:
    server, thread, client = _serve(path, lake)
    times, bodies = {}, {}
    try:
        for route in ROUTES:
            url = route.format(customer=customer)
            start = time.perf_counter()
            response = client.get(url)
            first = time.perf_counter() - start
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
            warm = []
            for _ in range(repeat):
                start = time.perf_counter()
                client.get(url)
                warm.append(time.perf_counter() - start)
            times[route] = (first, statistics.median(warm))
            bodies[route] = response.json() if url.startswith("/api") else None
    finally:
        server.should_exit = True
        thread.join(30)
        client.close()
    return times, bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spark", action="store_true", help="make the lake's results on Spark")
    args = parser.parse_args()
    from regulars.data.lake import promote
    from regulars.jobs.demo import run_demo

    folder = Path(tempfile.mkdtemp(prefix="lake-pages-bench-"))
    try:
        duck, lakews, lake = folder / "duck.duckdb", folder / "lake.duckdb", folder / "warehouse"
        t = time.perf_counter()
        with Workspace(duck) as ws:
            run_demo(ws, customers=args.customers, seed=1)
        print(f"demo shop of {args.customers:,} customers with its analyses: {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        with Workspace(duck, read_only=True) as ws:
            promote(ws, lake)
            if not args.spark:
                _results_from_workspace(ws, lake)
        shutil.copy(duck, lakews)
        with Workspace(lakews) as ws, ws.transaction():
            for table in RESULT_TABLES:  # every result shown on the lake workspace comes from the lake
                ws._con.execute(f"DELETE FROM {table}")
        if args.spark:
            _results_on_spark(lakews, lake)
        print(f"lake and its results ({'Spark' if args.spark else 'from the DuckDB workspace'}): "
              f"{time.perf_counter() - t:.0f} s")
        with Workspace(duck, read_only=True) as ws:
            customer = ws.sql("SELECT customer_id FROM customer_predictions ORDER BY clv DESC LIMIT 1").iloc[0, 0]
        ours, duck_bodies = _time(duck, None, customer, args.repeat)
        theirs, lake_bodies = _time(lakews, lake, customer, args.repeat)
        if not args.spark:
            for route in ("/api/segments", "/api/predictions?limit=50", "/api/kpis?by=month"):
                a, b = duck_bodies[route], lake_bodies[route]
                key = "items" if "items" in a else "rows"
                assert a[key] == b[key], f"{route}: the lake workspace shows other numbers"
        print(f"\n{'route':45} {'duckdb first':>12} {'lake first':>11} {'ratio':>6}   {'duckdb warm':>11} "
              f"{'lake warm':>10} {'ratio':>6}")
        for route in ROUTES:
            (df, dw), (lf, lw) = ours[route], theirs[route]
            print(f"{route:45} {df * 1000:10.1f}ms {lf * 1000:9.1f}ms {lf / df:6.2f}   {dw * 1000:9.1f}ms "
                  f"{lw * 1000:8.1f}ms {lw / dw:6.2f}")
        first = sum(v[0] for v in theirs.values()) / sum(v[0] for v in ours.values())
        print(f"\nall routes, first request: lake / DuckDB = {first:.2f}; load: {os.getloadavg()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
