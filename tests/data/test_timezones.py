"""Defect 8 of issue 12: a date stays on its day, and reports group days and months in the shop's zone."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from regulars.data.ingest.pipeline import ingest
from regulars.reports.cohorts import cohort_matrix
from regulars.reports.kpis import kpis

PARIS = """[columns]
customer_id = "client"
ordered_at = "date"
total = "montant"
[parse]
delimiter = ";"
date_format = "%d/%m/%Y"
timezone = "Europe/Paris"
"""

# Date-only values on month edges: 31 January, 1 February, 30 April, 1 May.
ORDERS = """client;date;montant
A;31/01/2024;10,00
B;01/02/2024;20,00
A;29/02/2024;5,00
C;30/04/2024;7,50
B;01/05/2024;2,50
"""


def load(ws, tmp_path):
    (tmp_path / "ventes.csv").write_text(ORDERS)
    (tmp_path / "m.toml").write_text(PARIS)
    return ingest(ws, "orders", [tmp_path / "ventes.csv"], mapping=tmp_path / "m.toml")


def test_a_date_only_value_is_stored_on_its_day(workspace, tmp_path):
    (tmp_path / "v.csv").write_text("client;date;montant\nZ;05/07/2026;1,00\n")
    (tmp_path / "m.toml").write_text(PARIS)
    ingest(workspace, "orders", [tmp_path / "v.csv"], mapping=tmp_path / "m.toml")
    stored = workspace._con.execute("SELECT ordered_at FROM orders").fetchall()[0][0]
    assert stored.date() == dt.date(2026, 7, 5)  # midday in Paris: 10:00 UTC, still 5 July
    assert stored == dt.datetime(2026, 7, 5, 10, 0)


def test_the_first_load_sets_the_shop_time_zone_and_reports_group_by_it(workspace, tmp_path):
    from regulars.data import shop  # new with issue 12 (imported here so the other tests run on older code)

    assert shop.timezone(workspace._con) == "UTC"
    load(workspace, tmp_path)
    assert shop.timezone(workspace._con) == "Europe/Paris" == workspace.timezone
    months = kpis(workspace, by="month").table.set_index("month")
    assert months["orders"].to_dict() == {"2024-01": 1, "2024-02": 2, "2024-03": 0, "2024-04": 1, "2024-05": 1}
    assert months["revenue"].to_dict() == {"2024-01": 10.0, "2024-02": 25.0, "2024-03": 0.0, "2024-04": 7.5,
                                           "2024-05": 2.5}
    cohorts = cohort_matrix(workspace, by="month", as_of="2024-06-01")
    assert list(cohorts.sizes.items()) == [("2024-01", 1), ("2024-02", 1), ("2024-04", 1)]
    assert any("Europe/Paris" in n for n in cohorts.notes)


def test_timestamps_near_midnight_fall_on_the_shops_day(workspace, tmp_path):
    # 23:30 UTC on 31 January is 00:30 on 1 February in Paris
    (tmp_path / "o.csv").write_text("order_id,customer_id,ordered_at,total\nA,C1,2024-01-31T23:30:00Z,10\n"
                                    "B,C1,2024-01-15T12:00:00Z,1\n")
    ingest(workspace, "orders", [tmp_path / "o.csv"])
    assert kpis(workspace, by="month").table.set_index("month")["orders"].to_dict() == {"2024-01": 2}
    from regulars.data.auth import set_settings

    set_settings(workspace._con, {"timezone": "Europe/Paris"}, updated_by="test")
    months = kpis(workspace, by="month").table.set_index("month")["orders"].to_dict()
    assert months == {"2024-01": 1, "2024-02": 1}  # the same stored data, regrouped by the shop's days


def test_kpis_and_cohorts_from_the_cli_use_the_shops_months(tmp_path):
    ws = tmp_path / "shop.duckdb"
    (tmp_path / "ventes.csv").write_text(ORDERS)
    (tmp_path / "m.toml").write_text(PARIS)
    env = {"PYTHONPATH": ":".join(sys.path)}

    def run(*args):
        out = subprocess.run([sys.executable, "-m", "regulars.cli.main", *map(str, args), "--workspace", str(ws)],
                             capture_output=True, text=True, env=env, check=True)
        return out.stdout

    run("ingest", "orders", tmp_path / "ventes.csv", "--mapping", tmp_path / "m.toml")
    month = {r["month"]: r["orders"] for r in json.loads(run("kpis", "--by", "month", "--json"))["rows"]}
    assert month == {"2024-01": 1, "2024-02": 2, "2024-03": 0, "2024-04": 1, "2024-05": 1}
    matrix = json.loads(run("cohorts", "--by", "month", "--format", "json", "--as-of", "2024-06-01"))
    assert matrix["cohorts"] == ["2024-01", "2024-02", "2024-04"]
