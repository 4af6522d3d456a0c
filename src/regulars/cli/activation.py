"""`regulars journeys ...`, `regulars audiences ...`, `regulars webhooks ...`, `regulars report ...`,
`regulars alerts ...` and `regulars activation settings`.

    regulars journeys list | templates | show ID | add TEMPLATE | save FILE | approve ID | pause ID
    regulars journeys run --once            # one round of the runner (for cron); without --once: keep running
    regulars journeys log [ID] [--customer C] | results ID
    regulars audiences list | export SOURCE --format klaviyo|mailchimp|google|meta [--out FILE] [--no-consent-filter]
    regulars audiences schedule SOURCE --format F --cron "0 6 * * *" (--folder DIR | --webhook NAME)
    regulars webhooks add NAME URL --topic T ... | list | remove ID | deliveries [--status dead] | retry ID
    regulars report monday [--as-of DATE] [--out FILE] [--send]
    regulars alerts check | list
    regulars activation settings [NAME=VALUE ...]

The CLI acts as the shop's owner (admin). While `regulars serve` holds the workspace, use the
dashboard or the API instead (the server runs journeys itself).
"""

from __future__ import annotations

from pathlib import Path

import typer

from regulars.cli.common import FormatOption, WorkspaceOption, console, fail, open_workspace, print_json, render_frame

journeys_app = typer.Typer(help="Triggered journeys: templates, approval, the runner, the send log.", no_args_is_help=True)
audiences_app = typer.Typer(help="Export segments and lists to Klaviyo, Mailchimp, Google Ads and Meta.",
                            no_args_is_help=True)
webhooks_app = typer.Typer(help="Signed webhooks: subscriptions, deliveries, the dead-letter list.", no_args_is_help=True)
ACTOR = "cli"


def register(app: typer.Typer) -> None:
    from regulars.cli import activation_reports

    for sub, name in ((journeys_app, "journeys"), (audiences_app, "audiences"), (webhooks_app, "webhooks")):
        app.add_typer(sub, name=name)
    activation_reports.register(app)


def _write(ws, fn):
    from regulars.jobs.activation_admin import ActivationError

    try:
        with ws.transaction():
            return fn(ws)
    except ActivationError as exc:
        fail(str(exc))


def _frame(rows: list[dict], columns: list[str]):
    import pandas as pd

    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)


