"""Benchmark: a ~200 MB junk CSV loaded from the CLI and uploaded to a running server, peak memory.

Run:
  python benchmarks/junk_bench.py               # 200 MB of each kind of junk
  python benchmarks/junk_bench.py --mb 50       # a quicker look

Two kinds of junk (``tests/data/junk.py``):

* **structured junk**: rows of random text that mostly read as CSV (a quarter with a field
  missing, a few quoted line breaks): every row goes through the row-by-row rewrite, validation
  and the quarantine, the most work a load does per byte;
* **random text**: short random tokens with commas and quotes: refused after a few samples.

Each is loaded by ``regulars ingest`` in a child process (peak RSS of that process) and uploaded
to ``regulars serve`` running in another (peak RSS of the server, ``VmHWM``), with DuckDB's
default ingest cap (3 GB, ``$REGULARS_INGEST_MEMORY``). The reference is ``pandas.read_csv`` of
the same file (``on_bad_lines="skip"``: it drops what it cannot read, which regulars must not).
Before issue 12, a 193 MB junk file took the CLI to 10.4 GB and the server from 0.6 to 11.7 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.data.junk import junk_csv, ragged_csv  # noqa: E402

CLI = ("import runpy, sys\n"
       "sys.argv = ['regulars'] + sys.argv[1:]\n"
       "try:\n    runpy.run_module('regulars.cli.main', run_name='__main__')\n"
       "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
       "    print('PEAK', int(hwm.split()[1]) // 1024, file=sys.stderr)\n")

PANDAS = """
import resource, sys, time
import pandas as pd
t = time.perf_counter()
df = pd.read_csv(sys.argv[1], dtype=str, on_bad_lines="skip", engine="c")
print(len(df), round(time.perf_counter() - t, 1), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path])}


def cli(path: Path, ws: Path) -> tuple[float, int, str]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CLI, "ingest", "orders", str(path), "--workspace", str(ws)],
                         capture_output=True, text=True, env=env())
    peak = int(out.stderr.split("PEAK")[-1].split()[0])
    said = (out.stdout + out.stderr).replace("\n", " ")
    return time.perf_counter() - t, peak, said[:160]


def vm_hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def upload(path: Path, ws: Path) -> tuple[float, int, int, str]:
    import httpx

    sys.path.insert(0, str(REPO))
    from tests.api.server import free_port, make_keys

    keys = make_keys(ws)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "regulars.cli.main", "serve", "--port", str(port), "--workspace",
                               str(ws), "--log-level", "warning"],
                              env={**env(), "REGULARS_WARM_REPORTS": "0", "REGULARS_WARM_PROFILES": "0"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(base + "/api/me", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        before = vm_hwm(server.pid)
        t = time.perf_counter()
        with path.open("rb") as fh, httpx.Client(base_url=base, timeout=3600,
                                                 headers={"Authorization": f"Bearer {keys['analyst']}"}) as c:
            r = c.post("/api/ingest/orders", files={"files": (path.name, fh, "text/csv")})
        seconds = time.perf_counter() - t
        peak = vm_hwm(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    body = r.json()
    said = (f"{r.status_code}: read {body.get('rows_read', 0):,}, quarantined {body.get('rows_quarantined', 0):,}"
            if r.status_code == 200 else f"{r.status_code}: {json.dumps(body)[:120]}")
    return seconds, before, peak, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="regulars-junk-bench-") as tmp:
        tmp = Path(tmp)
        for name, make in (("structured junk", junk_csv), ("random text", ragged_csv)):
            path = tmp / f"{name.replace(' ', '_')}.csv"
            rows = make(path, args.mb * 1_000_000, seed=1)
            print(f"{name}: {path.stat().st_size / 1e6:,.0f} MB, {rows:,} rows; load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            s, peak, said = cli(path, tmp / f"cli_{rows}.duckdb")
            print(f"  regulars ingest (CLI):        {s:7.1f}s  peak RSS {peak:>6,} MB  {said}", flush=True)
            s, before, peak, said = upload(path, tmp / f"api_{rows}.duckdb")
            print(f"  upload to regulars serve:     {s:7.1f}s  server RSS {before:,} -> peak {peak:,} MB  {said}",
                  flush=True)
            out = subprocess.run([sys.executable, "-c", PANDAS, str(path)], capture_output=True, text=True)
            n, s, peak_ref = out.stdout.split() if out.returncode == 0 else ("-", "-", "0")
            print(f"  reference pandas.read_csv:    {s:>7}s  peak RSS {int(peak_ref):>6,} MB  kept {n} rows "
                  "(skips the rows it cannot read)", flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
