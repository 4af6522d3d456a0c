"""Saved, versioned segments; memberships with entry/exit history across refreshes; the reports and CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from typer.testing import CliRunner

from regulars.cli.segments import register
from regulars.reports import segments as reports
from regulars.jobs.segments import refresh
from regulars.segments.membership import SegmentError, create_segment, delete_segment, get_segment
from regulars.segments.rules import RuleError
from tests.segments.conftest import add_orders

D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 5, 1)


@pytest.fixture
def shop(workspace):
    add_orders(workspace, [
        ("a1", "a", "2024-01-05", 40), ("a2", "a", "2024-02-20", 60),
        ("b1", "b", "2024-02-10", 30),
        ("c1", "c", "2023-06-01", 300),
    ])
    workspace._con.execute("INSERT INTO products VALUES ('p1', NULL, 'Beans', 'Coffee', NULL, 10, true, NULL)")
    workspace._con.execute("INSERT INTO order_lines (order_id, line_number, product_id, quantity, unit_price) "
                          "VALUES ('a1', 1, 'p1', 4, 10), ('b1', 1, 'p1', 3, 10)")
    return workspace


def members(ws, sid):
    return sorted(ws.sql("SELECT customer_id FROM segment_memberships WHERE segment_id = ?", [sid])["customer_id"])


def test_history_across_two_refreshes(shop):
    create_segment(shop, "Regulars", "orders >= 2")
    create_segment(shop, "Recent", "days_since_last_order <= 30", description="bought in the last month")
    r1 = refresh(shop, as_of=D1)
    assert r1.refresh_id == 1 and r1.as_of == D1
    assert members(shop, "regulars") == ["a"]
    assert members(shop, "recent") == ["a", "b"]

    # new data: b buys again (joins Regulars, stays Recent); a goes quiet (leaves Recent)
    add_orders(shop, [("b2", "b", "2024-04-20", 25)])
    r2 = refresh(shop, as_of=D2)
    assert members(shop, "regulars") == ["a", "b"]
    assert members(shop, "recent") == ["b"]

    h = reports.history(shop, "recent")
    assert h[["refresh_id", "customer_id", "change"]].values.tolist() == [
        [2, "a", "exited"], [1, "a", "entered"], [1, "b", "entered"]]
    assert str(h.as_of.iloc[0])[:10] == "2024-05-01"
    since = shop.sql("SELECT customer_id, since_refresh FROM segment_memberships WHERE segment_id = 'regulars' "
                     "ORDER BY 1").values.tolist()
    assert since == [["a", 1], ["b", 2]]

    move = reports.movement(shop, family="rule").table.set_index("segment_id")
    assert move.loc["recent", ["before", "after", "entered", "exited", "net"]].tolist() == [2, 1, 0, 1, -1]
    assert move.loc["regulars", ["before", "after", "entered", "exited"]].tolist() == [1, 2, 1, 0]
    assert r2.entered >= 1 and r2.exited >= 1


def test_builtin_segments_get_memberships(shop):
    refresh(shop, as_of=D1)
    rfm = reports.sizes(shop, family="rfm")
    assert rfm.table["members"].sum() == 3  # every buyer is in exactly one RFM segment
    assert rfm.customers == 3 and rfm.revenue == 430.0
    assert rfm.table["value_share"].sum() == pytest.approx(1.0)
    life = reports.sizes(shop, family="lifecycle").table.set_index("segment_id")["members"]
    assert life.sum() == 3
    assert members(shop, "affinity:coffee") == ["a", "b"]  # a: 40/40 coffee lines, b: 30/30
    assert members(shop, "frequency:one_time") == ["b", "c"]
    assert get_segment(shop, "rfm:champions")["kind"] == "rfm"


def test_repeated_refresh_changes_nothing(shop):
    refresh(shop, as_of=D1)
    before = shop.sql("SELECT * FROM segment_memberships ORDER BY ALL")
    r = refresh(shop, as_of=D1)
    assert (r.entered, r.exited) == (0, 0)
    assert shop.sql("SELECT * FROM segment_memberships ORDER BY ALL").equals(before)


def test_versions_and_deletion(shop):
    create_segment(shop, "Big", "revenue >= 100")
    with pytest.raises(SegmentError, match="--replace"):
        create_segment(shop, "Big", "revenue >= 50")
    refresh(shop, as_of=D1, builtin=False)
    assert members(shop, "big") == ["a", "c"]
    saved = create_segment(shop, "Big", "revenue >= 30", replace=True)
    assert saved["version"] == 2
    refresh(shop, as_of=D1, builtin=False)
    assert members(shop, "big") == ["a", "b", "c"]
    assert set(shop.sql("SELECT version FROM segment_memberships WHERE segment_id = 'big'")["version"]) == {2}
    assert [v["rule"] for v in get_segment(shop, "big")["versions"]] == ["revenue >= 100", "revenue >= 30"]
    delete_segment(shop, "Big")
    refresh(shop, as_of=D1, builtin=False)
    assert members(shop, "big") == []
    assert "big" not in set(reports.segment_list(shop)["segment_id"])
    assert len(reports.history(shop, "big")) == 6  # 2 + 1 entered, then 3 exited


def test_rule_that_no_longer_fits_keeps_its_members(shop):
    create_segment(shop, "Coffee fans", "category_share_coffee > 0.5")
    refresh(shop, as_of=D1, builtin=False)
    assert members(shop, "coffee_fans") == ["a", "b"]
    shop._con.execute("DELETE FROM order_lines")  # the shop has no categories any more
    result = refresh(shop, as_of=D1, builtin=False)
    assert "coffee_fans" in result.errors and "unknown column" in result.errors["coffee_fans"]
    assert members(shop, "coffee_fans") == ["a", "b"]


def test_invalid_rule_is_rejected_on_create(shop):
    with pytest.raises(RuleError, match="did you mean 'orders'"):
        create_segment(shop, "Typo", "order >= 2")
    assert reports.segment_list(shop).empty


def test_cli(shop, tmp_path):
    app = typer.Typer()
    register(app)
    run = CliRunner()
    ws = ["--workspace", str(shop.path)]
    shop.close()

    out = run.invoke(app, ["segments", "create", "Regulars", "orders >= 2", *ws])
    assert out.exit_code == 0, out.output
    bad = run.invoke(app, ["segments", "create", "Oops", "orders >= 2 and", *ws])
    assert bad.exit_code == 1 and "the end of the rule" in bad.output and "^" in bad.output
    assert run.invoke(app, ["segments", "refresh", "--as-of", "2024-03-01", *ws]).exit_code == 0
    listed = json.loads(run.invoke(app, ["segments", "list", "--format", "json", *ws]).output)
    assert {"regulars", "rfm:new"} <= {row["segment_id"] for row in listed} or any(
        r["segment_id"].startswith("rfm:") for r in listed)
    mem = run.invoke(app, ["segments", "members", "Regulars", "--format", "csv", *ws])
    assert mem.exit_code == 0 and mem.output.splitlines()[1].startswith("a,")
    rfm = json.loads(run.invoke(app, ["segment", "rfm", "--as-of", "2024-03-01", "--format", "json", *ws]).output)
    assert sum(s["customers"] for s in rfm["summary"]) == 3
    csv = run.invoke(app, ["segment", "rfm", "--customers", "--format", "csv", *ws]).output.splitlines()
    assert csv[0].startswith("customer_id,as_of,last_order_date,recency_days") and len(csv) == 4
    life = run.invoke(app, ["segment", "lifecycle", "--at-risk-after", "20", "--churned-after", "60", *ws])
    assert life.exit_code == 0 and "given" in life.output
    assert run.invoke(app, ["segment", "tiers", "--format", "csv", *ws]).exit_code == 0
    hist = run.invoke(app, ["segments", "history", "regulars", "--format", "json", *ws])
    assert json.loads(hist.output)[0]["change"] == "entered"
    assert "unknown engine" in run.invoke(app, ["segment", "rfm", "--engine", "oracle", *ws]).output
    assert "not a date" in run.invoke(app, ["segment", "rfm", "--as-of", "yesterday", *ws]).output
    assert run.invoke(app, ["segments", "show", "nope", *ws]).exit_code == 1
