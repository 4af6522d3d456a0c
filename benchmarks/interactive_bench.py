"""Benchmark: how fast interactive work is on the default demo shop (issue 16, item 4).

Times, as a user meets them:

- ``regulars demo`` (only when it builds the shop; target 60 s);
- ``regulars --help`` (target 0.3 s);
- every command of README.md's tour, each in its own process, in the README's order
  (read commands: median of ``--repeat`` runs, target 2 s; commands that change the
  workspace run once and have no target);
- every dashboard page, through a real ``regulars serve`` on 127.0.0.1 signed in as an
  admin through the login form: the first visit after the server starts, the first visit
  after ``regulars segments refresh`` (sent to the running server) and a warm visit
  (target 1 s each).

Each line says "met" or "MISSED"; the load average (``uptime``) is printed at the start
and at the end: on a shared 2-core machine it moves the figures a lot.

Run:
  python benchmarks/interactive_bench.py                       # builds the demo shop in a temp dir
  python benchmarks/interactive_bench.py --shop shop.duckdb    # reuses a built demo shop (copied first)
  python benchmarks/interactive_bench.py --shop shop.duckdb --only cli   # or --only pages
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

TARGETS = {"demo": 60.0, "help": 0.3, "read": 2.0, "page": 1.0}

#: Tour commands that change the workspace: run once, in order, with no target.
WRITES = ("segments create", "segments refresh", "experiments create", "journeys approve", "webhooks add")
#: Tour commands not timed here: the demo is timed on its own, ``serve`` with the pages.
SKIPPED = ("demo", "serve")

#: Dashboard pages (``{customer}``, ``{segment}``, ``{journey}`` filled from the shop; ``{list}``: at-risk).
PAGES = ("/", "/customers", "/customers/{customer}", "/data", "/settings", "/cohorts", "/funnel",
         "/funnel?by=source", "/segments", "/segments/{segment}", "/predictions", "/experiments", "/products",
         "/actions", "/kpis/segments", "/text", "/anomalies", "/fairness", "/model-cards", "/journeys",
         "/journeys/{journey}", "/webhooks", "/reports/monday", "/activation", "/lists", "/lists/{list}")


def tour_commands(readme: Path = README) -> list[list[str]]:
    """The argument lists of the README tour (``regulars`` lines of its first code block after the heading)."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## A five-minute tour", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("regulars "):
            commands.append(shlex.split(line, comments=True)[1:])
    return commands


def kind(args: list[str]) -> str:
    """``skip``, ``write`` or ``read`` for one tour command."""
    joined = " ".join(args)
    if args[0] in SKIPPED:
        return "skip"
    return "write" if any(joined.startswith(w) for w in WRITES) else "read"


def executable() -> list[str]:
    """The ``regulars`` a user runs: the installed script next to this Python, else ``python -m``."""
    script = Path(sys.executable).parent / "regulars"
    return [str(script)] if script.exists() else [sys.executable, "-m", "regulars.cli.main"]


