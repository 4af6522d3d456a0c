"""Defects 6 and 7 of issue 12: a bad optional field does not reject its row; identifiers merge
by rules that match reality (a shared phone never joins two e-mails)."""

from __future__ import annotations

import json
import subprocess
import sys

from regulars.data.ingest.pipeline import ingest

CUSTOMERS = """customer_id,email,phone,first_name,birth_date
C1,ann@example.com,+1,Ann,1980-02-30
C2,bob(at)example.com,+44 20 7946 0018,Bob,1975-06-01
C3,,,Cy,not a date
"""


def test_a_junk_phone_a_malformed_email_and_a_bad_birth_date_are_dropped_not_the_customer(workspace, tmp_path):
    (tmp_path / "c.csv").write_text(CUSTOMERS)
    result = ingest(workspace, "customers", [tmp_path / "c.csv"])
    assert (result.rows_loaded, result.rows_quarantined, result.field_warnings) == (3, 0, 4)
    got = workspace._con.execute("SELECT customer_id, email, phone, first_name, birth_date FROM customers ORDER BY 1").fetchall()
    assert got == [("C1", "ann@example.com", None, "Ann", None), ("C2", None, "+442079460018", "Bob",
                   __import__("datetime").date(1975, 6, 1)), ("C3", None, None, "Cy", None)]
    warned = workspace._con.execute("SELECT row_number, column_name, value, customer_id FROM ingest_warnings "
                                   "ORDER BY 1, 2").fetchall()
    assert warned == [(1, 'column "birth_date"', "1980-02-30", "C1"), (1, 'column "phone"', "+1", "C1"),
                      (2, 'column "email"', "bob(at)example.com", "C2"), (3, 'column "birth_date"', "not a date", "C3")]
    # the junk phone was not used to identify anyone
    assert workspace._con.execute("SELECT count(*) FROM identities WHERE kind = 'phone'").fetchall() == [(1,)]
    # loading the file again adds no warning
    ingest(workspace, "customers", [tmp_path / "c.csv"])
    assert workspace.count("ingest_warnings") == 4


def test_warnings_are_listed_by_the_cli(tmp_path):
    ws = tmp_path / "shop.duckdb"
    (tmp_path / "c.csv").write_text(CUSTOMERS)
    env = {"PYTHONPATH": ":".join(sys.path)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "regulars.cli.main", *map(str, args), "--workspace", str(ws)],
                              capture_output=True, text=True, env=env, check=True).stdout

    out = run("ingest", "customers", tmp_path / "c.csv")
    assert "4 value(s) could not be read and were left out of rows that loaded" in out
    rows = json.loads(run("quarantine", "--warnings", "--format", "json"))
    assert [(r["row_number"], r["value"]) for r in rows] == [(1, "1980-02-30"), (1, "+1"), (2, "bob(at)example.com"),
                                                             (3, "not a date")]
    assert "no quarantined rows" in run("quarantine")


def test_a_shared_phone_does_not_merge_two_emails(workspace, tmp_path):
    # a family (or the shop's own number) on two orders with different e-mails
    (tmp_path / "o.csv").write_text(
        "order_id,email,phone,ordered_at,total\n"
        "A,ann@example.com,+33 6 12 34 56 78,2024-01-01,10\n"
        "B,bob@example.com,+33 6 12 34 56 78,2024-01-02,20\n"
        "C,,+33 6 12 34 56 78,2024-01-03,5\n"   # phone only: the phone's first owner
    )
    result = ingest(workspace, "orders", [tmp_path / "o.csv"])
    owners = dict(workspace._con.execute("SELECT order_id, customer_id FROM orders").fetchall())
    assert owners["A"] != owners["B"] and owners["C"] == owners["A"]
    assert workspace.count("customers") == 2
    # a later export with the shop's ids: each e-mail merges into its own customer, the phone does not join them
    (tmp_path / "c.csv").write_text("customer_id,email,phone\n17850.0,ann@example.com,+33 6 12 34 56 78\n"
                                    "17851,bob@example.com,+33 6 12 34 56 78\n")
    ingest(workspace, "customers", [tmp_path / "c.csv"])
    owners = dict(workspace._con.execute("SELECT order_id, customer_id FROM orders").fetchall())
    assert owners == {"A": "17850", "B": "17851", "C": "17850"}
    assert result.warnings == [] or all("kept apart" in w for w in result.warnings)


def test_a_phone_only_customer_merges_into_the_shop_customer_with_that_phone(workspace, tmp_path):
    (tmp_path / "o.csv").write_text("order_id,phone,ordered_at,total\nA,+44 7700 900123,2024-01-01,10\n")
    ingest(workspace, "orders", [tmp_path / "o.csv"])
    assert workspace._con.execute("SELECT customer_id FROM orders").fetchall()[0][0].startswith("p-")
    (tmp_path / "c.csv").write_text("customer_id,phone\nC9,+44 7700 900123\n")
    assert ingest(workspace, "customers", [tmp_path / "c.csv"]).customers_merged == 1
    assert workspace._con.execute("SELECT customer_id FROM orders").fetchall() == [("C9",)]


def test_a_known_phone_does_not_pull_a_new_email_into_its_customer(workspace, tmp_path):
    (tmp_path / "a.csv").write_text("order_id,email,phone,ordered_at,total\nA,ann@example.com,0612345678,2024-01-01,10\n")
    ingest(workspace, "orders", [tmp_path / "a.csv"])
    (tmp_path / "b.csv").write_text("order_id,email,phone,ordered_at,total\nB,bob@example.com,0612345678,2024-01-02,20\n")
    ingest(workspace, "orders", [tmp_path / "b.csv"])
    owners = dict(workspace._con.execute("SELECT order_id, customer_id FROM orders").fetchall())
    assert owners["A"] != owners["B"]
    emails = dict(workspace._con.execute("SELECT customer_id, email FROM customers").fetchall())
    assert emails[owners["B"]] == "bob@example.com" and emails[owners["A"]] == "ann@example.com"
