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
from regulars.jobs.predict import predict
from regulars.reports.predictions import (
    backtest_report,
    customer_predictions,
    predictions_summary,
)

demo = pytest.importorskip("regulars.demo")


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
    assert bt.metric("next_order", "mae_days") < bt.baseline("next_order", "mae_days")
    assert 0.7 <= bt.metric("forecast", "interval_coverage") <= 1.0
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
    assert (preds["expected_orders_lower"] <= preds["expected_orders"]).all()
    assert (preds["expected_orders"] <= preds["expected_orders_upper"]).all()
    assert (pd.to_datetime(preds["next_order_lower"]) <= pd.to_datetime(preds["next_order_at"])).all()
    assert (pd.to_datetime(preds["next_order_at"]) <= pd.to_datetime(preds["next_order_upper"])).all()
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
              r"opened no e-mail in (\d+) days": last_open, r"no site visit in (\d+) days": last_visit}
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
        out = CliRunner().invoke(app, ["backtest", "--show", "--workspace", path])
        assert out.exit_code == 0 and "days since last order" in out.output
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
        # wide intervals: the 80% range of expected orders spans at least 1 order for most buyers
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
    from regulars.jobs.predict import _feature_names, resolve_as_of, snapshot

    ws, _, _ = shop
    as_of = resolve_as_of(ws)
    frame = snapshot(ws, as_of)
    assert {"revenue", "aov", "accepts_email", "days_since_last_order"} <= set(_feature_names(frame))
    assert frame["revenue"].dtype == float and frame["accepts_email"].dtype == float
    mart = customer_features(ws, as_of=as_of)
    expected = ws.execute(mart.filter(mart.orders > 0).revenue.sum())
    assert frame["revenue"].sum() == pytest.approx(float(expected), rel=1e-9)


def test_count_intervals_are_scipys_negative_binomial_quantiles():
    """The summed-pmf quantiles agree with ``nbinom.ppf`` everywhere: small and huge counts,
    quantiles next to a cdf step, and rows the sum hands over to scipy (``pmf(0)`` underflows,
    or more than ``max_steps`` terms)."""
    import numpy as np
    from scipy.stats import nbinom

    from regulars.jobs.predict import _nbinom_quantile

    rng = np.random.default_rng(7)
    n = 20_000
    size = np.concatenate([0.2 + rng.negative_binomial(0.3, 0.05, n), [2000.0, 5.0, 0.25]])
    prob = np.concatenate([rng.uniform(0.05, 0.999, n), [0.01, 0.5, 0.9]])
    q = np.concatenate([rng.uniform(-0.2, 1.0, n), [0.5, 0.0, 0.999999]])
    # a quantile exactly on a cdf step: the least k with cdf(k) >= q is k itself
    q[:200] = nbinom.cdf(3, size[:200], prob[:200])
    expected = np.where(q > 0, nbinom.ppf(np.clip(q, 1e-300, 1), size, prob), 0.0)
    got = _nbinom_quantile(q, size, prob, max_steps=40)
    assert (got > 40).any() and (got <= 3).any()
    assert np.array_equal(got, expected)
