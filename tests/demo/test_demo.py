"""The demo shop: deterministic, loads cleanly through ingest, and its planted facts are visible in the data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from regulars import Workspace
from regulars.demo import FILES, LATENT_TYPES, build_demo, generate
from regulars.data.demo_truth import write_demo_truth

N = 2_000
TABLES = ["customers", "products", "orders", "order_lines", "events", "messages", "campaigns", "tickets", "reviews",
          "surveys", "consents", "marketing_spend", "identities", "demo_truth"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One demo shop of 2,000 customers, built through the normal ingest path, with its files kept."""
    root = tmp_path_factory.mktemp("demo")
    steps: list[str] = []
    ws = Workspace(root / "shop.duckdb")
    summary = build_demo(ws, n_customers=N, seed=0, progress=steps.append, keep_files_in=root / "files")
    yield ws, summary, steps, root / "files"
    ws.close()


def one(ws, sql):
    return ws._con.execute(sql).fetchall()[0][0]


# -- determinism -------------------------------------------------------------------------
def test_same_seed_gives_the_same_files_byte_for_byte(built, tmp_path):
    _, _, _, files = built
    again = generate(tmp_path / "again", n_customers=N, seed=0)
    for kind, path in again:
        assert path.read_bytes() == (files / path.name).read_bytes(), kind
    assert again.truth_path.read_bytes() == (files / again.truth_path.name).read_bytes()


def test_a_different_seed_gives_a_different_shop(built, tmp_path):
    _, summary, _, files = built
    other = generate(tmp_path / "other", n_customers=N, seed=1, kinds=["orders"])
    first = pd.read_parquet(files / "demo_truth.parquet")
    assert len(other.truth) == len(first) == N
    assert not other.truth["latent_type"].equals(first["latent_type"])
    assert other.rows["orders"] != summary["rows"]["orders"]
    assert [k for k, _ in other] == ["orders"]


# -- loading -------------------------------------------------------------------------------
def test_every_file_loads_through_ingest_with_nothing_quarantined(built):
    ws, summary, steps, _ = built
    assert set(summary["loaded"]) == {k for k, _ in FILES}
    assert summary["quarantined"] == {k: 0 for k, _ in FILES}
    assert one(ws, "SELECT count(*) FROM quarantine") == 0
    for kind, n in summary["loaded"].items():
        assert n == summary["rows"][kind] > 0, kind
    for table in TABLES:
        assert one(ws, f"SELECT count(*) FROM {table}") > 0, table
    assert any(s.startswith("generate") for s in steps) and "load events" in steps and "store the demo truth" in steps
    assert summary["seconds"]["total"] >= summary["seconds"]["load"] > 0


def test_truth_has_one_row_per_customer(built):
    ws, summary, _, _ = built
    assert summary["truth_rows"] == N
    assert one(ws, "SELECT count(*) FROM customers") == N
    assert one(ws, "SELECT count(*) FROM demo_truth t JOIN customers c USING (customer_id)") == N
    assert set(ws.sql("SELECT DISTINCT latent_type FROM demo_truth").latent_type) == set(LATENT_TYPES)


def test_write_demo_truth_replaces_the_earlier_truth(built):
    ws, _, _, _ = built
    truth = ws.sql("SELECT * FROM demo_truth ORDER BY customer_id")
    assert write_demo_truth(ws, truth.head(10)) == 10
    assert write_demo_truth(ws, truth) == N
    with pytest.raises(ValueError, match="latent_type"):
        write_demo_truth(ws, truth.drop(columns=["latent_type"]))
    assert one(ws, "SELECT count(*) FROM demo_truth") == N


# -- planted facts ---------------------------------------------------------------------------
def test_deal_seekers_buy_on_discount_far_more_than_loyal_regulars(built):
    ws, _, _, _ = built
    share = ws.sql(
        "SELECT t.latent_type, sum(o.discount) / sum(o.subtotal) AS share, "
        "avg(CASE WHEN o.discount_code IS NOT NULL THEN 1 ELSE 0 END) AS with_code "
        "FROM orders o JOIN demo_truth t USING (customer_id) WHERE o.total > 0 GROUP BY 1"
    ).set_index("latent_type")
    assert share.loc["deal_seeker", "share"] > 4 * share.loc["loyal_regular", "share"]
    assert share.loc["deal_seeker", "share"] > 0.08
    assert share.loc["deal_seeker", "with_code"] > 0.5 > share.loc["loyal_regular", "with_code"]


