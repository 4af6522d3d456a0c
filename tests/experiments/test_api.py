"""The experiments API routes on a real server (the page is tested in tests/web/test_experiments_page.py)."""

from __future__ import annotations

import pytest

from tests.api.server import start
from tests.experiments.shop import experiment_shop


@pytest.fixture(scope="module")
def exp_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("exp-api") / "shop.duckdb"
    ws, _ = experiment_shop(path, n=5000, lift=0.06, seed=31)
    ws.close()
    running = start(path, warm_reports=False, warm_profiles=False)
    yield running
    running.stop()


def test_viewer_reads_the_analysis_without_personal_data(exp_server):
    with exp_server.client("viewer") as c:
        listed = c.get("/api/experiments").json()
        assert [e["experiment_id"] for e in listed["items"]] == ["spring-offer"]
        r = c.get("/api/experiments/spring-offer/analysis")
        assert r.status_code == 200
        d = r.json()
        assert d["analysed_customers"] == 5000 and "brought in" in d["sentences"][0]
        assert "salt" not in d["experiment"] and "customer_id" not in r.text and "c000" not in r.text
        assert c.get("/api/experiments/nope/analysis").status_code == 404
        plan = c.get("/api/experiments/plan", params={"metric": "conversion", "lift": 0.03}).json()
        assert plan["n_per_arm"][0] > 0 and "customers per arm" in plan["sentence"]
        assert c.post("/api/experiments", json={"name": "x"}).status_code == 403   # viewers cannot write


def test_analyst_creates_and_assigns_through_the_api(exp_server):
    with exp_server.client("analyst") as c:
        r = c.post("/api/experiments", json={"name": "Api holdout", "arms": "control:0.2,email:0.8", "action": "win_back"})
        assert r.status_code == 201 and r.json()["experiment_id"] == "api-holdout"
        bad = c.post("/api/experiments", json={"name": "Bad", "arms": "control:0.9,email:0.8"})
        assert bad.status_code == 422 and "add up to 1" in bad.json()["message"]
        arms = c.post("/api/experiments/api-holdout/assignments",
                      json={"customer_ids": ["c000001", "c000002", "ghost"], "source": "journey", "source_ref": "win_back"})
        items = arms.json()["items"]
        assert [i["new"] for i in items] == [True, True, False] and items[2]["arm"] is None
        rec = c.post("/api/experiments/api-holdout/assignments",
                     json={"rows": [{"customer_id": "c000003", "arm": "email"}, {"customer_id": "c000004", "arm": "sms"}],
                           "source": "campaign"}).json()
        assert rec["recorded"] == 1 and rec["rejected"] == 1
        listed = c.get("/api/experiments").json()["items"]        # the cache was cleared by the write
        assert {e["experiment_id"]: e["customers"] for e in listed}["api-holdout"] == 3
