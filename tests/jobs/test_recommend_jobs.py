"""The recommendation and next-action jobs on real DuckDB workspaces: point in time, consent, storage,
and the demo shop's offline evaluation against popularity."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from regulars import Workspace
from regulars.data import recommend_store as store
from regulars.features import recommend as features
from regulars.jobs.next_actions import next_actions
from regulars.jobs.recommend import recommend
from regulars.jobs.recommend_eval import evaluate
from regulars.reports import recommend as report

AS_OF = dt.date(2024, 7, 1)


def _shop(path) -> Workspace:
    """24 customers: 20 coffee regulars who also buy filters, 3 tea drinkers (one bought a kettle), one opted out,
    one newcomer."""
    ws = Workspace(path)
    con = ws._con
    con.execute("INSERT INTO products (product_id, name, category, price, is_active) VALUES "
                "('beans', 'House coffee beans', 'coffee', 15, true), ('filter', 'Paper filters', 'accessories', 5, true), "
                "('tea', 'Green tea', 'tea', 10, true), ('kettle', 'Gooseneck kettle', 'equipment', 80, true), "
                "('old', 'Discontinued blend', 'coffee', 14, false)")
    customers, orders, lines = [], [], []
    n = 0

    def order(cid, day, products):
        nonlocal n
        n += 1
        orders.append(f"('o{n}', '{cid}', TIMESTAMP '{day} 10:00:00', 'paid', 30)")
        for i, p in enumerate(products, start=1):
            lines.append(f"('o{n}', {i}, '{p}', 1, 10)")

    for i in range(20):
        cid = f"c{i}"
        customers.append(f"('{cid}', 'c{i}@example.com', true, true, NULL, 'north')")
        for m in range(1, 6):
            order(cid, f"2024-0{m}-1{i % 9}", ["beans", "filter"] if m % 2 else ["beans", "old"])
    for i in range(20, 23):
        cid = f"c{i}"
        customers.append(f"('{cid}', 'c{i}@example.com', {str(i != 21).lower()}, false, NULL, 'south')")
        for m in range(3, 7):
            order(cid, f"2024-0{m}-0{i - 19}", ["tea"])
    order("c20", "2024-06-20", ["kettle"])
    order("c0", "2024-07-15", ["kettle"])  # after AS_OF: must not count
    customers.append("('c23', 'c23@example.com', true, true, NULL, 'north')")  # a newcomer, no orders
    con.execute("INSERT INTO customers (customer_id, email, accepts_email, accepts_sms, accepts_personalization, region) "
                "VALUES " + ", ".join(customers))
    con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, status, total) VALUES " + ", ".join(orders))
    con.execute("INSERT INTO order_lines (order_id, line_number, product_id, quantity, unit_price) VALUES "
                + ", ".join(lines))
    # c1 opted out of personalisation before AS_OF; c2 only after it (not yet true on AS_OF)
    con.execute("INSERT INTO consents (customer_id, purpose, is_granted, recorded_at, source, _run_id) VALUES "
                "('c1', 'personalization', false, TIMESTAMP '2024-06-01', 'form', NULL), "
                "('c2', 'personalization', false, TIMESTAMP '2024-07-10', 'form', NULL)")
    con.execute("INSERT INTO events (event_id, customer_id, event_type, occurred_at, product_id) VALUES "
                "('e1', 'c3', 'product_view', TIMESTAMP '2024-06-30 10:00', 'kettle'), "
                "('e2', 'c3', 'add_to_cart', TIMESTAMP '2024-07-02 10:00', 'tea')")
    return ws


def test_features_see_only_what_was_known_before_as_of(tmp_path):
    with _shop(tmp_path / "shop.duckdb") as ws:
        inter = ws.frame(features.interactions(ws, AS_OF))
        assert not ((inter["customer_id"] == "c0") & (inter["product_id"] == "kettle")).any()  # bought 2024-07-15
        c3 = inter[inter["customer_id"] == "c3"].set_index("product_id")
        assert c3.loc["kettle", "views"] == 1 and "tea" not in c3.index  # the cart add came after AS_OF
        assert c3.loc["beans", "purchases"] == 5 and c3.loc["beans", "customer_orders"] == 5
        ctx = ws.frame(features.customer_context(ws, AS_OF)).set_index("customer_id")["accepts_personalization"]
        assert not ctx["c1"] and ctx["c2"]  # c2's opt-out is dated after AS_OF
        later = ws.frame(features.customer_context(ws, dt.date(2024, 8, 1))).set_index("customer_id")
        assert not later.loc["c2", "accepts_personalization"]


def test_the_job_stores_every_customer_with_rules_and_consent(tmp_path):
    with _shop(tmp_path / "shop.duckdb") as ws:
        result = recommend(ws, as_of=AS_OF, k=3, evaluate_if_missing=False)
        recs = store.read_recommendations(ws)
        assert set(recs["customer_id"]) == {f"c{i}" for i in range(24)}
        assert not recs["product_id"].eq("old").any()  # inactive
        assert recs.groupby("customer_id")["rank"].max().max() == 3
        c1 = recs[recs["customer_id"] == "c1"]
        assert not c1["is_personal"].any() and c1["reason"].str.contains("personalised recommendations are off").all()
        c0 = recs[recs["customer_id"] == "c0"]
        assert c0["is_personal"].all() and c0["product_id"].iloc[0] in ("beans", "filter")
        assert "kettle" not in recs.loc[recs["customer_id"] == "c20", "product_id"].tolist()  # a durable just bought
        c23 = recs[recs["customer_id"] == "c23"]
        assert (c23["source"] == "popularity").all()  # cold start
        run = store.read_run(ws)
        assert run["served"] == result.served == "hybrid" and run["summary"]["best_sellers"]
        pairs = store.read_pairs(ws, product_id="beans")
        assert pairs["other_product_id"].tolist()[:1] == ["filter"] and (pairs["lift"] >= 1).all()


def test_report_serves_best_sellers_after_a_later_opt_out_and_to_newcomers(tmp_path):
    with _shop(tmp_path / "shop.duckdb") as ws:
        recommend(ws, as_of=AS_OF, k=3, evaluate_if_missing=False)
        # c2 opted out on 2024-07-10, after the run's AS_OF: the report respects today's consent
        r = report.customer_recommendations(ws, "c2", k=3)
        assert not r.is_personal and r.served == "popularity" and report.NOT_PERSONAL in r.notes
        assert all(i["source"] == "popularity" for i in r.items)
        ws._con.execute("INSERT INTO customers (customer_id) VALUES ('late')")
        late = report.customer_recommendations(ws, "late", k=2)
        assert len(late.items) == 2 and not late.is_personal
        with pytest.raises(report.CustomerNotFound):
            report.customer_recommendations(ws, "nobody")


def test_next_actions_respect_consent_history_and_contact_caps(tmp_path):
    with _shop(tmp_path / "shop.duckdb") as ws:
        recommend(ws, as_of=AS_OF, k=3, evaluate_if_missing=False)
        ws._con.execute("INSERT INTO consents (customer_id, purpose, is_granted, recorded_at, source, _run_id) "
                       "VALUES ('c3', 'email', false, TIMESTAMP '2024-06-15', 'form', NULL)")
        ws._con.execute("INSERT INTO messages (message_id, customer_id, channel, event_type, occurred_at) VALUES "
                       + ", ".join(f"('m{i}', 'c4', 'email', 'sent', TIMESTAMP '2024-06-{20 + i} 09:00')"
                                   for i in range(3)))
        result = next_actions(ws, as_of=AS_OF)
        stored = store.read_next_actions(ws).set_index("customer_id")
        assert len(stored) == 24 and set(stored["channel"]) <= {"email", "sms", "audience", "none"}
        assert stored.loc["c3", "channel"] != "email"  # refused e-mail on 2024-06-15
        assert stored.loc["c4", "channel"] not in ("email", "sms")  # 3 e-mails in the last 7 days (cap 2)
        assert sum(result.counts.values()) == 24
        acting = stored[stored["action"] != "do_nothing"]
        assert (acting["expected_value"] > 0).all() and acting["reason"].str.len().gt(20).all()
        csv_viewer = report.next_actions_csv(ws, include_pii=False)
        assert "@example.com" not in csv_viewer and csv_viewer.startswith("customer_id,action,channel,expected_value,reason")
        assert "c0@example.com" in report.next_actions_csv(ws, include_pii=True)


def test_without_an_evaluation_the_job_evaluates_first(tmp_path):
    with _shop(tmp_path / "shop.duckdb") as ws:
        rec = recommend(ws, as_of=AS_OF, k=3)
        assert "evaluate" in rec.timings and not store.read_evaluation(ws).empty
        assert rec.served == "popularity"  # too few buyers after the default cutoff to judge


def test_evaluation_refuses_without_enough_buyers_and_serves_popularity(tmp_path):
    with _shop(tmp_path / "shop.duckdb") as ws:
        result = evaluate(ws, cutoff=AS_OF)
        assert result.served == "popularity" and "cannot be judged yet" in result.sentences[0]
        rec = recommend(ws, as_of=AS_OF, k=3, evaluate_if_missing=False)
        assert rec.served == "popularity" and "cannot be judged yet" in rec.served_reason
        recs = store.read_recommendations(ws)
        assert not recs["is_personal"].any() and (recs["served"] == "popularity").all()
        # an opted-out customer is still told, even when everyone gets the best-sellers
        assert recs.loc[recs["customer_id"] == "c1", "reason"].str.contains("personalised recommendations are off").all()


@pytest.mark.slow
def test_on_the_demo_shop_the_hybrid_beats_popularity_on_recall_at_10(tmp_path):
    from regulars.jobs.demo import run_demo

    with Workspace(tmp_path / "demo.duckdb") as ws:
        run_demo(ws, customers=3000, seed=0, analyses=False)
        result = evaluate(ws, k=10)
        hybrid, popularity = result.metric("hybrid", "recall"), result.metric("popularity", "recall")
        assert hybrid > popularity, (hybrid, popularity)
        assert result.served == "hybrid"
        assert result.metric("hybrid", "hit_rate") > result.metric("popularity", "hit_rate")
        assert result.metric("hybrid", "coverage") > result.metric("popularity", "coverage")
        assert any("our top 10 contained something they bought" in s for s in result.sentences)
        stored = store.read_evaluation(ws)
        assert set(stored["recommender"]) >= {"hybrid", "item_knn", "content", "together", "usual_order"}


def test_erasure_removes_the_customers_recommendations_and_actions(tmp_path):
    from regulars.data.erasure import forget

    with _shop(tmp_path / "shop.duckdb") as ws:
        recommend(ws, as_of=AS_OF, k=3, evaluate_if_missing=False)
        next_actions(ws, as_of=AS_OF)
        record = forget(ws, "c0", requested_by="test")
        assert record["rows_deleted"]["recommendations"] == 3 and record["rows_deleted"]["next_actions"] == 1
        assert store.read_recommendations(ws, "c0").empty and store.read_next_actions(ws, customer_id="c0").empty


def test_csv_exports_cannot_carry_a_formula(tmp_path):
    from regulars.reports.csv_safe import FORMULA_START

    assert store.FORMULA_START == FORMULA_START  # the SQL writer applies the same rule
    with _shop(tmp_path / "shop.duckdb") as ws:
        ws._con.execute("UPDATE products SET name = '=HYPERLINK(\"http://x\")' WHERE product_id = 'beans'")
        ws._con.execute("UPDATE customers SET first_name = '@SUM(1+1)' WHERE customer_id = 'c0'")
        recommend(ws, as_of=AS_OF, k=3, evaluate_if_missing=False)
        next_actions(ws, as_of=AS_OF)
        out = tmp_path / "recs.csv"
        store.export_recommendations_csv(ws, str(out), 3)
        text = out.read_text()
        assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text and '"=HYPERLINK' not in text
        actions = report.next_actions_csv(ws, include_pii=True)
        assert "'@SUM(1+1)" in actions and ",@SUM" not in actions