def test_one_timers_have_exactly_one_order_and_browsers_none(built):
    ws, _, _, _ = built
    counts = ws.sql(
        "SELECT t.latent_type, t.customer_id, count(o.order_id) AS n FROM demo_truth t "
        "LEFT JOIN orders o USING (customer_id) GROUP BY ALL"
    )
    assert (counts[counts.latent_type == "one_timer"].n == 1).all()
    assert (counts[counts.latent_type == "browser"].n == 0).all()
    loyal = counts[counts.latent_type == "loyal_regular"].n.mean()
    assert loyal > 2 * counts[counts.latent_type == "lapsing"].n.mean()


def test_category_fans_spend_at_least_80_percent_in_one_category(built):
    ws, _, _, _ = built
    shares = ws.sql(
        """
        WITH spend AS (
            SELECT o.customer_id, l.category, sum(l.quantity * l.unit_price) AS v
            FROM orders o JOIN order_lines l USING (order_id) WHERE l.quantity > 0 GROUP BY 1, 2)
        SELECT s.customer_id, t.latent_type, t.favourite_category,
               max(v) / sum(v) AS top_share, arg_max(s.category, v) AS top
        FROM spend s JOIN demo_truth t USING (customer_id) GROUP BY ALL
        """
    )
    fans = shares[shares.latent_type == "category_fan"]
    assert len(fans) > 50
    assert (fans.top_share >= 0.8).all()
    assert (fans.top == fans.favourite_category).all()
    assert shares[shares.latent_type == "loyal_regular"].top_share.median() < 0.8


def test_december_revenue_is_above_the_monthly_average(built):
    ws, _, _, _ = built
    months = ws.sql(
        "SELECT month(ordered_at) AS m, sum(total - coalesce(refunded, 0)) AS revenue "
        "FROM orders WHERE year(ordered_at) = 2025 GROUP BY 1"
    ).set_index("m").revenue.astype(float)
    assert len(months) == 12
    assert months[12] > 1.3 * months.mean()
    assert months[12] == months.max()


def test_opt_outs_and_consent_history_are_present(built):
    ws, _, _, _ = built
    decided = ws.sql("SELECT purpose, is_granted, count(*) AS n FROM consents GROUP BY ALL")
    for purpose in ("email", "sms"):
        for granted in (True, False):
            assert ((decided.purpose == purpose) & (decided.is_granted == granted)).any(), (purpose, granted)
    assert ((decided.purpose == "personalization") & ~decided.is_granted).any()
    email = ws.sql("SELECT accepts_email, count(*) / sum(count(*)) OVER () AS share FROM customers GROUP BY 1")
    opted_out = float(email[email.accepts_email == False].share.iloc[0])  # noqa: E712
    assert 0.08 < opted_out < 0.25
    assert one(ws, "SELECT count(*) FROM customers WHERE accepts_sms") < 0.5 * N
    # an unsubscribe in the e-mail engagement is also a consent decision
    assert one(ws, "SELECT count(*) FROM consents WHERE source = 'unsubscribe_link' AND NOT is_granted") > 0
    assert one(ws, """SELECT count(*) FROM messages m WHERE event_type = 'unsubscribed' AND channel = 'email'
                      AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.customer_id = m.customer_id
                                      AND c.purpose = 'email' AND NOT c.is_granted)""") == 0


def test_returns_and_refunds_are_a_few_percent_of_orders(built):
    ws, _, _, _ = built
    refunded = one(ws, "SELECT avg(CASE WHEN refunded > 0 THEN 1 ELSE 0 END) FROM orders WHERE total > 0")
    assert 0.01 < refunded < 0.08
    assert one(ws, "SELECT count(*) FROM orders WHERE total < 0") > 0
    assert one(ws, "SELECT count(*) FROM order_lines WHERE quantity < 0") > 0
    assert one(ws, "SELECT count(*) FROM orders WHERE refunded > total AND total > 0") == 0


