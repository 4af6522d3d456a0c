"""Signed webhooks against a real receiver on 127.0.0.1: signatures verify, failures are retried with
exponential back-off and recover, the last failure lands in the dead-letter list, which can be retried."""

from __future__ import annotations

import datetime as dt

from regulars import Workspace
from regulars.activation.webhooks import verify
from regulars.data import webhook_store
from regulars.data.ingest.pipeline import ingest
from regulars.jobs.activation import Runner
from regulars.jobs.activation_admin import add_webhook
from regulars.jobs.segments import refresh
from tests.activation.servers import WebhookReceiver
from tests.activation.shop import T0, Clock, _csv, build, configure, customer, local, ts

S = dt.timedelta(seconds=1)


def _load(ws, tmp_path, name: str, n: int = 2):
    rows = [[f"{name}-{i}", "C1", ts(T0 - dt.timedelta(days=i + 1)), "10.00"] for i in range(n)]
    ingest(ws, "orders", [str(_csv(tmp_path / f"{name}.csv", ["order_id", "customer_id", "ordered_at", "total"], rows))])


def test_signed_deliveries_retry_with_backoff_and_recover(tmp_path):
    path = build(tmp_path, [customer("C1")])
    clock = Clock(T0)
    with WebhookReceiver() as receiver, Workspace(path) as ws:
        configure(ws, webhook_backoff_seconds=30)
        with ws.transaction():
            sub = add_webhook(ws, "warehouse", receiver.url, ["ingest.finished"], "tests")
        receiver.secret = sub["secret"]
        runner = Runner(local(ws), clock)
        try:
            runner.run_once()                                   # loads before the subscription are not announced
            assert receiver.received == []
            _load(ws, tmp_path, "first")
            runner.run_once()
            assert len(receiver.accepted()) == 1
            hit = receiver.accepted()[0]
            assert hit["verified"] and hit["body"]["topic"] == "ingest.finished"
            assert hit["body"]["data"]["kind"] == "orders" and hit["body"]["data"]["rows_new"] == 2
            assert not verify("wrong-secret", hit["raw"], hit["signature"])

            receiver.fail_with = 503
            _load(ws, tmp_path, "second")
            clock.set(T0 + 100 * S)
            runner.run_once()                                   # attempt 1 fails: retry after 30 s
            clock.set(T0 + 120 * S)
            runner.run_once()                                   # not due yet: no attempt
            clock.set(T0 + 131 * S)
            runner.run_once()                                   # attempt 2 fails: retry after 60 s
            clock.set(T0 + 180 * S)
            runner.run_once()
            receiver.fail_with = None
            clock.set(T0 + 192 * S)
            runner.run_once()                                   # attempt 3 succeeds
        finally:
            runner.close()
        second = [r for r in receiver.received if r["body"]["data"].get("rows_new") == 2 and r is not hit]
        assert [r["status"] for r in second] == [503, 503, 200]
        assert all(r["verified"] for r in second)
        assert len({r["idempotency_key"] for r in second}) == 1      # the same delivery id each time
        delivery = second[0]["idempotency_key"]
        log = webhook_store.attempts(ws, delivery)
        assert [a["status_code"] for a in log] == [503, 503, 200]
        assert [a["attempted_at"] for a in log] == [T0 + 100 * S, T0 + 131 * S, T0 + 192 * S]
        total, rows = webhook_store.deliveries(ws, status="delivered")
        assert total == 2 and all(r["latency_ms"] is not None for r in rows)


