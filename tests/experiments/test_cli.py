"""`regulars experiments ...` in a child process, on a shop with a planted effect."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run
from tests.experiments.shop import experiment_shop


@pytest.fixture(scope="module")
def shop_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "shop.duckdb"
    ws, _ = experiment_shop(path, n=6000, lift=0.06, seed=21)
    ws.close()
    return path


def test_analyze_prints_the_answer_in_money(shop_path):
    out = run("experiments", "analyze", "Spring offer", "--as-of", "2024-04-15", workspace=shop_path).stdout
    assert "'offer' brought in" in out and "EUR per customer" in out and "chance it is positive" in out
    assert "always-valid" in out and "CUPED" in out and "sample ratio" in out
    d = json.loads(run("experiments", "analyze", "spring-offer", "--as-of", "2024-04-15", "--format", "json",
                       workspace=shop_path).stdout)
    assert d["analysed_customers"] == 6000 and d["result"]["comparisons"][0]["arm"] == "offer"
    assert "salt" not in d["experiment"]


def test_create_upload_assign_list_plan_and_errors(shop_path, tmp_path):
    created = json.loads(run("experiments", "create", "Cli test", "--arms", "holdout:0.1,email:0.9", "--action", "win_back",
                             "--format", "json", workspace=shop_path).stdout)
    assert created["control"] == "holdout" and created["customers"] == 0
    f = tmp_path / "a.csv"
    f.write_text("customer_id,arm\nc000001,email\nc000002,holdout\nnobody,email\n")
    up = json.loads(run("experiments", "assign-upload", "cli-test", f, "--format", "json", workspace=shop_path).stdout)
    assert (up["rows"], up["recorded"], up["rejected"]) == (3, 2, 1) and up["problems"][0]["row"] == "4"
    arms = json.loads(run("experiments", "assign", "cli-test", "c000001", "c000003", "--source", "journey",
                          "--ref", "win_back", "--format", "json", workspace=shop_path).stdout)
    assert arms[0] == {"customer_id": "c000001", "arm": "email", "new": False} and arms[1]["new"] is True
    plan = run("experiments", "plan", "--lift", "0.03", "--as-of", "2024-03-31", workspace=shop_path).stdout
    assert "customers per arm" in plan
    bad = run("experiments", "create", "Bad", "--arms", "a:0.7,b:0.7", workspace=shop_path, check=False)
    assert bad.returncode == 1 and "add up to 1" in bad.stderr and "Traceback" not in bad.stderr
    missing = run("experiments", "analyze", "nope", workspace=shop_path, check=False)
    assert missing.returncode == 1 and "regulars experiments list" in missing.stderr
