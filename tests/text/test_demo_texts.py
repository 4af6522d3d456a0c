"""The text job on the demo shop: planted sentiment, languages and topics are recovered, topics keep
their ids across refreshes, reports, CLI and masking work.

The demo (3,000 customers, fixed seed) plants, for every ticket, review and survey comment, the
language it is written in, the sentiment it expresses and what it is about (``demo_truth_texts``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score
from typer.testing import CliRunner

from regulars import Workspace
from regulars.data import text_store
from regulars.demo import build_demo
from regulars.jobs.text import analyse_texts
from regulars.reports.text import sentiment_report, topics_report
from regulars.text.sentiment import accuracy_against_baseline


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("text-demo") / "shop.duckdb")
    build_demo(ws, n_customers=3000, seed=5)
    result = analyse_texts(ws)
    yield ws, result
    ws.close()


def test_every_text_is_scored_once_with_its_language(shop):
    ws, result = shop
    scores = ws.sql("SELECT * FROM text_scores")
    assert len(scores) == result.texts == text_store.count_texts(ws) > 1000
    assert not scores.duplicated(["source", "text_id"]).any()
    truth = ws.sql("SELECT count(*) AS n FROM demo_truth_texts")["n"][0]
    assert truth == len(scores)  # the planted truth covers exactly the texts that have a body


def test_planted_languages_are_recovered_and_others_are_not_analysed(shop):
    ws, _ = shop
    t = text_store.scores_with_truth(ws)
    foreign = t["true_language"] != "en"
    assert foreign.sum() > 10
    assert not t.loc[foreign, "is_analysed"].any()  # never guessed
    assert (t.loc[foreign, "language"] == t.loc[foreign, "true_language"]).mean() >= 0.9
    assert t.loc[~foreign, "is_analysed"].mean() >= 0.99


def test_planted_sentiment_is_recovered_better_than_the_majority_label(shop):
    ws, _ = shop
    t = text_store.scores_with_truth(ws)
    t = t[t["is_analysed"]]
    overall = accuracy_against_baseline(t["true_sentiment"], t["sentiment"])
    print("demo sentiment:", overall)
    assert overall["accuracy"] >= overall["baseline_accuracy"] + 0.1
    for source in ("reviews", "surveys"):
        part = t[t["source"] == source]
        r = accuracy_against_baseline(part["true_sentiment"], part["sentiment"])
        print(source, r)
        assert r["accuracy"] >= r["baseline_accuracy"] + 0.1, source
    # mean sentiment orders the review ratings: 5-star reviews read warmer than 1-star ones
    by_rating = ws.sql("SELECT score, avg(compound) AS c FROM text_scores WHERE source = 'reviews' AND is_analysed "
                       "GROUP BY 1 ORDER BY 1")["c"].to_numpy()
    assert by_rating[-1] > by_rating[0] + 0.5


def test_planted_topics_are_recovered(shop):
    ws, _ = shop
    t = text_store.scores_with_truth(ws)
    for source, floor in (("tickets", 0.3), ("reviews", 0.25)):
        part = t[(t["source"] == source) & t["topic_id"].notna()]
        ami = adjusted_mutual_info_score(part["true_topic"], part["topic_id"].astype(int))
        shuffled = adjusted_mutual_info_score(part["true_topic"],
                                              np.random.default_rng(0).permutation(part["topic_id"].astype(int)))
        print(source, "AMI", round(ami, 3), "shuffled", round(shuffled, 3))
        assert ami >= floor and shuffled < 0.02


def test_topics_have_words_and_readable_labels(shop):
    ws, _ = shop
    topics = text_store.topics(ws)
    assert set(topics["source"]) >= {"reviews", "tickets"}
    assert topics["label"].is_unique or topics.groupby("source")["label"].apply(lambda s: s.is_unique).all()
    assert all(len(w) == 10 for w in topics["top_words"])
    names = text_store.customer_name_words(ws)
    assert not {w for words in topics["top_words"] for w in words} & names  # no customer name is a topic word
    from regulars.text.topics import THEMES

    labels = topics.loc[topics["source"] == "tickets", "label"]
    themed = labels.map(lambda lab: any(lab.startswith(t) for t in THEMES))
    assert themed.mean() >= 0.5  # most ticket topics are named after a shop theme, the rest by their words


def test_a_refresh_keeps_topic_ids_and_labels(shop):
    ws, first = shop
    before = text_store.topics(ws, first.run_id)
    again = analyse_texts(ws)
    after = text_store.topics(ws, again.run_id)
    key = ["source", "topic_id", "label"]
    assert after[key].sort_values(key).reset_index(drop=True).equals(before[key].sort_values(key).reset_index(drop=True))
    # new texts arrive: most topics are still matched to the earlier ones
    ws._con.execute("CREATE TEMP TABLE extra AS SELECT * FROM tickets ORDER BY ticket_id LIMIT 150")
    ws._con.execute("UPDATE extra SET ticket_id = 'X' || ticket_id")
    ws._con.execute("INSERT INTO tickets SELECT * FROM extra")
    third = analyse_texts(ws)
    later = text_store.topics(ws, third.run_id)
    kept = set(later.loc[later["source"] == "tickets", "first_run_id"])
    old_ids = set(before.loc[before["source"] == "tickets", "topic_id"])
    new_ids = set(later.loc[later["source"] == "tickets", "topic_id"])
    assert len(old_ids & new_ids) >= 0.6 * len(old_ids)
    assert kept & {before["first_run_id"].iloc[0]}
    ws._con.execute("DELETE FROM tickets WHERE ticket_id LIKE 'X%'")
    analyse_texts(ws)


def test_reports_mask_quotes_for_viewers_and_show_them_to_analysts(shop):
    ws, _ = shop
    masked = topics_report(ws, include_pii=False)
    full = topics_report(ws, include_pii=True)
    assert masked.pii_masked and not full.pii_masked
    names = ws.sql("SELECT first_name, last_name FROM customers WHERE first_name IS NOT NULL")
    first_names = set(names["first_name"])
    masked_text = json.dumps(masked.to_dict())
    quotes = [q["text"] for s in full.sources for t in s["topics"] for q in t["examples"]]
    assert quotes
    with_name = [q for q in quotes if any(f" {n}." in q or f" {n}" in q.split(",")[0] for n in first_names)]
    shown = [q for s in masked.sources for t in s["topics"] for q in t["examples"]]
    assert all("[name]" not in q["text"] for s in full.sources for t in s["topics"] for q in t["examples"])
    for q in with_name:
        assert q not in masked_text
    assert len(shown) == len(quotes)


def test_sentiment_report_by_each_breakdown(shop):
    ws, _ = shop
    for by in (None, "month", "product", "source", "segment"):
        r = sentiment_report(ws, by=by)
        assert r.rows and r.overall["texts"] == sum(x["texts"] for x in sentiment_report(ws, by="source").rows)
        if by == "month":
            assert [x["group"] for x in r.rows] == sorted(x["group"] for x in r.rows)
    product = sentiment_report(ws, by="product")
    assert sum(x["texts"] for x in product.rows) == ws.sql(
        "SELECT count(*) AS n FROM text_scores WHERE source = 'reviews'")["n"][0]
    assert any("not analysed" in n for n in product.notes)
    with pytest.raises(ValueError):
        sentiment_report(ws, by="weekday")


def test_cli_topics_and_sentiment(shop):
    ws, _ = shop
    from regulars.cli.main import app

    path = str(ws.path)
    ws.close()
    try:
        out = CliRunner().invoke(app, ["text", "topics", "--source", "tickets", "--workspace", path])
        assert out.exit_code == 0, out.output
        assert "topics of support tickets" in out.output and "Returns" in out.output
        out = CliRunner().invoke(app, ["text", "sentiment", "--by", "month", "--format", "json", "--workspace", path])
        assert out.exit_code == 0, out.output
        body = json.loads(out.output)
        assert body["by"] == "month" and len(body["rows"]) >= 12
        out = CliRunner().invoke(app, ["text", "sentiment", "--by", "weekday", "--workspace", path])
        assert out.exit_code == 1 and "--by 'weekday' unknown" in out.output
    finally:
        ws.__init__(path)


def test_the_doctor_counts_only_english_texts_as_ready_for_sentiment(tmp_path):
    """Regression: the doctor called 60 German reviews 'ready for sentiment analysis'."""
    from regulars.reports.doctor import doctor

    ws = Workspace(tmp_path / "shop.duckdb")
    ws._con.execute("INSERT INTO reviews (review_id, customer_id, rating, body, created_at) "
                   "SELECT 'r' || i, 'c' || i, 4, 'Sehr leckerer Kaffee, ich bin mit der Lieferung zufrieden.', "
                   "TIMESTAMP '2024-01-01' FROM range(60) t(i)")
    report = doctor(ws)
    assert report.ready("sentiment").status == "warn"
    assert report.ready("sentiment").have == "60 (0 in English)"
    ws._con.execute("UPDATE reviews SET body = 'Lovely coffee, fast delivery.'")
    assert doctor(ws).ready("sentiment").status == "ok"
    ws.close()
