"""Next best action: the catalogue, the expected-value choice, consent, contact caps, quiet periods."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regulars.features.next_action import DECISION_COLUMNS
from regulars.recommend.actions import (
    ActionCatalogue,
    CatalogueError,
    MeasuredUplift,
    choose_actions,
)

DAY = dt.date(2024, 6, 3)


def catalogue(**settings_) -> ActionCatalogue:
    raw = {
        "settings": {"gross_margin": 0.5, "max_messages_7d": 2, "max_messages_30d": 5, "quiet_days": 2,
                     "quiet_periods": ["12-24..12-26"], **settings_},
        "costs": {"email": 0.1, "sms": 0.2, "audience": 0.5},
        "action": [
            {"id": "win_back", "label": "Win-back", "eligibility": "churn_risk > 0.5", "channels": ["email", "sms"],
             "response": "retention", "value": "clv", "discount_pct": 10, "uplift": 0.1},
            {"id": "cross_sell", "label": "Cross-sell", "eligibility": "orders >= 1", "channels": ["email", "audience"],
             "response": "purchase", "value": "basket", "discount_pct": 0, "uplift": 0.05},
        ],
    }
    return ActionCatalogue.from_dict(raw, columns=DECISION_COLUMNS)


def customers(n=1, **cols) -> pd.DataFrame:
    base = {"customer_id": [f"c{i}" for i in range(n)], "as_of": [DAY] * n, "orders": [3] * n, "aov": [50.0] * n,
            "clv": [400.0] * n, "churn_risk": [0.8] * n, "propensity_30d": [0.2] * n, "accepts_email": [True] * n,
            "accepts_sms": [True] * n, "accepts_personalization": [True] * n, "email_sent_7d": [0] * n,
            "email_sent_30d": [0] * n, "sms_sent_7d": [0] * n, "sms_sent_30d": [0] * n,
            "days_since_last_contact": [np.nan] * n}
    base.update({k: v if isinstance(v, list) else [v] * n for k, v in cols.items()})
    f = pd.DataFrame(base)
    f["eligible__win_back"] = f["churn_risk"] > 0.5
    f["eligible__cross_sell"] = f["orders"] >= 1
    return f


def test_expected_value_by_hand_and_the_best_action_wins():
    out = choose_actions(customers(), catalogue(), day=DAY).iloc[0]
    # win-back: +0.1 x 0.8 = 0.08 extra response, value 400 x 0.5 = 200, cost 0.1 + 10% x 50 x (0.2 + 0.08)
    win_back = 0.08 * 200 - (0.1 + 0.1 * 50 * 0.28)
    # cross-sell: +0.05 x (1 - 0.2) = 0.04, value 50 x 0.5 = 25, cost 0.1
    cross = 0.04 * 25 - 0.1
    assert win_back > cross
    assert out["action"] == "win_back" and out["channel"] == "email"
    assert out["expected_value"] == pytest.approx(round(win_back, 2))
    assert out["cost"] == pytest.approx(round(0.1 + 0.1 * 50 * 0.28, 2))
    assert "80% churn risk" in out["reason"] and "uplift is an assumption" in out["assumption"]


def test_do_nothing_wins_when_nothing_pays():
    out = choose_actions(customers(clv=1.0, aov=1.0, churn_risk=0.6), catalogue(), day=DAY).iloc[0]
    assert out["action"] == "do_nothing" and out["channel"] == "none" and out["expected_value"] == 0
    assert out["reason"].startswith("Do nothing: nothing pays")


def test_a_refused_channel_is_skipped_for_the_next_one():
    out = choose_actions(customers(accepts_email=False), catalogue(), day=DAY).iloc[0]
    assert out["action"] == "win_back" and out["channel"] == "sms"
    nothing = choose_actions(customers(accepts_email=False, accepts_sms=False, accepts_personalization=False),
                             catalogue(), day=DAY).iloc[0]
    assert nothing["action"] == "do_nothing" and "consent" in nothing["reason"]


def test_caps_and_quiet_days_leave_only_the_ad_audience():
    out = choose_actions(customers(email_sent_7d=2, churn_risk=0.1), catalogue(), day=DAY).iloc[0]
    assert out["action"] == "cross_sell" and out["channel"] == "audience"
    quiet = choose_actions(customers(days_since_last_contact=1.0, churn_risk=0.1), catalogue(), day=DAY).iloc[0]
    assert quiet["channel"] in ("audience", "none")


def test_quiet_period_stops_every_message():
    out = choose_actions(customers(3), catalogue(), day=dt.date(2024, 12, 25))
    assert not out["channel"].isin(["email", "sms"]).any()


def test_measured_uplift_replaces_the_prior_and_is_not_an_assumption():
    measured = pd.DataFrame({"action": ["win_back"], "segment_id": [None], "uplift": [0.0], "source": ["experiment e1"]})
    out = choose_actions(customers(), catalogue(), MeasuredUplift(measured), day=DAY).iloc[0]
    assert out["action"] != "win_back"  # measured: it does not work
    seg = pd.DataFrame({"action": ["cross_sell"], "segment_id": ["rfm:champions"], "uplift": [0.2],
                        "source": ["experiment e2"]})
    members = pd.DataFrame({"customer_id": ["c1"], "segment_id": ["rfm:champions"]})
    both = choose_actions(customers(2, churn_risk=0.1), catalogue(), MeasuredUplift(seg, members), day=DAY)
    assert both.loc[1, "uplift"] == 0.2 and "measured" in both.loc[1, "uplift_source"] and both.loc[1, "assumption"] is None
    assert both.loc[0, "uplift"] == 0.05 and both.loc[0, "uplift_source"].startswith("prior")


def test_catalogue_errors_name_the_action():
    with pytest.raises(CatalogueError, match="unknown column 'churn'"):
        ActionCatalogue.from_dict({"costs": {"email": 0.1}, "action": [
            {"id": "x", "eligibility": "churn > 0.5", "channels": ["email"], "response": "purchase",
             "value": "basket", "uplift": 0.1}]}, columns=DECISION_COLUMNS)
    with pytest.raises(CatalogueError, match="channels"):
        ActionCatalogue.from_dict({"costs": {}, "action": [
            {"id": "x", "eligibility": "orders > 1", "channels": ["fax"], "response": "purchase", "value": "basket",
             "uplift": 0.1}]})
    with pytest.raises(CatalogueError, match="uplift"):
        ActionCatalogue.from_dict({"costs": {"email": 0.1}, "action": [
            {"id": "x", "eligibility": "orders > 1", "channels": ["email"], "response": "purchase",
             "value": "basket", "uplift": 2}]})


def test_the_shipped_catalogue_is_valid_and_has_the_issue_actions():
    cat = ActionCatalogue.load(columns=DECISION_COLUMNS)
    assert {a.id for a in cat.actions} == {"welcome_series", "win_back_offer", "replenishment_reminder", "cross_sell",
                                          "vip_thank_you", "review_request"}
    assert cat.in_quiet_period(dt.date(2025, 12, 25)) and not cat.in_quiet_period(dt.date(2025, 12, 27))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.integers(0, 4), st.integers(0, 4),
                          st.integers(0, 8), st.integers(0, 8), st.floats(0, 1), st.floats(0, 1),
                          st.floats(0, 5000), st.one_of(st.none(), st.integers(0, 10))), min_size=1, max_size=30),
       st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
def test_no_action_on_a_refused_channel_or_beyond_the_caps(rows, day):
    n = len(rows)
    cols = list(zip(*rows))
    f = customers(n, accepts_email=list(cols[0]), accepts_sms=list(cols[1]), accepts_personalization=list(cols[2]),
                  email_sent_7d=list(cols[3]), sms_sent_7d=list(cols[4]), email_sent_30d=list(cols[5]),
                  sms_sent_30d=list(cols[6]), churn_risk=list(cols[7]), propensity_30d=list(cols[8]),
                  clv=list(cols[9]), days_since_last_contact=[np.nan if v is None else float(v) for v in cols[10]])
    f["email_sent_30d"] = np.maximum(f["email_sent_30d"], f["email_sent_7d"])
    f["sms_sent_30d"] = np.maximum(f["sms_sent_30d"], f["sms_sent_7d"])
    cat = catalogue()
    out = choose_actions(f, cat, day=day)
    assert len(out) == n and out["customer_id"].tolist() == f["customer_id"].tolist()
    ch = out["channel"].to_numpy()
    assert not ((ch == "email") & ~f["accepts_email"].to_numpy()).any()
    assert not ((ch == "sms") & ~f["accepts_sms"].to_numpy()).any()
    assert not ((ch == "audience") & ~f["accepts_personalization"].to_numpy()).any()
    message = np.isin(ch, ["email", "sms"])
    sent7 = (f["email_sent_7d"] + f["sms_sent_7d"]).to_numpy()
    sent30 = (f["email_sent_30d"] + f["sms_sent_30d"]).to_numpy()
    assert not (message & (sent7 >= cat.max_messages_7d)).any()
    assert not (message & (sent30 >= cat.max_messages_30d)).any()
    assert not (message & (f["days_since_last_contact"].fillna(99).to_numpy() < cat.quiet_days)).any()
    if cat.in_quiet_period(day):
        assert not message.any()
    # at most one action each; do nothing exactly when nothing positive was chosen
    assert ((out["action"] == "do_nothing") == (out["channel"] == "none")).all()
    assert (out.loc[out["action"] != "do_nothing", "expected_value"] > 0).all()
    assert out["reason"].str.len().gt(0).all()
