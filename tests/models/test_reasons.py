"""Reason sentences: they say which way they push, and agree with the counts beside them."""

import pandas as pd

from regulars.models.reasons import explain, explain_json


def _one(feats: dict, contrib: dict, noun: str = "risk") -> list[str]:
    return explain(pd.DataFrame(contrib, index=[0]), pd.DataFrame(feats, index=[0]), noun=noun)[0]


def test_a_visit_thirty_days_ago_is_a_visit_in_the_last_thirty_days():
    # the 30-day counts include the day 30 days before the as-of date: one visit, so the
    # sentence must not say "no site visit in 30 days"
    reasons = _one({"days_since_last_visit": 30.0, "events_30d": 1.0, "cart_adds_30d": 0.0},
                   {"days_since_last_visit": 0.4, "events_30d": 0.1, "cart_adds_30d": 0.0})
    assert reasons == ["visited the site 30 days ago (1 actions in the last 30 days) (raises the risk)"]
    reasons = _one({"days_since_last_visit": 31.0, "events_30d": 0.0}, {"days_since_last_visit": 0.4, "events_30d": 0.1})
    assert reasons == ["no site visit in 31 days (raises the risk)"]


def test_reasons_say_which_way_they_push():
    feats = {"days_since_last_order": 5.0, "gap_ratio": 0.2, "orders": 12, "tenure_days": 400}
    churn = _one(feats, {"days_since_last_order": -1.2, "gap_ratio": -0.3, "orders": 0.2})
    assert churn == ["last order 5 days ago, 0.2× their usual gap (lowers the risk)",
                     "12 order(s) in 400 days as a customer (raises the risk)"]
    buy = explain_json(pd.DataFrame({"orders": [-0.6]}), pd.DataFrame({"orders": [12], "tenure_days": [400]}),
                       noun="chance")
    assert buy.iloc[0] == '["12 order(s) in 400 days as a customer (lowers the chance)"]'


def test_the_buying_pattern_sentence_quotes_no_bgnbd_percentage():
    # BG/NBD's p_alive is 100% for every one-time buyer; the sentence must not show it
    reasons = _one({"p_alive": 1.0, "orders": 1, "days_since_last_order": 500.0}, {"p_alive": 0.5})
    assert reasons[0].startswith("how often and how recently they have bought") and "%" not in reasons[0]
