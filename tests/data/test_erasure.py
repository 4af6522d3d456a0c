"""Right to erasure and access on a full shop: after `forget`, no table holds the customer."""

from __future__ import annotations

import pytest

from regulars import Workspace
from regulars.data.erasure import CustomerNotFound, export_customer, forget
from regulars.demo import build_demo
from regulars.jobs.predict import predict
from regulars.jobs.segments import refresh


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A small demo shop with segments and predictions computed (derived tables filled)."""
    path = tmp_path_factory.mktemp("erasure") / "shop.duckdb"
    with Workspace(path) as ws:
        build_demo(ws, n_customers=800, seed=5)
        refresh(ws)
        predict(ws)
    return path


def _text_columns(con) -> list[tuple[str, str]]:
    return [(t, c) for t, c in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
        "WHERE t.table_type = 'BASE TABLE' AND t.table_schema = 'main' "
        "AND (data_type = 'VARCHAR' OR data_type = 'JSON')"
    ).fetchall()]


def _mentions(con, value: str) -> dict[str, int]:
    """Rows per table.column whose text equals or contains *value* (case-insensitive)."""
    found = {}
    for table, column in _text_columns(con):
        n = con.execute(
            f'SELECT count(*) FROM "{table}" WHERE "{column}"::VARCHAR ILIKE ?', [f"%{value}%"]
        ).fetchall()[0][0]
        if n:
            found[f"{table}.{column}"] = n
    return found


def _busy_customer(con) -> tuple[str, str]:
    """A customer with an e-mail, orders, events, messages, segment memberships and predictions."""
    return con.execute(
        "SELECT c.customer_id, c.email FROM customers c "
        "WHERE c.email IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id) "
        "AND EXISTS (SELECT 1 FROM events e WHERE e.customer_id = c.customer_id) "
        "AND EXISTS (SELECT 1 FROM messages m WHERE m.customer_id = c.customer_id) "
        "AND EXISTS (SELECT 1 FROM segment_memberships s WHERE s.customer_id = c.customer_id) "
        "AND EXISTS (SELECT 1 FROM customer_predictions p WHERE p.customer_id = c.customer_id) "
        "ORDER BY c.customer_id LIMIT 1"
    ).fetchall()[0]


def test_export_then_forget_leaves_no_trace_in_any_table(shop):
    with Workspace(shop) as ws:
        cid, email = _busy_customer(ws._con)
        held = export_customer(ws, email.upper())
        assert held["customer_id"] == cid
        assert {"customers", "orders", "order_lines", "segment_memberships", "customer_predictions"} <= set(held["tables"])
        assert _mentions(ws._con, email)  # sanity: the scan does see the e-mail before erasure
        others = ws.count("customers") - 1
        orders_left = ws._con.execute("SELECT count(*) FROM orders WHERE customer_id <> ?", [cid]).fetchall()[0][0]

        record = forget(ws, email)

        assert record["rows_deleted"]["orders"] > 0 and record["rows_deleted"]["customer_predictions"] == 1
        assert email not in str(record) and cid not in str(record)
        by_id = {k: v for k, v in _mentions(ws._con, cid).items()}
        # Other customers' ids may contain this one as a prefix (C12 in C123): check exact matches.
        exact = {
            f"{t}.{c}": n for t, c in _text_columns(ws._con)
            if (n := ws._con.execute(f'SELECT count(*) FROM "{t}" WHERE "{c}"::VARCHAR = ?', [cid]).fetchall()[0][0])
        }
        assert exact == {}, f"customer id still in {exact} (substring hits: {by_id})"
        assert _mentions(ws._con, email) == {}
        assert ws.count("customers") == others
        assert ws._con.execute("SELECT count(*) FROM orders").fetchall()[0][0] == orders_left
        audit = ws._con.execute("SELECT * FROM erasures").fetchall()
        assert len(audit) == 1 and email not in str(audit) and cid not in str(audit)
        with pytest.raises(CustomerNotFound):
            export_customer(ws, email)
