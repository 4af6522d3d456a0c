"""Defects 10, 11 and 12 of issue 12: amounts are parsed, not scavenged; no amount can lock a
customer out; identifiers, offsets, headers and currencies are checked or normalised."""

from __future__ import annotations

from decimal import Decimal

import pytest

from regulars.data.ingest.options import MappingError
from regulars.data.ingest.pipeline import ingest


def load(ws, tmp_path, name, text, mapping=None, kind="orders"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    m = None
    if mapping is not None:
        m = tmp_path / (name + ".toml")
        m.write_text(mapping)
    return ingest(ws, kind, [path], mapping=m)


def quarantined(ws, run_id) -> dict:
    rows = ws._con.execute("SELECT row_number, reason FROM quarantine WHERE run_id = ? ORDER BY 1", [run_id]).fetchall()
    return dict(rows)


# Every money string of the issue, and a few more. None: quarantined.
MONEY = [
    ("1e308", None), ("(10.00)", None), ("0x10", None), ("N/A 3", None), ("abc7def", None),
    ("12,3,4", None), ("--5", None), ("1_000", None), ("5-", None), ("$5 USD", None), ("XYZ 5", None),
    ("12.50", "12.50"), ("-12.50", "-12.50"), ("+3", "3.00"), ("$1,234.50", "1234.50"), ("-$1,234.50", "-1234.50"),
    ("EUR 3", "3.00"), ("3 usd", "3.00"), ("€ 7.10", "7.10"), ("1,234", "1234.00"), (".5", "0.50"), ("0.125", "0.13"),
    ("999999999.99", "999999999.99"),
]


def test_every_money_string_is_read_exactly_or_quarantined_with_its_value(workspace, tmp_path):
    rows = "\n".join(f'O{i},C{i},2024-01-01,"{text}"' for i, (text, _) in enumerate(MONEY))
    result = load(workspace, tmp_path, "o.csv", "order_id,customer_id,ordered_at,total\n" + rows + "\n")
    loaded = dict(workspace._con.execute("SELECT order_id, total::VARCHAR FROM orders").fetchall())
    reasons = quarantined(workspace, result.run_id)
    for i, (text, want) in enumerate(MONEY):
        if want is None:
            assert f"O{i}" not in loaded, text
            assert f'cannot read "{text}" as an amount' in reasons[i + 1], (text, reasons.get(i + 1))
        else:
            assert loaded[f"O{i}"] == want, text
    assert result.rows_read == result.rows_loaded + result.rows_quarantined == len(MONEY)


def test_parse_options_describe_the_numbers_accepted(workspace, tmp_path):
    text = 'order_id;customer_id;ordered_at;total\nA;C1;2024-01-01;(10,00)\nB;C2;2024-01-01;1.234,50 €\nC;C3;2024-01-01;1 234,50\n'
    mapping = ('[columns]\norder_id = "order_id"\ncustomer_id = "customer_id"\nordered_at = "ordered_at"\ntotal = "total"\n'
               '[parse]\ndelimiter = ";"\ndecimal = ","\nnegative_parentheses = true\n')
    result = load(workspace, tmp_path, "o.csv", text, mapping)
    got = dict(workspace._con.execute("SELECT order_id, total::VARCHAR FROM orders").fetchall())
    assert got == {"A": "-10.00", "B": "1234.50"}  # "1 234,50": a space is not this file's thousands separator
    assert 'cannot read "1 234,50" as an amount' in quarantined(workspace, result.run_id)[3]
    again = load(workspace, tmp_path, "o2.csv", text.replace("C;C3", "D;C4"), mapping.replace("negative_parentheses = true",
                                                                                            'thousands = " "'))
    assert dict(workspace._con.execute("SELECT order_id, total::VARCHAR FROM orders WHERE order_id = 'C'").fetchall()) == {}
    assert workspace._con.execute("SELECT total::VARCHAR FROM orders WHERE order_id = 'D'").fetchall() == [("1234.50",)]
    assert 'cannot read "(10,00)"' in quarantined(workspace, again.run_id)[1]


def test_a_huge_amount_is_quarantined_and_the_customer_keeps_loading(workspace, tmp_path):
    load(workspace, tmp_path, "a.csv", "order_id,customer_id,ordered_at,total\nA,C1,2024-01-01,10.00\n")
    big = load(workspace, tmp_path, "b.csv", "order_id,customer_id,ordered_at,total\nB,C1,2024-01-02,9999999999999999.99\n")
    assert big.rows_quarantined == 1
    assert "beyond the largest amount accepted (1,000,000,000 either way)" in quarantined(workspace, big.run_id)[1]
    small = load(workspace, tmp_path, "c.csv", "order_id,customer_id,ordered_at,total\nC,C1,2024-01-03,0.01\n")
    assert small.rows_loaded == 1
    assert workspace._con.execute("SELECT orders, net FROM customer_order_stats").fetchall() == [(2, Decimal("10.01"))]


def test_quantities_and_line_totals_are_range_limited(workspace, tmp_path):
    load(workspace, tmp_path, "o.csv", "order_id,customer_id,ordered_at,total\nA,C1,2024-01-01,10\n")
    result = load(workspace, tmp_path, "l.csv", "order_id,product_id,quantity,unit_price\nA,P1,2000000000,999999999\nA,P2,1,10\n",
                  kind="order-lines")
    assert "quantity beyond 1,000,000 either way" in quarantined(workspace, result.run_id)[1]


def test_identifiers_with_control_characters_are_rejected(workspace, tmp_path):
    text = ('order_id,customer_id,ordered_at,total,currency\n'
            'A\x00,C1,2024-01-01,1,EUR\n'
            '"B\nX",C2,2024-01-01,1,EUR\n'
            'C,"C3\t",2024-01-01,1,EUR\n'
            'D,C4,2024-01-01,1,<b>X</b>\n'
            'E,C5,2024-01-01,1," usd "\n')
    result = load(workspace, tmp_path, "o.csv", text)
    reasons = quarantined(workspace, result.run_id)
    assert set(reasons) == {1, 2, 3}
    assert all("an identifier cannot hold a control character" in r for r in reasons.values())
    assert '"C3?"' in reasons[3]  # the value is shown with the control character replaced
    # currencies are ISO codes, upper-cased; anything else is dropped with a warning
    got = dict(workspace._con.execute("SELECT order_id, currency FROM orders").fetchall())
    assert got == {"D": None, "E": "USD"}
    warned = workspace.sql("SELECT row_number, value, reason FROM ingest_warnings").values.tolist()
    assert warned == [[4, "<b>X</b>", 'column "currency": cannot read "<b>X</b>" as an ISO 4217 currency code such as EUR or USD']]


def test_utc_offsets_must_be_real(workspace, tmp_path):
    text = ("order_id,customer_id,ordered_at,total\n"
            "A,C1,2024-01-01 10:00:00+25:00,1\nB,C2,2024-01-01 10:00:00-13:00,1\n"
            "C,C3,2024-01-01 10:00:00+14:00,1\nD,C4,2024-01-01 10:00:00-05:30,1\n")
    result = load(workspace, tmp_path, "o.csv", text)
    assert set(quarantined(workspace, result.run_id)) == {1, 2}
    got = dict(workspace._con.execute("SELECT order_id, ordered_at::VARCHAR FROM orders").fetchall())
    assert got == {"C": "2023-12-31 20:00:00", "D": "2024-01-01 15:30:00"}


def test_a_repeated_header_name_is_refused_when_it_is_used(workspace, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("order_id,customer_id,ordered_at,total,note,total\nA,C1,2024-01-01,1,x,2\n")
    with pytest.raises(MappingError, match=r'2 columns named "total" \(columns 4, 6\)'):
        ingest(workspace, "orders", [path])
    assert workspace.count("orders") == 0
    # a repeated column that nothing uses is harmless
    path.write_text("order_id,customer_id,ordered_at,total,note,note\nA,C1,2024-01-01,1,x,y\n")
    assert ingest(workspace, "orders", [path]).rows_loaded == 1


def test_float_ids_from_a_spreadsheet_or_parquet_are_whole_numbers(workspace, tmp_path):
    import pandas as pd

    load(workspace, tmp_path, "o.csv", "order_id,customer_id,ordered_at,total\n536365.0,17850.0,2024-01-01,1\n")
    pd.DataFrame({"order_id": [536366.0], "customer_id": [17850.0], "ordered_at": pd.to_datetime(["2024-01-02"]),
                  "total": [2.5]}).to_parquet(tmp_path / "o.parquet")
    ingest(workspace, "orders", [tmp_path / "o.parquet"])
    assert workspace._con.execute("SELECT order_id, customer_id FROM orders ORDER BY 1").fetchall() == [
        ("536365", "17850"), ("536366", "17850")]
    assert workspace.count("customers") == 1
