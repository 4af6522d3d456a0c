"""Read-side activation reports for the CLI, the API and the dashboard: journeys with their results
(uplift over the holdout), the send log, webhook deliveries, audiences, schedules and alerts.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> journeys_overview(ws)["items"]
[]
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt

from regulars.activation import uplift as uplift_mod
from regulars.activation.definitions import JourneyError, human, parse
from regulars.data import activation_store, journey_store, webhook_store


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def journeys_overview(ws) -> dict:
    """Every journey: status, trigger, steps, entrants (holdout), active enrollments."""
    counts = journey_store.enrollment_counts(ws)
    items = []
    for row in journey_store.list_journeys(ws):
        try:
            j = parse(row["definition"])
            trigger, steps, problem = j.trigger.describe(), [f"{human(s.after)}: {s.channel}" for s in j.steps], None
            holdout = j.holdout
        except JourneyError as exc:
            trigger, steps, problem, holdout = None, [], str(exc), None
        c = counts.get(row["journey_id"], {})
        running = row["status"] == "approved" and row["approved_version"] == row["version"]
        items.append({"journey_id": row["journey_id"], "name": row["name"], "status": row["status"],
                      "running": running, "version": row["version"], "approved_version": row["approved_version"],
                      "approved_by": row["approved_by"], "approved_at": row["approved_at"], "source": row["source"],
                      "trigger": trigger, "steps": steps, "holdout": holdout, "problem": problem,
                      "entrants": c.get("enrolled", 0), "held_out": c.get("holdout", 0), "active": c.get("active", 0)})
    return {"items": items}


def journey_detail(ws, journey_id: str, now: dt.datetime | None = None) -> dict | None:
    """One journey: definition, steps, per-step outcomes, and conversions and revenue for both arms with
    the uplift in money and its 95% interval."""
    row = journey_store.get_journey(ws, journey_id)
    if row is None:
        return None
    now = now or _now()
    try:
        j = parse(row["definition"])
    except JourneyError as exc:
        return {**row, "problem": str(exc), "results": None, "steps": [], "outcomes": []}
    outcomes = journey_store.enrollment_outcomes(ws, journey_id, j.conversion_window.total_seconds() / 86400, now)
    result = uplift_mod.uplift(outcomes)
    result["window_days"] = j.conversion_window.total_seconds() / 86400
    counts = journey_store.send_counts(ws, journey_id)
    steps = []
    for s in j.steps:
        per = {c["status"]: c["n"] for c in counts if c["step"] == s.index}
        steps.append({"index": s.index, "name": s.name, "after": human(s.after), "channel": s.channel,
                      "when": list(s.when), "outcomes": per})
    running = row["status"] == "approved" and row["approved_version"] == row["version"]
    return {"journey_id": journey_id, "name": j.name, "description": j.description, "status": row["status"],
            "running": running, "version": row["version"], "approved_version": row["approved_version"],
            "approved_by": row["approved_by"], "approved_at": row["approved_at"], "definition": row["definition"],
            "trigger": j.trigger.describe(), "holdout": j.holdout, "reentry_days": j.reentry.total_seconds() / 86400,
            "steps": steps, "results": result}


def send_log(ws, journey_id: str | None = None, customer_id: str | None = None, status: str | None = None,
             limit: int = 50, offset: int = 0) -> dict:
    total, items = journey_store.send_log(ws, journey_id, customer_id, status, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def deliveries(ws, status: str | None = None, topic: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    total, items = webhook_store.deliveries(ws, status, topic, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def subscriptions(ws) -> dict:
    """Webhook subscriptions (secrets are not shown)."""
    items = []
    for s in webhook_store.list_subscriptions(ws, include_inactive=True):
        items.append({k: v for k, v in s.items() if k != "secret"})
    return {"items": items}


def audiences(ws) -> dict:
    return {"items": activation_store.audience_sources(ws)}


def schedules(ws) -> dict:
    return {"items": activation_store.list_schedules(ws), "runs": activation_store.job_runs(ws, limit=30)}


def alerts(ws, limit: int = 50) -> dict:
    return {"items": activation_store.alert_history(ws, limit)}
