"""The activation runner: journeys, webhooks and scheduled jobs, once (cron) or in the server.

:func:`run_once` does one full round: fold the send journal, install missing journey templates
(as drafts), enter customers into approved journeys, decide due steps, send e-mails, turn new
segment changes / churn crossings / finished loads into webhook deliveries, deliver due webhooks
(retrying with back-off, dead-lettering after the last attempt), and run due scheduled jobs
(the Monday report, audience exports, alert checks). ``regulars journeys run --once`` calls it;
:class:`BackgroundRunner` calls it every ``runner_interval_seconds`` inside ``regulars serve``, and
:func:`on_events` enters customers in real time when events are posted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from regulars.activation import webhooks
from regulars.activation.settings import merged
from regulars.data import activation_store, auth, webhook_store
from regulars.data.send_journal import SendJournal
from regulars.jobs import journeys as jobs_journeys

log = logging.getLogger("regulars.activation")
CHUNK = 1000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def load_settings(ws) -> dict:
    """Activation settings over their defaults, plus the shop name."""
    s = merged(activation_store.read_settings(ws))
    s["shop_name"] = auth.get_settings(ws).get("shop_name")
    return s


# -- topics -> deliveries ---------------------------------------------------------------------------
def _deliveries(subs: list[dict], topic: str, key: str, payload: dict, now: dt.datetime,
                customer_id: str | None = None) -> list[dict]:
    return [{"delivery_id": f"{key}.{s['subscription_id']}", "subscription_id": s["subscription_id"], "topic": topic,
             "customer_id": customer_id, "payload": json.dumps(payload, default=str), "next_attempt_at": now,
             "created_at": now} for s in subs]


def produce_topics(ws, now: dt.datetime, settings: dict) -> Counter:
    """Segment entries/exits, churn-risk crossings and finished loads since the last round -> deliveries."""
    counts: Counter = Counter()
    rows: list[dict] = []
    last = webhook_store.latest_refresh_id(ws)
    seen = webhook_store.get_watermark(ws, "segments.refresh_id")
    subs_in = webhook_store.subscriptions_for(ws, "segment.entered")
    subs_out = webhook_store.subscriptions_for(ws, "segment.exited")
    if seen is not None and last > seen and (subs_in or subs_out):
        for ch in webhook_store.segment_changes(ws, int(seen), last):
            subs = subs_in if ch["change"] == "entered" else subs_out
            subs = [s for s in subs if not s["filters"].get("segments") or ch["segment_id"] in s["filters"]["segments"]]
            ids = list(ch["customers"])
            for i in range(0, len(ids), CHUNK):
                part = ids[i:i + CHUNK]
                topic = "segment.entered" if ch["change"] == "entered" else "segment.exited"
                payload = {"refresh_id": ch["refresh_id"], "segment_id": ch["segment_id"], "as_of": ch["as_of"],
                           "customers": part, "part": i // CHUNK + 1, "parts": (len(ids) - 1) // CHUNK + 1}
                rows += _deliveries(subs, topic, f"seg-{ch['refresh_id']}-{ch['segment_id']}-{ch['change']}-{i // CHUNK}",
                                    payload, now)
                counts[topic] += len(subs)
    if seen != last:
        webhook_store.set_watermark(ws, "segments.refresh_id", last)

    dates = webhook_store.prediction_dates(ws)
    seen_as_of = webhook_store.get_watermark(ws, "churn.as_of")
    subs = webhook_store.subscriptions_for(ws, "churn_risk.crossed")
    if dates and str(dates[0]) != seen_as_of:
        if seen_as_of is not None and subs:
            threshold = float(settings.get("churn_webhook_threshold") or 0.5)
            previous = dates[1] if len(dates) > 1 else None
            crossed = webhook_store.churn_crossings(ws, previous, dates[0], threshold)
            for i in range(0, len(crossed), CHUNK):
                part = crossed[i:i + CHUNK]
                payload = {"as_of": dates[0], "previous_as_of": previous, "threshold": threshold, "customers": part}
                rows += _deliveries(subs, "churn_risk.crossed", f"churn-{dates[0]}-{i // CHUNK}", payload, now)
                counts["churn_risk.crossed"] += len(subs)
        webhook_store.set_watermark(ws, "churn.as_of", str(dates[0]))

    seen_run = webhook_store.get_watermark(ws, "ingest.run_id")
    runs = webhook_store.finished_ingest_runs(ws, int(seen_run or 0))
    subs = webhook_store.subscriptions_for(ws, "ingest.finished")
    if runs:
        if seen_run is not None:
            for r in runs:
                rows += _deliveries(subs, "ingest.finished", f"ingest-{r['run_id']}", r, now)
                counts["ingest.finished"] += len(subs)
        webhook_store.set_watermark(ws, "ingest.run_id", max(r["run_id"] for r in runs))
    elif seen_run is None:
        webhook_store.set_watermark(ws, "ingest.run_id", 0)
    webhook_store.enqueue(ws, rows)
    return counts


def emit(ws, topic: str, key: str, payload: dict, now: dt.datetime) -> int:
    """Queue *payload* on *topic* for every subscriber (``key`` makes it idempotent)."""
    return webhook_store.enqueue(ws, _deliveries(webhook_store.subscriptions_for(ws, topic), topic, key, payload, now))


# -- delivering webhooks ---------------------------------------------------------------------------
def deliver_webhooks(db, settings: dict, client: httpx.Client, clock: Callable[[], dt.datetime] = utcnow,
                     limit: int = 500) -> Counter:
    """Deliver every due webhook once (one attempt each); returns delivered / retry / dead counts."""
    counts: Counter = Counter()
    base = float(settings.get("webhook_backoff_seconds") or 30)
    due = db.read(lambda ws: webhook_store.due_deliveries(ws, clock(), limit))
    results = []
    for d in due:
        body = webhooks.body_for(d["delivery_id"], d["topic"], json.loads(d["payload"]), d["created_at"])
        attempt = webhooks.deliver(client, d["url"], d["secret"], d["delivery_id"], body)
        n = d["attempts"] + 1
        max_attempts = int(d["max_attempts"] or settings.get("webhook_max_attempts") or 8)
        outcome = "delivered" if attempt.ok else ("dead" if n >= max_attempts else "retry")
        at = clock()
        results.append({"delivery_id": d["delivery_id"], "attempt": n, "at": at, "status_code": attempt.status_code,
                        "error": attempt.error, "latency_ms": round(attempt.latency_ms, 2), "outcome": outcome,
                        "next_attempt_at": at + webhooks.backoff(n, base) if outcome == "retry" else None})
        counts[outcome] += 1

    def record(ws):
        webhook_store.record_attempts(ws, results)
        settled = webhook_store.settled_step_deliveries(ws)
        from regulars.data import journey_store

        journey_store.set_send_outcomes(ws, [
            (key, "sent" if status == "delivered" else "failed",
             None if status == "delivered" else f"webhook delivery failed: {error}", at)
            for key, status, at, error in settled])

    if results:
        db.write(record)
    return counts


# -- one round --------------------------------------------------------------------------------------
class Runner:
    """Everything the runner needs between rounds: where the workspace is, the clock, HTTP and the journal."""

    def __init__(self, db, clock: Callable[[], dt.datetime] = utcnow, http: httpx.Client | None = None,
                 mailer=None):
        self.db = db
        self.clock = clock
        self.http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        self.mailer = mailer
        self.journal = SendJournal(db.path)
        self.lock = threading.Lock()

    def run_once(self) -> dict:
        """One round (see the module docstring); returns what happened, for logs and ``--json``."""
        from regulars.jobs import scheduled

        with self.lock:
            started = time.perf_counter()
            now = self.clock()
            settings = self.db.read(load_settings)
            out: dict = {"at": now.isoformat(timespec="seconds")}
            timings: dict[str, float] = {}

            def phase(name, fn):
                t = time.perf_counter()
                result = fn()
                timings[name] = round(time.perf_counter() - t, 3)
                return result

            out["journal"] = dict(phase("journal", lambda: jobs_journeys.fold_journal(self.db, self.journal)))
            out["templates_added"] = phase("templates", lambda: self.db.write(jobs_journeys.install_templates))
            loaded = self.db.read(jobs_journeys.running)
            out["journeys_running"] = sorted(loaded)
            out["enrolled"] = phase("enroll", lambda: self.db.write(
                lambda ws: jobs_journeys.enroll(ws, now, settings, journeys=loaded)))
            out["steps"] = dict(phase("plan", lambda: self.db.write(
                lambda ws: jobs_journeys.plan(ws, now, settings, journeys=loaded))))
            defs = {k: v.journey for k, v in loaded.items()}
            out["emails"] = dict(phase("emails", lambda: jobs_journeys.send_emails(
                self.db, settings, defs, now, self.journal, self.mailer, clock=self.clock)))
            out["topics"] = dict(phase("topics", lambda: self.db.write(lambda ws: produce_topics(ws, now, settings))))
            out["jobs"] = phase("jobs", lambda: scheduled.run_due(self.db, now, settings, self))
            out["webhooks"] = dict(phase("webhooks", lambda: deliver_webhooks(self.db, settings, self.http, self.clock)))
            out["timings"] = timings
            out["seconds"] = round(time.perf_counter() - started, 3)
            return out

    def close(self) -> None:
        self.journal.close()
        self.http.close()


def run_once(db, clock: Callable[[], dt.datetime] = utcnow, **kw) -> dict:
    runner = Runner(db, clock, **kw)
    try:
        return runner.run_once()
    finally:
        runner.close()


# -- inside `regulars serve` --------------------------------------------------------------------------
class BackgroundRunner:
    """Runs :meth:`Runner.run_once` every ``runner_interval_seconds`` (sooner when woken) until stopped."""

    def __init__(self, db, clock: Callable[[], dt.datetime] = utcnow):
        self.runner = Runner(db, clock)
        self.db = db
        self._wake = threading.Event()
        self._stop = False
        self.last: dict = {}
        self.rounds = 0
        self._thread = threading.Thread(target=self._loop, daemon=True, name="regulars-activation")
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop:
            try:
                self.last = self.runner.run_once()
            except Exception as exc:  # noqa: BLE001 - the next round tries again; the error is logged without PII
                self.last = {"error": type(exc).__name__}
                log.error("activation round failed: %s", type(exc).__name__)
                log.debug("activation failure", exc_info=True)
            self.rounds += 1
            try:
                interval = float(self.db.read(load_settings).get("runner_interval_seconds") or 30)
            except Exception:  # noqa: BLE001 - shutting down
                interval = 30.0
            self._wake.wait(max(1.0, interval))
            self._wake.clear()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=60)
        self.runner.close()


def on_events(ws, customer_ids) -> None:
    """Real-time hook (:func:`regulars.server.refresh.on_events`): enter the customers whose posted events
    trigger an approved journey; their first step is scheduled at once."""
    ids = sorted(customer_ids)
    if not ids:
        return
    with ws.transaction():
        settings = load_settings(ws)
        loaded = {k: v for k, v in jobs_journeys.running(ws).items() if v.journey.trigger.type == "event"}
        if loaded:
            jobs_journeys.enroll(ws, utcnow(), settings, customer_ids=ids, journeys=loaded)
