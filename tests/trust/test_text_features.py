"""Customer text features reach the churn model only when the backtest comparison says they help."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from regulars.data import text_store
from regulars.jobs.predict import fit_models
from regulars.jobs.snapshot import snapshot
from regulars.jobs.text import analyse_texts
from regulars.jobs.text_features import FEATURES, compare, enabled, forced, helps, text_features


def test_text_features_use_only_texts_written_before_the_date(demo):
    analyse_texts(demo)
    as_of = pd.Timestamp("2026-03-01").date()
    feats = text_features(demo, as_of)
    scores = demo.sql("SELECT customer_id, compound, written_at, source, sentiment FROM text_scores WHERE is_analysed")
    before = scores[pd.to_datetime(scores["written_at"]) < pd.Timestamp(as_of)]
    expected = before.groupby("customer_id")["compound"].mean()
    assert set(feats.index) == set(expected.index)
    assert feats["text_sentiment"].reindex(expected.index).to_numpy() == pytest.approx(expected.to_numpy())
    recent = before[(pd.to_datetime(before["written_at"]) >= pd.Timestamp(as_of) - pd.Timedelta(days=90))
                    & (before["source"] == "tickets") & (before["sentiment"] == "negative")]
    assert feats["negative_tickets_90d"].sum() == len(recent)


def test_not_used_until_compared_then_as_the_comparison_decides(demo):
    analyse_texts(demo)
    assert not enabled(demo)
    cutoff = pd.Timestamp(demo.sql("SELECT max(ordered_at) AS m FROM orders")["m"][0]).date()
    plain = snapshot(demo, cutoff)
    assert not set(FEATURES) & set(plain.columns)
    with forced(True):
        rich = snapshot(demo, cutoff)
    assert set(FEATURES) <= set(rich.columns) and len(rich) == len(plain)
    assert (rich["texts_written"] >= 0).all()
    decision = compare(demo)
    print(decision["sentence"])
    assert decision["auc_with"] > 0.5 and decision["auc_without"] > 0.5
    assert decision["use"] == (decision["auc_with"] >= decision["auc_without"] + 0.005
                               and decision["brier_with"] <= decision["brier_without"] + 1e-9)
    for group, verdict in decision["groups"].items():  # each group judged on top of those kept before it
        assert verdict["use"] == helps({"auc": verdict["auc_with"], "brier": verdict["brier_with"]},
                                       {"auc": verdict["auc_without"], "brier": verdict["brier_without"]})
        assert enabled(demo, group) == verdict["use"]
    assert decision["use"] == any(v["use"] for v in decision["groups"].values())
    assert enabled(demo) == decision["groups"]["sentiment"]["use"]
    fm = fit_models(demo)
    assert (set(FEATURES) <= set(fm.churn.feature_names_in_)) == decision["use"]
    # force the other verdict: the models follow the stored decision
    text_store.write_feature_decision(demo, {**{k: decision[k] for k in ("n", "auc_with", "auc_without", "brier_with",
                                                                          "brier_without", "sentence")},
                                             "decided_at": pd.Timestamp.now(), "cutoff": pd.Timestamp(decision["cutoff"]),
                                             "use": not decision["use"]})
    assert enabled(demo) == (not decision["use"])
    assert not enabled(demo, "complaint_topic")  # a decision without per-group verdicts never judged topics


def test_cli_shows_the_verdict(demo):
    from regulars.cli.main import app

    path = str(demo.path)
    demo.close()
    try:
        out = CliRunner().invoke(app, ["text", "features", "--workspace", path])
        assert out.exit_code == 0 and "not compared yet" in out.output
        out = CliRunner().invoke(app, ["text", "features", "--evaluate", "--workspace", path])
        assert out.exit_code == 1 and "regulars text analyse" in out.output  # no text analysis in this copy yet
    finally:
        demo.__init__(path)
