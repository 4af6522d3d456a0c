"""`regulars report monday`, `regulars alerts check|list` and `regulars activation settings` (registered by
:func:`regulars.cli.activation.register`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from regulars.cli.activation import ACTOR, _frame, _write
from regulars.cli.common import (FormatOption, WorkspaceOption, console, date_option, fail, open_workspace, render_frame,
                                 say_stored)

report_app = typer.Typer(help="Scheduled reports (the weekly Monday report).", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts when a metric moves abnormally.", no_args_is_help=True)
activation_app = typer.Typer(help="Activation settings: SMTP, time zone, quiet hours, caps, schedules, alerts.",
                             no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for sub, name in ((report_app, "report"), (alerts_app, "alerts"), (activation_app, "activation")):
        app.add_typer(sub, name=name)


# -- reports and alerts ------------------------------------------------------------------------------
@report_app.command("monday")
def report_monday(as_of: str = typer.Option(None, "--as-of", help="Report the 7 days before this date (YYYY-MM-DD)."),
                  out: Path = typer.Option(None, "--out", "-o", help="Write the HTML here."),
                  send: bool = typer.Option(False, "--send", help="Also e-mail it to the report recipients."),
                  workspace: Path = WorkspaceOption) -> None:
    """The weekly report: KPIs vs last week, segment movements, customers at risk, journeys, data problems."""
    from regulars.data.access import LocalAccess
    from regulars.jobs import monday_report
    from regulars.jobs.activation import load_settings, utcnow
    from regulars.reports import standard

    day = date_option(as_of or None)
    with open_workspace(workspace, read_only=not send) as ws:
        settings = load_settings(ws)
        if send:
            result = monday_report.run(LocalAccess(ws), utcnow(), settings, as_of=day)
            console.print(f"report written to {result['file']}; e-mailed to {', '.join(result['emailed']) or 'nobody'}"
                          + (f" ({result['note']})" if result.get("note") else ""))
            return
        result = standard.monday(ws, as_of=day, shop_name=str(settings.get("shop_name")))
    say_stored(result)
    data = result.value
    path = out or Path(f"monday-report-{data['as_of']}.html")
    path.write_text(monday_report.render_html(data), encoding="utf-8")
    console.print(f"wrote {path} (week {data['week']['start']} to {data['week']['end']})")


@alerts_app.command("check")
def alerts_check(workspace: Path = WorkspaceOption) -> None:
    """Check every alert now; new ones go out by e-mail and webhook (at most once per alert per day)."""
    from regulars.data.access import LocalAccess
    from regulars.jobs.activation import load_settings, utcnow
    from regulars.jobs.scheduled import run_alerts

    with open_workspace(workspace) as ws:
        out = run_alerts(LocalAccess(ws), utcnow(), load_settings(ws))
    console.print(f"alerts fired: {', '.join(out['fired']) or 'none new'} ({out['checked']} condition(s) met)")


@alerts_app.command("list")
def alerts_list(format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    from regulars.reports.activation import alerts

    with open_workspace(workspace, read_only=True) as ws:
        items = alerts(ws)["items"]
    render_frame(_frame(items, ["fired_at", "alert_key", "message"]), format, title="alerts fired")


@activation_app.command("settings")
def activation_settings(values: list[str] = typer.Argument(None, help="NAME=VALUE pairs to change; none: show all."),
                        workspace: Path = WorkspaceOption) -> None:
    """Show or change activation settings (e.g. smtp_host=mail.example.com quiet_hours=21:00-08:00)."""
    from regulars.activation.settings import SETTINGS
    from regulars.jobs.activation_admin import change_settings, current_settings

    changes = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep:
            fail(f"write settings as NAME=VALUE, not {item!r}")
        changes[name.strip()] = value
    with open_workspace(workspace, read_only=not changes) as ws:
        current = _write(ws, lambda w: change_settings(w, changes, ACTOR)) if changes else current_settings(ws)
    for name, value in current.items():
        console.print(f"[bold]{name}[/] = {json.dumps(value)}  [dim]{SETTINGS[name][2]}[/]")
