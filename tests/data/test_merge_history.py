"""An identity merge moves what happened to a person (experiment arms, journey sends, audience adds,
segment history) to the surviving id; it used to delete those rows, so a journey could message the
person again and an experiment lost them."""

from __future__ import annotations

import datetime as dt

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest


def test_history_follows_a_provisional_customer_into_the_shop_customer(tmp_path):
    (tmp_path / "events.csv").write_text("event_id,email,event_type,occurred_at\n"
                                         "ev1,ann@example.com,page_view,2024-05-01 10:00:00\n")
    (tmp_path / "customers.csv").write_text("customer_id,email\nC1,ann@example.com\nC2,bob@example.com\n")
    t0, t1 = dt.datetime(2024, 5, 1, 11), dt.datetime(2024, 5, 2, 9)
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "events", [str(tmp_path / "events.csv")])
        (provisional,) = ws._con.execute("SELECT customer_id FROM customers").fetchall()[0]
        con = ws._con
        # the visitor was put in an experiment's offer arm and got the welcome e-mail before the export
        con.execute("INSERT INTO experiment_assignments (experiment_id, customer_id, arm, assigned_at, source, recorded_at) "
                    "VALUES ('x1', ?, 'offer', ?, 'journey', ?), ('x2', ?, 'control', ?, 'journey', ?)",
                    [provisional, t0, t0, provisional, t1, t1])
        con.execute("INSERT INTO journey_sends (send_key, customer_id) VALUES ('welcome/1', ?)", [provisional])
        con.execute("INSERT INTO audience_members (audience_id, customer_id, added_at, source) VALUES ('a', ?, ?, 'j')",
                    [provisional, t0])
        con.execute("INSERT INTO segment_history (refresh_id, segment_id, customer_id, change) VALUES (1, 's', ?, 'entered')",
                    [provisional])
        ingest(ws, "customers", [str(tmp_path / "customers.csv")])
        ids = [r[0] for r in con.execute("SELECT customer_id FROM customers ORDER BY 1").fetchall()]
        arms = con.execute("SELECT experiment_id, customer_id, arm FROM experiment_assignments ORDER BY 1").fetchall()
        sends = con.execute("SELECT customer_id FROM journey_sends").fetchall()
        audience = con.execute("SELECT customer_id FROM audience_members").fetchall()
        history = con.execute("SELECT customer_id FROM segment_history").fetchall()
    assert ids == ["C1", "C2"]
    assert arms == [("x1", "C1", "offer"), ("x2", "C1", "control")]
    assert sends == [("C1",)] and audience == [("C1",)] and history == [("C1",)]


def test_a_person_assigned_under_both_ids_keeps_the_first_arm(tmp_path):
    from regulars.data.identity import merge

    t0, t1 = dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 3)
    with Workspace(tmp_path / "shop.duckdb") as ws:
        con = ws._con
        con.execute("INSERT INTO customers (customer_id) VALUES ('OLD'), ('NEW')")
        con.execute("INSERT INTO experiment_assignments (experiment_id, customer_id, arm, assigned_at, source, recorded_at) "
                    "VALUES ('x', 'NEW', 'control', ?, 'upload', ?), ('x', 'OLD', 'offer', ?, 'upload', ?), "
                    "('y', 'NEW', 'offer', ?, 'upload', ?)", [t1, t1, t0, t0, t1, t1])
        merge(con, [("OLD", "NEW")], "test")
        arms = con.execute("SELECT experiment_id, customer_id, arm FROM experiment_assignments ORDER BY 1").fetchall()
    assert arms == [("x", "NEW", "offer"), ("y", "NEW", "offer")]
