"""Ingestion: generic mapping on CDNOW, bad rows, identity, time zones, idempotency."""

from __future__ import annotations

import decimal
from pathlib import Path

import pytest

from regulars.data.ingest.options import MappingError
from regulars.data.ingest.pipeline import ingest
from tests.conftest import CDNOW

CDNOW_MAPPING = """
kind = "orders"
[columns]
customer_id = "customer_id"
ordered_at = "date"
total = "dollar_value"
[parse]
delimiter = "whitespace"
date_format = "%Y%m%d"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def snapshot(ws, *tables):
    """Every row of *tables* as text, so that two snapshots compare exactly (NULL == NULL)."""
    return {t: ws._con.execute(f"SELECT COLUMNS(lambda c: c NOT IN ('_run_id', 'run_id')) FROM {t} ORDER BY ALL").fetchall() for t in tables}


def cdnow_master_totals():
    """Independent reading of the CDNOW master file: customers, rows, dollars."""
    customers, rows, dollars = set(), 0, decimal.Decimal(0)
    with open(CDNOW / "CDNOW_master.txt") as fh:
        next(fh)
        for line in fh:
            parts = line.split()
            if parts:
                customers.add(parts[0])
                rows += 1
                dollars += decimal.Decimal(parts[3])
    return len(customers), rows, dollars


def test_cdnow_master_loads_with_a_mapping_and_reloads_unchanged(workspace, tmp_path):
    mapping = write(tmp_path, "cdnow.toml", CDNOW_MAPPING)
    n_customers, n_rows, dollars = cdnow_master_totals()
    assert (n_customers, n_rows) == (23_570, 69_659)

    first = ingest(workspace, "orders", [CDNOW / "CDNOW_master.txt"], mapping=mapping)
    assert first.rows_read == n_rows
    assert first.rows_new == n_rows and first.rows_quarantined == 0
    assert first.customers_created == n_customers
    got = workspace.sql("SELECT count(*) n, count(DISTINCT customer_id) c, sum(total) s, min(ordered_at) lo, max(ordered_at) hi FROM orders")
    assert got.n[0] == n_rows and got.c[0] == n_customers
    assert decimal.Decimal(str(got.s[0])) == dollars
    assert str(got.lo[0].date()) == "1997-01-01" and str(got.hi[0].date()) == "1998-06-30"
    # Same-day purchases of one customer with different amounts stay distinct orders.
    same_day = workspace.sql(
        "SELECT count(*) FROM (SELECT customer_id, ordered_at FROM orders GROUP BY ALL HAVING count(*) > 1)"
    ).iloc[0, 0]
    assert same_day > 0

    before = snapshot(workspace, "orders", "customers", "identities")
    again = ingest(workspace, "orders", [CDNOW / "CDNOW_master.txt"], mapping=mapping)
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, n_rows)
    assert snapshot(workspace, "orders", "customers", "identities") == before


def test_headerless_whitespace_file_with_named_columns(workspace, tmp_path):
    mapping = write(tmp_path, "sample.toml", """
