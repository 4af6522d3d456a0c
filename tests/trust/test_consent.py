"""Consent enforced: customers who refused personalisation get no personal score, lead score or reminder
(counted and shown), and a consent change posted as an event takes effect within seconds."""

from __future__ import annotations

import time

import pytest

from regulars.data import predictions_store
from regulars.data.privacy_store import refused_personalisation
from regulars.jobs.predict import predict


def test_refusers_get_generic_treatment_and_are_counted(demo):
    """Regression: before the fix every customer who refused personalisation was scored like the others."""
    refused = refused_personalisation(demo._con)
    assert len(refused) > 10  # the demo's preference-center opt-outs
    result = predict(demo)
    preds = predictions_store.read_customer_predictions(demo)
    mine = preds[preds["customer_id"].isin(refused)]
    assert len(mine) > 10  # still one row each: counted, not hidden
    for col in ("churn_risk", "churn_reasons", "propensity_30d", "propensity_reasons", "clv", "p_alive",
                "next_order_date", "expected_orders"):
        assert mine[col].isna().all(), col
    assert (mine["data_mode"] == "not_personalised").all()
    assert result.summary["not_personalised"] == len(mine)
    others = preds[~preds["customer_id"].isin(refused)]
    assert others["churn_risk"].notna().all()
    leads = predictions_store.read_table_as_of(demo, "lead_scores")
    reminders = predictions_store.read_table_as_of(demo, "replenishments")
    assert not leads["customer_id"].isin(refused).any() and not reminders["customer_id"].isin(refused).any()
    card = demo.sql("SELECT card FROM model_cards WHERE model = 'churn' ORDER BY created_at DESC LIMIT 1")["card"][0]
    assert f"{len(mine):,} customer(s) who refused personalisation" in card


def test_the_latest_consent_decision_counts(demo):
    cid = demo.sql("SELECT customer_id FROM customers WHERE accepts_personalization IS NULL LIMIT 1")["customer_id"][0]
    assert cid not in refused_personalisation(demo._con)
    demo._con.execute("INSERT INTO consents (customer_id, purpose, is_granted, recorded_at, source) VALUES "
                     "(?, 'personalization', false, TIMESTAMP '2026-01-01', 'test'), "
                     "(?, 'personalization', true, TIMESTAMP '2026-02-01', 'test')", [cid, cid])
    assert cid not in refused_personalisation(demo._con)
    demo._con.execute("INSERT INTO consents (customer_id, purpose, is_granted, recorded_at, source) VALUES "
                     "(?, 'personalization', false, TIMESTAMP '2026-03-01', 'test')", [cid])
    assert cid in refused_personalisation(demo._con)


@pytest.mark.slow
def test_a_consent_event_takes_effect_on_the_next_event_not_the_next_refresh(demo):
    from tests.api.server import start

    predict(demo)
    cid = demo.sql("SELECT p.customer_id FROM customer_predictions p JOIN customers c USING (customer_id) "
                   "WHERE p.churn_risk IS NOT NULL AND coalesce(c.accepts_personalization, true) "
                   "ORDER BY p.clv DESC LIMIT 1")["customer_id"][0]
    path = demo.path
    demo.close()
    server = start(path)
    try:
        with server.client("analyst") as c:
            before = c.get(f"/api/predictions/{cid}").json()
            assert before["predictions"]["churn_risk"] is not None
            r = c.post("/api/events", json={"events": [{"customer_id": cid, "event_type": "consent",
                                                        "properties": {"purpose": "personalization", "granted": False}}]})
            assert r.status_code < 300, r.text
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                after = c.get(f"/api/predictions/{cid}").json()
                if after["predictions"].get("churn_risk") is None:
                    break
                time.sleep(0.2)
            assert after["predictions"].get("churn_risk") is None, after["predictions"]
            with server.shared.read() as ws:
                row = ws.sql("SELECT accepts_personalization FROM customers WHERE customer_id = ?", [cid])
                consent = ws.sql("SELECT * FROM consents WHERE customer_id = ? AND source = 'event'", [cid])
            assert row["accepts_personalization"][0] == False  # noqa: E712
            assert len(consent) == 1 and not consent["is_granted"][0]
    finally:
        server.stop()
        demo.__init__(path)


def test_a_consent_event_withdraws_the_stored_next_action_and_recommendations(demo):
    """Regression: a refusal between two runs left the customer's personal next best action in place."""
    from regulars.data.recommend_store import opted_out_customers
    from regulars.jobs.consent import apply_consent_events
    from regulars.jobs.next_actions import next_actions
    from regulars.jobs.recommend import recommend
    from regulars.reports.recommend import customer_recommendations

    as_of = recommend(demo).as_of
    next_actions(demo, as_of=as_of)
    chosen = demo.sql("SELECT a.customer_id FROM next_actions a JOIN customer_predictions p USING (customer_id) "
                      "WHERE a.action <> 'do_nothing' AND p.churn_risk IS NOT NULL ORDER BY a.expected_value DESC "
                      "LIMIT 2")["customer_id"].tolist()
    cid, other = chosen
    assert customer_recommendations(demo, cid).is_personal
    demo._con.execute("INSERT INTO events (event_id, customer_id, event_type, occurred_at, properties) VALUES "
                     "('consent-1', ?, 'consent', now()::TIMESTAMP, '{\"purpose\": \"personalization\", "
                     "\"granted\": false}')", [cid])
    done = apply_consent_events(demo, [cid])
    assert done["withdrawn"] == 1 and done["next_actions"] == 1
    action = demo.sql("SELECT action, channel, product_id, reason FROM next_actions WHERE customer_id = ? "
                      "AND as_of = (SELECT max(as_of) FROM next_actions)", [cid]).iloc[0]
    assert action["action"] == "do_nothing" and action["channel"] == "none" and action["product_id"] is None
    assert "refused personalisation" in action["reason"]
    kept = demo.sql("SELECT action FROM next_actions WHERE customer_id = ? "
                    "AND as_of = (SELECT max(as_of) FROM next_actions)", [other])["action"][0]
    assert kept != "do_nothing"  # nobody else's action is touched
    assert demo.sql("SELECT churn_risk FROM customer_predictions WHERE customer_id = ?", [cid])["churn_risk"].isna().all()
    offer = customer_recommendations(demo, cid, opted_out=opted_out_customers(demo))
    assert not offer.is_personal and all(not i["is_personal"] for i in offer.items)
    assert apply_consent_events(demo, [cid]) == {}  # recorded once
