"""Ideal customer profile on a planted mart.

100 buyers: 10 planted stars (2,000 revenue, 20 orders a year, bought 5 days ago, 100 web
sessions a year, mostly referred) and 90 ordinary customers (spread out below them), plus
two prospects who never bought: one who browses like a star, one who barely visits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regulars.segments.icp import closeness, ideal_customer_profile


def _mart() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(10):
        rows.append(dict(customer_id=f"star{i}", orders=20, revenue=2000.0 + i, days_since_last_order=5 + i % 3,
                         aov=100.0 + 5 * i, sessions=88 + 3 * i, product_views=260 + 10 * i, cart_adds=44 + 2 * i,
                         email_sends=20, email_opens=9 + i % 4,
                         acquisition_channel="referral" if i < 8 else "organic"))
    for i in range(90):
        orders = int(rng.integers(1, 6))
        rows.append(dict(customer_id=f"c{i:02d}", orders=orders, revenue=float(orders * rng.uniform(30, 60)),
                         days_since_last_order=int(rng.integers(30, 300)), aov=45.0,
                         sessions=int(rng.integers(2, 20)), product_views=int(rng.integers(5, 40)),
                         cart_adds=int(rng.integers(0, 5)), email_sends=20, email_opens=int(rng.integers(0, 8)),
                         acquisition_channel=["organic", "social", "paid_search"][i % 3]))
    rows.append(dict(customer_id="p_keen", orders=0, revenue=0.0, sessions=90, product_views=280, cart_adds=50,
                     email_sends=20, email_opens=11, acquisition_channel="referral"))
    rows.append(dict(customer_id="p_idle", orders=0, revenue=0.0, sessions=1, product_views=1, cart_adds=0,
                     email_sends=20, email_opens=0, acquisition_channel="social"))
    mart = pd.DataFrame(rows)
    mart["tenure_days"] = 365
    mart["discounted_order_share"] = np.where(mart.orders > 0, 0.1, np.nan)
    return mart


@pytest.fixture(scope="module")
def profile():
    return ideal_customer_profile(_mart(), top_share=0.1)


def test_members_are_the_planted_stars(profile):
    assert sorted(profile.members) == [f"star{i}" for i in range(10)]
    assert "top 10% of buyers (10 customers)" in profile.definition


def test_traits_say_what_the_stars_share(profile):
    top = profile.traits.head(7).feature.tolist()
    assert {"frequency", "recency", "web_engagement", "order_value"} <= set(top)
    assert profile.traits.set_index("feature").loc["discount_share", "difference_sd"] == pytest.approx(0, abs=0.1)
    frequency = profile.traits.set_index("feature").loc["frequency"]
    assert frequency.ideal == 20 and frequency.difference_sd > 1
    assert frequency.text.startswith("buys") and "other customers" in frequency.text
    lifts = profile.lifts.set_index(["column", "value"])
    assert lifts.loc[("acquisition_channel", "referral"), "ideal_share"] == 0.8


def test_similarity_scores_everyone_on_the_same_scale(profile):
    s = profile.scores
    assert len(s) == 102
    assert s.loc["p_keen", "kind"] == "prospect" and s.loc["c00", "kind"] == "customer"
    assert s.similarity.between(0, 100).all()
    assert s.loc["p_keen", "similarity"] >= 50 > s.loc["p_idle", "similarity"]
    ordinary = s[(s.kind == "customer") & ~s.is_ideal].similarity
    assert ordinary.max() < s[s.is_ideal].similarity.median()
    # the ideal customers spread over the scale: the typical one is near 50
    assert s[s.is_ideal].similarity.median() == pytest.approx(50, abs=10)
    assert s.similarity.is_monotonic_decreasing


def test_closeness_is_the_share_of_ideal_customers_farther_away():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    assert closeness(np.array([0.5, 2.0, 3.5, 9.0]), ref).tolist() == [100.0, 50.0, 25.0, 0.0]


def test_too_few_buyers_is_refused():
    with pytest.raises(ValueError, match="at least 10 customers with a purchase"):
        ideal_customer_profile(_mart().head(5))
    with pytest.raises(ValueError, match="top_share"):
        ideal_customer_profile(_mart(), top_share=1.5)
