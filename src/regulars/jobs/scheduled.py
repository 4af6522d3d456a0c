"""Scheduled jobs of the activation runner: the Monday report, alert checks and audience exports.

The report and alert schedules follow the ``monday_report_cron`` and ``alerts_cron`` settings
(cron syntax, shop time zone); audience exports are added with ``regulars audiences schedule``.
Every run is logged (``activation_job_runs``); a failed run is an alert of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import traceback
from pathlib import Path

from regulars.activation import alerts as alert_rules
from regulars.activation.audiences import build
from regulars.activation.mailer import Mailer, SmtpSettings, build_message
from regulars.activation.schedule import local, next_run
from regulars.data import activation_store

BUILTIN = {"monday_report": "monday_report_cron", "alerts": "alerts_cron"}


def ensure_builtin(ws, now: dt.datetime, settings: dict) -> None:
    """The report and alert schedules exist and follow their cron settings."""
    tz = str(settings.get("time_zone") or "UTC")
    have = {s["schedule_id"]: s for s in activation_store.list_schedules(ws)}
    for sid, setting in BUILTIN.items():
        cron = str(settings.get(setting))
        current = have.get(sid)
        if current is None or current["cron"] != cron:
            activation_store.upsert_schedule(ws, sid, sid, cron, {}, next_run(cron, now, tz))


def add_export(ws, source: str, fmt: str, cron: str, folder: str | None, webhook: str | None, now: dt.datetime,
               settings: dict) -> str:
    """Schedule an audience export to a folder or a webhook subscription; returns the schedule id."""
    sid = "export-" + hashlib.sha256(f"{source}/{fmt}/{folder}/{webhook}".encode()).hexdigest()[:10]
    activation_store.upsert_schedule(ws, sid, "audience_export", cron,
                                     {"source": source, "format": fmt, "folder": folder, "webhook": webhook},
                                     next_run(cron, now, str(settings.get("time_zone") or "UTC")))
    return sid


# -- the jobs ------------------------------------------------------------------------------------------
def gather_metrics(ws, now: dt.datetime) -> dict:
    """What the alert conditions look at, measured up to *now*."""
    day = dt.timedelta(days=1)
    week_start = now - 7 * day
    fc = activation_store.forecast_revenue(ws, (now - 7 * day).date(), (now - day).date())
    this, before = activation_store.traffic(ws, week_start, now), activation_store.traffic(ws, week_start - 7 * day,
                                                                                            week_start)
    shares = activation_store.churn_high_shares(ws)

    def conv(t):
        return t["orders"] / t["sessions"] if t["sessions"] else None

    return {"revenue_7d": activation_store.net_revenue(ws, week_start, now), "forecast_7d": fc,
            "sessions": (this["sessions"], before["sessions"]) if before["sessions"] else None,
            "conversion": (conv(this), conv(before)),
            "churn_shares": (shares[0]["high_share"], shares[1]["high_share"]) if len(shares) == 2 else None,
            "quarantined_24h": activation_store.quarantined_since(ws, now - day)["rows_quarantined"],
            "failed_jobs": [r for r in activation_store.job_runs(ws, status="failed", since=now - day)
                            if r["kind"] != "alerts"]}


def run_alerts(db, now: dt.datetime, settings: dict, mailer=None) -> dict:
    """Check every alert; deliver the new ones (at most once per alert and shop day) by e-mail and webhook."""
    from regulars.jobs.activation import emit

    metrics = db.read(lambda ws: gather_metrics(ws, now))
    fired = alert_rules.evaluate(metrics, settings)
    day = local(now, str(settings.get("time_zone") or "UTC")).date()

    def record(ws):
        new = []
        for a in fired:
            if activation_store.fire_once(ws, a.key, day, a.value, a.threshold, a.message):
                emit(ws, "alert.fired", f"alert-{a.key}-{day}", {**a.to_dict(), "day": day}, now)
                new.append(a)
        return new

    new = db.write(record)
    recipients = [x.strip() for x in str(settings.get("report_recipients") or "").split(",") if x.strip()]
    smtp = SmtpSettings.from_settings(settings)
    emailed = 0
    if new and recipients and smtp:
        own = mailer is None
        mailer = mailer or Mailer(smtp)
        try:
            for a in new:
                for to in recipients:
                    key = hashlib.sha256(f"alert/{a.key}/{day}/{to}".encode()).hexdigest()[:24]
                    mailer.send(build_message(smtp.sender, to, f"{settings.get('shop_name')}: {a.title}",
                                              a.message + "\n", None, key))
                    emailed += 1
        finally:
            if own:
                mailer.close()
    return {"checked": len(fired), "fired": [a.key for a in new], "emails": emailed}


def run_export(db, config: dict, now: dt.datetime, settings: dict) -> dict:
    from regulars.jobs.activation import emit
    from regulars.jobs.monday_report import report_folder

    table = db.read(lambda ws: activation_store.audience_customers(ws, config["source"]))
    from regulars.jobs.activation_admin import export_cell

    file = build(table, config["format"], config["source"], cell=export_cell)
    out = file.summary()
    if config.get("folder"):
        folder = Path(config["folder"])
        folder = folder if folder.is_absolute() else report_folder(db.path, settings).parent / folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / file.filename
        path.write_text(file.content, encoding="utf-8")
        out["file"] = str(path)
    if config.get("webhook"):
        from regulars.data import webhook_store

        def queue(ws):
            sub = webhook_store.get_subscription(ws, config["webhook"])
            if sub is None:
                raise ValueError(f"no webhook subscription {config['webhook']!r}")
            payload = {**file.summary(), "csv": file.content}
            key = f"export-{config['source']}-{config['format']}-{now:%Y%m%dT%H%M}"
            return webhook_store.enqueue(ws, [{"delivery_id": f"{key}.{sub['subscription_id']}",
                                               "subscription_id": sub["subscription_id"], "topic": "audience.exported",
                                               "customer_id": None, "payload": __import__("json").dumps(payload),
                                               "next_attempt_at": now, "created_at": now}])

        out["queued"] = db.write(queue)
    return out


def run_due(db, now: dt.datetime, settings: dict, runner=None) -> list[dict]:
    """Run every schedule whose time has come (each once, even after a long pause); log each run."""
    from regulars.jobs import monday_report

    db.write(lambda ws: ensure_builtin(ws, now, settings))
    tz = str(settings.get("time_zone") or "UTC")
    due = [s for s in db.read(activation_store.list_schedules)
           if s["is_active"] and s["next_run_at"] is not None and s["next_run_at"] <= now]
    done = []
    for s in due:
        started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        mailer = getattr(runner, "mailer", None)
        try:
            if s["kind"] == "monday_report":
                detail = monday_report.run(db, now, settings, mailer=mailer)
            elif s["kind"] == "alerts":
                detail = run_alerts(db, now, settings, mailer=mailer)
            elif s["kind"] == "audience_export":
                detail = run_export(db, s["config"], now, settings)
            else:
                raise ValueError(f"unknown scheduled job kind {s['kind']!r}")
            status, error = "ok", None
        except Exception as exc:  # noqa: BLE001 - logged as a failed run (and alerted on)
            detail, status = {}, "failed"
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
            traceback.clear_frames(exc.__traceback__)
        finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)

        def record(ws, s=s, detail=detail, status=status, error=error):
            activation_store.log_job_run(ws, s["schedule_id"], s["kind"], started, finished, status, detail, error)
            activation_store.mark_schedule_run(ws, s["schedule_id"], now, next_run(s["cron"], now, tz))

        db.write(record)
        done.append({"schedule_id": s["schedule_id"], "kind": s["kind"], "status": status, "error": error})
    return done
