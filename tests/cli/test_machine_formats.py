"""Issue 16.3: with `--format csv|json` (or `--json`) stdout holds only the data; notes go to stderr.

Every command that offers a machine format is run with it on a demo shop and its stdout parsed.
A command that gains such an option without an entry here fails the test, so nothing is missed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from regulars.cli.group import wants_machine_output
from regulars.cli.main import app
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow  # runs about 60 commands (predict and backtest among them) on a demo shop (~1-2 min)

#: Arguments for each command with a machine format ({c}: a customer, {p}: a product, {f}: an assignments file,
#: {l}: a lake folder).
ARGS: dict[str, list[list[str]]] = {
    "quarantine": [[]], "runs": [[]], "sql": [["SELECT order_id, customer_id, total FROM orders LIMIT 5"]],
    "kpis": [[], ["--by", "month"], ["--by", "channel"], ["--by", "cohort"], ["--by", "segment", "rfm"]],
    "doctor": [[]], "cohorts": [[]], "funnel": [[], ["--by", "source"]], "clusters": [[]], "icp": [[]],
    "predict": [[]], "backtest": [[]], "customer": [["{c}"]], "recommend": [["{c}"], ["--all", "--k", "3"]],
    "bought-together": [["{p}"]], "next-actions": [[]],
    "segment rfm": [[]], "segment lifecycle": [[]], "segment tiers": [[]],
    "segments list": [[]], "segments show": [["rfm:champions"]], "segments members": [["rfm:champions"]],
    "segments history": [["rfm:champions"]], "segments refresh": [[]], "segments sizes": [[]],
    "segments movement": [[]], "keys list": [[]],
    "experiments create": [["Test {fmt}", "--everyone", "--arms", "control:0.5,offer:0.5"]],
    "experiments list": [[]], "experiments assign-upload": [["Test {fmt}", "{f}"]],
    "experiments assign": [["Test {fmt}", "{c}"]], "experiments analyze": [["Test {fmt}"]],
    "experiments plan": [["--metric", "conversion", "--lift", "0.05"]],
    "experiments bandit": [["Bandit {fmt}"]], "experiments uplift": [["Test {fmt}"]],
    "experiments did": [["--treated", "rfm:champions", "--change-date", "{d}"]],
    "experiments impact": [["--change-date", "{d}"]],
    "suppressions list": [[]], "journeys list": [[]], "journeys run": [["--once"]], "journeys log": [[]],
    "journeys results": [["cart_abandonment"]], "audiences list": [[]], "webhooks list": [[]],
    "webhooks deliveries": [[]], "alerts list": [[]], "ingest": [["orders", str(SAMPLES / "shopify_orders.csv")]],
    "anomalies": [[]], "audit": [["churn"]], "model-card": [["churn"]], "settings": [[]],
    "text analyse": [[]], "text sentiment": [[], ["--by", "month"]], "text topics": [[]],
    "lists": [[], ["at-risk"], ["segment:rfm:champions"]],
    "lake promote": [["{l}"]], "lake show": [["{l}"]],
}
#: Commands whose answer on a 300-customer shop may be a refusal (exit 1 with the reason on stderr).
MAY_REFUSE = {"experiments plan", "experiments uplift", "experiments did", "experiments impact", "experiments bandit",
              "journeys results", "experiments analyze", "audit", "text topics"}


def machine_commands():
    """(path, options) of every command with an output --format (table/json/csv) or a --json flag."""
    found = []

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        opts = {o for p in command.params for o in p.opts}
        fmt = next((p for p in command.params if "--format" in p.opts and "table" in (p.help or "")), None)
        found.append((" ".join(path), ["--format"] if fmt else [] + (["--json"] if "--json" in opts else [])))
        if fmt is None and "--json" not in opts:
            found.pop()

    walk(typer.main.get_command(app), [])
    return found


def run(shop, args):
    if args[:2] == ["recommend", "--all"] and "csv" in args:  # DuckDB writes this csv to /dev/stdout itself
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.run([sys.executable, "-m", "regulars.cli.main", *args, "--workspace", str(shop)],
                              capture_output=True, text=True, env=env, timeout=300)
        return SimpleNamespace(exit_code=proc.returncode, stdout=proc.stdout, stderr=proc.stderr, exception=None)
    return CliRunner().invoke(app, [*args, "--workspace", str(shop)])


def parse(kind: str, text: str):
    if kind == "json":
        return json.loads(text)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows and rows[0] and all(rows[0]), f"no csv header in {text[:200]!r}"
    assert all(len(r) == len(rows[0]) for r in rows), f"ragged csv (a note in the data?): {text[:400]!r}"
    return rows


def test_the_notes_console_knows_a_machine_format_from_a_file_format():
    group = typer.main.get_command(app)
    assert wants_machine_output(group, ["kpis", "--format", "csv"])
    assert wants_machine_output(group, ["segments", "members", "x", "-f", "json"])
    assert wants_machine_output(group, ["doctor", "--json"])
    assert not wants_machine_output(group, ["kpis", "--format", "table"])
    assert not wants_machine_output(group, ["ingest", "orders", "x.csv", "--format", "csv"])  # the file's format


def test_every_machine_format_writes_only_data_to_stdout(demo_shop, tmp_path):
    commands = machine_commands()
    missing = sorted({path for path, _ in commands} - set(ARGS))
    assert not missing, f"add these commands with a machine format to ARGS: {missing}"
    ids = list(csv.DictReader(io.StringIO(run(demo_shop, ["sql", "SELECT customer_id FROM customers ORDER BY 1 "
                                                          "LIMIT 2", "--format", "csv"]).stdout)))
    product = list(csv.DictReader(io.StringIO(run(demo_shop, ["sql", "SELECT product_id FROM order_lines GROUP BY 1 "
                                                              "ORDER BY count(*) DESC, 1 LIMIT 1", "--format", "csv"]).stdout)))
    last = run(demo_shop, ["sql", "SELECT (max(ordered_at) - INTERVAL 60 DAY)::DATE AS d FROM orders", "--format", "json"])
    values = {"c": ids[0]["customer_id"], "p": product[0]["product_id"], "d": json.loads(last.stdout)[0]["d"]}
    checked, refused, problems = 0, [], []
    for path, options in commands:
        kinds = ["csv", "json"] if options == ["--format"] else ["json"]
        for kind in kinds:
            for extra in ARGS[path]:
                assignments = tmp_path / f"assign-{kind}.csv"
                assignments.write_text(f"customer_id,arm\n{ids[0]['customer_id']},control\n{ids[1]['customer_id']},offer\n")
                fill = {**values, "f": str(assignments), "fmt": kind, "l": str(tmp_path / "lake")}
                args = [*path.split(), *(a.format(**fill) for a in extra)]
                if path == "experiments bandit":
                    run(demo_shop, ["experiments", "create", f"Bandit {kind}", "--bandit", "--everyone",
                                    "--arms", "a:0.5,b:0.5"])
                flag = ["--format", kind] if kind == "csv" or options == ["--format"] else ["--json"]
                result = run(demo_shop, [*args, *flag])
                if result.exit_code != 0 and path in MAY_REFUSE and result.stdout == "" and "error" in result.stderr:
                    refused.append(" ".join(args))
                    continue
                if result.exit_code != 0:
                    problems.append(f"regulars {' '.join(args + flag)} -> {result.exit_code}: {result.stderr[-300:]}"
                                    f"{result.exception!r}")
                    continue
                try:
                    parse(kind, result.stdout)
                except (ValueError, AssertionError) as exc:
                    problems.append(f"regulars {' '.join(args + flag)}: stdout is not pure {kind}: {exc}")
                    continue
                checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= 60 and len(refused) <= 8, (checked, refused)
