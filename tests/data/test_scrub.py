"""Rewriting the workspace file after an erasure: why it is needed, that it keeps everything else, and
that it is safe when interrupted."""

from __future__ import annotations

import duckdb
import pytest

from regulars import Workspace
from regulars.data import scrub
from regulars.data.erasure import forget
from tests.api.shop import build_shop

NAME = b"Zebulon Quixotic"


def _plant(ws) -> None:
    ws._con.execute("INSERT INTO customers (customer_id, first_name, last_name, postal_code) "
                   "VALUES ('ZQ1', 'Zebulon', 'Quixotic', 'ZQ-99817')")
    ws._con.execute("INSERT INTO customers (customer_id, first_name) SELECT 'N' || range, 'Name ' || range FROM range(5000)")
    ws._con.execute("CHECKPOINT")


def test_duckdb_keeps_deleted_bytes_after_a_checkpoint(tmp_path):
    """The reason for :mod:`regulars.data.scrub` (DuckDB 2.0): a deleted row's text stays in the file."""
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        _plant(ws)
        ws._con.execute("DELETE FROM customers WHERE customer_id = 'ZQ1'")
        ws._con.execute("FORCE CHECKPOINT")
    assert b"Quixotic" in path.read_bytes() or b"ZQ-99817" in path.read_bytes()


def _catalog(ws) -> tuple:
    con = ws._con
    tables = con.execute("SELECT table_name, sql FROM duckdb_tables() WHERE NOT temporary AND database_name = "
                         "current_database() ORDER BY 1").fetchall()
    counts = {t: con.execute(f'SELECT count(*), sum(hash(columns(*))) FROM "{t}"').fetchall()[0] for t, _ in tables}
    seqs = con.execute("SELECT sequence_name FROM duckdb_sequences() ORDER BY 1").fetchall()  # values: nextval below
    views = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND NOT temporary").fetchall()
    constraints = con.execute("SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() "
                              "ORDER BY ALL").fetchall()
    return tables, counts, seqs, views, constraints


def test_rewrite_keeps_every_table_sequence_and_constraint(tmp_path):
    shop = build_shop(tmp_path / "shop.duckdb", n_customers=15)
    with Workspace(shop.path) as ws:
        from regulars.jobs.segments import refresh

        refresh(ws)
        ws._con.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 50")
        before = _catalog(ws)
        run = ws._con.execute("SELECT nextval('ingest_run_ids')").fetchall()[0][0]
        scrub.rewrite(ws)
        assert _catalog(ws) == before
        assert ws._con.execute("SELECT nextval('ingest_run_ids')").fetchall()[0][0] == run + 1
        assert ws.execute(ws.table("orders").count()) == before[1]["orders"][0]  # Ibis follows the new connection
    assert not scrub.temp_path(shop.path).exists()


def test_erasure_rewrites_and_an_interrupted_rewrite_is_finished_at_the_next_open(tmp_path):
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        _plant(ws)
        forget(ws, "ZQ1", rewrite=False)  # as if the process died between commit and rewrite
        assert scrub.pending(ws._con)
    assert NAME.split()[1] in path.read_bytes() or b"ZQ-99817" in path.read_bytes()
    scrub.temp_path(path).write_bytes(b"half a copy")  # what a crash during the copy leaves
    with Workspace(path) as ws:
        assert not scrub.pending(ws._con)
        assert ws._con.execute("SELECT file_rewritten_at IS NOT NULL FROM erasures").fetchall() == [(True,)]
    data = path.read_bytes()
    assert b"Quixotic" not in data and b"ZQ-99817" not in data
    assert not scrub.temp_path(path).exists()


def test_a_cursor_opened_before_the_rewrite_is_closed_with_the_old_connection(tmp_path):
    """Why the server hands out fresh read views after an erasure (``SharedWorkspace`` exclusive writes)."""
    with Workspace(tmp_path / "shop.duckdb") as ws:
        _plant(ws)
        stale = ws._con.cursor()
        forget(ws, "ZQ1")
        assert ws._con.execute("SELECT count(*) FROM customers WHERE customer_id = 'ZQ1'").fetchall() == [(0,)]
        with pytest.raises(duckdb.ConnectionException):
            stale.execute("SELECT count(*) FROM customers").fetchall()