# -- journeys ---------------------------------------------------------------------------------------
@journeys_app.command("list")
def journeys_list(format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Every journey: on or off, trigger, steps, entrants and holdout."""
    from regulars.jobs.journeys import install_templates
    from regulars.reports.activation import journeys_overview

    with open_workspace(workspace) as ws:
        _write(ws, lambda w: install_templates(w, ACTOR))
        items = journeys_overview(ws)["items"]
    for i in items:
        i["state"] = "ON" if i["running"] else i["status"]
        i["steps"] = ", ".join(i["steps"])
    render_frame(_frame(items, ["journey_id", "state", "version", "trigger", "steps", "entrants", "held_out", "active"]),
                 format, title="journeys (off until an admin approves them)")


@journeys_app.command("templates")
def journeys_templates() -> None:
    """The journey templates shipped with regulars."""
    from regulars.activation.definitions import parse, template_names, template_text

    for name in template_names():
        j = parse(template_text(name))
        console.print(f"[bold]{name}[/]: {j.description}")


@journeys_app.command("show")
def journeys_show(journey_id: str = typer.Argument(..., help="Journey id (see `regulars journeys list`)."),
                  workspace: Path = WorkspaceOption) -> None:
    """Print a journey's TOML (save it to a file, edit it, load it back with `regulars journeys save`)."""
    from regulars.data import journey_store
    from regulars.jobs.journeys import install_templates

    with open_workspace(workspace) as ws:
        _write(ws, lambda w: install_templates(w, ACTOR))
        row = journey_store.get_journey(ws, journey_id)
    if row is None:
        fail(f"no journey {journey_id!r}; see `regulars journeys list`")
    print(row["definition"])


@journeys_app.command("save")
def journeys_save(file: Path = typer.Argument(..., help="A journey TOML file."), workspace: Path = WorkspaceOption) -> None:
    """Save a journey from TOML as its next version (a draft: approve it to run it)."""
    from regulars.jobs.activation_admin import save_journey

    if not file.exists():
        fail(f"no file {file}")
    with open_workspace(workspace) as ws:
        row = _write(ws, lambda w: save_journey(w, file.read_text(encoding="utf-8"), ACTOR))
    console.print(f"saved journey [bold]{row['journey_id']}[/] version {row['version']} as a draft; "
                  f"turn it on with: regulars journeys approve {row['journey_id']}")


@journeys_app.command("add")
def journeys_add(template: str = typer.Argument(..., help="A template name (see `regulars journeys templates`)."),
                 workspace: Path = WorkspaceOption) -> None:
    """Add a shipped template as a draft journey (templates are added automatically when missing)."""
    from regulars.jobs.activation_admin import add_from_template

    with open_workspace(workspace) as ws:
        row = _write(ws, lambda w: add_from_template(w, template, ACTOR))
    console.print(f"journey [bold]{row['journey_id']}[/] version {row['version']} ({row['status']})")


def _status(journey_id: str, status: str, workspace) -> None:
    from regulars.jobs.activation_admin import set_journey_status
    from regulars.jobs.journeys import install_templates

    with open_workspace(workspace) as ws:
        _write(ws, lambda w: install_templates(w, ACTOR))
        out = _write(ws, lambda w: set_journey_status(w, journey_id, status, ACTOR))
    console.print(f"journey [bold]{journey_id}[/] version {out['version']} is now {out['status']}")
    for note in out["notes"]:
        console.print(f"  [yellow]note:[/] {note}")


@journeys_app.command("approve")
def journeys_approve(journey_id: str = typer.Argument(...), workspace: Path = WorkspaceOption) -> None:
    """Turn a journey on (its current version): from now on it sends."""
    _status(journey_id, "approved", workspace)


@journeys_app.command("pause")
def journeys_pause(journey_id: str = typer.Argument(...), workspace: Path = WorkspaceOption) -> None:
    """Turn a journey off; customers in it wait where they are."""
    _status(journey_id, "paused", workspace)


@journeys_app.command("run")
def journeys_run(once: bool = typer.Option(False, "--once", help="One round, then exit (for cron)."),
                 as_json: bool = typer.Option(False, "--json", help="Print what the round did as JSON."),
                 workspace: Path = WorkspaceOption) -> None:
    """Run journeys, webhooks and scheduled jobs (`regulars serve` does this by itself while it runs)."""
    import time

    from regulars.data.access import LocalAccess
    from regulars.jobs.activation import Runner

    with open_workspace(workspace) as ws:
        runner = Runner(LocalAccess(ws))
        try:
            while True:
                out = runner.run_once()
                if as_json:
                    print_json(out)
                else:
                    _print_round(out)
                if once:
                    return
                from regulars.jobs.activation import load_settings

                time.sleep(max(1.0, float(load_settings(ws).get("runner_interval_seconds") or 30)))
        except KeyboardInterrupt:
            return
        finally:
            runner.close()


def _print_round(out: dict) -> None:
    entered = sum(out["enrolled"].values())
    steps = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in out["steps"].items()) or "none due"
    emails = ", ".join(f"{v:,} {k}" for k, v in out["emails"].items()) or "none"
    hooks = ", ".join(f"{v:,} {k}" for k, v in out["webhooks"].items()) or "none"
    console.print(f"[bold]{len(out['journeys_running'])}[/] journeys on; {entered:,} customers entered; "
                  f"steps: {steps}; e-mails: {emails}; webhooks: {hooks}; {out['seconds']:.2f}s")
    for job in out["jobs"]:
        console.print(f"  job {job['schedule_id']}: {job['status']}" + (f" ({job['error']})" if job["error"] else ""))