def test_purchase_events_match_orders_and_carts_are_abandoned_at_every_step(built):
    ws, _, _, _ = built
    purchases = ws.sql(
        "SELECT e.customer_id, json_extract_string(e.properties, '$.order_id') AS order_id, "
        "CAST(json_extract(e.properties, '$.value') AS DECIMAL(18, 2)) AS value, e.occurred_at "
        "FROM events e WHERE event_type = 'purchase'"
    )
    orders = ws.sql("SELECT order_id, customer_id, total, ordered_at, channel FROM orders")
    both = purchases.merge(orders, on="order_id", how="left", suffixes=("", "_order"))
    assert both.customer_id_order.notna().all()
    assert (both.customer_id == both.customer_id_order).all()
    assert (both.value == both.total).all()
    assert (both.occurred_at == both.ordered_at).all()
    online = orders[orders.channel != "pos"]
    assert 0.7 < len(purchases) / len(online) <= 1.0
    last_step = ws.sql(
        """
        SELECT last_step, count(*) AS sessions FROM (
            SELECT session_id, arg_max(event_type, occurred_at) AS last_step, bool_or(event_type = 'add_to_cart') AS carted,
                   bool_or(event_type = 'purchase') AS bought
            FROM events GROUP BY 1) WHERE carted AND NOT bought GROUP BY 1
        """
    ).set_index("last_step").sessions
    for step in ("add_to_cart", "begin_checkout", "add_shipping_info", "add_payment_info"):
        assert last_step.get(step, 0) > 0, step


def test_anonymous_visits_are_linked_to_customers_later(built):
    ws, _, _, _ = built
    # events before the account existed carry no customer id in the file; they are attributed through the device
    assert one(ws, "SELECT count(*) FROM identities WHERE kind = 'anonymous_id'") > N / 2
    assert one(ws, """SELECT count(*) FROM events e JOIN customers c USING (customer_id)
                      WHERE e.occurred_at < c.created_at""") > 0
    assert one(ws, "SELECT count(*) FROM events WHERE customer_id IS NULL") > 0  # visitors who never signed up
    sources = set(ws.sql("SELECT DISTINCT traffic_source FROM events").traffic_source)
    assert {"google / cpc", "newsletter / email", "(direct) / (none)"} <= sources
    assert one(ws, "SELECT count(*) FROM events WHERE event_type = 'search' AND search_query IS NULL") == 0


def test_truth_follows_the_planted_process(built):
    ws, _, _, _ = built
    t = ws.sql(
        """
        SELECT t.*, o.first_order, o.last_order, o.n FROM demo_truth t LEFT JOIN (
            SELECT customer_id, min(ordered_at) AS first_order, max(ordered_at) AS last_order, count(*) AS n
            FROM orders WHERE total > 0 GROUP BY 1) o USING (customer_id)
        """
    )
    buyers = t[t.latent_type != "browser"]
    assert (buyers.acquired_at == buyers.first_order).all()
    dead = buyers[~buyers.is_alive]
    assert (dead.churned_at == dead.last_order).all()
    assert (dead.orders_next_365d == 0).all()
    alive = buyers[buyers.is_alive]
    assert alive.churned_at.isna().all() and (alive.orders_next_365d > 0).all()
    assert (t[t.latent_type == "one_timer"].dropout_probability == 1).all()
    assert (t[t.latent_type == "one_timer"].is_alive == False).all()  # noqa: E712
    by_type = buyers.groupby("latent_type").agg(rate=("purchase_rate", "mean"), p=("dropout_probability", "mean"),
                                                 future=("orders_next_365d", "mean"), alive=("is_alive", "mean"))
    assert by_type.future.idxmax() == "loyal_regular"
    assert by_type.loc["lapsing", "p"] > by_type.loc["loyal_regular", "p"]
    assert by_type.loc["lapsing", "alive"] < 0.5 < by_type.loc["loyal_regular", "alive"]
    # observed frequency of customers with a long history follows the planted rate
    long = buyers[(buyers.first_order < pd.Timestamp("2025-06-01")) & buyers.is_alive & (buyers.n > 1)]
    weeks = (pd.Timestamp("2026-11-01") - long.first_order).dt.days / 7
    assert np.corrcoef(long.purchase_rate, (long.n - 1) / weeks)[0, 1] > 0.6


