"""Experiments end to end on a real workspace: store, jobs, outcomes and reports."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from regulars.data import experiments_store as store
from regulars.data.experiments_store import ExperimentError
from regulars.jobs.experiments import (assign_customers, create_experiment, record_assignments, update_bandit,
                                       upload_assignments)
from regulars.reports import experiments as rep
from tests.experiments.shop import AS_OF, START, experiment_shop


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws, truth = experiment_shop(tmp_path_factory.mktemp("exp") / "shop.duckdb")
    yield ws, truth
    ws.close()


def test_analysis_reads_outcomes_as_the_mart_defines_them_and_finds_the_planted_effect(shop):
    ws, truth = shop
    report = rep.analyze(ws, "Spring offer", as_of=AS_OF)
    r = report.result
    assert report.analysed == len(truth["ids"]) and report.pending == 0
    sizes = {a.arm: a.customers for a in r.arms}
    assert sizes == {"control": int((truth["arm"] == "control").sum()), "offer": int((truth["arm"] == "offer").sum())}
    # per-arm revenue equals the generator's window purchases: the cancelled order, the guest order and the
    # order after the as-of date are not counted
    offer = truth["arm"] == "offer"
    assert r.arms[1].revenue_total == pytest.approx(truth["observed_revenue"][offer].sum(), abs=0.01)
    assert r.arms[0].conversion == pytest.approx(truth["buy"][~offer].mean())
    c = r.comparisons[0]
    assert c.revenue_cuped.lower <= truth["true_revenue_effect"] <= c.revenue_cuped.upper
    assert c.conversion.lower <= truth["lift"] <= c.conversion.upper
    assert c.cuped.variance_reduction > 0.05
    assert c.revenue_cuped.se < c.revenue.se
    assert not r.srm.mismatch
    assert c.decision_interval == "always-valid"          # no planned end: no fixed horizon was committed to
    assert c.always_valid[0] < c.revenue_cuped.lower and c.always_valid[1] > c.revenue_cuped.upper
    assert "EUR per customer more than doing nothing" in c.sentence and "chance it is positive" in c.sentence
    d = report.to_dict()
    assert "salt" not in d["experiment"] and d["sentences"] == [c.sentence]


def test_windows_still_open_are_not_analysed(shop):
    ws, truth = shop
    report = rep.analyze(ws, "spring-offer", as_of=dt.date(2024, 3, 20))
    assert report.analysed == 0 and report.pending == len(truth["ids"]) and report.result is None
    assert any("still inside their 30-day window" in n for n in report.notes)


def test_planned_end_switches_from_always_valid_to_fixed_horizon(shop):
    ws, _ = shop
    ws._con.execute("UPDATE experiments SET planned_end = DATE '2024-05-01' WHERE experiment_id = 'spring-offer'")
    try:
        early = rep.analyze(ws, "spring-offer", as_of=AS_OF)
        late = rep.analyze(ws, "spring-offer", as_of=dt.date(2024, 5, 2))
    finally:
        ws._con.execute("UPDATE experiments SET planned_end = NULL WHERE experiment_id = 'spring-offer'")
    assert early.result.comparisons[0].decision_interval == "always-valid"
    assert any("planned to run until 2024-05-01" in w for w in early.result.warnings)
    assert late.result.comparisons[0].decision_interval == "fixed-horizon"


def test_skewed_assignment_log_raises_sample_ratio_mismatch(tmp_path):
    ws, _ = experiment_shop(tmp_path / "skew.duckdb", n=6000, seed=3)
    ws._con.execute("DELETE FROM experiment_assignments WHERE arm = 'offer' AND hash(customer_id) % 10 = 0")
    r = rep.analyze(ws, "spring-offer", as_of=AS_OF).result
    ws.close()
    assert r.srm.mismatch and any("sample-ratio mismatch" in w for w in r.warnings)


def test_assign_customers_is_deterministic_and_logs_the_source(shop):
    ws, _ = shop
    create_experiment(ws, "Journey holdout", "control:0.2,reminder:0.8", action="cart_reminder")
    first = assign_customers(ws, "journey-holdout", ["c000001", "c000002", "nobody"], source="journey",
                             source_ref="cart_abandonment")
    again = assign_customers(ws, "journey-holdout", ["c000002", "c000001"], source="journey")
    assert first.new.tolist() == [True, True, False] and pd.isna(first.arm.iloc[2])
    assert not again.new.any()
    assert dict(zip(again.customer_id, again.arm)) == dict(zip(first.customer_id[:2], first.arm[:2]))
    log = ws.sql("SELECT source, source_ref FROM experiment_assignments WHERE experiment_id = 'journey-holdout'")
    assert set(log.source) == {"journey"} and set(log.source_ref) == {"cart_abandonment"}
    listed = rep.experiment_list(ws).set_index("experiment_id")
    assert listed.loc["journey-holdout", "arms"] == "control 20% / reminder 80%"
    assert listed.loc["journey-holdout", "customers"] == 2 and listed.loc["journey-holdout", "action"] == "cart_reminder"


def test_upload_keeps_every_row_accounted_for_and_is_idempotent(shop, tmp_path):
    ws, _ = shop
    create_experiment(ws, "Postcard test", "control:0.5,postcard:0.5")
    f = tmp_path / "split.csv"
    f.write_text("customer_id,arm,assigned_at\n"
                 "c000010,postcard,2024-03-01\n"
                 "c000011,control,2024-03-01 10:00\n"
                 "c000011,control,\n"              # repeats a row: already
                 "c000012,flyer,2024-03-01\n"      # unknown arm
                 "ghost,control,2024-03-01\n"      # unknown customer
                 "c000013,control,yesterday\n"     # bad date
                 "c000014,control,2024-03-01\n"
                 "c000014,postcard,2024-03-01\n")  # two arms in one file
    r = upload_assignments(ws, "postcard-test", f)
    assert r.rows == 8 and r.recorded + r.already + len(r.rejected) == 8
    assert (r.recorded, r.already) == (2, 1)
    reasons = dict(zip(r.rejected["row"], r.rejected["reason"]))
    assert set(reasons) == {5, 6, 7, 8, 9}
    assert "arm must be one of" in reasons[5] and "not a known customer" in reasons[6]
    assert "not a date" in reasons[7] and "different arms" in reasons[8]
    again = upload_assignments(ws, "postcard-test", f)
    assert again.recorded == 0 and store.arm_counts(ws._con, "postcard-test") == {"control": 1, "postcard": 1}
    conflict = record_assignments(ws, "postcard-test", pd.DataFrame({"customer_id": ["c000010"], "arm": ["control"]}),
                                  source="campaign", source_ref="newsletter-42")
    assert conflict.recorded == 0 and "already assigned to arm postcard" in conflict.rejected["reason"].iloc[0]


def test_stratified_creation_balances_every_segment(tmp_path):
    from regulars.data.migrations import LATEST  # noqa: F401  (workspace is migrated on open)
    ws, truth = experiment_shop(tmp_path / "strata.duckdb", n=3000, seed=5, name="Plain")
    ws._con.execute("INSERT INTO segment_definitions VALUES ('rfm:loyal', 'Loyal', 'rfm', '', now(), now(), NULL), "
                   "('rfm:new', 'New', 'rfm', '', now(), now(), NULL)")
    ws._con.register("_m", pd.DataFrame({"customer_id": truth["ids"],
                                        "segment_id": np.where(truth["loyal"], "rfm:loyal", "rfm:new")}))
    ws._con.execute("INSERT INTO segment_memberships SELECT segment_id, customer_id, 1, 1, DATE '2024-03-01' FROM _m")
    out = create_experiment(ws, "Stratified", "control:0.5,offer:0.5", everyone=True, stratify_by="rfm", starts_at=START)
    split = ws.sql("SELECT stratum, arm, count(*) AS n FROM experiment_assignments WHERE experiment_id = 'stratified' "
                   "GROUP BY ALL ORDER BY ALL")
    for _, g in split.groupby("stratum"):
        assert abs(g.n.iloc[0] - g.n.iloc[1]) <= 1
    segment = create_experiment(ws, "Loyal only", "control:0.5,offer:0.5", segment="Loyal")
    by = rep.analyze(ws, "Plain", as_of=AS_OF, by_segment="rfm").result.comparisons[0].by_stratum
    strat = rep.analyze(ws, "Stratified", as_of=AS_OF).result.comparisons[0].by_stratum
    ws.close()
    assert {r["stratum"] for r in by} == {"Loyal", "New"} == {r["stratum"] for r in strat}
    assert sum(r["treatment"] + r["control"] for r in by) == 3000
    assert out["customers"] == 3000 and segment["customers"] == int(truth["loyal"].sum())


def test_plan_uses_the_shops_own_numbers(shop):
    ws, truth = shop
    p = rep.plan(ws, "conversion", lift=0.02, window_days=30, as_of=dt.date(2024, 3, 31))
    assert p.baseline == pytest.approx(truth["buy"].mean(), abs=0.01)
    assert p.available == len(truth["ids"])
    assert "customers per arm" in p.sentence
    r = rep.plan(ws, "revenue", effect=2.0, window_days=30, as_of=dt.date(2024, 3, 31))
    assert r.sd > 0 and "EUR" in r.sentence


def test_bandit_moves_customers_to_the_better_variant(tmp_path):
    ws, truth = experiment_shop(tmp_path / "bandit.duckdb", n=8000, lift=0.08, seed=9, name="Win-back offers",
                                arms="control:0.34,offer:0.33,other:0.33", kind="bandit", min_share=0.1)
    out = update_bandit(ws, "win-back-offers", as_of=AS_OF)
    ws.close()
    shares = out["shares"]
    assert max(shares, key=shares.get) in ("offer", "other")   # both carry the lift; control does not
    assert shares["control"] == pytest.approx(0.1, abs=0.02)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert out["regret"]["regret"] >= 0 and len(out["history"]) == 1


def test_measured_uplift_replaces_the_prior_once_there_is_enough_data(shop):
    ws, truth = shop
    ws._con.execute("UPDATE experiments SET action = 'spring_offer' WHERE experiment_id = 'spring-offer'")
    got = rep.response_uplift_for(ws, {"spring_offer": 0.10, "welcome": 0.02}, min_customers=1000, as_of=AS_OF)
    small = rep.response_uplift_for(ws, {"spring_offer": 0.10}, min_customers=50_000, as_of=AS_OF)
    assert got["spring_offer"].source == "measured" and got["welcome"].source == "prior"
    assert got["spring_offer"].lower <= truth["lift"] <= got["spring_offer"].upper
    assert small["spring_offer"].source == "prior" and small["spring_offer"].uplift == 0.10


def test_erasure_removes_a_customer_from_the_assignment_log(tmp_path):
    from regulars.data.erasure import forget

    ws, truth = experiment_shop(tmp_path / "erase.duckdb", n=500, seed=2)
    forget(ws, "c000007")
    left = ws.sql("SELECT count(*) AS n FROM experiment_assignments WHERE customer_id = 'c000007'").n.iloc[0]
    ws.close()
    assert left == 0


def test_clear_errors(shop):
    ws, _ = shop
    with pytest.raises(ExperimentError, match="no experiment 'nope'"):
        rep.analyze(ws, "nope")
    with pytest.raises(ValueError, match="add up to 1"):
        create_experiment(ws, "Bad", "control:0.5,offer:0.6")
    with pytest.raises(ExperimentError, match="already exists"):
        create_experiment(ws, "Spring offer", "control:0.5,offer:0.5")


def test_next_best_action_uses_the_uplift_an_experiment_measured(shop):
    """The bridge from experiments to next best action: an experiment on an action replaces its prior;
    an uplift recorded by hand in ``action_uplift`` still takes precedence over it."""
    from regulars.data import recommend_store
    from regulars.jobs.next_actions import uplift_source
    from regulars.recommend.actions import ActionCatalogue

    ws, truth = shop
    catalogue = ActionCatalogue.from_dict({"costs": {"email": 0.1}, "action": [
        {"id": "spring_offer", "label": "Spring offer", "eligibility": "orders >= 0", "channels": ["email"],
         "response": "purchase", "value": "basket", "uplift": 0.10},
        {"id": "welcome", "label": "Welcome", "eligibility": "orders >= 0", "channels": ["email"],
         "response": "purchase", "value": "basket", "uplift": 0.02}]})
    frame = pd.DataFrame({"customer_id": ["c000001", "c000002"]})
    ws._con.execute("UPDATE experiments SET action = 'spring_offer' WHERE experiment_id = 'spring-offer'")
    try:
        source = uplift_source(ws, catalogue, AS_OF)
        offer, why = source.lookup(catalogue.actions[0], frame)
        welcome, why_welcome = source.lookup(catalogue.actions[1], frame)
        recommend_store.record_uplift(ws, "spring_offer", 0.2, "hand-entered test")
        by_hand, _ = uplift_source(ws, catalogue, AS_OF).lookup(catalogue.actions[0], frame)
    finally:
        ws._con.execute("UPDATE experiments SET action = NULL WHERE experiment_id = 'spring-offer'")
        ws._con.execute("DELETE FROM action_uplift WHERE action = 'spring_offer'")
    measured = rep.response_uplift_for(ws, {"spring_offer": 0.10}, 1, AS_OF)  # the action is gone again: prior
    assert measured["spring_offer"].source == "prior"
    assert offer[0] != 0.10 and abs(offer[0] - truth["lift"]) < 0.03
    assert why[0].startswith("measured") and "experiment spring-offer" in why[0]
    assert welcome[0] == 0.02 and why_welcome[0].startswith("prior")
    assert by_hand[0] == 0.2
