"""Fairness audit and model cards: metrics per group match a hand computation, planted gaps are found and
noise is not, sensitive inputs are reported, a model is added with one registration, and a card is
written for every fitted model on every prediction run."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from regulars import Workspace
from regulars.data import fairness_store, privacy_store
from regulars.fairness import audit_model, customer_groups
from regulars.jobs import audit as audit_job
from regulars.jobs.audit import AuditedModel, register, run_audit
from regulars.reports.fairness import NoCard, fairness_report, model_card, model_cards


def _biased(n=4000, bias=0.25, seed=0):
    rng = np.random.default_rng(seed)
    group = np.where(np.arange(n) % 2, "a", "b")
    outcome = rng.random(n) < 0.3
    score = np.clip(0.25 + 0.4 * outcome + rng.normal(0, 0.1, n) - bias * (group == "b"), 0, 1)
    scores = pd.DataFrame({"customer_id": np.arange(n), "score": score, "selected": score >= 0.5, "outcome": outcome})
    return scores, pd.DataFrame({"customer_id": np.arange(n), "channel": group})


def test_a_planted_disparity_is_flagged_and_a_fair_model_is_not():
    scores, groups = _biased(bias=0.25)
    flagged = audit_model("m", scores, groups, selection="selected")
    kinds = {f["kind"] for f in flagged.flags}
    assert {"four_fifths", "true_positive_gap", "calibration"} <= kinds
    assert any("four-fifths rule" in f["sentence"] for f in flagged.flags)
    fair, groups = _biased(bias=0.0)
    assert audit_model("m", fair, groups).flags == []


def test_metrics_per_group_match_a_hand_computation():
    scores, groups = _biased(n=1000, bias=0.1, seed=3)
    result = audit_model("m", scores, groups)
    data = scores.merge(groups)
    for row in result.groups:
        part = data[data["channel"] == row["group"]]
        assert row["n"] == len(part)
        assert row["selection_rate"] == pytest.approx(part["selected"].mean())
        assert row["true_positive_rate"] == pytest.approx(part.loc[part["outcome"], "selected"].mean())
        assert row["false_positive_rate"] == pytest.approx(part.loc[~part["outcome"], "selected"].mean())
        assert row["calibration_gap"] == pytest.approx(part["score"].mean() - part["outcome"].mean())


def test_small_groups_and_chance_gaps_are_not_flagged():
    rng = np.random.default_rng(1)
    n = 400
    scores = pd.DataFrame({"customer_id": np.arange(n), "score": 0.6 * rng.random(n), "outcome": rng.random(n) < 0.3})
    scores["selected"] = scores["score"] > 0.5
    groups = pd.DataFrame({"customer_id": np.arange(n), "region": ["tiny"] * 12 + ["big"] * (n - 12)})
    result = audit_model("m", scores, groups)
    assert [g["judged"] for g in result.groups if g["group"] == "tiny"] == [False]
    assert result.flags == [] and any("fewer than two groups" in n for n in result.notes)


def test_groups_pool_small_ones_and_band_ages():
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(100)],
                              "country": ["US"] * 95 + ["DE"] * 3 + [None, "  "],
                              "birth_date": pd.to_datetime(["1990-01-01"] * 60 + ["1950-01-01"] * 40)})
    g = customer_groups(customers, pd.Timestamp("2025-01-01").date(), min_group=5)
    assert g["country"].value_counts().to_dict() == {"US": 95, "other": 3, "unknown": 2}
    assert set(g["age_band"]) == {"35-44", "65+"}


def test_the_audit_of_the_demo_models(demo):
    run = run_audit(demo, ["churn", "propensity", "leads"])
    assert set(run.results) == {"churn", "propensity", "leads"}, run.skipped
    churn = run.results["churn"]
    assert {"country", "region", "acquisition_channel", "age_band"} <= set(churn.attributes)
    assert churn.notes[0] == "sensitive attributes used as model inputs: none"
    # selection rates and outcomes recomputed from the stored scores and the customers table
    scores = fairness_store.stored_scores(demo, "churn")
    attrs = demo.sql("SELECT customer_id, acquisition_channel FROM customers")
    joined = scores.merge(attrs, on="customer_id")
    for g in [g for g in churn.groups if g["attribute"] == "acquisition_channel" and g["group"] not in ("other",)]:
        part = joined[joined["acquisition_channel"].fillna("unknown") == g["group"]]
        assert g["n"] == len(part)
        assert g["selection_rate"] == pytest.approx(part["selected"].mean())
        assert g["observed_rate"] == pytest.approx(part["outcome"].mean())
    report = fairness_report(demo)
    assert [m["model"] for m in report.models] == ["churn", "leads", "propensity"]
    assert "a question, not a verdict" in report.notes[0]
    # judging the stored scores again (no refit) gives the same groups
    again = run_audit(demo, ["churn"], stored=True)
    assert again.results["churn"].groups == churn.groups


def test_gender_is_audited_when_the_data_has_it_and_sensitive_inputs_are_reported(demo):
    run_audit(demo, ["churn"])
    demo._con.execute("ALTER TABLE customers ADD COLUMN gender VARCHAR")
    demo._con.execute("UPDATE customers SET gender = CASE WHEN hash(customer_id) % 2 = 0 THEN 'f' ELSE 'm' END")
    again = run_audit(demo, ["churn"], stored=True)
    assert "gender" in again.results["churn"].attributes
    # a model that uses a sensitive attribute without the shop's consent is flagged
    fake = AuditedModel("uses_country", "test", "selected", "outcome",
                        lambda ctx: fairness_store.stored_scores(ctx.ws, "churn").drop(columns="cutoff"),
                        lambda ctx: ["orders", "country_is_us"])
    register(fake)
    try:
        r = run_audit(demo, ["uses_country"]).results["uses_country"]
        assert r.flags[0]["kind"] == "sensitive_input" and "country_is_us" in r.flags[0]["sentence"]
        privacy_store.put(demo._con, "sensitive_inputs", ["country"])
        r = run_audit(demo, ["uses_country"]).results["uses_country"]
        assert not [f for f in r.flags if f["kind"] == "sensitive_input"]
        assert "opted in by the shop: country" in r.notes[0]
    finally:
        audit_job.REGISTRY.pop("uses_country")


def test_every_fitted_model_has_a_card_regenerated_on_predict(demo):
    from regulars.jobs.predict import predict

    listing = model_cards(demo)
    names = [i["model"] for i in listing["items"]]
    assert set(names) >= {"churn", "propensity", "value", "next_order", "leads", "forecast"}
    card = model_card(demo, "churn")
    c = card["card"]
    assert c["sensitive_inputs"] == [] and "days_since_last_order" in c["features"]
    auc = next(p for p in c["performance"] if p["metric"] == "auc")
    bt = demo.sql("SELECT value, baseline_value FROM backtests WHERE model = 'churn' AND metric = 'auc'")
    assert auc["value"] == pytest.approx(bt["value"].iloc[-1]) and auc["baseline_value"] is not None
    md = card["markdown"]
    for heading in ("## Intended use", "## Data", "## Inputs", "## How accurate it has been", "## Fairness",
                    "## Known limitations"):
        assert heading in md
    assert "Not audited yet" in c["fairness"]["status"]
    value = model_card(demo, "value")["card"]
    assert value["coverage"] == [] or all("metric" in x for x in value["coverage"])
    assert any(x["metric"] == "interval_coverage" for x in model_card(demo, "next_order")["card"]["coverage"])
    # after an audit, the next predict writes the fairness results into the card
    run_audit(demo, ["churn"])
    predict(demo)
    again = model_card(demo, "churn")
    assert again["created_at"] >= card["created_at"] and again["run_id"] != card["run_id"]
    assert again["card"]["fairness"]["status"].startswith("Audited on")
    with pytest.raises(NoCard):
        model_card(demo, "nonexistent")


def test_cli_audit_show_and_model_card(demo):
    from regulars.cli.main import app

    run_audit(demo, ["leads"])
    path = str(demo.path)
    demo.close()
    try:
        out = CliRunner().invoke(app, ["audit", "--show", "--workspace", path])
        assert out.exit_code == 0, out.output
        assert "leads" in out.output and "sensitive attributes used as model inputs: none" in out.output
        out = CliRunner().invoke(app, ["audit", "nba", "--workspace", path])
        assert out.exit_code == 1 and "auditable: churn, propensity, leads," in out.output and "recommendations" in out.output
        out = CliRunner().invoke(app, ["model-card", "churn", "--workspace", path])
        assert out.exit_code == 0 and out.output.startswith("# Model card: Churn risk")
        out = CliRunner().invoke(app, ["model-card", "churn", "--json", "--workspace", path])
        assert json.loads(out.output)["card"]["model"] == "churn"
    finally:
        demo.__init__(path)


def test_next_best_action_and_recommendations_are_audited_by_registration(demo):
    run = run_audit(demo, ["next_action", "recommendations"])
    assert set(run.results) | set(run.skipped) == {"next_action", "recommendations"}
    for name, result in run.results.items():
        assert result.n > 100 and result.groups, name
        assert any("not a probability" in n for n in result.notes)
        assert not [f for f in result.flags if f["kind"] == "calibration"]
        assert result.notes[0].startswith("sensitive attributes used as model inputs:")
    assert "next_action" in run.results, run.skipped


def test_thresholds_are_configurable_from_the_command_line(demo):
    """Regression: the four-fifths ratio and the rate gaps were fixed in the code."""
    from regulars.cli.main import app

    default = run_audit(demo, ["churn"]).results["churn"]
    strict = run_audit(demo, ["churn"], stored=True, disparity_threshold=0.99, gap_threshold=0.001,
                       calibration_threshold=0.001).results["churn"]
    assert len(strict.flags) > len(default.flags)
    lax = run_audit(demo, ["churn"], stored=True, disparity_threshold=0.01, gap_threshold=0.99,
                    calibration_threshold=0.99).results["churn"]
    assert not [f for f in lax.flags if f["kind"] != "sensitive_input"]
    path = str(demo.path)
    demo.close()
    try:
        out = CliRunner().invoke(app, ["audit", "churn", "--stored", "--min-ratio", "0.99", "--max-gap", "0.1",
                                       "--max-calibration-gap", "0.1", "--json", "--workspace", path])
        assert out.exit_code == 0, out.output
        shown = json.loads(out.output)["models"][0]
        assert len(shown["flags"]) == len(strict.flags)
        out = CliRunner().invoke(app, ["audit", "churn", "--stored", "--min-ratio", "1.5", "--workspace", path])
        assert out.exit_code == 1 and "four-fifths rule" in " ".join(out.output.split()) and "Traceback" not in out.output
    finally:
        demo.__init__(path)


def test_the_api_takes_the_same_audit_options_as_the_command_line(demo_path, tmp_path):
    """Regression (issue 20): POST /api/fairness/run had no thresholds, cutoff or `stored`."""
    import shutil

    from tests.api.server import start

    path = tmp_path / "served.duckdb"
    shutil.copy(demo_path, path)
    with Workspace(path) as ws:
        run_audit(ws, ["churn"])
    server = start(path)
    try:
        with server.client("analyst") as api:
            def flags(**params):
                response = api.post("/api/fairness/run", params={"model": "churn", "stored": "true", **params})
                assert response.status_code == 200, response.text
                return [f for f in response.json()["results"]["churn"]["flags"] if f["kind"] != "sensitive_input"]

            default = flags()
            strict = flags(min_ratio=0.99, max_gap=0.1, max_calibration_gap=0.1)
            assert len(strict) > len(default)
            assert flags(min_ratio=0.01, max_gap=99, max_calibration_gap=99) == []
            default_cutoff = api.get("/api/fairness", params={"model": "churn"}).json()["models"][0]["cutoff"]
            earlier = str(dt.date.fromisoformat(str(default_cutoff)[:10]) - dt.timedelta(days=28))
            refit = api.post("/api/fairness/run", params={"model": "churn", "cutoff": earlier})
            assert refit.status_code == 200 and refit.json()["cutoff"] == earlier, refit.text
            for bad in ({"min_ratio": 1.5}, {"max_gap": 0}, {"cutoff": "not a date"}):
                refused = api.post("/api/fairness/run", params={"model": "churn", "stored": "true", **bad})
                assert refused.status_code == 422 and "Traceback" not in refused.text, (bad, refused.text)
    finally:
        server.stop()