[columns]
customer_id = "master_id"
ordered_at = "date"
total = "dollars"
[parse]
delimiter = "whitespace"
header = false
names = ["master_id", "sample_id", "date", "cds", "dollars"]
date_format = "%Y%m%d"
""")
    result = ingest(workspace, "orders", [CDNOW / "CDNOW_sample.txt"], mapping=mapping)
    assert result.rows_read == 6_919 and result.rows_loaded == 6_919
    assert workspace.count("customers") == 2_357


BAD_ORDERS = """order_id,customer_id,ordered_at,total,email
O1,C1,2024-01-05 10:00:00,19.90,ann@example.com
O2,C2,2024-01-06,not-a-number,
O3,C3,yesterday,5.00,
O4,,2024-01-07,5.00,
O5,C5,2024-01-08,5.00,broken-address
O6,C6,2024-01-08
O7,C7,2024-01-09,-12.50,
O8,C8,2999-01-01,3.00,
O1,C1,2024-01-05 10:00:00,21.90,ann@example.com
O9,C9,2024-01-10,7.00,,extra
O10,C10,2024-01-11,"1,234.50",
"""


def test_every_bad_row_is_quarantined_with_its_reason_and_the_good_rows_load(workspace, tmp_path):
    path = write(tmp_path, "orders.csv", BAD_ORDERS)
    result = ingest(workspace, "orders", [path])
    q = workspace.sql("SELECT row_number, column_name, reason, raw::VARCHAR raw FROM quarantine ORDER BY row_number")
    reasons = dict(zip(q.row_number, q.reason))
    assert set(reasons) == {1, 2, 3, 6, 8, 10}
    assert "cannot read \"not-a-number\" as an amount" in reasons[2]
    assert "cannot read \"yesterday\" as a date/time" in reasons[3]
    assert "expected 5 fields separated by commas, found 3" in reasons[6]
    assert "date in the future" in reasons[8]
    assert "duplicate key order_id=O1" in reasons[1] and "row 9" in reasons[1]
    assert "expected 5 fields separated by commas, found 6" in reasons[10]
    assert "not-a-number" in dict(zip(q.row_number, q.raw))[2]
    # Good rows: O1 (its later version, row 9), the guest order O4 (no customer at all), O5 without its
    # broken e-mail (a field warning), the refund O7, O10 with a thousands separator.
    orders = workspace._con.execute("SELECT order_id, customer_id, total::VARCHAR FROM orders ORDER BY order_id").fetchall()
    assert orders == [("O1", "C1", "21.90"), ("O10", "C10", "1234.50"), ("O4", None, "5.00"), ("O5", "C5", "5.00"),
                      ("O7", "C7", "-12.50")]
    warned = workspace.sql("SELECT row_number, column_name, value, reason, customer_id FROM ingest_warnings")
    assert warned.values.tolist() == [[5, 'column "email"', "broken-address",
                                       'column "email": cannot read "broken-address" as an e-mail address', "C5"]]
    assert result.rows_read == 11 and result.guest_orders == 1 and result.field_warnings == 1
    assert result.rows_quarantined == 6 and result.rows_loaded == 5
    # Loading the same bad file again adds nothing anywhere.
    before = snapshot(workspace, "orders", "customers", "quarantine")
    ingest(workspace, "orders", [path])
    assert snapshot(workspace, "orders", "customers", "quarantine") == before


def test_order_lines_need_their_order_and_create_product_stubs(workspace, tmp_path):
    ingest(workspace, "orders", [write(tmp_path, "o.csv", "order_id,customer_id,ordered_at,total\nA,C1,2024-02-01,30\n")])
    lines = write(tmp_path, "l.csv", "order_id,product_id,product_name,quantity,unit_price\nA,P1,Mug,2,10\nA,P2,Beans,1,10\nA,P1,Mug,-1,10\nB,P1,Mug,1,10\nA,P3,Bad,1,-4\n")
    result = ingest(workspace, "order-lines", [lines])
    q = workspace.sql("SELECT row_number, reason FROM quarantine ORDER BY 1")
    assert list(q.row_number) == [4, 5]
    assert "order B is not loaded" in q.reason[0]
    assert "negative unit price" in q.reason[1]
    got = workspace.sql("SELECT line_number, product_id, quantity FROM order_lines ORDER BY line_number")
    assert got.values.tolist() == [[1, "P1", 2], [2, "P2", 1], [3, "P1", -1]]  # a return is a negative quantity
    assert workspace.sql("SELECT product_id, name FROM products ORDER BY 1").values.tolist() == [["P1", "Mug"], ["P2", "Beans"]]
    assert result.tables["products"]["stubs_created"] == 2


def test_overlapping_newer_export_adds_new_rows_and_updates_changed_ones(workspace, tmp_path):
    old = write(tmp_path, "c1.csv", "customer_id,email,city\nC1,a@x.io,Lyon\nC2,b@x.io,Nice\n")
    new = write(tmp_path, "c2.csv", "customer_id,email,city\nC1,a@x.io,Lyon\nC2,b@x.io,Paris\nC3,c@x.io,Metz\n")
    ingest(workspace, "customers", [old])
    result = ingest(workspace, "customers", [new])
    assert result.tables["customers"] == {"new": 1, "updated": 1, "unchanged": 1}
    assert workspace.sql("SELECT city FROM customers WHERE customer_id = 'C2'").iloc[0, 0] == "Paris"


def test_a_file_without_a_column_does_not_erase_it(workspace, tmp_path):
    ingest(workspace, "customers", [write(tmp_path, "a.csv", "customer_id,city,region\nC1,Lyon,ARA\n")])
    ingest(workspace, "customers", [write(tmp_path, "b.csv", "customer_id,city\nC1,Lyon\n")])
    assert workspace.sql("SELECT region FROM customers").iloc[0, 0] == "ARA"


def test_email_only_orders_merge_into_the_shop_customer_when_it_appears(workspace, tmp_path):
    ingest(workspace, "orders", [write(tmp_path, "o.csv", "order_id,email,ordered_at,total\n1,Ann@Example.com ,2024-03-01,10\n2,ann@example.com,2024-04-01,12\n")])
    provisional = workspace.sql("SELECT DISTINCT customer_id FROM orders").customer_id.tolist()
    assert len(provisional) == 1 and provisional[0].startswith("e-")
    result = ingest(workspace, "customers", [write(tmp_path, "c.csv", "customer_id,email,first_name\n900,ANN@example.com,Ann\n")])
    assert result.customers_merged == 1
    assert workspace.sql("SELECT DISTINCT customer_id FROM orders").customer_id.tolist() == ["900"]
    customers = workspace.sql("SELECT customer_id, email, first_name FROM customers")
    assert customers.values.tolist() == [["900", "ann@example.com", "Ann"]]
    links = workspace.sql("SELECT kind, customer_id, reason FROM identities ORDER BY kind")
    assert set(links.customer_id) == {"900"}
    assert any("merged from e-" in r for r in links.reason)
    # identities never hold the e-mail in clear
    assert not workspace.sql("SELECT * FROM identities WHERE value ILIKE '%example%'").shape[0]


def test_anonymous_events_are_attributed_once_the_visitor_is_known(workspace, tmp_path):
    events = write(tmp_path, "e.csv", (
        "event_id,anonymous_id,customer_id,event_type,occurred_at\n"
        "e1,anon-7,,page_view,2024-05-01 10:00:00\n"
        "e2,anon-7,,product_view,2024-05-01 10:01:00\n"
        "e3,anon-9,,page_view,2024-05-01 11:00:00\n"
    ))
    ingest(workspace, "events", [events])
    assert workspace.sql("SELECT count(customer_id) FROM events").iloc[0, 0] == 0
    login = write(tmp_path, "e2.csv", "event_id,anonymous_id,customer_id,event_type,occurred_at\ne4,anon-7,C42,form_submit,2024-05-01 10:05:00\n")
    ingest(workspace, "events", [login])
    got = workspace._con.execute("SELECT event_id, customer_id FROM events ORDER BY event_id").fetchall()
    assert got == [("e1", "C42"), ("e2", "C42"), ("e3", None), ("e4", "C42")]


def test_time_zones_offsets_and_decimal_commas(workspace, tmp_path):
    data = write(tmp_path, "pos.csv", "kunde;datum;betrag\nK1;2024-01-05 10:00:00;1.234,50 €\nK2;2024-07-01 09:30:00 +0200;3,10\nK3;2024-01-05T23:30:00Z;0,99\n")
    mapping = write(tmp_path, "pos.toml", """
