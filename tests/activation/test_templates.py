"""Every shipped journey template on a tiny shop with a scripted clock, plus caps, quiet hours and holdouts."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from regulars import Workspace
from regulars.activation import holdout
from regulars.data import predictions_store
from regulars.jobs.activation import Runner, utcnow
from regulars.segments.lifecycle import Thresholds
from regulars.jobs.segments import refresh
from tests.activation.servers import SmtpServer
from tests.activation.shop import T0, Clock, _csv, approve, build, configure, customer, local, ts
from tests.activation.test_cart_abandonment import treated_ids

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
M = dt.timedelta(minutes=1)


def run(ws, clock, at) -> dict:
    clock.set(at)
    runner = Runner(local(ws), clock)
    try:
        return runner.run_once()
    finally:
        runner.close()


def sent(ws, journey: str) -> list[tuple]:
    return [tuple(r) for r in ws.sql("SELECT customer_id, step, status FROM journey_sends WHERE journey_id = ? "
                                     "ORDER BY customer_id, step", [journey]).values.tolist()]


def test_welcome_series_three_emails_and_the_nudge_only_without_a_first_order(tmp_path):
    quiet, buyer = treated_ids("welcome_series", 2, "W")
    path = build(tmp_path, [customer(quiet, created=T0), customer(buyer, created=T0),
                            customer("OLD1", created=T0 - 30 * D)],
                 orders=[["O1", buyer, ts(T0 + 5 * D), "20.00"]])
    clock = Clock()
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="")
        approve(ws, "welcome_series")
        out = run(ws, clock, T0 + 5 * M)
        assert out["enrolled"] == {"welcome_series": 2}          # the customer from last month does not enter
        assert smtp.inbox.messages == []
        run(ws, clock, T0 + 11 * M)
        assert sorted(smtp.inbox.to()) == sorted(f"{c.lower()}@example.com" for c in (quiet, buyer))
        assert all("Welcome to" in m["Subject"] for m in smtp.inbox.messages)
        run(ws, clock, T0 + 3 * D + H)
        assert len(smtp.inbox.messages) == 4
        run(ws, clock, T0 + 10 * D + H)
        assert len(smtp.inbox.messages) == 5 and smtp.inbox.to()[-1] == f"{quiet.lower()}@example.com"
        assert "ready for your first order" in smtp.inbox.messages[-1]["Subject"]
        assert (buyer, 2, "skipped") in sent(ws, "welcome_series")


def test_winback_reaches_valuable_customers_entering_at_risk(tmp_path):
    valuable = treated_ids("winback", 5, "V")
    low = [f"L{i}" for i in range(5)]
    base = T0 - 85 * D
    orders = []
    for cid in valuable + low:
        for k in range(6):
            orders.append([f"{cid}-{k}", cid, ts(base + 10 * k * D), "120.00" if cid in valuable else "5.00"])
    path = build(tmp_path, [customer(c) for c in valuable + low], orders=orders)
    clock = Clock()
    th = Thresholds(at_risk_after_days=30, churned_after_days=120)
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="")
        approve(ws, "winback")
        now = utcnow()
        run(ws, clock, now)                                        # switched on: the segment's current members do not "enter"
        refresh(ws, as_of=(base + 55 * D).date(), thresholds=th)   # everyone active
        refresh(ws, as_of=(base + 85 * D).date(), thresholds=th)   # 35 days without an order: at risk
        out = run(ws, clock, utcnow())
        assert out["enrolled"] == {"winback": 10}
        assert sorted(smtp.inbox.to()) == sorted(f"{c.lower()}@example.com" for c in valuable)
        skipped = [r for r in sent(ws, "winback") if r[0] in low]
        assert all(r[2] == "skipped" for r in skipped) and len(skipped) == 5
        reasons = ws.sql("SELECT DISTINCT reason FROM journey_sends WHERE customer_id LIKE 'L%'")["reason"].tolist()
        assert reasons == ["condition not met: not in segment spend:high or spend:medium"]


def test_replenishment_and_birthday_go_out_at_ten_shop_time(tmp_path):
    due, not_due = treated_ids("replenishment", 2, "R")
    born = treated_ids("birthday", 1, "B")[0]
    path = build(tmp_path, [customer(due), customer(not_due), customer(born, birth="1988-03-03"),
                            customer("B-other", birth="1988-03-04")])
    clock = Clock()
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="", time_zone="Europe/Paris")
        frame = pd.DataFrame([
            {"customer_id": due, "product_id": "P1", "product_name": "Espresso beans 1 kg", "times_bought": 4,
             "last_bought_date": dt.date(2025, 2, 3), "typical_interval_days": 30.0, "due_date": dt.date(2025, 3, 5),
             "due_lower": dt.date(2025, 3, 1), "due_upper": dt.date(2025, 3, 9), "is_overdue": False},
            {"customer_id": not_due, "product_id": "P1", "product_name": "Espresso beans 1 kg", "times_bought": 3,
             "last_bought_date": dt.date(2025, 2, 20), "typical_interval_days": 30.0, "due_date": dt.date(2025, 3, 22),
             "due_lower": dt.date(2025, 3, 18), "due_upper": dt.date(2025, 3, 26), "is_overdue": False}])
        frame["as_of"] = dt.date(2025, 3, 1)
        predictions_store.write_replenishments(ws, frame, dt.date(2025, 3, 1))
        approve(ws, "replenishment", "birthday")
        day = dt.datetime(2025, 3, 3)
        run(ws, clock, day + dt.timedelta(hours=8, minutes=30))  # 09:30 in Paris: not yet
        assert smtp.inbox.messages == []
        run(ws, clock, day + dt.timedelta(hours=9, minutes=1))   # 10:01 in Paris
        by_to = {m["To"]: m for m in smtp.inbox.messages}
        assert set(by_to) == {f"{due.lower()}@example.com", f"{born.lower()}@example.com"}
        assert "Espresso beans 1 kg" in by_to[f"{due.lower()}@example.com"].get_body(("plain",)).get_content()
        assert "Happy birthday" in by_to[f"{born.lower()}@example.com"]["Subject"]
        run(ws, clock, day + dt.timedelta(hours=15))             # once a day only
        assert len(smtp.inbox.messages) == 2


def test_review_request_a_week_after_the_order_names_what_was_bought(tmp_path):
    cid = treated_ids("review_request", 1, "O")[0]
    path = build(tmp_path, [customer(cid)], orders=[["ORD1", cid, ts(T0), "42.00"]],
                 products=[["P7", "Pour-over kettle", "tools", "42.00"]])
    from regulars.data.ingest.pipeline import ingest

    clock = Clock()
    with SmtpServer() as smtp, Workspace(path) as ws:
        ingest(ws, "order-lines", [str(_csv(tmp_path / "files" / "l.csv", ["order_id", "line_number", "product_id",
                                                                          "quantity", "unit_price"],
                                            [["ORD1", 1, "P7", 1, "42.00"]]))])
        configure(ws, **smtp.settings(), quiet_hours="")
        approve(ws, "review_request")
        run(ws, clock, T0 + H)
        run(ws, clock, T0 + 7 * D - M)
        assert smtp.inbox.messages == []
        run(ws, clock, T0 + 7 * D + M)
        assert len(smtp.inbox.messages) == 1
        assert "Pour-over kettle" in smtp.inbox.messages[0].get_body(("plain",)).get_content()


def test_quiet_hours_hold_a_step_until_morning_in_the_shop_time_zone(tmp_path):
    cid = treated_ids("cart_abandonment", 1, "Q")[0]
    evening = dt.datetime(2025, 3, 3, 19, 30)                    # 20:30 in Paris; the 1 h reminder falls at 21:30
    path = build(tmp_path, [customer(cid)], events=[["E1", cid, "add_to_cart", ts(evening), "P1"]])
    clock = Clock()
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="21:00-08:00", time_zone="Europe/Paris")
        approve(ws, "cart_abandonment")
        run(ws, clock, evening + M)
        run(ws, clock, evening + H + M)
        assert smtp.inbox.messages == []
        due = ws.sql("SELECT next_due_at FROM journey_enrollments")["next_due_at"][0]
        assert due == pd.Timestamp("2025-03-04 07:00")            # 08:00 in Paris
        run(ws, clock, dt.datetime(2025, 3, 4, 6, 59))
        assert smtp.inbox.messages == []
        run(ws, clock, dt.datetime(2025, 3, 4, 7, 0))
        assert len(smtp.inbox.messages) == 1


def test_frequency_cap_across_journeys(tmp_path):
    both = [c for c in treated_ids("cart_abandonment", 30, "F") if holdout.assign("welcome_series", c, 0.1) == "treatment"][0]
    path = build(tmp_path, [customer(both, created=T0)], events=[["E1", both, "add_to_cart", ts(T0), "P1"]])
    clock = Clock()
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="", cap_per_day=1)
        approve(ws, "cart_abandonment", "welcome_series")
        run(ws, clock, T0 + 5 * M)
        run(ws, clock, T0 + 11 * M)                                # the welcome e-mail
        run(ws, clock, T0 + H + M)                                 # the cart reminder would be the second today
        assert len(smtp.inbox.messages) == 1
        row = ws.sql("SELECT status, reason FROM journey_sends WHERE journey_id = 'cart_abandonment' AND step = 0")
        assert row.values.tolist() == [["skipped", "frequency cap: 1 message(s) in the last 24 hours (limit 1)"]]


def test_holdout_is_close_to_ten_percent_stable_and_gets_nothing(tmp_path):
    ids = [f"H{i:04d}" for i in range(600)]
    events = [[f"E{i}", cid, "add_to_cart", ts(T0), "P1"] for i, cid in enumerate(ids)]
    path = build(tmp_path, [customer(c) for c in ids], events=events)
    clock = Clock()
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="", cap_per_day=0, cap_per_week=0)
        approve(ws, "cart_abandonment")
        run(ws, clock, T0 + 5 * M)
        arms = dict(ws.sql("SELECT customer_id, arm FROM journey_enrollments").values.tolist())
        share = sum(a == "holdout" for a in arms.values()) / len(arms)
        assert 0.06 < share < 0.14, share
        assert arms == {c: holdout.assign("cart_abandonment", c, 0.10) for c in ids}  # deterministic, recomputable
        run(ws, clock, T0 + H + M)
        held = {c for c, a in arms.items() if a == "holdout"}
        assert not held & {m["To"].split("@")[0].upper() for m in smtp.inbox.messages}
        assert len(smtp.inbox.messages) == len(ids) - len(held)
        withheld = set(ws.sql("SELECT customer_id FROM journey_sends WHERE status = 'withheld'")["customer_id"])
        assert withheld == held
        logged = ws.sql("SELECT customer_id, arm, source, source_ref FROM experiment_assignments "
                        "WHERE experiment_id = 'journey-cart_abandonment'")
        assert dict(logged[["customer_id", "arm"]].values.tolist()) == arms     # logged in the experiments store
        assert set(logged["source"]) == {"journey"} and set(logged["source_ref"]) == {"cart_abandonment"}
        from regulars.data.experiments_store import get

        assert get(ws._con, "journey-cart_abandonment")["control_arm"] == "holdout"
    shares = [holdout.assign("any_journey", f"C{i}", 0.10) for i in range(50_000)]
    assert abs(shares.count("holdout") / 50_000 - 0.10) < 0.005
