"""Recommendation routes on a real server: same numbers as the stored results, roles, errors."""

from __future__ import annotations

import csv
import io

from regulars.data import recommend_store as store


def test_customer_recommendations_are_the_stored_ones_with_reasons(viewer, server):
    shop = server.extra["shop"]
    cid = shop.best_customer
    body = viewer.get(f"/api/customers/{cid}/recommendations", params={"k": 3}).json()
    with server.shared.read() as ws:
        stored = store.read_recommendations(ws, cid, k=3)
    assert [i["product_id"] for i in body["items"]] == stored["product_id"].tolist()
    assert [i["rank"] for i in body["items"]] == [1, 2, 3]
    assert all(i["reason"] for i in body["items"])
    assert body["customer_id"] == cid and body["as_of"]
    assert not set(shop.pii) & set(str(body).split("'"))  # product names and reasons only


def test_unknown_customer_and_product_are_404(viewer):
    assert viewer.get("/api/customers/NOBODY/recommendations").status_code == 404
    r = viewer.get("/api/products/NOPE/bought-together")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_bought_together_has_support_confidence_and_lift(viewer, server):
    with server.shared.read() as ws:
        pairs = store.read_pairs(ws)
    top = pairs.iloc[0]
    body = viewer.get(f"/api/products/{top['product_id']}/bought-together").json()
    first = body["items"][0]
    assert first["product_id"] == top["other_product_id"]
    assert first["lift"] == top["lift"] and first["confidence"] == top["confidence"]
    assert first["support"] == top["support"] and "orders with" in first["sentence"]
    overview = viewer.get("/api/products").json()
    assert overview["best_sellers"] and "pairs" in overview


def test_next_actions_json_counts_match_the_store(viewer, server):
    body = viewer.get("/api/next-actions", params={"limit": 5}).json()
    with server.shared.read() as ws:
        stored = store.read_next_actions(ws)
    assert sum(a["customers"] for a in body["actions"]) == len(stored)
    assert body["total"] == len(stored) and len(body["items"]) == min(5, len(stored))
    assert {i["channel"] for i in body["items"]} <= {"email", "sms", "audience", "none"}
    values = [i["expected_value"] for i in body["items"]]
    assert values == sorted(values, reverse=True)


def test_next_actions_csv_has_personal_data_only_for_analysts(viewer, analyst, server):
    shop = server.extra["shop"]
    plain = viewer.get("/api/next-actions", params={"format": "csv"})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(plain.text)))
    assert rows and list(rows[0])[:5] == ["customer_id", "action", "channel", "expected_value", "reason"]
    assert not any(e in plain.text for e in shop.emails.values())
    full = analyst.get("/api/next-actions", params={"format": "csv"})
    assert "email" in full.text.splitlines()[0] and any(e in full.text for e in shop.emails.values())
    one = viewer.get("/api/next-actions", params={"format": "csv", "action": "do_nothing"}).text
    assert {r["action"] for r in csv.DictReader(io.StringIO(one))} <= {"do_nothing"}


def test_next_actions_unknown_segment_is_404_and_needs_a_key(viewer, anonymous):
    assert viewer.get("/api/next-actions", params={"segment": "no such segment"}).status_code == 404
    assert anonymous.get("/api/next-actions").status_code == 401
    assert anonymous.get("/api/customers/C0001/recommendations").status_code == 401


def test_evaluation_and_segment_kpis(viewer):
    ev = viewer.get("/api/recommendations/evaluation").json()
    assert ev["served"] in ("hybrid", "popularity") and ev["sentences"]
    kpis = viewer.get("/api/kpis/segments", params={"kind": "rfm"}).json()
    assert kpis["rows"] and {"segment", "customers", "revenue", "predicted_clv"} <= set(kpis["columns"])
    assert viewer.get("/api/kpis/segments", params={"kind": "bogus"}).status_code == 422



def test_a_messages_recommendations_are_the_stored_ones_and_best_sellers_otherwise(tmp_path):
    """The journeys' ``${recommendations}`` slot: a customer's stored names; the best-sellers for a customer
    who refuses personalisation and for one new since the run; nothing before the first run."""
    import datetime as dt
    import json

    import pandas as pd

    from regulars import Workspace
    from regulars.data.ingest.pipeline import ingest
    from regulars.jobs.journeys import _message_values
    from regulars.reports.recommend import message_recommendations

    people = tmp_path / "customers.csv"
    people.write_text("customer_id,email,accepts_personalization\nA,a@example.com,true\nB,b@example.com,false\n")
    as_of = dt.date(2024, 6, 1)
    own = ["Espresso beans", "Milk jug", "Filter papers"]
    best = [{"rank": r, "product_id": f"P{r}", "product_name": f"Best {r}", "score": 1.0 / r, "reason": "a best-seller"}
            for r in (1, 2, 3)]
    rows = [{"customer_id": cid, "as_of": as_of, "rank": r + 1, "product_id": f"X{r}", "product_name": name,
             "score": 0.5, "reason": "bought with your usual", "source": "item_knn", "is_personal": True,
             "served": "hybrid", "model_version": "t", "run_id": "r1"} for cid in ("A", "B") for r, name in enumerate(own)]
    run = {"run_id": "r1", "as_of": as_of, "served": "hybrid", "served_reason": "", "customers": 2, "rows": 6,
           "model_version": "t", "summary": {"best_sellers": best}, "timings": {}}
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "customers", [str(people)])
        assert message_recommendations(ws, ["A"]) == {}  # before the first run: the line is left out
        store.write_recommendations(ws, pd.DataFrame(rows), pd.DataFrame(columns=[c for c, _ in store.PRODUCT_PAIRS]),
                                    {**run, "summary": json.dumps(run["summary"]), "timings": "{}"})
        names = message_recommendations(ws, ["A", "B", "NEW"])
        values = _message_values(ws, [{"customer_id": "A", "send_key": "k1", "context": "{}"}], {"shop_name": "T"},
                                 dt.datetime(2024, 6, 2))
    assert names == {"A": own, "B": ["Best 1", "Best 2", "Best 3"], "NEW": ["Best 1", "Best 2", "Best 3"]}
    assert values["k1"]["values"]["recommendations"] == "Espresso beans, Milk jug, Filter papers"


def test_the_monday_report_lists_the_next_best_actions(server):
    from regulars.jobs.monday_report import render_html
    from regulars.reports.monday import monday_report

    with server.shared.read() as ws:
        stored = store.read_next_actions(ws)
        report = monday_report(ws).to_dict()
    acting = stored[stored["action"] != "do_nothing"]
    assert acting.shape[0], "the test shop has customers with an action"
    got = {a["action_id"]: a["customers"] for a in report["next_actions"]}
    assert got == acting["action"].value_counts().to_dict()
    html = render_html(report)
    assert "Next best actions" in html and report["next_actions"][0]["action"] in html
