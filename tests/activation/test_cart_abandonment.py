"""The cart-abandonment template with a scripted clock: exactly the right steps at 1 h / 24 h / 3 d / 5 d,
SMS only with SMS consent, nothing more after a purchase."""

from __future__ import annotations

import datetime as dt

from regulars import Workspace
from regulars.activation import holdout
from regulars.data import webhook_store
from regulars.data.ingest.pipeline import ingest
from regulars.jobs.activation import Runner
from tests.activation.servers import SmtpServer, WebhookReceiver
from tests.activation.shop import T0, Clock, _csv, approve, build, configure, customer, local, ts

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def treated_ids(journey: str, n: int, prefix: str = "A") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(100) if holdout.assign(journey, f"{prefix}{i}", 0.10) == "treatment"]
    return ids[:n]


def test_cart_abandonment_sends_the_right_steps_at_the_right_times(tmp_path):
    email_only, with_sms, buyer = treated_ids("cart_abandonment", 3)
    path = build(tmp_path, [customer(email_only), customer(with_sms, sms_ok="true"), customer(buyer)],
                 products=[["P1", "Cold brew kit", "coffee", "29.00"]],
                 orders=[["O-old", email_only, ts(T0 - 100 * D), "10.00"]],
                 events=[[f"E{i}", cid, "add_to_cart", ts(T0), "P1"] for i, cid in enumerate((email_only, with_sms, buyer))])
    clock = Clock(T0 + dt.timedelta(minutes=5))
    with SmtpServer() as smtp, WebhookReceiver("whsec_test") as sms_gateway, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="")
        approve(ws, "cart_abandonment")
        with ws.transaction():
            webhook_store.add_subscription(ws, "sms gateway", sms_gateway.url, "whsec_test", ["journey.step_due"],
                                           {"channels": ["sms"]}, 5, "tests")
        runner = Runner(local(ws), clock)
        try:
            out = runner.run_once()
            assert out["enrolled"] == {"cart_abandonment": 3}
            clock.set(T0 + 59 * dt.timedelta(minutes=1))
            runner.run_once()
            assert smtp.inbox.messages == []                      # nothing before 1 hour

            clock.set(T0 + H + dt.timedelta(minutes=1))
            runner.run_once()
            assert sorted(smtp.inbox.to()) == sorted(f"{c.lower()}@example.com" for c in (email_only, with_sms, buyer))
            first = smtp.inbox.messages[0]
            assert "left something in your cart" in first["Subject"]
            assert "Cold brew kit" in first.get_body(("plain",)).get_content()

            ingest(ws, "orders", [str(_orders(tmp_path, [["O-new", buyer, ts(T0 + 2 * H), "29.00"]]))])
            ingest(ws, "order-lines", [str(_csv(tmp_path / "files" / "lines.csv", ["order_id", "line_number", "product_id",
                                                                                   "quantity", "unit_price"],
                                                [["O-new", 1, "P1", 1, "29.00"]]))])
            clock.set(T0 + 23 * H)
            runner.run_once()
            assert len(smtp.inbox.messages) == 3                  # the follow-up is not due yet

            clock.set(T0 + D + dt.timedelta(minutes=1))
            runner.run_once()
            follow = smtp.inbox.messages[3:]
            assert sorted(m["To"] for m in follow) == sorted(f"{c.lower()}@example.com" for c in (email_only, with_sms))
            assert all("Still thinking" in m["Subject"] for m in follow)
            assert "customers bought Cold brew kit" in follow[0].get_body(("plain",)).get_content()  # social proof

            clock.set(T0 + 3 * D + H)
            runner.run_once()
            members = ws.sql("SELECT customer_id FROM audience_members WHERE audience_id = 'retargeting_cart_abandoners' "
                             "ORDER BY 1")["customer_id"].tolist()
            assert members == sorted([email_only, with_sms])
            assert sms_gateway.received == []

            clock.set(T0 + 5 * D + H)
            runner.run_once()
            assert len(sms_gateway.accepted()) == 1               # only the customer who opted in to SMS
            sms = sms_gateway.accepted()[0]
            assert sms["verified"] and sms["body"]["topic"] == "journey.step_due"
            assert sms["body"]["data"]["customer_id"] == with_sms and sms["body"]["data"]["to"] == "+4915112345678"
            assert "your cart is still waiting" in sms["body"]["data"]["text"]
            assert len(smtp.inbox.messages) == 5

            clock.set(T0 + 9 * D)
            runner.run_once()
            assert len(smtp.inbox.messages) == 5 and len(sms_gateway.received) == 1
        finally:
            runner.close()
        log = ws.sql("SELECT customer_id, step, status, reason FROM journey_sends ORDER BY customer_id, step")
        by = {(r.customer_id, r.step): (r.status, r.reason) for r in log.itertuples()}
        assert by[(email_only, 3)] == ("skipped", "no SMS consent (opted out)")
        assert by[(with_sms, 3)][0] == "sent"
        assert by[(buyer, 1)][0] == "skipped" and "bought" in by[(buyer, 1)][1]
        assert (buyer, 2) not in by and (buyer, 3) not in by   # the journey ended on the purchase
        states = dict(ws.sql("SELECT customer_id, status FROM journey_enrollments").values.tolist())
        assert states == {email_only: "completed", with_sms: "completed", buyer: "converted"}


def _orders(tmp_path, rows):
    return _csv(tmp_path / "files" / "orders2.csv", ["order_id", "customer_id", "ordered_at", "total"], rows)
