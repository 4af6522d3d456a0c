"""One normalisation of e-mails and phones on every path, and keyed (non-reversible) provisional ids.

Issue 13 #1 (an event carrying the same phone in another format made a second customer) and #4
(``e-`` + sha256(e-mail) let anyone check whether a person is a customer), and the upgrade of a
workspace made before keyed hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from regulars import Workspace
from regulars.data import migrations
from regulars.data.ingest.pipeline import ingest
from regulars.data.realtime import SharedWorkspace

_CON = duckdb.connect()
PIECES = st.sampled_from(["+", "00", "(0)", "(", ")", "-", " ", "\t", "\u00a0", ".", "@", "İ", "Σ", "Ä", "x", "A",
                          "1", "2", "0", "ß", "\n", "ǅ"])
TEXT = st.one_of(st.text(max_size=30), st.lists(PIECES, max_size=20).map("".join))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_python_and_sql_normalise_alike(text):
    from regulars.data.normalize import email_sql, normalize_email, normalize_phone, phone_key, phone_key_sql, phone_sql

    sql = _CON.execute(f"SELECT {email_sql('t')}, {phone_sql('t')}, {phone_key_sql(phone_sql('t'))} "
                       "FROM (SELECT ?::VARCHAR AS t)", [text]).fetchall()[0]
    assert sql == (normalize_email(text), normalize_phone(text), phone_key(normalize_phone(text)))


def test_one_phone_written_four_ways_is_one_customer(tmp_path):
    shop = tmp_path / "shop.duckdb"
    f = tmp_path / "customers.csv"
    f.write_text('customer_id,email,phone\nC1,ann@example.com,"+1 (201) 555-0916"\n', encoding="utf-8")
    with Workspace(shop) as ws:
        ingest(ws, "customers", [f])
    shared = SharedWorkspace(shop)
    try:
        for phone in ("1-201-555-0916", "001 201 555 0916", "+1.201.555.0916"):
            res = shared.post_events([{"phone": phone, "event_type": "page_view"}])
            assert res.customers == ["C1"] and res.customers_created == 0, phone
        res = shared.post_events([{"email": "  ANN@Example.com\t", "event_type": "page_view"}])
        assert res.customers == ["C1"]
    finally:
        shared.close()
    with Workspace(shop) as ws:
        assert ws.count("customers") == 1
        from regulars.data.erasure import resolve_customer

        assert resolve_customer(ws._con, "(+1) 201 555 0916") == "C1"


def test_provisional_ids_are_keyed_per_workspace(tmp_path):
    ids = []
    for n in (1, 2):
        f = tmp_path / f"orders{n}.csv"
        f.write_text("order_id,email,ordered_at,total\nO1,ann@example.com,2024-01-01,10\n", encoding="utf-8")
        with Workspace(tmp_path / f"shop{n}.duckdb") as ws:
            ingest(ws, "orders", [f])
            ids.append(ws._con.execute("SELECT customer_id FROM orders").fetchall()[0][0])
            values = ws._con.execute("SELECT value FROM identities WHERE kind = 'email'").fetchall()
            assert values != [(hashlib.sha256(b"ann@example.com").hexdigest(),)]
    guess = "e-" + hashlib.sha256(b"ann@example.com").hexdigest()[:16]
    assert guess not in ids and ids[0] != ids[1]  # no oracle, and no id shared between shops
    from regulars.data import identity, keyed

    with Workspace(tmp_path / "shop1.duckdb") as ws:
        assert ids[0] == "e-" + identity.fingerprint(keyed.for_connection(ws._con), "email", "ann@example.com")[:16]


def _old_workspace(path) -> None:
    """A workspace as version 6 left it: bare sha256 identity values and provisional ids, old phone form."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, description VARCHAR, applied_at TIMESTAMP)")
    for m in migrations.MIGRATIONS[:6]:
        for stmt in m.statements():
            con.execute(stmt)
        con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [m.version, m.description])
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    e_id, p_id = "e-" + sha("bo@example.com")[:16], "p-" + sha("+12015550916")[:16]
    now = dt.datetime(2024, 5, 1)
    con.execute("INSERT INTO customers (customer_id, email) VALUES (?, 'bo@example.com')", [e_id])
    con.execute("INSERT INTO customers (customer_id, phone) VALUES (?, '+12015550916')", [p_id])
    con.execute("INSERT INTO customers (customer_id, email) VALUES ('C7', 'cy@example.com')")
    con.executemany("INSERT INTO identities VALUES (?, ?, ?, 'test', ?, ?, 1)", [
        ("email", sha("bo@example.com"), e_id, "first seen in /home/rosie/exports/a.csv row 1", now),
        ("phone", sha("+12015550916"), p_id, "first seen in b.csv row 1", now),
        ("email", sha("cy@example.com"), "C7", f"first seen in c.csv row 1; merged from {e_id[:2]}0000000000000000: x", now),
        ("shop_id", "C7", "C7", "first seen in c.csv row 1", now),
    ])
    con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) VALUES ('O1', ?, '2024-01-01', 5)", [e_id])
    con.execute("INSERT INTO events (event_id, customer_id, event_type, occurred_at) VALUES ('E1', ?, 'page_view', "
                "'2024-01-02')", [p_id])
    con.execute("INSERT INTO erasures VALUES ('x1', now()::TIMESTAMP, ?, '{}', 'cli')", [sha("C9")])
    con.execute("INSERT INTO audit_log VALUES (now()::TIMESTAMP, 'key:a', 'admin', 'customer.export', ?, '{}')",
                ["sha256:" + sha("C7")])
    con.close()


def test_an_old_workspace_is_upgraded_to_keyed_hashes(tmp_path):
    from regulars.data import identity, keyed

    path = tmp_path / "old.duckdb"
    _old_workspace(path)
    with Workspace(path) as ws:
        con = ws._con
        h = keyed.for_connection(con)
        ids = {r[0] for r in con.execute("SELECT customer_id FROM customers").fetchall()}
        bo, phone = "e-" + identity.fingerprint(h, "email", "bo@example.com")[:16], \
            "p-" + identity.fingerprint(h, "phone", "+12015550916")[:16]
        assert ids == {bo, phone, "C7"}
        assert con.execute("SELECT customer_id FROM orders").fetchall() == [(bo,)]
        assert con.execute("SELECT customer_id FROM events").fetchall() == [(phone,)]
        values = dict(con.execute("SELECT customer_id, value FROM identities WHERE kind <> 'shop_id'").fetchall())
        assert values[bo] == identity.fingerprint(h, "email", "bo@example.com")
        assert values[phone] == identity.fingerprint(h, "phone", "1-201-555-0916")  # re-derived: new phone key
        dump = str(con.execute("SELECT * FROM identities").fetchall()) + str(con.execute(
            "SELECT * FROM erasures").fetchall()) + str(con.execute("SELECT * FROM audit_log").fetchall())
        for old in ("bo@example.com", "+12015550916", "C9", "C7"):
            assert hashlib.sha256(old.encode()).hexdigest()[:16] not in dump, old
        assert con.execute("SELECT subject_hash FROM erasures").fetchall() == [(None,)]
        assert "first seen in a.csv row 1" in dump and "/home/rosie" not in dump
        assert con.execute("SELECT target FROM audit_log").fetchall()[0][0] == "hmac:" + h.hash("C7")
    shared = SharedWorkspace(path)
    try:
        assert shared.post_events([{"phone": "001 201 555 0916", "event_type": "search"}]).customers == [phone]
        assert shared.post_events([{"email": "BO@example.com", "event_type": "search"}]).customers == [bo]
    finally:
        shared.close()