@journeys_app.command("log")
def journeys_log(journey_id: str = typer.Argument(None, help="Only this journey."),
                 customer: str = typer.Option(None, "--customer", help="Only this customer."),
                 status: str = typer.Option(None, "--status", help="sent, skipped, withheld, failed, in_doubt ..."),
                 limit: int = typer.Option(50, "--limit"), format: str = FormatOption,
                 workspace: Path = WorkspaceOption) -> None:
    """What was sent to whom and why (and what was not, and why not)."""
    from regulars.reports.activation import send_log

    with open_workspace(workspace, read_only=True) as ws:
        page = send_log(ws, journey_id, customer, status, limit)
    render_frame(_frame(page["items"], ["decided_at", "journey_id", "customer_id", "step_name", "channel", "status",
                                        "reason"]), format, title=f"send log ({page['total']:,} entries)")


@journeys_app.command("results")
def journeys_results(journey_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json"),
                     workspace: Path = WorkspaceOption) -> None:
    """Conversions and revenue of the treated group and the holdout; the uplift in money with its interval."""
    from regulars.reports.activation import journey_detail

    with open_workspace(workspace, read_only=True) as ws:
        d = journey_detail(ws, journey_id)
    if d is None:
        fail(f"no journey {journey_id!r}; see `regulars journeys list`")
    if as_json:
        print_json(d)
        return
    r = d["results"] or {}
    console.print(f"[bold]{d['name']}[/] ({'ON' if d['running'] else d['status']}), trigger: {d['trigger']}")
    if r:
        console.print(f"  treated {r['treated']:,}, held out {r['holdout']:,} ({d['holdout']:.0%} holdout); "
                      f"conversion window {r['window_days']:.0f} days")
        for arm in ("treated", "holdout"):
            conv, rev = r[f"conversion_{arm}"], r[f"revenue_per_{arm}"]
            if conv is not None:
                console.print(f"  {arm}: {conv:.1%} converted, {rev:,.2f} revenue per customer")
        console.print(f"  {r['sentence']}")
    for s in d["steps"]:
        outcomes = ", ".join(f"{n:,} {k}" for k, n in s["outcomes"].items()) or "nothing yet"
        console.print(f"  step {s['index'] + 1} after {s['after']} ({s['channel']}) {s['name']}: {outcomes}")


