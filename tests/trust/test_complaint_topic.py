"""The topic of a customer's last complaint as a churn feature: point in time, and judged by the backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regulars.jobs import text_features
from regulars.jobs.snapshot import snapshot
from regulars.jobs.text import analyse_texts
from regulars.jobs.text_features import card_sentence, compare, complaint_topic_features, enabled, forced
from regulars.text.complaints import COLUMNS

OPENINGS = ["Terrible experience.", "Really disappointed.", "This is awful.", "Very unhappy.", "So frustrating."]
DELIVERY = ["My parcel never arrived and the tracking is stuck.", "The courier lost my parcel, tracking shows nothing.",
            "Delivery is two weeks late and tracking has not updated.", "Still waiting for my parcel, the delivery "
            "date passed and the courier does not answer."]
DAMAGE = ["The mug arrived broken and the box was crushed.", "The grinder came cracked and damaged.",
          "Everything in the box was broken, the glass shattered.", "The kettle arrived damaged and leaking."]


def plant_tickets(ws, rows: pd.DataFrame, prefix: str) -> None:
    """Add negative support tickets: ``rows`` has customer_id, opened_at and body."""
    frame = rows.reset_index(drop=True)
    frame = frame.assign(ticket_id=[f"{prefix}{i:06d}" for i in range(len(frame))])
    ws._con.register("_planted", frame)
    ws._con.execute("INSERT INTO tickets (ticket_id, customer_id, opened_at, closed_at, channel, topic, body, csat) "
                   "SELECT ticket_id, customer_id, opened_at, opened_at + INTERVAL 1 DAY, 'email', 'planted', body, 1 "
                   "FROM _planted")
    ws._con.unregister("_planted")


def bodies(rng, sentences, n) -> list[str]:
    return [f"{OPENINGS[a]} {sentences[b]}" for a, b in zip(rng.integers(0, len(OPENINGS), n),
                                                          rng.integers(0, len(sentences), n))]


def test_a_later_text_changes_no_feature_at_the_cutoff(demo):
    analyse_texts(demo)
    cutoff = pd.Timestamp("2026-03-01").date()
    before = complaint_topic_features(demo, cutoff)
    assert before.to_numpy().sum(axis=1) == pytest.approx(1.0) and len(before) > 20
    with forced(True):
        rich = snapshot(demo, cutoff)
    assert set(COLUMNS) <= set(rich.columns)
    assert rich[list(COLUMNS)].sum(axis=1).to_numpy() == pytest.approx(1.0)  # exactly one topic, or none
    assert (rich.loc[~rich.index.isin(before.index), "complaint_none"] == 1).all()

    # many later complaints, some from customers who already complained, on a topic of their own
    rng = np.random.default_rng(3)
    who = np.concatenate([before.index.to_numpy()[:30], rich.index.to_numpy()[:270]])
    later = pd.DataFrame({"customer_id": who,
                          "opened_at": pd.Timestamp(cutoff) + pd.to_timedelta(rng.integers(0, 90 * 24, len(who)), "h"),
                          "body": bodies(rng, DELIVERY, len(who))})
    plant_tickets(demo, later, "LATE")
    analyse_texts(demo)
    text_features._COMPLAINT_CACHE.clear()  # computed again, not remembered
    after = complaint_topic_features(demo, cutoff)
    pd.testing.assert_frame_equal(after.sort_index(), before.sort_index())
    text_features._COMPLAINT_CACHE.clear()
    with forced(True):
        again = snapshot(demo, cutoff)
    pd.testing.assert_frame_equal(again, rich)  # no feature of any group moved
    assert len(complaint_topic_features(demo, cutoff + pd.Timedelta(days=120))) > len(before)  # they do count later


@pytest.mark.slow
def test_a_planted_complaint_topic_that_drives_churn_is_kept(demo):
    """Customers leave for good after a delivery complaint; others complain about damage and stay."""
    rng = np.random.default_rng(11)
    orders = demo.sql("SELECT customer_id, ordered_at FROM orders ORDER BY customer_id, ordered_at")
    end = orders["ordered_at"].max()
    last = orders.groupby("customer_id")["ordered_at"].transform("max")
    gone = (orders["ordered_at"] == last) & (last < end - pd.Timedelta(days=120))
    leaving = orders[gone & (rng.random(len(orders)) < 0.8)]
    staying = orders[(orders["ordered_at"] < last) & (rng.random(len(orders)) < 0.4)]
    planted = pd.concat([
        leaving.assign(body=bodies(rng, DELIVERY, len(leaving))),
        staying.assign(body=bodies(rng, DAMAGE, len(staying))),
    ])
    planted = planted.assign(opened_at=planted["ordered_at"] + pd.to_timedelta(rng.uniform(1, 5, len(planted)), "D"))
    plant_tickets(demo, planted[["customer_id", "opened_at", "body"]], "PLANT")
    analyse_texts(demo)

    decision = compare(demo)
    print(decision["sentence"])
    topic = decision["groups"]["complaint_topic"]
    assert topic["use"], decision["sentence"]
    assert topic["auc_with"] >= topic["auc_without"] + 0.005
    assert enabled(demo, "complaint_topic")
    assert "Topic of the last complaint: used." in card_sentence(decision)
