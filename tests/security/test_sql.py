"""`regulars sql` (and any API route that takes SQL) is truly read-only: the forbidden list of issue 13.

Each statement is run through the real command (Typer's runner, in this process, plus one child
process); after each we check that nothing happened: no file written, no file read, no setting
changed, no row of this or another database deleted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from regulars import Workspace
from regulars.cli.main import app
from tests.api.shop import build_shop

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sql-shop")
    built = build_shop(folder / "shop.duckdb", n_customers=12)
    other = folder / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE precious AS SELECT range AS n FROM range(5)")
    os.link(built.path, folder / "link.duckdb")  # the hard-link trick: the same file under another name
    return built.path


def forbidden(folder: Path) -> list[tuple[str, str]]:
    out = folder / "out"
    return [
        ("COPY TO", f"COPY (SELECT email, phone FROM customers) TO '{out}.csv'"),
        ("COPY TO via parquet", f"COPY customers TO '{out}.parquet' (FORMAT parquet)"),
        ("EXPORT DATABASE", f"EXPORT DATABASE '{out}-export'"),
        ("read_csv of a system file", "SELECT * FROM read_csv('/etc/passwd', header = false)"),
        ("read_text of a system file", "SELECT content FROM read_text('/etc/passwd')"),
        ("read_blob", "SELECT content FROM read_blob('/etc/hostname')"),
        ("a file as a table", "SELECT * FROM '/etc/passwd'"),
        ("glob", "SELECT * FROM glob('/etc/*')"),
        ("SET", "SET threads = 1"),
        ("SET GLOBAL", "SET GLOBAL enable_external_access = true"),
        ("RESET", "RESET lock_configuration"),
        ("PRAGMA", "PRAGMA enable_profiling"),
        ("ATTACH read-write", f"ATTACH '{folder / 'other.duckdb'}' AS other (READ_WRITE)"),
        ("ATTACH then DELETE", f"ATTACH '{folder / 'other.duckdb'}' AS other (READ_WRITE); DELETE FROM other.precious"),
        ("hard link ATTACH then DELETE",
         f"ATTACH '{folder / 'link.duckdb'}' AS l (READ_WRITE); DELETE FROM l.orders"),
        ("DELETE", "DELETE FROM orders"),
        ("UPDATE", "UPDATE customers SET email = NULL"),
        ("INSERT", "INSERT INTO marketing_spend VALUES ('2024-01-01', 'x', 1, 0)"),
        ("DROP", "DROP TABLE orders"),
        ("CREATE", "CREATE TABLE x AS SELECT 1"),
        ("two statements", "SELECT 1; DELETE FROM orders"),
        ("INSTALL", "INSTALL httpfs"),
        ("LOAD", "LOAD httpfs"),
        ("CALL", "CALL pragma_version()"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("USE", "USE memory"),
        ("DETACH", "DETACH other"),
        ("EXPLAIN ANALYZE of a COPY", f"EXPLAIN ANALYZE COPY customers TO '{out}-explain.csv'"),
        ("dynamic SQL", f"SELECT * FROM query('COPY customers TO ''{out}-q.csv''')"),
        ("query_table", "SELECT * FROM query_table('workspace_secret')"),
        ("the workspace secret", "SELECT hex(secret) FROM workspace_secret"),
        ("the secret through SUMMARIZE", "SUMMARIZE workspace_secret"),
        ("remote file", "SELECT * FROM read_csv('https://example.com/x.csv')"),
    ]


ALLOWED = [
    ("SELECT", "SELECT count(*) AS n FROM orders"),
    ("WITH", "WITH o AS (SELECT customer_id FROM orders) SELECT count(DISTINCT customer_id) AS n FROM o"),
    ("EXPLAIN", "EXPLAIN SELECT * FROM orders"),
    ("DESCRIBE", "DESCRIBE orders"),
    ("SHOW", "SHOW TABLES"),
    ("SUMMARIZE", "SUMMARIZE orders"),
]


def _state(path: Path, folder: Path) -> tuple:
    with Workspace(path, read_only=True) as ws:
        counts = (ws.count("orders"), ws.count("customers"), ws._con.execute(
            "SELECT count(*) FROM customers WHERE email IS NOT NULL").fetchall()[0][0])
    with duckdb.connect(str(folder / "other.duckdb"), read_only=True) as con:
        precious = con.execute("SELECT count(*) FROM precious").fetchall()[0][0]
    files = sorted(p.name for p in folder.iterdir())
    return counts, precious, files


def test_every_forbidden_statement_is_refused_and_changes_nothing(shop):
    folder = shop.parent
    before = _state(shop, folder)
    runner = CliRunner()
    for name, query in forbidden(folder):
        result = runner.invoke(app, ["sql", query, "--format", "csv", "--workspace", str(shop)])
        assert result.exit_code != 0, f"{name}: ran ({result.output[:200]})"
        assert "root:" not in result.output and "Traceback" not in result.output, name
        assert _state(shop, folder) == before, f"{name} changed something"


def test_read_only_queries_still_work(shop):
    runner = CliRunner()
    for name, query in ALLOWED:
        result = runner.invoke(app, ["sql", query, "--format", "csv", "--workspace", str(shop)])
        assert result.exit_code == 0, f"{name}: {result.output}"
    out = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM orders", "--format", "json", "--workspace", str(shop)])
    with Workspace(shop, read_only=True) as ws:
        assert f'"n": {ws.count("orders")}' in out.output


def test_refusals_are_decided_by_the_parser_not_by_text():
    """A keyword inside a string or a comment is not a statement; a statement in lower case is."""
    from regulars.data import sandbox

    assert sandbox.check("SELECT 'COPY x TO y; ATTACH' AS words -- DELETE FROM orders")
    for query in ("copy orders to 'x.csv'", "/* hello */ attach 'x.duckdb'", "  set threads=1"):
        with pytest.raises(sandbox.SqlRefused):
            sandbox.check(query)


def test_in_a_child_process_too(shop):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = shop.parent / "child.csv"
    run = subprocess.run([sys.executable, "-m", "regulars.cli.main", "sql",
                          f"COPY (SELECT email FROM customers) TO '{out}'", "--workspace", str(shop)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1 and "only a read-only query can run here" in run.stderr and not out.exists()


def test_any_api_route_taking_sql_goes_through_the_sandbox(tmp_path, shop):
    """Today no route takes SQL; one that names a parameter sql/query/statement must refuse the list."""
    from regulars.api import Settings, create_app

    spec = create_app(Settings(workspace=str(shop))).openapi()
    routes = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            names = {p["name"] for p in op.get("parameters", [])}
            body = str(op.get("requestBody", ""))
            if names & {"sql", "query", "statement"} or any(f"'{n}'" in body for n in ("sql", "statement")):
                routes.append((method, path))
    if not routes:
        return
    from tests.api.server import start

    server = start(shop)
    try:
        for method, path in routes:
            for name, query in forbidden(shop.parent):
                with server.client("admin") as c:
                    r = c.request(method.upper(), path, params={"sql": query, "query": query, "statement": query})
                assert r.status_code in (400, 403, 422), (method, path, name, r.status_code)
    finally:
        server.stop()
