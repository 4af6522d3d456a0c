"""Column names say their type (issue 15, item 6): ``*_at`` is a UTC timestamp, ``*_date`` a date.

Checked on every column of every table of a freshly migrated workspace, both ways: a column named
``*_at`` must be a TIMESTAMP and one named ``*_date`` a DATE; a TIMESTAMP column must be named
``*_at`` and a DATE column ``*_date``, unless :data:`ALLOWED` names it with a reason. An upgraded
workspace (schema version 17, before the dates of the prediction tables were renamed) keeps its
rows and its saved segment rules.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from regulars import Workspace
from regulars.data import migrations
from regulars.data.connection import connection

#: Columns whose type their name does not spell, and why (any table). Keep it short.
ALLOWED = {
    "as_of": "the date a figure is as of: the product's one word for it (docs/for-contributors.md)",
    "cutoff": "the as-of date of a backtest, audit or evaluation (DATE; in retention_runs the moment "
              "before which rows were removed, a TIMESTAMP)",
    "since_as_of": "the as-of date of the refresh that put the customer in the segment",
    "day": "the calendar day a daily table is by (its grain)",
    "spent_on": "the day marketing money was spent (a canonical column that shops' files use)",
    "planned_end": "the day an experiment is planned to end",
    "next_order_lower": "lower bound of the 80 % range around next_order_date",
    "next_order_upper": "upper bound of the 80 % range around next_order_date",
    "due_lower": "lower bound of the 80 % range around due_date",
    "due_upper": "upper bound of the 80 % range around due_date",
    "orders_to_date": "a count of orders so far ('to date'), not a date",
}


def _columns(ws) -> list[tuple[str, str, str]]:
    return connection(ws).execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()


def misnamed(columns) -> list[str]:
    """The columns whose name and type disagree, as ``table.column (TYPE): why``."""
    out = []
    for table, column, type_ in columns:
        timestamp, date = type_.startswith("TIMESTAMP"), type_ == "DATE"
        if column in ALLOWED:
            continue
        if column.endswith("_at") and not timestamp:
            out.append(f"{table}.{column} ({type_}): named *_at but not a timestamp")
        elif column.endswith("_date") and not date:
            out.append(f"{table}.{column} ({type_}): named *_date but not a date")
        elif timestamp and not column.endswith("_at"):
            out.append(f"{table}.{column} ({type_}): a timestamp not named *_at")
        elif date and not column.endswith("_date"):
            out.append(f"{table}.{column} ({type_}): a date not named *_date")
    return out


def test_every_column_name_says_its_type(workspace):
    columns = _columns(workspace)
    assert len(columns) > 500
    assert misnamed(columns) == []
    names = {c for _, c, _ in columns}
    assert set(ALLOWED) <= names, f"allowed but gone: {sorted(set(ALLOWED) - names)}"


def test_the_check_sees_each_kind_of_mistake():
    columns = [("t", "due_at", "DATE"), ("t", "born_date", "VARCHAR"), ("t", "seen", "TIMESTAMP WITH TIME ZONE"),
               ("t", "birthday", "DATE"), ("t", "seen_at", "TIMESTAMP WITH TIME ZONE"), ("t", "as_of", "DATE"),
               ("t", "born_date", "DATE")]
    assert misnamed(columns) == [
        "t.due_at (DATE): named *_at but not a timestamp",
        "t.born_date (VARCHAR): named *_date but not a date",
        "t.seen (TIMESTAMP WITH TIME ZONE): a timestamp not named *_at",
        "t.birthday (DATE): a date not named *_date",
    ]


@pytest.fixture
def version_17(tmp_path):
    """A workspace as schema version 17 left it, with a prediction, a replenishment and a saved rule."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, description VARCHAR, applied_at TIMESTAMP)")
    for m in migrations.MIGRATIONS[:17]:
        for stmt in m.statements():
            stmt(con) if callable(stmt) else con.execute(stmt)
        con.execute("INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)", [m.version, m.description])
    con.execute("INSERT INTO customer_predictions (customer_id, as_of, last_order_at, next_order_at) "
                "VALUES ('C1', '2024-06-01', '2024-05-20', '2024-06-15')")
    con.execute("INSERT INTO replenishments (customer_id, product_id, as_of, last_bought_at, due_at) "
                "VALUES ('C1', 'P1', '2024-06-01', '2024-05-20', '2024-06-19')")
    con.execute("INSERT INTO segment_versions VALUES ('due', 1, 'next_order_at < today + 7 and orders >= 2', '', "
                "now()::TIMESTAMP), ('big', 1, 'orders >= 10', '', now()::TIMESTAMP)")
    con.close()
    return path


def test_an_old_workspace_keeps_its_dates_under_their_new_names(version_17):
    with Workspace(version_17) as ws:
        assert misnamed(_columns(ws)) == []
        con = connection(ws)
        assert con.execute("SELECT last_order_date, next_order_date FROM customer_predictions").fetchall() == [
            (dt.date(2024, 5, 20), dt.date(2024, 6, 15))]
        assert con.execute("SELECT last_bought_date, due_date FROM replenishments").fetchall() == [
            (dt.date(2024, 5, 20), dt.date(2024, 6, 19))]
        assert dict(con.execute("SELECT segment_id, rule FROM segment_versions").fetchall()) == {
            "due": "next_order_date < today + 7 and orders >= 2", "big": "orders >= 10"}
