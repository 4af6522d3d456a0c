"""`regulars ingest FILE --mapping NAME` uses a mapping saved on the dashboard's Data page (issue 16)."""

from __future__ import annotations

import json

from regulars import Workspace
from regulars.data.saved_mappings import save_mapping
from tests.cli.test_cli import run

TILL = ('[columns]\norder_id = "Bon"\ncustomer_id = "Kunde"\nordered_at = "Datum"\ntotal = "Betrag"\n'
        '[parse]\ndelimiter = ";"\ndecimal = ","\nthousands = "."\n')


def test_a_mapping_saved_on_the_dashboard_loads_a_semicolon_decimal_comma_file(tmp_path):
    shop = tmp_path / "shop.duckdb"
    with Workspace(shop) as ws:
        save_mapping(ws._con, "till export", TILL, by="admin")  # what the Data page's "save as" stores
    data = tmp_path / "kasse.csv"
    data.write_text("Bon;Kunde;Datum;Betrag\nB1;K1;2024-03-01 10:00:00;1.234,50\nB2;K2;2024-03-02 11:00:00;12,30\n")
    out = json.loads(run("ingest", "orders", data, "--mapping", "till export", "--json", workspace=shop).stdout)
    assert out["rows_read"] == 2 and out["rows_quarantined"] == 0
    with Workspace(shop, read_only=True) as ws:
        totals = ws.sql("SELECT order_id, total::DOUBLE AS total FROM orders ORDER BY 1")
    assert totals.to_dict("records") == [{"order_id": "B1", "total": 1234.5}, {"order_id": "B2", "total": 12.3}]


def test_an_unknown_mapping_name_says_what_is_saved(tmp_path):
    shop = tmp_path / "shop.duckdb"
    with Workspace(shop) as ws:
        save_mapping(ws._con, "till export", TILL, by="admin")
    data = tmp_path / "kasse.csv"
    data.write_text("Bon;Kunde;Datum;Betrag\nB1;K1;2024-03-01;1,00\n")
    proc = run("ingest", "orders", data, "--mapping", "till", workspace=shop, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no such file" in proc.stderr and "till export" in proc.stderr
