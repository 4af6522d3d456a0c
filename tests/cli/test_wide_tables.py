"""Issue 16.2: wide tables are laid out for the terminal (80 and 120 columns), never squeezed.

Each wide command is run as a user runs it (a process with ``COLUMNS`` set); the test fails when a
line is wider than the terminal, when a row spills over several lines (a column narrower than its
values, folded), or when a value is cut without being one of the announced long values.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest

from regulars.cli.tables import column_pages

pytestmark = pytest.mark.slow  # 5 commands x 2 widths, each a process (~30-60 s)

WIDE = {
    "kpis by month": (["kpis", "--by", "month"], None),
    "kpis by channel": (["kpis", "--by", "channel"], None),
    "cohorts": (["cohorts", "--periods", "36"], None),
    "orders": (["sql", "SELECT * FROM orders"], 100),
    "quarantine": (["quarantine"], 50),
}


def regulars(shop, args, width):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": str(width),
           "REGULARS_WORKSPACE": str(shop)}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "regulars.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def shop_with_rejects(demo_shop, tmp_path_factory):
    """The demo shop after a file whose 60 rows are refused (the demo itself loads cleanly)."""
    messy = tmp_path_factory.mktemp("messy") / "orders from the old till, exported by hand.csv"
    with messy.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["order_id", "customer_id", "ordered_at", "total", "email"])
        for i in range(60):
            writer.writerow([f"till-{i}", f"walk-in-{i}", "yesterday-ish" if i % 2 else "2024-13-45",
                             "twelve euros" if i % 3 else "1O.5", f"a.rather.long.address.{i}@example-boutique.com"])
    regulars(demo_shop, ["ingest", "orders", str(messy)], 200)
    return demo_shop


def tables(text: str) -> list[dict]:
    """The tables Rich drew: header lines and body lines of each."""
    found, current, part = [], None, None
    for line in text.splitlines():
        if line.startswith("┏"):
            current, part = {"header": [], "body": []}, "header"
        elif line.startswith("┡"):
            part = "body"
        elif line.startswith("└"):
            found.append(current)
            current = None
        elif current is not None:
            current[part].append([c.strip() for c in line.strip().strip("│┃").split("│" if part == "body" else "┃")])
    return found


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", list(WIDE))
def test_wide_tables_fit_the_terminal_without_squeezing(request, name, width):
    demo_shop = request.getfixturevalue("shop_with_rejects" if name == "quarantine" else "demo_shop")
    args, limit = WIDE[name]
    out = regulars(demo_shop, args, width)
    data = list(csv.reader(io.StringIO(regulars(demo_shop, [*args, "--format", "csv"], 200))))
    rows = len(data) - 1 if limit is None else min(limit, len(data) - 1)
    assert rows > 0, f"{name}: nothing to show on the demo shop"
    drawn = tables(out)
    assert drawn, out
    longest = max(12, min(40, (width - 7) // 2))
    for line in out.splitlines():
        assert len(line) <= width, f"{name}: a line of {len(line)} characters at width {width}:\n{line}"
    shown_columns = set()
    for table in drawn:
        assert len(table["body"]) == rows, f"{name} at {width}: rows spill over lines (a squeezed column):\n{out}"
        for cells in table["body"]:
            for cell in cells:
                assert "…" not in cell or len(cell) >= longest, f"{name} at {width}: {cell!r} was cut:\n{out}"
        headers = [" ".join(parts).split() for parts in zip(*table["header"])]
        shown_columns |= {" ".join(h) for h in headers}
    assert len(shown_columns) >= len(data[0]) or len(drawn) == 1, f"{name}: columns missing from the parts"
    if len(drawn) > 1:
        assert "--format csv gives every column" in out  # and says how to see them all at once


def test_cohorts_say_how_to_see_the_periods_the_table_leaves_out(demo_shop):
    out = " ".join(regulars(demo_shop, ["cohorts"], 120).split())
    header = regulars(demo_shop, ["cohorts", "--format", "csv"], 200).splitlines()[0].split(",")
    last = int(header[-1].lstrip("M"))
    assert f"{last - 12} later periods not shown: --periods {last} shows them" in out, out


def test_pages_of_columns_repeat_the_first_and_fit():
    widths = [7] + [12] * 23
    pages = column_pages(widths, 80)
    assert all(p[0] == 0 for p in pages) and sorted({i for p in pages for i in p}) == list(range(24))
    assert all(1 + sum(widths[i] + 3 for i in p) <= 80 for p in pages)
