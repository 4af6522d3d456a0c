"""Small shops for the segment tests (real DuckDB workspaces in temp dirs)."""

from __future__ import annotations

import datetime as dt

import pytest

from regulars.data.ingest.pipeline import ingest
from tests.conftest import CDNOW

AS_OF = dt.date(2024, 7, 1)

CDNOW_MAPPING = """
kind = "orders"
format = "csv"
[columns]
customer_id = "customer_id"
ordered_at = "date"
total = "dollar_value"
[parse]
delimiter = "whitespace"
date_format = "%Y%m%d"
"""


def add_orders(ws, rows) -> None:
    """rows: (order_id, customer_id, date or datetime, total[, status[, refunded]])."""
    for r in rows:
        oid, cid, when, total, status, refunded = (*r, None, None)[:6]
        ws._con.execute("INSERT INTO customers (customer_id) SELECT ? WHERE ? NOT IN (SELECT customer_id FROM customers)",
                       [cid, cid])
        ws._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total, status, refunded) "
                       "VALUES (?, ?, ?, ?, ?, ?)", [oid, cid, when, total, status, refunded])


def ladder_rows():
    """Ten customers c01..c10: ck has k orders of 10*k, the latest 10*k days before AS_OF, then every 30 days back.

    So recency = 10k days, frequency = k, monetary = 10k^2 (c10 also returns 5: 995).
    """
    rows = []
    for k in range(1, 11):
        for j in range(k):
            day = AS_OF - dt.timedelta(days=10 * k + 30 * j)
            rows.append((f"o{k:02d}-{j}", f"c{k:02d}", dt.datetime(day.year, day.month, day.day, 12), 10 * k))
    rows.append(("r10", "c10", dt.datetime(2024, 6, 1, 9), -5))
    rows.append(("x10", "c10", dt.datetime(2024, 6, 1, 9), 1000, "cancelled"))
    return rows


@pytest.fixture
def ladder(workspace):
    add_orders(workspace, ladder_rows())
    return workspace


@pytest.fixture(scope="session")
def cdnow_ws(tmp_path_factory):
    from regulars import Workspace

    folder = tmp_path_factory.mktemp("cdnow")
    mapping = folder / "cdnow.toml"
    mapping.write_text(CDNOW_MAPPING)
    ws = Workspace(folder / "cdnow.duckdb")
    result = ingest(ws, "orders", [str(CDNOW / "CDNOW_master.txt")], mapping=str(mapping))
    assert result.rows_quarantined == 0
    yield ws
    ws.close()


@pytest.fixture(scope="package")
def demo(tmp_path_factory):
    """The demo shop (3,000 customers, seed 0), its feature mart and each customer's planted type."""
    from regulars import Workspace
    from regulars.demo import build_demo
    from regulars.features.mart import customer_features

    ws = Workspace(tmp_path_factory.mktemp("demo") / "shop.duckdb")
    build_demo(ws, n_customers=3_000, seed=0)
    mart = ws.execute(customer_features(ws))
    truth = ws.sql("SELECT customer_id, latent_type FROM demo_truth").set_index("customer_id").latent_type
    yield ws, mart, truth
    ws.close()
