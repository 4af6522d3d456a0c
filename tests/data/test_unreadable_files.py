"""Defect 9 of issue 12: files DuckDB's sniffer rejects are read correctly, or refused in one sentence
that says what to set in ``[parse]`` (never a parser dump)."""

from __future__ import annotations

import pytest

from regulars.data.ingest.options import MappingError
from regulars.data.ingest.pipeline import ingest

HEADER = "order_id,customer_id,ordered_at,total"
ROWS = ["A,C1,2024-01-01,10.00", "B,C2,2024-01-02,20.50", 'C,C3,2024-01-03,"1,000.25"']


def load(ws, tmp_path, data: bytes, name="o.csv", mapping=None):
    path = tmp_path / name
    path.write_bytes(data)
    m = None
    if mapping:
        m = tmp_path / "m.toml"
        m.write_text(mapping)
    return ingest(ws, "orders", [path], mapping=m)


def totals(ws) -> dict:
    return dict(ws._con.execute("SELECT order_id, total::VARCHAR FROM orders").fetchall())


EXPECTED = {"A": "10.00", "B": "20.50", "C": "1000.25"}


def test_mixed_line_endings(workspace, tmp_path):
    # the header ends in LF, the rows in CRLF: DuckDB's reader gave up on this plain comma file
    data = (HEADER + "\n" + "\r\n".join(ROWS) + "\r\n").encode()
    result = load(workspace, tmp_path, data)
    assert (result.rows_read, result.rows_quarantined) == (3, 0)
    assert totals(workspace) == EXPECTED


def test_a_utf8_byte_order_mark(workspace, tmp_path):
    result = load(workspace, tmp_path, b"\xef\xbb\xbf" + ("\n".join([HEADER, *ROWS]) + "\n").encode())
    assert result.rows_loaded == 3 and totals(workspace) == EXPECTED


def test_windows_1252_text_is_read_as_such(workspace, tmp_path):
    text = "order_id,customer_id,ordered_at,total,location\nA,C1,2024-01-01,10.00,Café Müller – Köln\n"
    result = load(workspace, tmp_path, text.encode("cp1252"))
    assert result.rows_loaded == 1
    assert workspace._con.execute("SELECT location FROM orders").fetchall() == [("Café Müller – Köln",)]
    assert any("read as Windows-1252" in w for w in result.warnings)


def test_utf16_text(workspace, tmp_path):
    result = load(workspace, tmp_path, ("\n".join([HEADER, *ROWS]) + "\n").encode("utf-16"))
    assert result.rows_loaded == 3 and totals(workspace) == EXPECTED


def test_semicolons_with_decimal_commas(workspace, tmp_path):
    data = "order_id;customer_id;ordered_at;total\nA;C1;2024-01-01;10,00\nB;C2;2024-01-02;1.234,50\n".encode()
    result = load(workspace, tmp_path, data)
    assert result.rows_loaded == 2
    assert totals(workspace) == {"A": "10.00", "B": "1234.50"}


def test_a_few_broken_rows_are_quarantined_and_numbered_right(workspace, tmp_path):
    # a quoted value with a line break (two lines, one row), a row with too many fields, a stray
    # quote, a row that is not UTF-8 text: good rows load, bad ones are quarantined with their number
    data = (
        b"order_id,customer_id,ordered_at,total,location\n"
        b'A,C1,2024-01-01,1.00,"Main St\nUnit 4"\n'
        b"B,C2,2024-01-02,2.00,x,extra\n"
        b'C,C3,2024-01-03,3.00,ab"c\n'
        b"D,C4,2024-01-04,4.00,caf\xe9 \xe2\x82\xac\n"
        b"E,C5,2024-01-05,5.00,ok\n"
    )
    result = load(workspace, tmp_path, data)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 3, 2)
    reasons = dict(workspace._con.execute("SELECT row_number, reason FROM quarantine").fetchall())
    assert set(reasons) == {2, 4}
    assert "expected 5 fields separated by commas, found 6" in reasons[2]
    assert "not UTF-8 text" in reasons[4]
    assert workspace._con.execute("SELECT location FROM orders WHERE order_id = 'A'").fetchall() == [("Main St\nUnit 4",)]


def test_an_unclosed_quote_does_not_swallow_the_rest_of_the_file(workspace, tmp_path):
    rows = [f"O{i},C{i},2024-01-01,{i}.00,x" for i in range(2000)]
    rows[5] = 'O5,C5,2024-01-01,5.00,"never closed'
    data = ("order_id,customer_id,ordered_at,total,location\n" + "\n".join(rows) + "\n").encode()
    result = load(workspace, tmp_path, data)
    assert result.rows_read == 2000 and result.rows_quarantined == 1
    assert workspace._con.execute("SELECT reason FROM quarantine").fetchall()[0][0].startswith("a quote opened on this row")


def test_a_tab_separated_file_is_detected(workspace, tmp_path):
    data = b"order_id\tcustomer_id\tordered_at\ttotal\n" + b"".join(
        b"O%d\tC1\t2024-01-01\t1\n" % i for i in range(40))
    assert load(workspace, tmp_path, data).rows_loaded == 40


RAGGED = "order_id,customer_id,ordered_at,total\n" + "".join(",".join(["x"] * (1 + i % 7)) + "\n" for i in range(300))
JUNK = {
    "binary": (bytes(range(256)) * 400, "is not a CSV text file: it holds binary data"),
    "ragged": (RAGGED.encode(), "does not read as a comma-separated file"),
}


@pytest.mark.parametrize("case", list(JUNK))
def test_a_file_that_is_not_csv_is_refused_in_one_sentence(workspace, tmp_path, case):
    data, words = JUNK[case]
    with pytest.raises(MappingError) as exc:
        load(workspace, tmp_path, data)
    message = str(exc.value)
    assert "\n" not in message and words in message
    assert "Possible fixes" not in message and "CSV Error" not in message  # no parser dump
    assert workspace.count("orders") == 0 and workspace.count("ingest_runs") == 0


def test_the_wrong_delimiter_says_which_option_to_set(workspace, tmp_path):
    data = ("order_id|customer_id|ordered_at|total\n" + "A|C1|2024-01-01|1\n" * 30).encode()
    with pytest.raises(MappingError, match=r'the file looks pipe-separated: set \[parse\] delimiter = "\|"'):
        load(workspace, tmp_path, data, mapping='[columns]\norder_id = "order_id"\n[parse]\ndelimiter = ";"\n')


def test_an_unknown_encoding_is_named(workspace, tmp_path):
    with pytest.raises(MappingError, match='encoding = "klingon" is not an encoding regulars knows'):
        load(workspace, tmp_path, b"a\n1\n", mapping='[columns]\ntotal = "a"\n[parse]\nencoding = "klingon"\n')
