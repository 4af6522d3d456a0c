"""The interactive benchmark times what the README tour and the dashboard offer; `--help` stays light.

No timings here (those are in ``benchmarks/interactive_bench.py``): these tests keep the
benchmark's lists from drifting away from the README and the dashboard, and check what
``regulars --help`` imports.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("interactive_bench", ROOT / "benchmarks" / "interactive_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_tour_command_is_timed_and_is_a_real_command():
    from regulars.cli.main import app
    from typer.main import get_command

    bench = _bench()
    tour = bench.tour_commands()
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## A five-minute tour", 1)[1].split("```", 2)[1]
    assert len(tour) == sum(1 for line in readme.splitlines() if line.strip().startswith("regulars "))
    group = get_command(app)
    for args in tour:
        assert args[0] in group.commands, args
        assert bench.kind(args) in ("read", "write", "skip")
    assert {bench.kind(a) for a in tour} == {"read", "write", "skip"}
    assert bench.kind(["segments", "refresh"]) == "write" and bench.kind(["funnel", "--by", "source"]) == "read"


def test_every_dashboard_page_is_timed():
    import importlib
    import pkgutil

    import regulars.web
    from fastapi.responses import HTMLResponse

    bench = _bench()
    pages = set()
    for info in pkgutil.iter_modules(regulars.web.__path__):
        router = getattr(importlib.import_module(f"regulars.web.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            response = getattr(route, "response_class", None)
            if "GET" in getattr(route, "methods", ()) and isinstance(response, type) and issubclass(response, HTMLResponse):
                pages.add(route.path)
    timed = {re.sub(r"\{[a-z]+\}", "{x}", p.split("?")[0]) for p in bench.PAGES}
    assert len(pages) > 15, sorted(pages)
    missing = {p for p in pages if re.sub(r"\{[a-z_]+\}", "{x}", p) not in timed}
    assert not missing, f"pages the benchmark does not time: {sorted(missing)}"


def test_help_imports_neither_pandas_nor_ibis_nor_duckdb():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for args in (["--help"], ["funnel", "--help"]):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "regulars.cli.main", *args],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
        assert not imported & {"pandas", "ibis", "duckdb", "numpy", "sklearn"}, sorted(imported & {"pandas", "ibis", "duckdb"})