def run(args: list[str], cwd: Path, env: dict) -> tuple[float, int, str]:
    """(wall seconds, exit code, the end of stderr) of ``regulars *args`` in *cwd*; ``> file`` is honoured."""
    out = subprocess.DEVNULL
    if ">" in args:
        at = args.index(">")
        out = open(cwd / args[at + 1], "wb")  # noqa: SIM115 - closed below
        args = args[:at]
    started = time.perf_counter()
    done = subprocess.run([*executable(), *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL)
    took = time.perf_counter() - started
    if out is not subprocess.DEVNULL:
        out.close()
    return took, done.returncode, done.stderr.decode(errors="replace").strip()[-300:]


def verdict(seconds: float, target: float | None) -> str:
    if target is None:
        return "(no target)"
    return f"{'met' if seconds <= target else 'MISSED'} (target {target:g} s)"


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def build_shop(path: Path, env: dict, results: list) -> None:
    took, code, err = run(["demo", "--no-serve", "--workspace", str(path)], path.parent, env)
    if code:
        sys.exit(f"regulars demo failed: {err}")
    print(f"{'regulars demo':<62}{took:8.2f} s  {verdict(took, TARGETS['demo'])}", flush=True)
    results.append({"what": "regulars demo", "seconds": took, "target": TARGETS["demo"]})


def bench_cli(work: Path, env: dict, repeat: int, results: list) -> None:
    times = [run(["--help"], work, env)[0] for _ in range(repeat)]
    took = statistics.median(times)
    print(f"{'regulars --help':<62}{took:8.2f} s  {verdict(took, TARGETS['help'])}", flush=True)
    results.append({"what": "regulars --help", "seconds": took, "target": TARGETS["help"]})
    for args in tour_commands():
        what = kind(args)
        if what == "skip":
            continue
        n = repeat if what == "read" else 1
        runs = [run(args, work, env) for _ in range(n)]
        took = statistics.median(t for t, _, _ in runs)
        failed = next(((c, e) for _, c, e in runs if c), None)
        label = "regulars " + " ".join(args)
        target = TARGETS["read"] if what == "read" else None
        note = f"  FAILED ({failed[0]}): {failed[1].splitlines()[-1] if failed[1] else ''}" if failed else ""
        print(f"{label[:60]:<62}{took:8.2f} s  {verdict(took, target)}{note}", flush=True)
        results.append({"what": label, "seconds": took, "target": target, "failed": bool(failed)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sign_in(client, key: str) -> None:
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]*)"', form).group(1)
    response = client.post("/login", data={"key": key, "csrf_token": token, "next": "/"})
    if response.status_code != 303:
        sys.exit(f"sign-in failed ({response.status_code})")


def _fill(pages, shop: Path) -> list[str]:
    """Pages with their ``{placeholders}`` filled from the shop (read before the server starts: no cache warmed)."""
    from regulars import Workspace

    with Workspace(shop, read_only=True) as ws:
        customer = ws.sql("SELECT customer_id FROM customer_predictions ORDER BY customer_id LIMIT 1")
        segment = ws.sql("SELECT segment_id FROM segment_memberships GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        journey = ws.sql("SELECT journey_id FROM journeys ORDER BY 1 LIMIT 1")
    first = lambda df: str(df.iloc[0, 0]) if len(df) else ""  # noqa: E731
    return [p.format(customer=first(customer), segment=first(segment), journey=first(journey), list="at-risk")
            for p in pages]


def bench_pages(work: Path, env: dict, results: list) -> None:
    import httpx

    key = subprocess.run([*executable(), "keys", "create", "--role", "admin", "--name", "benchmark"], cwd=work,
                         env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    pages = _fill(PAGES, work / "regulars.duckdb")
    port = _free_port()
    server = subprocess.Popen([*executable(), "serve", "--port", str(port), "--host", "127.0.0.1"], cwd=work, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(base + "/login", timeout=2)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("regulars serve did not start")
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=300, follow_redirects=False) as client:
            _sign_in(client, key)
            first = _visit(client, pages)
            took, code, err = run(["segments", "refresh"], work, env)
            print(f"{'regulars segments refresh (through the server)':<62}{took:8.2f} s  {verdict(took, None)}"
                  + (f"  FAILED: {err}" if code else ""), flush=True)
            after_refresh = _visit(client, pages)
            warm = _visit(client, pages)
        print(f"\n{'page':<40}{'first visit':>14}{'after refresh':>15}{'warm':>10}   (target {TARGETS['page']:g} s)")
        for page in pages:
            times = (first[page], after_refresh[page], warm[page])
            status = "met" if max(t for t, _ in times) <= TARGETS["page"] else "MISSED"
            codes = {c for _, c in times} - {200}
            note = f"  HTTP {sorted(codes)}" if codes else ""
            print(f"{page[:39]:<40}" + "".join(f"{t:>{w}.2f}" for (t, _), w in zip(times, (14, 15, 10)))
                  + f"   {status}{note}", flush=True)
            results.append({"what": "GET " + page, "first": times[0][0], "after_refresh": times[1][0],
                            "warm": times[2][0], "target": TARGETS["page"], "status": sorted({c for _, c in times})})
    finally:
        server.terminate()
        server.wait(timeout=60)


def _visit(client, pages) -> dict[str, tuple[float, int]]:
    seen = {}
    for page in pages:
        started = time.perf_counter()
        response = client.get(page)
        seen[page] = (time.perf_counter() - started, response.status_code)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop", type=Path, help="a built demo shop to reuse (copied to a temp dir first)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each read command (the median is shown)")
    parser.add_argument("--only", choices=("cli", "pages"), help="time only the commands or only the pages")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    print(f"load at start: {uptime()}", flush=True)
    results: list = []
    with tempfile.TemporaryDirectory(prefix="regulars-interactive-") as tmp:
        work = Path(tmp)
        shop = work / "regulars.duckdb"  # the tour runs without --workspace: the default file in its directory
        env = {**os.environ, "COLUMNS": "120"}
        env.pop("REGULARS_WORKSPACE", None)
        if args.shop:
            shutil.copy(args.shop, shop)
        else:
            build_shop(shop, env, results)
        if args.only != "pages":
            bench_cli(work, env, args.repeat, results)
        if args.only != "cli":
            bench_pages(work, env, results)
    print(f"\nload at end: {uptime()}")
    missed = [r["what"] for r in results if r.get("target") and max(
        r.get(k, 0) for k in ("seconds", "first", "after_refresh", "warm")) > r["target"]]
    print(f"{len(missed)} of {sum(1 for r in results if r.get('target'))} targets missed"
          + (": " + ", ".join(missed) if missed else ""))
    if args.json:
        args.json.write_text(json.dumps({"load": uptime(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