[columns]
customer_id = "kunde"
ordered_at = "datum"
total = "betrag"
[parse]
delimiter = ";"
decimal = ","
timezone = "Europe/Berlin"
currency = "EUR"
""")
    ingest(workspace, "orders", [data], mapping=mapping)
    got = workspace.sql("SELECT customer_id, ordered_at::VARCHAR t, total::VARCHAR s, currency FROM orders ORDER BY 1").values.tolist()
    assert got == [
        ["K1", "2024-01-05 09:00:00", "1234.50", "EUR"],  # naive Berlin winter time = UTC+1
        ["K2", "2024-07-01 07:30:00", "3.10", "EUR"],     # explicit offset wins over the zone
        ["K3", "2024-01-05 23:30:00", "0.99", "EUR"],     # Z is UTC
    ]


def test_missing_required_columns_say_what_to_map(workspace, tmp_path):
    path = write(tmp_path, "pos.csv", "client,when,amount\nA,2024-01-01,3\n")
    with pytest.raises(MappingError) as exc:
        ingest(workspace, "orders", [path])
    message = str(exc.value)
    assert "ordered_at" in message and "total" in message and "client, when, amount" in message
    assert "--mapping" in message
    bad_map = write(tmp_path, "m.toml", '[columns]\ncustomer_id = "customer"\nordered_at = "when"\ntotal = "amount"\n')
    with pytest.raises(MappingError, match="no column 'customer'"):
        ingest(workspace, "orders", [path], mapping=bad_map)
    assert workspace.count("ingest_runs") == 0


def test_consent_history_and_current_flags(workspace, tmp_path):
    ingest(workspace, "customers", [write(tmp_path, "c.csv", "customer_id,accepts_email,accepts_sms\nC1,yes,no\n")])
    ingest(workspace, "consents", [write(tmp_path, "k.csv", "customer_id,purpose,is_granted,recorded_at\nC1,email,false,2030-01-01\nC1,personalization,no,2024-01-01\n")])
    q = workspace.sql("SELECT reason FROM quarantine")
    assert "date in the future" in q.reason[0]
    # The customers file stated consent when it was loaded (today); an older opt-out does not override it.
    ingest(workspace, "consents", [write(tmp_path, "k2.csv", "customer_id,purpose,is_granted,recorded_at\nC1,email,false,2025-01-01\n")])
    row = workspace.sql("SELECT accepts_email, accepts_sms, accepts_personalization FROM customers").iloc[0].tolist()
    assert row == [True, False, False]
    history = workspace._con.execute("SELECT purpose, is_granted FROM consents ORDER BY recorded_at, purpose").fetchall()
    assert history == [("personalization", False), ("email", False), ("email", True), ("sms", False)]


def test_parquet_and_jsonl_sources(workspace, tmp_path):
    import pandas as pd

    pd.DataFrame({"customer_id": ["C1", "C2"], "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02"]), "total": [1.5, 2.25]}).to_parquet(tmp_path / "o.parquet")
    r = ingest(workspace, "orders", [tmp_path / "o.parquet"])
    assert r.rows_loaded == 2
    jl = write(tmp_path, "r.jsonl", '{"review_id": "r1", "customer_id": "C1", "rating": 5, "created_at": "2024-02-01"}\nnot json\n{"review_id": "r2", "customer_id": "C2", "rating": 9, "created_at": "2024-02-01"}\n')
    r = ingest(workspace, "reviews", [jl])
    assert r.rows_loaded == 1 and r.rows_quarantined == 2
    reasons = workspace.sql("SELECT row_number, reason FROM quarantine ORDER BY 1").values.tolist()
    assert reasons[0][0] == 2 and "not valid JSON" in reasons[0][1]
    assert reasons[1][0] == 3 and "rating must be 1..5" in reasons[1][1]
