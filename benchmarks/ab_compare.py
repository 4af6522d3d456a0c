"""Benchmark: is one revision slower than another on the interactive tour? (issue 15: a refactor
may not make the benchmarks more than 5% slower).

Checks out ``--base`` and ``--head`` (default: the working tree) into temporary git worktrees and
runs ``benchmarks/interactive_bench.py`` of each on copies of the same built demo shop,
alternating base, head, base, head... (``--rounds``), so a change in the machine's load hits both
sides alike. For every command and page it prints the median seconds of each side and the ratio
head/base; the last line is the geometric mean of the ratios, which should stay at or below 1.05.

Run:
  python benchmarks/ab_compare.py --shop shop.duckdb --base 1834ec2              # commands
  python benchmarks/ab_compare.py --shop shop.duckdb --base 1834ec2 --only pages # pages
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.05
TIMES = ("seconds", "first", "after_refresh", "warm")


def _checkout(rev: str | None, into: Path) -> Path:
    if rev is None:
        return ROOT
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(into), rev], check=True)
    return into


def _run(tree: Path, shop: Path, only: str, repeat: int, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    subprocess.run([sys.executable, str(tree / "benchmarks" / "interactive_bench.py"), "--shop", str(shop),
                    "--only", only, "--repeat", str(repeat), "--json", str(out)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    figures = {}
    for r in json.loads(out.read_text())["results"]:
        for key in TIMES:
            if isinstance(r.get(key), (int, float)):
                figures[f"{r['what']} [{key}]" if key != "seconds" else r["what"]] = float(r[key])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shop", type=Path, required=True, help="a built demo shop (copied for every run)")
    parser.add_argument("--base", required=True, help="the revision to compare against (e.g. the commit before a refactor)")
    parser.add_argument("--head", help="the revision to measure (default: this working tree)")
    parser.add_argument("--only", choices=("cli", "pages"), default="cli")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternating")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each read command inside one run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="regulars-ab-") as tmp:
        work = Path(tmp)
        trees = {"base": _checkout(args.base, work / "base"), "head": _checkout(args.head, work / "head")}
        try:
            runs: dict[str, list[dict[str, float]]] = {"base": [], "head": []}
            for i in range(args.rounds):
                for side in ("base", "head"):
                    print(f"round {i + 1}: {side} ({os.getloadavg()[0]:.1f} load)", flush=True)
                    runs[side].append(_run(trees[side], args.shop, args.only, args.repeat, work / f"{side}{i}.json"))
        finally:
            for side, tree in trees.items():
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    common = sorted(set.intersection(*(set(r) for side in runs.values() for r in side)))
    ratios = []
    print(f"\n{'':<60}{'base s':>9}{'head s':>9}{'head/base':>11}")
    for what in common:
        base = statistics.median(r[what] for r in runs["base"])
        head = statistics.median(r[what] for r in runs["head"])
        if base > 0:
            ratios.append(head / base)
            print(f"{what[:59]:<60}{base:>9.2f}{head:>9.2f}{head / base:>11.2f}")
    mean = math.exp(statistics.fmean(math.log(r) for r in ratios)) if ratios else float("nan")
    print(f"\ngeometric mean of {len(ratios)} ratios head/base: {mean:.3f} "
          f"({'met' if mean <= TARGET else 'MISSED'}: target <= {TARGET})")


if __name__ == "__main__":
    main()