def test_latent_types_are_recoverable_by_clustering_but_not_trivially(built):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    ws, _, _, _ = built
    f = ws.sql(
        """
        WITH o AS (SELECT * FROM orders WHERE total > 0),
        spend AS (SELECT o.customer_id, l.category, sum(l.quantity * l.unit_price) AS v
                  FROM o JOIN order_lines l USING (order_id) WHERE l.quantity > 0 GROUP BY 1, 2),
        top AS (SELECT customer_id, max(v) / sum(v) AS top_share FROM spend GROUP BY 1)
        SELECT t.latent_type, count(*) AS n, sum(o.discount) / sum(o.subtotal) AS disc, avg(o.total) AS aov,
               date_diff('day', max(o.ordered_at), TIMESTAMP '2026-11-01') AS recency,
               date_diff('day', min(o.ordered_at), TIMESTAMP '2026-11-01') AS tenure, any_value(top.top_share) AS top_share
        FROM o JOIN demo_truth t USING (customer_id) JOIN top USING (customer_id)
        GROUP BY t.latent_type, o.customer_id HAVING tenure >= 180
        """
    )
    X = pd.DataFrame({
        "n": np.log1p(f.n), "freq": np.log1p(f.n / f.tenure * 365), "disc": f.disc.astype(float),
        "aov": np.log(f.aov.astype(float)), "top": f.top_share.astype(float), "gone": f.recency / f.tenure,
    })
    labels = KMeans(6, n_init=10, random_state=0).fit_predict(StandardScaler().fit_transform(X))
    ari = adjusted_rand_score(f.latent_type, labels)
    assert 0.3 < ari < 0.9


def test_messages_follow_engagement_and_campaigns_exist(built):
    ws, _, _, _ = built
    rates = ws.sql(
        """
        SELECT t.latent_type, avg(CASE WHEN m.event_type = 'opened' THEN 1 ELSE 0 END) /
               avg(CASE WHEN m.event_type = 'delivered' THEN 1 ELSE 0 END) AS open_rate
        FROM messages m JOIN demo_truth t USING (customer_id) WHERE m.channel = 'email' GROUP BY 1
        """
    ).set_index("latent_type").open_rate
    assert rates["loyal_regular"] > 2 * rates["one_timer"]
    kinds = set(ws.sql("SELECT DISTINCT event_type FROM messages").event_type)
    assert {"sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "converted"} <= kinds
    n_campaigns = one(ws, "SELECT count(*) FROM campaigns WHERE campaign_id LIKE '%newsletter%' OR campaign_id LIKE '%arrivals%' "
                          "OR campaign_id LIKE '%guides%'")
    assert 45 <= n_campaigns <= 56  # every two weeks for two years
    # consent is honoured: no e-mail goes to someone who never opted in
    assert one(ws, """SELECT count(*) FROM messages m JOIN consents c USING (customer_id)
                      WHERE m.channel = 'email' AND m.event_type = 'sent' AND c.purpose = 'email' AND NOT c.is_granted
                        AND c.recorded_at < m.occurred_at AND c.source IN ('checkout', 'in_store')""") == 0


def test_tickets_reviews_surveys_and_spend_are_plausible(built):
    ws, _, _, _ = built
    ratings = ws.sql("SELECT t.latent_type, avg(r.rating) AS r FROM reviews r JOIN demo_truth t USING (customer_id) GROUP BY 1"
                     ).set_index("latent_type").r
    assert ratings["loyal_regular"] > ratings["lapsing"] + 0.5
    assert one(ws, "SELECT count(*) FROM tickets WHERE body IS NULL OR topic IS NULL") == 0
    assert one(ws, "SELECT count(*) FROM tickets WHERE closed_at < opened_at") == 0
    nps = ws.sql("SELECT t.latent_type, avg(s.score) AS s FROM surveys s JOIN demo_truth t USING (customer_id) "
                 "WHERE s.survey = 'nps' GROUP BY 1").set_index("latent_type").s
    assert nps["loyal_regular"] > nps["one_timer"]
    spend = ws.sql("SELECT channel, sum(amount) AS total FROM marketing_spend GROUP BY 1").set_index("channel").total
    assert {"paid_search", "social", "email", "referral"} <= set(spend.index)
    summary = json.loads(one(ws, "SELECT summary FROM ingest_runs WHERE kind = 'order-lines'"))
    assert summary["tables"]["products"]["stubs_created"] == 0  # every sold product is in the catalog
    assert one(ws, "SELECT count(*) FROM products WHERE NOT is_active") > 0


def test_generate_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_customers"):
        generate(tmp_path, n_customers=0)
    with pytest.raises(ValueError, match="unknown kind"):
        generate(tmp_path, n_customers=10, kinds=["nope"])
