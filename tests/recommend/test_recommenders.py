"""Each recommender on a tiny shop whose answer is known by hand, and the hybrid's rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from regulars.recommend import (
    ContentRecommender,
    FrequentlyBoughtTogether,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    ReplenishmentRecommender,
    UsualOrderRecommender,
    association_rules,
)
from regulars.recommend.matrix import InteractionMatrix, top_k

AS_OF = dt.date(2024, 6, 1)
D = lambda days: AS_OF - dt.timedelta(days=days)  # noqa: E731


def frame(rows):
    """rows: (customer, product, purchases, days ago of last purchase, customer orders[, views])."""
    out = pd.DataFrame(rows, columns=["customer_id", "product_id", "purchases", "ago", "customer_orders", "views"][
        :len(rows[0])])
    out["last_purchase_day"] = [D(a) if p else None for p, a in zip(out["purchases"], out["ago"])]
    out["first_purchase_day"] = out["last_purchase_day"]
    return out.drop(columns="ago")


PRODUCTS = pd.DataFrame({
    "product_id": ["beans", "decaf", "filter", "kettle", "grinder", "tea", "new_beans"],
    "name": ["Ethiopia coffee beans", "Decaf coffee beans", "Paper filters", "Gooseneck kettle", "Burr grinder",
             "Green tea", "Kenya coffee beans"],
    "category": ["coffee", "coffee", "accessories", "equipment", "equipment", "tea", "coffee"],
    "price": [15.0, 15.0, 5.0, 80.0, 120.0, 10.0, 18.0],
    "is_active": [True, True, True, True, True, True, True],
})


def test_popularity_counts_recent_buyers_and_shrinks_groups():
    f = frame([("a", "beans", 1, 5, 1), ("b", "beans", 1, 5, 1), ("c", "tea", 1, 5, 1), ("d", "tea", 1, 200, 1)])
    rec = PopularityRecommender(window_days=30).fit(f, AS_OF)
    # recent buyers: beans 2 of 3, tea 1 of 3 (d bought tea 200 days ago)
    out = rec.recommend(["zz"], k=2)
    assert out["product_id"].tolist() == ["beans", "tea"]
    assert out["score"].tolist() == pytest.approx([2 / 3, 1 / 3], abs=1e-6)
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "new"], "region": ["N", "N", "S", "S", "S"]})
    by_region = PopularityRecommender(window_days=30, group_column="region", shrinkage=0.0).fit(f, AS_OF,
                                                                                              customers=customers)
    # without shrinkage the south's list is its own: tea only (1 recent buyer)
    out = by_region.recommend(["new"], k=1)
    assert out["product_id"].tolist() == ["tea"] and "popular in S" in out["reason"].iloc[0]


def test_item_knn_finds_the_co_bought_product_and_names_why():
    f = frame([("a", "beans", 1, 5, 1), ("a", "filter", 1, 5, 1), ("b", "beans", 1, 5, 1), ("b", "filter", 1, 5, 1),
               ("c", "beans", 1, 5, 1), ("d", "tea", 1, 5, 1)])
    rec = ItemKNNRecommender(shrink=0).fit(f, AS_OF, products=PRODUCTS)
    out = rec.recommend(["c"], k=3)
    assert out["product_id"].tolist() == ["filter"]  # tea shares no customer with beans; beans itself is bought
    assert out["reason"].iloc[0] == "customers who bought Ethiopia coffee beans also bought it"
    # cosine by hand: beans = (1,1,1,0), filter = (1,1,0,0) -> 2 / (sqrt 3 sqrt 2)
    i, j = rec.matrix_.products.get_indexer(["beans", "filter"])
    assert rec.similarity_[i, j] == pytest.approx(2 / np.sqrt(6), rel=1e-6)


def test_content_reaches_a_new_product_nobody_bought():
    f = frame([("a", "beans", 2, 5, 2)])
    rec = ContentRecommender().fit(f, AS_OF, products=PRODUCTS)
    out = rec.recommend(["a"], k=2)
    # the coffee beans nobody bought yet come first: same words, same category
    assert out["product_id"].tolist()[0] in ("new_beans", "decaf")
    assert set(out["product_id"].head(2)) == {"new_beans", "decaf"}
    assert "same category: coffee" in out["reason"].iloc[0]


def test_association_rules_by_hand():
    # 5 baskets: {kettle, filter}, {kettle, filter}, {kettle}, {filter, beans}, {beans}
    baskets = pd.DataFrame({"basket": [1, 1, 2, 2, 3, 4, 4, 5],
                            "product_id": ["kettle", "filter", "kettle", "filter", "kettle", "filter", "beans", "beans"]})
    rules = association_rules(baskets, min_baskets=1).set_index(["antecedent", "consequent"])
    r = rules.loc[("kettle", "filter")]
    assert r["baskets"] == 2
    assert r["support"] == pytest.approx(2 / 5)
    assert r["confidence"] == pytest.approx(2 / 3, abs=1e-6)       # 2 of kettle's 3 baskets
    assert r["lift"] == pytest.approx((2 / 3) / (3 / 5), abs=1e-5)  # filter is in 3 of 5 baskets
    back = rules.loc[("filter", "kettle")]
    assert back["confidence"] == pytest.approx(2 / 3, abs=1e-6) and back["lift"] == pytest.approx(r["lift"])
    fb = rules.loc[("filter", "beans")]
    assert fb["confidence"] == pytest.approx(1 / 3, abs=1e-6) and fb["lift"] == pytest.approx((1 / 3) / (2 / 5), abs=1e-5)
    assert ("kettle", "beans") not in rules.index  # never together
    # a product twice in one basket counts once
    doubled = pd.concat([baskets, pd.DataFrame({"basket": [1], "product_id": ["kettle"]})])
    assert association_rules(doubled, min_baskets=1).equals(association_rules(baskets, min_baskets=1))


def test_frequently_bought_together_recommends_the_partner_of_a_recent_purchase():
    baskets = pd.DataFrame({"basket": [1, 1, 2, 2, 3, 3, 4, 5],
                            "product_id": ["kettle", "filter", "kettle", "filter", "kettle", "filter", "beans", "tea"]})
    f = frame([("a", "kettle", 1, 3, 1), ("b", "beans", 1, 3, 1)])
    rec = FrequentlyBoughtTogether(min_baskets=2).fit(f, AS_OF, baskets=baskets, products=PRODUCTS)
    out = rec.recommend(["a", "b"], k=2)
    assert out["customer_id"].tolist() == ["a"] and out["product_id"].tolist() == ["filter"]
    assert out["reason"].iloc[0].startswith("bought together with Gooseneck kettle (in 100% of its orders")


def test_usual_order_is_the_repeat_basket():
    f = frame([("a", "beans", 4, 10, 5), ("a", "tea", 2, 300, 5), ("a", "kettle", 1, 10, 5)])
    out = UsualOrderRecommender().fit(f, AS_OF).recommend(["a"], k=5)
    assert out["product_id"].tolist() == ["beans", "tea"]  # the kettle was bought once
    assert out["reason"].tolist() == ["in 4 of your 5 orders", "in 2 of your 5 orders"]


def test_replenishment_due_only_when_the_due_range_meets_the_horizon():
    f = frame([("a", "beans", 3, 25, 3), ("a", "tea", 3, 2, 3)])
    schedule = pd.DataFrame({
        "customer_id": ["a", "a"], "product_id": ["beans", "tea"],
        "due_date": [D(-5), D(-120)], "due_lower": [D(-1), D(-100)], "due_upper": [D(-10), D(-150)],
        "typical_interval_days": [30.0, 120.0]})
    out = ReplenishmentRecommender(horizon_days=30).fit(f, AS_OF, schedule=schedule).recommend(["a"], k=5)
    assert out["product_id"].tolist() == ["beans"]
    assert out["reason"].iloc[0] == f"due for a re-buy around {D(-5)} (you buy it every ~30 days)"


def test_cold_start_customer_gets_best_sellers():
    f = frame([("a", "beans", 1, 5, 1), ("b", "beans", 1, 5, 1), ("c", "tea", 1, 5, 1)])
    out = HybridRecommender().fit(f, AS_OF, products=PRODUCTS).recommend(["someone_new"], k=2)
    assert out["product_id"].tolist() == ["beans", "tea"]
    assert (out["source"] == "popularity").all() and out["reason"].str.startswith("a best-seller").all()


def test_opted_out_customer_gets_non_personal_best_sellers_and_is_told():
    f = frame([("a", "tea", 5, 5, 5), ("b", "beans", 1, 5, 1), ("c", "beans", 1, 5, 1)])
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "accepts_personalization": [False, True, True],
                              "region": ["N", "N", "S"]})
    rec = HybridRecommender().fit(f, AS_OF, products=PRODUCTS, customers=customers)
    out = rec.recommend(["a"], k=3)
    # her own usual order (tea, 5 of 5 orders) is NOT used; the shop-wide list is: beans (2 buyers) first
    assert out["product_id"].iloc[0] == "beans"
    assert not out["is_personal"].any() and (out["source"] == "popularity").all()
    assert out["reason"].str.endswith("(personalised recommendations are off for this customer)").all()
    personal = rec.recommend(["b"], k=3)
    assert personal["is_personal"].all()


def test_no_inactive_product_is_ever_recommended():
    f = frame([("a", "beans", 3, 5, 3), ("b", "beans", 1, 5, 1), ("b", "filter", 1, 5, 1), ("c", "filter", 2, 5, 2)])
    inactive = PRODUCTS.assign(is_active=PRODUCTS["product_id"].isin(["tea", "kettle", "grinder", "decaf"]) == False)  # noqa: E712
    inactive.loc[inactive["product_id"] == "beans", "is_active"] = False
    baskets = pd.DataFrame({"basket": [1, 1, 2, 2], "product_id": ["beans", "filter", "beans", "filter"]})
    for model in (PopularityRecommender(), ItemKNNRecommender(), ContentRecommender(), UsualOrderRecommender(),
                  FrequentlyBoughtTogether(min_baskets=1), HybridRecommender()):
        out = model.fit(f, AS_OF, products=inactive, baskets=baskets).recommend(["a", "b", "c", "new"], k=10)
        assert not out["product_id"].isin(["beans", "tea", "kettle", "grinder", "decaf"]).any(), type(model).__name__


def test_durable_just_bought_is_not_recommended_but_a_due_consumable_comes_back():
    rows = []
    for i in range(30):  # 30 customers: beans re-bought every ~30 days, a grinder bought once
        rows += [(f"c{i}", "beans", 3, 40, 3), (f"c{i}", "grinder", 1, 100, 3)]
    rows += [("x", "grinder", 1, 10, 2), ("x", "beans", 1, 10, 2), ("y", "beans", 1, 3, 1)]
    f = frame(rows)
    f["first_purchase_day"] = [D(100) if p == "beans" and n == 3 else d for p, n, d in
                               zip(f["product_id"], f["purchases"], f["last_purchase_day"])]
    rec = HybridRecommender().fit(f, AS_OF, products=PRODUCTS)
    assert rec.kinds_.kind_[rec.matrix_.products.get_loc("grinder")] == "durable"
    assert rec.kinds_.kind_[rec.matrix_.products.get_loc("beans")] == "consumable"
    out = rec.recommend(["x", "y"], k=10)
    assert "grinder" not in out.loc[out["customer_id"] == "x", "product_id"].tolist()  # bought 10 days ago
    # beans: re-bought every 30 days; x bought 10 days ago -> due within the 30-day horizon -> may come back
    assert "beans" in out.loc[out["customer_id"] == "x", "product_id"].tolist()
    short = HybridRecommender(horizon_days=5).fit(f, AS_OF, products=PRODUCTS).recommend(["x"], k=10)
    assert "beans" not in short["product_id"].tolist()  # not due within 5 days: held back


def test_recommend_before_fit_and_bad_k():
    with pytest.raises(NotFittedError):
        PopularityRecommender().recommend(["a"])
    rec = PopularityRecommender().fit(frame([("a", "beans", 1, 5, 1)]), AS_OF)
    with pytest.raises(ValueError):
        rec.recommend(["a"], k=0)


def test_top_k_never_picks_missing_scores_and_is_stable():
    cols, vals = top_k(np.array([[np.nan, 0.5, 0.5, -np.inf]], dtype=np.float32), 4)
    assert cols.tolist() == [[1, 2, -1, -1]]


def test_matrix_weights_purchases_above_cart_adds_above_views():
    f = pd.DataFrame({"customer_id": ["a", "a", "a"], "product_id": ["p", "q", "r"], "purchases": [1, 0, 0],
                      "cart_adds": [0, 1, 0], "views": [0, 0, 1]})
    w = InteractionMatrix.from_frame(f, AS_OF).weights.toarray()[0]
    assert w[0] > w[1] > w[2] > 0