def test_dead_letter_after_the_last_attempt_then_retry(tmp_path):
    path = build(tmp_path, [customer("C1")])
    clock = Clock(T0)
    with WebhookReceiver() as receiver, Workspace(path) as ws:
        configure(ws, webhook_backoff_seconds=10)
        with ws.transaction():
            sub = add_webhook(ws, "flaky", receiver.url, ["ingest.finished"], "tests", max_attempts=3)
        receiver.secret = sub["secret"]
        receiver.fail_with = 500
        runner = Runner(local(ws), clock)
        try:
            runner.run_once()
            _load(ws, tmp_path, "x")
            for seconds in (1, 12, 33, 80, 200):
                clock.set(T0 + seconds * S)
                runner.run_once()
            assert len(receiver.received) == 3                  # three attempts, then no more
            total, dead = webhook_store.deliveries(ws, status="dead")
            assert total == 1 and dead[0]["attempts"] == 3 and dead[0]["last_status"] == 500
            receiver.fail_with = None
            with ws.transaction():
                assert webhook_store.retry(ws, dead[0]["delivery_id"], clock())
            runner.run_once()
        finally:
            runner.close()
        assert receiver.received[-1]["status"] == 200 and receiver.received[-1]["verified"]
        assert webhook_store.deliveries(ws, status="dead")[0] == 0


def test_segment_entries_and_exits_are_announced_with_the_customers(tmp_path):
    orders = [[f"O{i}", f"C{i}", ts(T0 - dt.timedelta(days=3 * i + 1)), f"{10 + i}.00"] for i in range(1, 9)]
    path = build(tmp_path, [customer(f"C{i}") for i in range(1, 9)], orders=orders)
    clock = Clock(T0)
    with WebhookReceiver() as receiver, Workspace(path) as ws:
        with ws.transaction():
            sub = add_webhook(ws, "crm", receiver.url, ["segment.entered", "segment.exited"], "tests",
                              filters={"segments": ["lifecycle:new", "rfm:champions"]})
        receiver.secret = sub["secret"]
        runner = Runner(local(ws), clock)
        try:
            runner.run_once()
            refresh(ws, as_of=T0.date())
            runner.run_once()
        finally:
            runner.close()
        entered = [r["body"] for r in receiver.accepted() if r["body"]["topic"] == "segment.entered"]
        assert entered and all(r["verified"] for r in receiver.accepted())
        got = {b["data"]["segment_id"]: set(b["data"]["customers"]) for b in entered}
        members = ws.sql("SELECT segment_id, list(customer_id) AS ids FROM segment_memberships "
                         "WHERE segment_id IN ('lifecycle:new', 'rfm:champions') GROUP BY 1")
        assert got == {r.segment_id: set(r.ids) for r in members.itertuples()}
        assert got["lifecycle:new"]                              # the filter keeps only the segments asked for


def test_churn_risk_crossing_the_threshold_is_announced(tmp_path):
    import pandas as pd

    from regulars.data import predictions_store

    path = build(tmp_path, [customer(f"C{i}") for i in range(1, 5)])
    clock = Clock(T0)

    def predictions(as_of, risks):
        return pd.DataFrame({"customer_id": list(risks), "as_of": as_of, "churn_risk": list(risks.values()),
                             "churn_band": ["high" if r >= 0.5 else "low" for r in risks.values()]})

    with WebhookReceiver() as receiver, Workspace(path) as ws:
        configure(ws, churn_webhook_threshold=0.6)
        with ws.transaction():
            sub = add_webhook(ws, "crm", receiver.url, ["churn_risk.crossed"], "tests")
        receiver.secret = sub["secret"]
        first = dt.date(2025, 2, 1)
        predictions_store.write_customer_predictions(ws, predictions(first, {"C1": 0.2, "C2": 0.7, "C3": 0.5,
                                                                             "C4": 0.1}), first)
        runner = Runner(local(ws), clock)
        try:
            runner.run_once()                                   # the first prediction date is the baseline
            second = dt.date(2025, 3, 1)
            predictions_store.write_customer_predictions(ws, predictions(second, {"C1": 0.65, "C2": 0.9, "C3": 0.55,
                                                                                  "C4": 0.8}), second)
            runner.run_once()
        finally:
            runner.close()
        [hit] = receiver.accepted()
        assert hit["verified"] and hit["body"]["topic"] == "churn_risk.crossed"
        crossed = {c["customer_id"]: c for c in hit["body"]["data"]["customers"]}
        assert set(crossed) == {"C1", "C4"}                     # C2 was already above, C3 stays below
        assert crossed["C1"]["previous_risk"] == 0.2 and hit["body"]["data"]["threshold"] == 0.6
