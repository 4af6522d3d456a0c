"""Every date typed on the command line is read by one rule (``cli.common.date_option``).

Before, five commands had their own reader: ``predict``/``backtest`` answered a usage error
(exit 2, "use YYYY-MM-DD"), ``report monday`` only ISO dates, the others exit 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from regulars.cli.main import app
from regulars.data.workspace import Workspace

CLI = Path(__file__).resolve().parents[2] / "src" / "regulars" / "cli"

COMMANDS = [
    (["predict", "--as-of", "{day}"], "--as-of"),
    (["backtest", "--cutoff", "{day}"], "--cutoff"),
    (["segment", "rfm", "--as-of", "{day}"], "--as-of"),
    (["cohorts", "--as-of", "{day}"], "--as-of"),
    (["report", "monday", "--as-of", "{day}"], "--as-of"),
    (["experiments", "impact", "--change-date", "{day}", "--before", "4", "--after", "4"], "--change-date"),
]


@pytest.mark.parametrize("day", ["yesterday", "03/05/2024"])
@pytest.mark.parametrize("argv,option", COMMANDS, ids=[" ".join(c[0][:2]) for c in COMMANDS])
def test_a_bad_or_ambiguous_date_names_the_option_and_exits_1(argv, option, day, tmp_path):
    Workspace(tmp_path / "shop.duckdb").close()
    ws = ["--workspace", str(tmp_path / "shop.duckdb")]
    result = CliRunner().invoke(app, [a.format(day=day) for a in argv] + ws)
    assert result.exit_code == 1, result.output
    assert f"{option} {day!r} is not a date; write it as YYYY-MM-DD" in " ".join(result.output.split())


def test_no_command_reads_dates_its_own_way():
    own = [f"{p.name}:{n}" for p in sorted(CLI.glob("*.py")) for n, line in enumerate(p.read_text().splitlines(), 1)
           if "fromisoformat" in line]
    assert own == [], f"read command-line dates with cli.common.date_option: {own}"
