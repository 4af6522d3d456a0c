"""The prediction and backtest jobs on the demo shop: better than the naive rules, calibrated,
reasons that quote the customer's real numbers, honest refusals on thin data.

The demo shop (3,000 customers, fixed seed) is built once for the module through the normal
ingest path; thresholds are stated next to each assertion.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from regulars import Workspace
from regulars.cli.predict import register
from regulars.data import predictions_store as store
from regulars.data.purchases import purchase_sql
from regulars.jobs.backtest import backtest
from regulars import demo
from regulars.jobs.predict import predict
from regulars.reports.predictions import (
    backtest_report,
    customer_predictions,
    predictions_summary,
)



def _shop(tmp_path_factory, n, seed):
    ws = Workspace(tmp_path_factory.mktemp("shop") / "shop.duckdb")
    demo.build_demo(ws, n_customers=n, seed=seed)
    return ws


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws = _shop(tmp_path_factory, 3000, 11)
    result = backtest(ws)
    prediction = predict(ws)
    yield ws, result, prediction
    ws.close()


def test_churn_and_propensity_beat_the_naive_rules(shop):
    _, bt, _ = shop
    assert bt.statuses["churn"] == "ok" and bt.statuses["propensity"] == "ok"
    # AUC at least 0.03 above the rule 'days since last order' (measured: about +0.08)
    assert bt.metric("churn", "auc") >= bt.baseline("churn", "auc") + 0.03
    assert bt.metric("propensity", "auc") >= bt.baseline("propensity", "auc") + 0.03
    assert bt.metric("churn", "pr_auc") > bt.baseline("churn", "pr_auc")
    assert bt.metric("propensity", "lift_top_decile") > bt.baseline("propensity", "lift_top_decile")
    # flagged at-risk customers who did not return: at least as many as the rule catches
    assert bt.metric("churn", "precision_flagged") >= bt.baseline("churn", "precision_flagged")


@pytest.mark.parametrize("model", ["churn", "propensity"])
def test_probabilities_are_calibrated(shop, model):
    _, bt, _ = shop
    # stated tolerance: mean |predicted - observed| over ten equal-count bins <= 8 points
    # (about 200 customers a bin: a standard error of 3 points), and a Brier score at least
    # 15% better than always predicting the base rate
    assert bt.metric(model, "calibration_error") <= 0.08
    assert bt.metric(model, "brier") <= 0.85 * bt.baseline(model, "brier")


def test_value_and_forecast_backtests_are_reported_against_their_rules(shop):
    ws, bt, _ = shop
    assert bt.metric("clv", "orders_mae") < bt.baseline("clv", "orders_mae")
    assert bt.metric("clv", "spend_mae") < bt.baseline("clv", "spend_mae")
    assert bt.metric("next_order", "mae_days_returners") < bt.baseline("next_order", "mae_days_returners")
    report = backtest_report(ws)
    assert set(report.models) >= {"churn", "propensity", "next_order", "clv", "forecast", "leads"}
    sentence = report.sentences("churn")[0]
    assert re.match(r"Of the [\d,]+ customers flagged as at risk .* did not order in the next 90 days", sentence)


def test_every_customer_gets_a_prediction_row(shop):
    ws, _, prediction = shop
    preds = store.read_customer_predictions(ws)
    buyers = ws.sql(f"SELECT count(DISTINCT customer_id) AS n FROM orders WHERE {purchase_sql()}")["n"].iloc[0]
    assert len(preds) == buyers == prediction.rows["customer_predictions"]
    # customers who refused personalisation keep a row without personal scores (tests/trust/test_consent.py)
    refused = preds["data_mode"] == "not_personalised"
    assert preds.loc[refused, "churn_risk"].isna().all()
    preds = preds[~refused]
    assert preds["churn_risk"].between(0, 1).all() and preds["propensity_30d"].between(0, 1).all()
    assert preds["p_alive"].between(0.01, 0.99).all()  # never "100% still buying"
    # an 80% range need not hold the mean (a likely 0 with a small chance of many orders)
    assert (preds["expected_orders_lower"] <= preds["expected_orders_upper"]).all()
    assert (preds["expected_spend_lower"] <= preds["expected_spend_upper"]).all()
    assert (preds["clv_lower"] <= preds["clv_upper"]).all()
    assert (pd.to_datetime(preds["next_order_lower"]) <= pd.to_datetime(preds["next_order_date"])).all()
    assert (pd.to_datetime(preds["next_order_date"]) <= pd.to_datetime(preds["next_order_upper"])).all()
    assert set(preds["churn_band"]) <= {"low", "medium", "high"}
    assert json.loads(preds["model_versions"].iloc[0])["churn"] == "churn-lgbm-1"


def test_reasons_quote_the_customers_real_numbers(shop):
    ws, _, _ = shop
    preds = store.read_customer_predictions(ws).set_index("customer_id")
    as_of = pd.Timestamp(preds["as_of"].iloc[0])
    last_order = ws.sql(f"SELECT customer_id, max(ordered_at)::DATE AS d FROM orders WHERE {purchase_sql()} "
                        "GROUP BY 1").set_index("customer_id")["d"]
    last_open = ws.sql("SELECT customer_id, max(occurred_at)::DATE AS d FROM messages "
                       "WHERE event_type IN ('opened', 'clicked') GROUP BY 1").set_index("customer_id")["d"]
    last_visit = ws.sql("SELECT customer_id, max(occurred_at)::DATE AS d FROM events "
                        "WHERE customer_id IS NOT NULL GROUP BY 1").set_index("customer_id")["d"]
    checks = {r"no order for (\d+) days": last_order, r"last order (\d+) days ago": last_order,
              r"opened no e-mail in (\d+) days": last_open, r"no site visit in (\d+) days": last_visit,
              r"visited the site (\d+) days ago": last_visit}
    seen = dict.fromkeys(checks, 0)
    n_reasons = 0
    for cid, text in preds["churn_reasons"].dropna().items():  # none for who refused personalisation
        for sentence in json.loads(text):
            n_reasons += 1
            for pattern, source in checks.items():
                m = re.match(pattern, sentence)
                if m:
                    assert int(m.group(1)) == (as_of - pd.Timestamp(source[cid])).days, (cid, sentence)
                    seen[pattern] += 1
            # which way it pushes, and the web sentence agrees with the 30-day counts beside it
            assert sentence.endswith(("(raises the risk)", "(lowers the risk)")), sentence
            stale = re.match(r"no site visit in (\d+) days", sentence)
            assert stale is None or int(stale.group(1)) > 30, sentence
            fresh = re.match(r"visited the site (\d+) days ago \((\d+) actions in the last 30 days", sentence)
            assert fresh is None or (int(fresh.group(1)) <= 30 and int(fresh.group(2)) >= 1), sentence
    assert n_reasons > len(preds)  # more than one reason per customer on average
    assert seen[r"no order for (\d+) days"] > 0 and seen[r"no site visit in (\d+) days"] > 0


def test_reports_and_cli_show_predictions_with_their_accuracy(shop):
    ws, _, _ = shop
    summary = predictions_summary(ws)
    assert summary.counts["customers"] > 0 and summary.at_risk and summary.forecast
    assert summary.accuracy["churn"][0].startswith("backtest with cutoff")
    cid = summary.at_risk[0]["customer_id"]
    one = customer_predictions(ws, cid)
    assert one.predictions["churn_band"] == "high" and one.reasons["churn"]
    path = str(ws.path)
    app = typer.Typer()
    register(app)
    ws.close()
    try:
        out = CliRunner().invoke(app, ["customer", cid, "--workspace", path])
        assert out.exit_code == 0, out.output
        assert "churn risk" in out.output and "how accurate" in out.output
        assert "orders again within 365 days" in out.output and "still buying" not in out.output
        out = CliRunner().invoke(app, ["backtest", "--show", "--workspace", path])
        assert out.exit_code == 0 and "days since last order" in out.output
        # every range's measured coverage next to the nominal 80%, on one line
        assert re.search(r"80% ranges, share of actual outcomes inside \(nominal 80%\): orders \d+%, spend \d+%, "
                         r"CLV \d+%, next order date \d+%, forecast \d+%", " ".join(out.output.split()))
        out = CliRunner().invoke(app, ["customer", "nobody", "--workspace", path])
        assert out.exit_code == 1 and "no customer 'nobody'" in out.output
    finally:
        ws.__init__(path)


def test_thin_data_is_refused_instead_of_showing_numbers(tmp_path_factory):
    ws = _shop(tmp_path_factory, 60, 3)
    try:
        result = predict(ws)
        assert result.verdicts["churn"].refused and result.verdicts["propensity"].refused
        assert "customers have ordered" in result.verdicts["churn"].messages[0]
        preds = store.read_customer_predictions(ws)
        assert preds["churn_risk"].isna().all() and preds["propensity_30d"].isna().all()
        one = customer_predictions(ws, preds["customer_id"].iloc[0])
        assert "churn" in one.refused and "at least 100" in one.refused["churn"][0]
        bt = backtest(ws)
        assert bt.statuses["churn"] == "refused"
    finally:
        ws.close()


def test_small_shop_runs_in_small_data_mode_with_honest_output(tmp_path_factory):
    ws = _shop(tmp_path_factory, 400, 5)
    try:
        result = predict(ws)
        assert result.verdicts["churn"].status == "small"
        preds = store.read_customer_predictions(ws)
        preds = preds[preds["data_mode"] != "not_personalised"]  # refused personalisation: no personal score
        assert (preds["data_mode"] == "small").all()
        assert preds["churn_risk"].notna().all()
        # wide intervals: the 80% range of expected orders spans at least 1 order for most likely returners
        width = preds["expected_orders_upper"] - preds["expected_orders_lower"]
        assert (width[preds["p_alive"] > 0.5] >= 1).mean() > 0.5
        bt = backtest(ws)
        assert bt.statuses.get("churn") in ("warn", "refused")
    finally:
        ws.close()


def test_money_and_flags_reach_the_classifiers_as_numbers(shop):
    # revenue is DECIMAL in the mart and the consent flags are booleans: both must arrive as
    # float features (a Decimal object column used to be dropped from the model silently)
    from regulars.features.mart import customer_features
    from regulars.data.as_of import ORDERS, resolve_as_of
    from regulars.jobs.snapshot import _feature_names, snapshot

    ws, _, _ = shop
    as_of = resolve_as_of(ws, basis=ORDERS)
    frame = snapshot(ws, as_of)
    assert {"revenue", "aov", "accepts_email", "days_since_last_order"} <= set(_feature_names(frame))
    assert frame["revenue"].dtype == float and frame["accepts_email"].dtype == float
    mart = customer_features(ws, as_of=as_of)
    expected = ws.execute(mart.filter(mart.orders > 0).revenue.sum())
    assert frame["revenue"].sum() == pytest.approx(float(expected), rel=1e-9)


def test_every_range_reports_its_measured_coverage_next_to_the_nominal_80(shop):
    _, bt, _ = shop
    rows = bt.rows.set_index(["model", "metric"])
    for model, metric in (("clv", "orders_coverage"), ("clv", "spend_coverage"), ("clv", "clv_coverage"),
                          ("next_order", "interval_coverage"), ("forecast", "interval_coverage")):
        row = rows.loc[(model, metric)]
        assert row["baseline"] == "nominal" and row["baseline_value"] == 0.8, (model, metric)
        assert 0.75 <= row["value"] <= 0.85, (model, metric, row["value"])  # measured: 77%, 80%, 81%, 79%, 77%
        assert "80%" in row["sentence"] and "below" in row["sentence"] or "earlier" in row["sentence"]


def test_the_forecast_range_holds_75_to_85_percent_of_the_replayed_days(shop):
    # 12 forecasts of 8 weeks, 4 weeks apart (measured: 77% of 672 forecast days). With the 4
    # separate windows judged before, this failed at 74%: one of them began after a campaign week
    # that "repeat last week" then repeated for 8 weeks (45% inside) and weighed a quarter
    _, bt, _ = shop
    row = bt.rows.set_index(["model", "metric"]).loc[("forecast", "interval_coverage")]
    assert 0.75 <= row["value"] <= 0.85, row["value"]
    assert row["n"] == 12 * 56 and "12 forecasts" in row["sentence"]


def test_value_is_judged_at_the_horizon_shown_against_a_repeat_buying_pace(shop):
    _, bt, prediction = shop
    value = bt.rows[bt.rows["model"] == "clv"]
    # the backtest ran before any prediction: the default horizon, 365 days, is the one judged
    assert (value["horizon_days"] == 365).all() and prediction.horizon_days == 365
    assert str(value["cutoff"].iloc[0]) == "2025-11-02"  # 365 days before the end of the data
    # the pace repeats repeat purchases only: its total is no longer inflated by first purchases
    assert abs(bt.baseline("clv", "orders_total_error")) < 0.5
    choice = value[value["metric"] == "model_choice"]["sentence"].iloc[0]
    assert re.match(r"(BG/NBD|MBG/NBD|Pareto/NBD) was chosen: ", choice)


def test_pace_baseline_counts_repeat_purchases_only(workspace):
    import datetime as dt

    from regulars.jobs.backtest_value import pace_baseline
    from tests.segments.conftest import add_orders

    add_orders(workspace, [("a1", "a", "2024-06-01 10:00", 50),  # one purchase: no pace at all
                           ("b1", "b", "2024-01-02 10:00", 20), ("b2", "b", "2024-02-01 10:00", 30),
                           ("b3", "b", "2024-03-02 10:00", 40)])
    pace = pace_baseline(workspace, workspace, dt.date(2024, 7, 1), 365)
    assert pace.loc["a", "orders"] == 0 and pace.loc["a", "spend"] == 0
    # b: 2 repeat purchases (70 net) in the 181 days since her first
    assert pace.loc["b", "orders"] == pytest.approx(2 * 365 / 181)
    assert pace.loc["b", "spend"] == pytest.approx(70 * 365 / 181)


def test_next_order_is_judged_as_two_questions(shop):
    _, bt, _ = shop
    rows = bt.rows[bt.rows["model"] == "next_order"].set_index("metric")
    # will they order within the horizon? better than giving everyone the base rate
    assert rows.loc["within_window_brier", "value"] < 0.9 * rows.loc["within_window_brier", "baseline_value"]
    assert rows.loc["within_window_auc", "value"] > 0.7
    bins = json.loads(rows.loc["within_window_calibration", "details"]) if isinstance(
        rows.loc["within_window_calibration", "details"], str) else rows.loc["within_window_calibration", "details"]
    assert {b["bin"] for b in bins["bins"]} >= {"0-10%", "90-100%"}
    assert re.search(r"of the [\d,]+ given 70-80%, \d+% did", rows.loc["within_window_calibration", "sentence"])
    # when? only those who came back, against their median gap
    assert rows.loc["mae_days_returners", "baseline"] == "last order + median gap"
    assert rows.loc["mae_days_returners", "value"] < rows.loc["mae_days_returners", "baseline_value"]
    assert "mae_days" not in rows.index  # the old score that rewarded predicting "never"


def test_forecast_backtest_says_which_won_and_predict_serves_the_winner(shop):
    ws, bt, prediction = shop
    sentence = bt.rows.set_index(["model", "metric"]).loc[("forecast", "mape_weekly"), "sentence"]
    assert re.search(r"(beat the rule|the rule beat the forecast|the rule did as well)", sentence)
    assert "Today:" in sentence and " is served" in sentence
    served = prediction.summary["forecast_model"]
    fc = store.read_table_as_of(ws, "demand_forecast")
    assert set(fc["model_version"]) == {"negbin-glm-2" if served["served"] == "model" else "seasonal-naive-1"}
    assert served["sentence"].split(" is served")[0].lower() in sentence.lower()


def test_leads_are_people_and_none_exists_only_through_later_links(shop):
    import datetime as dt

    from regulars.jobs.data_stats import data_stats
    from regulars.jobs.tables import as_known_on
    from regulars.features.leads import lead_features

    ws, bt, prediction = shop
    leads = store.read_table_as_of(ws, "lead_scores")
    assert leads["customer_id"].is_unique and len(leads) == prediction.rows["lead_scores"]
    as_of = prediction.as_of
    # people, not their events; who refused personalisation gets no lead score (issue 20's consent rule)
    from regulars.data.privacy_store import refused_personalisation

    people = set(ws.execute(lead_features(ws, as_of))["customer_id"])
    assert data_stats(ws, as_of).leads == len(people)
    assert set(leads["customer_id"]) == people - set(refused_personalisation(ws._con))
    cutoff = bt.cutoff
    known = ws.execute(lead_features(as_known_on(ws, cutoff), cutoff))
    everything = ws.execute(lead_features(ws, cutoff))
    assert known["customer_id"].is_unique and everything["customer_id"].is_unique
    # every lead at the cutoff was identifiable then: an event of theirs carried their identity or
    # came through a link made before the cutoff, or they opened an e-mail
    ids = "', '".join(known["customer_id"])
    evidence = ws.sql(f"""
        SELECT DISTINCT e.customer_id FROM events e
        LEFT JOIN identities i ON i.kind = 'anonymous_id' AND i.value = e.anonymous_id
        WHERE e.customer_id IN ('{ids}') AND e.occurred_at < TIMESTAMP '{cutoff}'
          AND (i.customer_id IS NULL OR i.customer_id <> e.customer_id OR i.linked_at < TIMESTAMP '{cutoff}')
        UNION SELECT DISTINCT customer_id FROM messages
        WHERE customer_id IN ('{ids}') AND occurred_at < TIMESTAMP '{cutoff}' AND event_type IN ('opened', 'clicked')""")
    assert set(known["customer_id"]) <= set(evidence["customer_id"])
    # without the point-in-time view, people identified only later looked like leads already
    assert len(everything) > len(known)


def test_predict_and_backtest_agree_on_what_thin_recent_data_supports(workspace):
    """Sales every day for 300 days, then on only 12 days of the last 180: predict refuses the
    forecast (too few days with sales in the window it learns from); the backtest, whose cutoff
    90 days earlier still sees busy months, used to fit and judge it anyway."""
    import datetime as dt

    import numpy as np

    rng = np.random.default_rng(1)
    start = dt.date(2024, 1, 1)
    rows = []
    for c in range(150):
        for day in range(c % 20, 300, 20):
            rows.append((f"o{c}-{day}", f"c{c:03d}", start + dt.timedelta(days=day), 20 + c % 7))
    for k, day in enumerate(sorted(rng.choice(np.arange(310, 480), 12, replace=False))):
        rows.append((f"late{k}", f"c{k:03d}", start + dt.timedelta(days=int(day)), 25))
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "total"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"]) + pd.Timedelta(hours=10)
    workspace._con.register("raw_orders", frame)
    workspace._con.execute("INSERT INTO customers (customer_id) SELECT DISTINCT customer_id FROM raw_orders")
    workspace._con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, total) "
                          "SELECT order_id, customer_id, ordered_at, CAST(total AS DECIMAL(18, 2)) FROM raw_orders")
    result = predict(workspace)
    assert result.verdicts["forecast"].refused
    assert "of the last 180 days" in result.verdicts["forecast"].messages[0]
    bt = backtest(workspace)
    assert bt.statuses["forecast"] == "refused"
    sentence = bt.sentences["forecast"][0]
    assert sentence.startswith("regulars predict refuses this today:") and "of the last 180 days" in sentence
    assert not (bt.rows["model"].eq("forecast") & bt.rows["value"].notna()).any()
