"""Journeys at work: who enters (triggers), what each due step does (plan), and e-mail delivery.

Why this module is long: the three phases of a journey run (enroll, plan, deliver) share the run's
clock, the holdout arms and the send log's state machine, and are only safe to interrupt because
they are written together.

Three phases, each safe to interrupt:

1. :func:`enroll` — for every approved journey, customers whose trigger happened (in the last
   ``max_age_hours``) enter, unless they entered within ``reentry_days``; each gets an arm
   (:mod:`regulars.activation.holdout`) and their first step's due time. One transaction.
2. :func:`plan` — every due step is decided in one transaction: ended by a purchase, too late,
   a condition not met, held out, no consent, frequency cap → a ``skipped``/``withheld`` row in
   the send log with the reason; quiet hours → the step waits until they end; an audience step is
   carried out there and then; an SMS/webhook step is written to the webhook outbox (``queued``);
   an e-mail is ``claimed``. The enrollment moves to its next step in the same transaction.
3. :func:`send_emails` — claimed e-mails go to the SMTP server in claim order, each attempt
   written to the :class:`~regulars.data.send_journal.SendJournal` before and after; outcomes are
   folded into the send log per batch. After a crash, messages the server confirmed are never sent
   again; the one it had not confirmed is sent again with the same Message-ID; the rest are sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from regulars.activation import content, holdout, policy
from regulars.activation.definitions import Journey, JourneyError, parse, template_names, template_text
from regulars.activation.mailer import Mailer, MailError, SmtpSettings, build_message
from regulars.activation.schedule import local, to_utc
from regulars.activation.settings import quiet_hours
from regulars.data import activation_store, journey_store, webhook_store
from regulars.data.send_journal import SendJournal
from regulars.reports.recommend import message_recommendations

INTERRUPTED = ("interrupted while being handed to the mail server (runner stopped); sent again with the same "
               "Message-ID")
BROKEN = "the connection to the mail server broke while sending; tried again with the same Message-ID"
SENDER_FOLD_EVERY = 500


def _key(*parts) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:32]


@dataclass
class Loaded:
    """A running journey: its id, version, definition and watermarks."""

    journey: Journey
    version: int
    watermarks: dict = field(default_factory=dict)


def install_templates(ws, by: str = "regulars") -> list[str]:
    """Save every shipped template not yet in the workspace, as a draft (off until approved)."""
    have = {j["journey_id"] for j in journey_store.list_journeys(ws)}
    added = []
    for name in template_names():
        text = template_text(name)
        j = parse(text)
        if j.journey_id not in have:
            journey_store.save_journey(ws, j.journey_id, j.name, text, f"template:{name}", by)
            added.append(j.journey_id)
    return added


def running(ws) -> dict[str, Loaded]:
    """Approved journeys whose definition still parses."""
    out = {}
    for row in journey_store.running_journeys(ws):
        try:
            out[row["journey_id"]] = Loaded(parse(row["definition"]), row["version"], row["watermarks"])
        except JourneyError:
            continue
    return out


# -- 1. enroll -----------------------------------------------------------------------------------
def _enrollments(ws, loaded: Loaded, candidates: list[dict], now: dt.datetime) -> tuple[list[dict], list[dict]]:
    j = loaded.journey
    logged = activation_store.logged_arms(ws, j.journey_id, [c["customer_id"] for c in candidates]) if candidates else {}
    rows, assignments = [], []
    for c in candidates:
        cid = c["customer_id"]
        arm = logged.get(cid) or holdout.assign(j.journey_id, cid, j.holdout)
        ctx = {k: c[k] for k in ("product_id", "order_id", "due_products") if c.get(k) is not None}
        entered = c["entered_at"]
        rows.append({"enrollment_id": _key(j.journey_id, cid, c["trigger_key"]), "journey_id": j.journey_id,
                     "version": loaded.version, "customer_id": cid, "arm": arm, "trigger_key": str(c["trigger_key"]),
                     "entered_at": entered, "enrolled_at": now, "status": "active", "next_step": 0,
                     "next_due_at": entered + j.steps[0].after, "context": json.dumps(ctx, default=str)})
        if cid not in logged:
            assignments.append({"customer_id": cid, "arm": arm, "assigned_at": entered})
    return rows, assignments


def _candidates(ws, loaded: Loaded, now: dt.datetime, tz: str, customer_ids: list[str] | None) -> list[dict]:
    j, t, wm = loaded.journey, loaded.journey.trigger, loaded.watermarks
    since = now - t.max_age
    if t.type == "event":
        return journey_store.event_candidates(ws, j.journey_id, t.event, since, now, j.reentry,
                                              t.without == "purchase", customer_ids)
    if customer_ids is not None:
        return []
    if t.type == "order":
        return journey_store.order_candidates(ws, j.journey_id, since, now, j.reentry, t.first_order)
    if t.type == "signup":
        return journey_store.signup_candidates(ws, j.journey_id, since, now, j.reentry)
    if t.type == "segment":
        if "refresh_id" not in wm:  # switched on just now: people already in the segment do not "enter"
            wm["refresh_id"] = webhook_store.latest_refresh_id(ws)
            return []
        rows, last = journey_store.segment_candidates(ws, j.journey_id, t.segment, int(wm["refresh_id"]), j.reentry,
                                                      since)
        wm["refresh_id"] = last
        return rows
    today = local(now, tz).date()
    send_at = to_utc(dt.datetime.combine(today, t.at), tz)
    if now < send_at or wm.get("date") == today.isoformat():
        return []
    wm["date"] = today.isoformat()
    if t.date == "birthday":
        return journey_store.birthday_candidates(ws, j.journey_id, today.month, today.day, send_at, j.reentry)
    return journey_store.replenishment_candidates(ws, j.journey_id, today + dt.timedelta(days=t.days_before),
                                                  send_at, j.reentry)


def enroll(ws, now: dt.datetime, settings: dict, customer_ids: list[str] | None = None,
           journeys: dict[str, Loaded] | None = None) -> dict[str, int]:
    """Enter customers into every approved journey whose trigger fired; returns new entrants per journey.

    With *customer_ids* (real-time), only event triggers of those customers are looked at.
    """
    journeys = running(ws) if journeys is None else journeys
    tz = str(settings.get("time_zone") or "UTC")
    out = {}
    for jid, loaded in journeys.items():
        before = dict(loaded.watermarks)
        candidates = _candidates(ws, loaded, now, tz, customer_ids)
        rows, assignments = _enrollments(ws, loaded, candidates, now)
        added = journey_store.insert_enrollments(ws, rows)
        if added:
            activation_store.record_assignments(ws, jid, loaded.journey.name, loaded.journey.holdout,
                                                int(loaded.journey.conversion_window.days), assignments)
        if loaded.watermarks != before:
            journey_store.set_watermarks(ws, jid, loaded.watermarks)
        if added:
            out[jid] = added
    return out


# -- 2. plan ----------------------------------------------------------------------------------------
def _condition_problem(cond: str, row: dict) -> str | None:
    name, _, arg = cond.partition(":")
    if name == "not_purchased_since_entry":
        return "bought since entering the journey" if row["purchased_at"] else None
    if name == "in_segment":
        wanted = arg.split("|")
        return None if set(wanted) & set(row["segments"] or []) else f"not in segment {' or '.join(wanted)}"
    if name == "not_in_segment":
        return f"in segment {arg}" if arg in (row["segments"] or []) else None
    if name == "min_orders":
        return None if row["orders"] >= float(arg) else f"fewer than {arg} orders"
    if name == "revenue_at_least":
        return None if (row["revenue"] or 0) >= float(arg) else f"spent less than {float(arg):,.2f}"
    if name == "clv_at_least":
        if row["clv"] is None:
            return "no CLV prediction (run `regulars predict`)"
        return None if row["clv"] >= float(arg) else f"predicted value below {float(arg):,.2f}"
    if row["churn_risk"] is None:
        return "no churn prediction (run `regulars predict`)"
    return None if row["churn_risk"] >= float(arg) else f"churn risk below {float(arg):.0%}"


@dataclass
class Plan:
    sends: list[dict] = field(default_factory=list)
    moves: list[dict] = field(default_factory=list)
    audiences: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    deliveries: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def _advance(plan: Plan, row: dict, j: Journey, now: dt.datetime, ended: str | None = None) -> None:
    nxt = j.step(row["next_step"] + 1)
    if ended or nxt is None:
        status = {"converted": "converted"}.get(ended or "", "completed" if not ended else "exited")
        plan.moves.append({"enrollment_id": row["enrollment_id"], "status": status, "next_step": row["next_step"] + 1,
                           "next_due_at": None, "ended_at": now, "end_reason": ended or "all steps done"})
    else:
        plan.moves.append({"enrollment_id": row["enrollment_id"], "status": "active", "next_step": nxt.index,
                           "next_due_at": row["entered_at"] + nxt.after, "ended_at": None, "end_reason": None})


def _decide(ws, plan: Plan, row: dict, loaded: Loaded, now: dt.datetime, settings: dict, batch: int, seq: int,
            planned_messages: dict, facts: dict, subs: list[dict]) -> None:
    j = loaded.journey
    step = j.step(row["next_step"])
    if step is None:
        _advance(plan, row, j, now, None)
        return
    send = {"send_key": _key(row["enrollment_id"], step.index), "enrollment_id": row["enrollment_id"],
            "journey_id": j.journey_id, "customer_id": row["customer_id"], "step": step.index, "step_name": step.name,
            "channel": step.channel, "status": "skipped", "reason": None, "due_at": row["next_due_at"],
            "decided_at": now, "sent_at": None, "batch_id": batch, "seq": seq, "detail": "{}"}

    def log(status: str, reason: str | None, ended: str | None = None) -> None:
        plan.sends.append({**send, "status": status, "reason": reason,
                           "sent_at": now if status == "sent" else None})
        plan.counts[status] += 1
        _advance(plan, row, j, now, ended)

    if j.exit_on_conversion and row["purchased_at"]:
        return log("skipped", f"journey ended: bought on {row['purchased_at']:%Y-%m-%d %H:%M} after entering",
                   "converted")
    late = dt.timedelta(hours=float(settings.get("max_lateness_hours") or 12))
    if now - row["next_due_at"] > late:
        return log("skipped", f"too late: was due {row['next_due_at']:%Y-%m-%d %H:%M} UTC")
    for cond in step.when:
        problem = _condition_problem(cond, row)
        if problem:
            return log("skipped", f"condition not met: {problem}")
    if row["arm"] == "holdout":
        return log("withheld", "holdout: this customer is in the control group, who get nothing")
    problem = policy.consent_problem(step.channel, row)
    if problem:
        return log("skipped", problem)
    if step.is_message:
        tz = str(settings.get("time_zone") or "UTC")
        quiet = quiet_hours(str(settings.get("quiet_hours") or ""))
        resume = policy.after_quiet_hours(now, quiet, tz)
        if resume > now:
            plan.moves.append({"enrollment_id": row["enrollment_id"], "status": "active", "next_step": step.index,
                               "next_due_at": resume, "ended_at": None, "end_reason": None})
            plan.counts["waiting_quiet_hours"] += 1
            return
        caps = policy.Caps(int(settings.get("cap_per_day") or 0), int(settings.get("cap_per_week") or 0))
        recent = list(row["recent_messages"] or []) + planned_messages.get(row["customer_id"], [])
        problem = caps.problem(recent, now)
        if problem:
            return log("skipped", problem)
        planned_messages.setdefault(row["customer_id"], []).append(now)
    if step.channel == "email":
        return log("claimed", None)
    if step.channel == "audience":
        plan.audiences[(step.audience, j.journey_id)].append(row["customer_id"])
        return log("sent", f"added to audience {step.audience}")
    wanted = [s for s in subs if s["filters"].get("channels") in (None, [], step.channel)
              or step.channel in (s["filters"].get("channels") or [])]
    if not wanted:
        return log("skipped", f"no webhook subscribed to journey.step_due for {step.channel} "
                              "(add one with `regulars webhooks add`)")
    person = facts.get(row["customer_id"], {})
    ctx = json.loads(row["context"] or "{}")
    values = {"first_name": person.get("first_name"), "shop_name": settings.get("shop_name"), **ctx}
    payload = {"journey_id": j.journey_id, "journey": j.name, "step": step.index, "step_name": step.name,
               "channel": step.channel, "customer_id": row["customer_id"], "arm": row["arm"],
               "due_at": row["next_due_at"].isoformat()}
    if step.channel == "sms":
        payload.update({"to": person.get("phone"), "text": content.render_text(step.text, values)})
    else:
        payload.update({"email": person.get("email"), "first_name": person.get("first_name"), "context": ctx})
    for s in wanted:
        plan.deliveries.append({"delivery_id": f"{send['send_key']}.{s['subscription_id']}",
                                "subscription_id": s["subscription_id"], "topic": "journey.step_due",
                                "customer_id": row["customer_id"], "payload": json.dumps(payload, default=str),
                                "next_attempt_at": now, "created_at": now})
    return log("queued", f"handed to {len(wanted)} webhook(s)")


def plan(ws, now: dt.datetime, settings: dict, journeys: dict[str, Loaded] | None = None, limit: int = 5000,
         max_rounds: int = 20) -> Counter:
    """Decide every due step (see the module docstring); returns counts per outcome."""
    journeys = running(ws) if journeys is None else journeys
    total: Counter = Counter()
    # Without a mail server, e-mail steps wait (and are skipped as too late once it is set, if it comes late).
    waiting = [] if settings.get("smtp_host") else [f"{jid}:{s.index}" for jid, loaded in journeys.items()
                                                   for s in loaded.journey.steps if s.channel == "email"]
    subs = webhook_store.subscriptions_for(ws, "journey.step_due")
    for _ in range(max_rounds):
        rows = journey_store.due_enrollments(ws, now, list(journeys), limit, waiting)
        if not rows:
            break
        batch = journey_store.next_batch_id(ws)
        p = Plan()
        planned: dict[str, list] = {}
        needs_facts = [r["customer_id"] for r in rows
                       if (s := journeys[r["journey_id"]].journey.step(r["next_step"])) and s.channel in ("sms", "webhook")]
        facts = journey_store.message_facts(ws, needs_facts) if needs_facts else {}
        for seq, row in enumerate(rows):
            _decide(ws, p, row, journeys[row["journey_id"]], now, settings, batch, seq, planned, facts, subs)
        journey_store.insert_sends(ws, p.sends)
        journey_store.advance_enrollments(ws, p.moves)
        for (audience, jid), ids in p.audiences.items():
            journey_store.add_to_audience(ws, audience, ids, f"journey:{jid}", now)
        webhook_store.enqueue(ws, p.deliveries)
        total.update(p.counts)
        if len(rows) < limit and not any(m["status"] == "active" and m["next_due_at"] <= now for m in p.moves):
            break  # everything due was decided, and no step became due by it
    n = journey_store.count_due(ws, now, waiting)
    if n:
        total["waiting_for_smtp_settings"] = n
    return total


# -- 3. send e-mails ------------------------------------------------------------------------------------
def fold_journal(db, journal: SendJournal) -> Counter:
    """Write the journal's outcomes into the send log. An attempt that started without a recorded outcome
    (the runner died while the mail server had the message) stays ``claimed`` and is sent again with the
    same Message-ID: a mail server takes a message only with its final reply, which the journal records
    within microseconds of receiving it."""
    states = journal.read()
    if not states:
        return Counter()
    times = journal.read_times()
    outcomes = []
    for key, (status, reason) in states.items():
        if status == "started":  # no reply from the server was recorded: it did not take the message (see docs)
            status, reason = "claimed", INTERRUPTED
        at = dt.datetime.fromisoformat(times[key]) if key in times else None
        outcomes.append((key, status, reason, at))
    db.write(lambda ws: journey_store.set_send_outcomes(ws, outcomes))
    journal.clear()
    return Counter(o[1] for o in outcomes)


def _message_values(ws, claimed: list[dict], settings: dict, now: dt.datetime) -> dict[str, dict]:
    ids = sorted({c["customer_id"] for c in claimed})
    people = journey_store.message_facts(ws, ids)
    contexts = {c["send_key"]: json.loads(c["context"] or "{}") for c in claimed}
    products = sorted({x["product_id"] for x in contexts.values() if x.get("product_id")})
    names = journey_store.product_names(ws, products) if products else {}
    buyers = journey_store.recent_buyers(ws, products, now - dt.timedelta(days=30)) if products else {}
    orders = sorted({x["order_id"] for x in contexts.values() if x.get("order_id")})
    bought = journey_store.order_product_names(ws, orders) if orders else {}
    best = journey_store.best_sellers(ws, now - dt.timedelta(days=30))
    recs = message_recommendations(ws, ids)
    out = {}
    for c in claimed:
        ctx = contexts[c["send_key"]]
        person = people.get(c["customer_id"]) or {}
        pid = ctx.get("product_id")
        if pid and buyers.get(pid):
            proof = f"{buyers[pid]:,} customers bought {names.get(pid, pid)} in the last 30 days."
        elif best:
            proof = "Popular right now: " + ", ".join(f"{n} ({b:,} customers)" for n, b in best) + "."
        else:
            proof = ""
        out[c["send_key"]] = {"person": person, "values": {
            "first_name": person.get("first_name"), "shop_name": settings.get("shop_name"),
            "cart_products": names.get(pid, pid) if pid else "your selection", "social_proof": proof,
            "recommendations": ", ".join(recs.get(c["customer_id"], [])[:3]),
            "due_products": ctx.get("due_products"), "order_products": bought.get(ctx.get("order_id"), "your order")}}
    return out


def send_emails(db, settings: dict, journeys: dict[str, Journey], now: dt.datetime, journal: SendJournal,
                mailer: Mailer | None = None, limit: int = 100_000, clock=None) -> Counter:
    """Hand every claimed e-mail to the mail server (see the module docstring); returns outcome counts."""
    counts = fold_journal(db, journal)
    smtp = SmtpSettings.from_settings(settings)
    if smtp is None:
        return counts
    claimed = db.read(lambda ws: journey_store.claimed_emails(ws, limit))
    if not claimed:
        return counts
    info = db.read(lambda ws: _message_values(ws, claimed, settings, now))
    own = mailer is None
    mailer = mailer or Mailer(smtp)
    late = dt.timedelta(hours=float(settings.get("max_lateness_hours") or 12))
    try:
        for i, c in enumerate(claimed, start=1):
            key = c["send_key"]
            j = journeys.get(c["journey_id"])
            step = j.step(c["step"]) if j else None
            person = info[key]["person"]
            problem = None if step else "the journey or step no longer exists"
            problem = problem or (None if person.get("email") else "no e-mail address (erased or removed)")
            problem = problem or (None if person.get("accepts_email") is True else "e-mail consent withdrawn")
            if not problem and now - c["due_at"] > late:
                problem = f"too late: was due {c['due_at']:%Y-%m-%d %H:%M} UTC"
            if problem:
                journal.finished(key, "skipped", problem)
                continue
            msg = content.render_email(step.subject, step.body, info[key]["values"])
            message = build_message(smtp.sender, person["email"], msg.subject, msg.text, msg.html, key)
            journal.started(key)
            try:
                mailer.send(message)
            except MailError as exc:
                journal.finished(key, "claimed" if exc.in_doubt else "failed", BROKEN if exc.in_doubt else str(exc))
            else:
                journal.finished(key, "sent", None, (clock() if clock else now).isoformat())
            if i % SENDER_FOLD_EVERY == 0:
                counts.update(fold_journal(db, journal))
    finally:
        if own:
            mailer.close()
    counts.update(fold_journal(db, journal))
    return counts
