"""Rule parsing: what it accepts, errors that point at the bad token, and filters on a real mart."""

from __future__ import annotations

import pytest

from regulars.features.mart import customer_features
from regulars.segments.rules import RuleError, compile_rule, parse, rule_columns, validate
from tests.segments.conftest import AS_OF, add_orders

COLS = {"orders": "int64", "revenue": "decimal(18, 2)", "days_since_last_order": "int64",
        "category_share_coffee": "float64", "region": "string", "accepts_email": "boolean",
        "last_order_date": "date", "aov": "float64"}


@pytest.mark.parametrize("rule, canonical", [
    ("orders >= 3 and days_since_last_order > 60 and category_share_coffee > 0.5",
     "((orders >= 3) and (days_since_last_order > 60) and (category_share_coffee > 0.5))"),
    ("orders > 1 or orders = 0 and accepts_email", "((orders > 1) or ((orders = 0) and accepts_email))"),
    ("NOT (region IN ['north', \"south\"])", "(not (region in ['north', \"south\"]))"),
    ("region not in ['it''s']".replace("''", "\\'"), "(region not in ['it\\'s'])"),
    ("region is null or region is not null", "((region is null) or (region is not null))"),
    ("last_order_date < '2024-01-31'", "(last_order_date < '2024-01-31')"),
    ("60 < days_since_last_order", "(60 < days_since_last_order)"),
    ("aov > revenue", "(aov > revenue)"),
    ("accepts_email = false", "(accepts_email = false)"),
    ("orders >= 1e1", "(orders >= 1e1)"),
])
def test_accepts_readable_rules(rule, canonical):
    assert validate(rule, COLS) == canonical


@pytest.mark.parametrize("rule, message, position, caret", [
    ("ordrs >= 3", "unknown column 'ordrs' (did you mean 'orders'?)", 0, "^^^^^"),
    ("orders >= 3 and", "expected a column or a value, found the end of the rule", 15, "^"),
    ("orders >= 'three'", "orders is a number column: expected a number", 10, "^^^^^^^"),
    ("region = 3", "region is a string column: expected a quoted string", 9, "^"),
    ("region > 'a'", "'>' does not apply to string column 'region'", 7, "^"),
    ("(orders > 3", "expected ')' to close the parenthesis", 11, "^"),
    ("orders > 3 region = 'a'", "unexpected 'region'; join conditions with 'and' or 'or'", 11, "^^^^^^"),
    ("orders > 3; drop table orders", "unexpected character ';'", 10, "^"),
    ("__import__('os').system('ls')", "unexpected character '.'", 16, "^"),
    ("__import__('os')", "unknown column '__import__'", 0, "^^^^^^^^^^"),
    ("region in ('a')", "expected '[' to start the list", 10, "^"),
    ("region in [orders]", "a list holds values, not columns", 11, "^^^^^^"),
    ("orders", "column 'orders' (int64) needs a comparison, e.g. orders > 0", 0, "^^^^^^"),
    ("region and orders > 1", "e.g. region = 'some value'", 0, "^^^^^^"),
    ("orders = null", "use 'orders is null'", 9, "^^^^"),
    ("3 > 2", "compare a column with a value, not two values", 0, "^^^^^"),
    ("last_order_date > 'yesterday'", "expected a date like '2024-01-31'", 18, "^^^^^^^^^^^"),
    ("region = 'north", "unexpected character \"'\" (strings need matching quotes)", 9, "^"),
    ("", "the rule is empty", 0, "^"),
    ("aov > region", "cannot compare aov (number) with region (string)", 6, "^^^^^^"),
])
def test_errors_point_at_the_bad_token(rule, message, position, caret):
    with pytest.raises(RuleError) as info:
        parse(rule, COLS)
    err = info.value
    assert message in err.message
    assert err.position == position
    lines = str(err).splitlines()
    assert lines[0].endswith(f"at position {position + 1}")
    assert lines[1] == f"  {rule}"
    assert lines[2] == "  " + " " * position + caret


def test_never_evaluates_python(monkeypatch):
    import builtins

    monkeypatch.setattr(builtins, "eval", lambda *a, **k: pytest.fail("eval called"))
    with pytest.raises(RuleError):
        parse("().__class__", COLS)


def test_rule_columns():
    assert rule_columns("orders > 1 and region = 'orders'", COLS) == ["orders", "region"]


@pytest.fixture
def mart(workspace):
    add_orders(workspace, [
        ("o1", "a", "2024-01-10", 100), ("o2", "a", "2024-02-10", 50), ("o3", "a", "2024-03-10", 20),
        ("o4", "b", "2024-06-20", 30), ("o5", "c", "2023-01-01", 500),
    ])
    workspace._con.execute("UPDATE customers SET region = 'north' WHERE customer_id IN ('a', 'c')")
    workspace._con.execute("INSERT INTO customers (customer_id, created_at) VALUES ('d', '2024-01-01')")
    return workspace, customer_features(workspace, as_of=AS_OF, categories=[])


@pytest.mark.parametrize("rule, members", [
    ("orders >= 3 and days_since_last_order > 60", ["a"]),
    ("orders >= 3 and days_since_last_order > 120", []),
    ("region in ['north'] and not (revenue > 200)", ["a"]),
    ("region is null", ["b", "d"]),
    ("region != 'north'", []),  # a missing region is neither north nor not north
    ("not (aov > 50)", ["b"]),  # d has no aov: a comparison with a missing value is false, so is its not
    ("last_order_date >= '2024-03-10'", ["a", "b"]),
    ("first_order_date < '2024-01-01' or orders = 0", ["c", "d"]),
    ("accepts_personalization and not accepts_email", ["a", "b", "c", "d"]),
    ("revenue >= 170 and revenue <= 170.00", ["a"]),
])
def test_rules_filter_the_mart(mart, rule, members):
    ws, t = mart
    got = sorted(ws.execute(t.filter(compile_rule(rule, t)).select("customer_id"))["customer_id"])
    assert got == members