# -- audiences -----------------------------------------------------------------------------------------
@audiences_app.command("list")
def audiences_list(format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Segments and journey-built lists that can be exported, with their sizes."""
    from regulars.reports.activation import audiences

    with open_workspace(workspace, read_only=True) as ws:
        items = audiences(ws)["items"]
    render_frame(_frame(items, ["kind", "source", "name", "members"]), format, title="audiences")


@audiences_app.command("export")
def audiences_export(
    source: str = typer.Argument(..., help="A segment id (e.g. rfm:champions), audience:<name>, or all."),
    fmt: str = typer.Option(..., "--format", help="klaviyo, mailchimp, google (hashed) or meta (hashed)."),
    out: Path = typer.Option(None, "--out", "-o", help="File to write (default: <source>-<format>.csv here)."),
    no_consent_filter: bool = typer.Option(False, "--no-consent-filter",
                                           help="Include customers without consent for the channel (admins only)."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Write an audience file, filtered by consent for the channel; says who was left out and why."""
    from regulars.jobs.activation_admin import export_audience

    with open_workspace(workspace) as ws:
        file = _write(ws, lambda w: export_audience(w, source, fmt, ACTOR, "admin", not no_consent_filter))
    path = out or Path(file.filename)
    path.write_text(file.content, encoding="utf-8")
    console.print(f"wrote {file.rows:,} of {file.customers:,} customers to [bold]{path}[/] ({fmt})")
    for reason, n in file.left_out.items():
        console.print(f"  left out {n:,}: {reason}")
    for note in file.notes:
        console.print(f"  [dim]note:[/] {note}")


@audiences_app.command("schedule")
def audiences_schedule(
    source: str = typer.Argument(...),
    fmt: str = typer.Option(..., "--format"),
    cron: str = typer.Option(..., "--cron", help='When, in shop time, e.g. "0 6 * * *" (daily at 06:00).'),
    folder: str = typer.Option(None, "--folder", help="Write the file into this folder."),
    webhook: str = typer.Option(None, "--webhook", help="Post it to this webhook subscription (name or id)."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Export an audience on a schedule, to a folder or a webhook (the runner does it)."""
    from regulars.activation.audiences import FORMATS
    from regulars.activation.schedule import ScheduleError
    from regulars.data import activation_store
    from regulars.jobs.activation import load_settings, utcnow
    from regulars.jobs.scheduled import add_export

    if not folder and not webhook:
        fail("say where the file goes: --folder DIR or --webhook NAME")
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    with open_workspace(workspace) as ws:
        if not activation_store.source_exists(ws, source):
            fail(f"no segment or audience {source!r}; see `regulars audiences list`")
        try:
            sid = _write(ws, lambda w: add_export(w, source, fmt, cron, folder, webhook, utcnow(), load_settings(w)))
        except ScheduleError as exc:
            fail(str(exc))
    console.print(f"scheduled export [bold]{sid}[/]: {source} as {fmt}, cron {cron!r}")


# -- webhooks -----------------------------------------------------------------------------------------
@webhooks_app.command("add")
def webhooks_add(name: str = typer.Argument(...), url: str = typer.Argument(...),
                 topic: list[str] = typer.Option(..., "--topic", help="segment.entered, segment.exited, "
                                                 "churn_risk.crossed, journey.step_due, alert.fired, ingest.finished, "
                                                 "audience.exported (repeat for several)."),
                 channel: list[str] = typer.Option(None, "--channel", help="For journey.step_due: sms and/or webhook."),
                 segment: list[str] = typer.Option(None, "--segment", help="For segment topics: only these segments."),
                 workspace: Path = WorkspaceOption) -> None:
    """Subscribe a URL to topics; prints the signing secret once."""
    from regulars.jobs.activation_admin import add_webhook

    filters = {k: v for k, v in (("channels", list(channel or [])), ("segments", list(segment or []))) if v}
    with open_workspace(workspace) as ws:
        sub = _write(ws, lambda w: add_webhook(w, name, url, list(topic), ACTOR, filters=filters))
    console.print(f"subscription [bold]{sub['subscription_id']}[/] ({sub['name']}) for {', '.join(sub['topics'])}. "
                  "Signing secret (verify `Regulars-Signature` with it; shown only now):")
    print(sub["secret"])


@webhooks_app.command("list")
def webhooks_list(format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    from regulars.reports.activation import subscriptions

    with open_workspace(workspace, read_only=True) as ws:
        items = subscriptions(ws)["items"]
    render_frame(_frame(items, ["subscription_id", "name", "url", "topics", "is_active", "max_attempts"]), format,
                 title="webhook subscriptions")


@webhooks_app.command("remove")
def webhooks_remove(subscription: str = typer.Argument(...), workspace: Path = WorkspaceOption) -> None:
    from regulars.jobs.activation_admin import remove_webhook

    with open_workspace(workspace) as ws:
        _write(ws, lambda w: remove_webhook(w, subscription, ACTOR))
    console.print(f"subscription {subscription} removed (its delivery log is kept)")


@webhooks_app.command("deliveries")
def webhooks_deliveries(status: str = typer.Option(None, "--status", help="pending, delivered or dead."),
                        limit: int = typer.Option(50, "--limit"), format: str = FormatOption,
                        workspace: Path = WorkspaceOption) -> None:
    """The delivery log; `--status dead` is the dead-letter list."""
    from regulars.reports.activation import deliveries

    with open_workspace(workspace, read_only=True) as ws:
        page = deliveries(ws, status=status, limit=limit)
    render_frame(_frame(page["items"], ["created_at", "subscription", "topic", "status", "attempts", "last_status",
                                        "last_error", "latency_ms", "delivery_id"]), format,
                 title=f"webhook deliveries ({page['total']:,})")


@webhooks_app.command("retry")
def webhooks_retry(delivery_id: str = typer.Argument(...), workspace: Path = WorkspaceOption) -> None:
    """Put a dead delivery back in the queue (the next runner round sends it)."""
    from regulars.data import webhook_store
    from regulars.jobs.activation import utcnow

    with open_workspace(workspace) as ws:
        ok = _write(ws, lambda w: webhook_store.retry(w, delivery_id, utcnow()))
    if not ok:
        fail(f"no undelivered delivery {delivery_id!r}; see `regulars webhooks deliveries --status dead`")
    console.print(f"delivery {delivery_id} queued again")
