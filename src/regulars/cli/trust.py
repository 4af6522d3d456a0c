"""`regulars anomalies`, `regulars audit`, `regulars model-card`, `regulars export`: trust and responsibility.

Wired by ``regulars.cli.main`` through :func:`register`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from regulars.cli.common import FormatOption, WorkspaceOption, console, fail, open_workspace, print_json, progress_steps, render_frame


def anomalies_command(
    kind: str = typer.Option(None, "--kind", help="Only one kind: large_order, large_quantity, serial_returner, "
                             "code_abuse, many_emails, many_phones, bot_session."),
    refresh: bool = typer.Option(False, "--refresh", help="Run every check again first."),
    evaluate: bool = typer.Option(False, "--evaluate", help="Demo shop: precision and recall against the planted anomalies."),
    limit: int = typer.Option(50, "--limit", help="Flags to show in a table."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Unusual orders, serial returners, discount-code abuse, many identities on one customer, bot-like sessions."""
    import pandas as pd

    from regulars.data import anomaly_store
    from regulars.reports.anomalies import ITEM_COLUMNS, KINDS, anomalies_report, evaluation

    if kind is not None and kind not in KINDS:
        fail(f"--kind {kind!r} unknown; use one of {', '.join(KINDS)}")
    with open_workspace(workspace, read_only=True) as ws:
        stale = refresh or anomaly_store.latest_run(ws) is None
    if stale:
        from regulars.jobs.anomalies import detect_anomalies

        with open_workspace(workspace) as ws, progress_steps("checking for anomalies", quiet=format != "table") as say:
            detect_anomalies(ws, progress=say)
    with open_workspace(workspace, read_only=True) as ws:
        report = anomalies_report(ws, kind=kind, limit=limit if format == "table" else 1_000_000)
        scores = evaluation(ws) if evaluate else None
    if format == "json":
        print_json({**report.to_dict(), **({"evaluation": scores} if scores is not None else {})})
        return
    if format == "csv":
        render_frame(pd.DataFrame(report.items, columns=list(ITEM_COLUMNS)), "csv")
        return
    console.print(f"[bold]{report.total:,} flag(s)[/] " + (", ".join(f"{v:,} {k.replace('_', ' ')}"
                                                                     for k, v in report.counts.items()) or ""))
    if report.items:
        table = pd.DataFrame(report.items)[["entity", "entity_id", "customer_id", "what", "score", "reason"]]
        table["score"] = table["score"].map(lambda v: f"{v:.2f}")
        render_frame(table, "table", title="anomalies, highest score first")
        if report.total > len(report.items):
            console.print(f"[dim]… {report.total - len(report.items):,} more (use --limit or --format csv)[/]")
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}")
    if scores is not None:
        rows = [{"planted": k, **v} for k, v in scores.items()]
        frame = pd.DataFrame(rows)
        for c in ("precision", "recall"):
            frame[c] = frame[c].map(lambda v: "" if v is None else f"{100 * v:.0f}%")
        render_frame(frame, "table", title="against the planted anomalies (demo shop)")


def audit_command(
    model: str = typer.Argument(None, help="churn, propensity, leads, next_action or recommendations "
                                "(default: every audited model)."),
    cutoff: str = typer.Option(None, "--cutoff", help="Judge decisions made on this date (YYYY-MM-DD); default: "
                               "90 days before the last order, as the backtest."),
    stored: bool = typer.Option(False, "--stored", help="Judge the previous audit's scores again (no refit)."),
    show: bool = typer.Option(False, "--show", help="Only show the latest stored audit."),
    fresh: bool = typer.Option(False, "--fresh", help="Refit and audit again even when the stored audit was made "
                               "with the same options from the same data."),
    min_ratio: float = typer.Option(0.8, "--min-ratio", help="Flag a group selected at less than this times the "
                                    "most selected group's rate (0.8: the four-fifths rule)."),
    max_gap: float = typer.Option(10.0, "--max-gap", help="Flag true/false positive rates that differ by more "
                                  "than this many percentage points between groups."),
    max_calibration_gap: float = typer.Option(10.0, "--max-calibration-gap", help="Flag a group whose mean "
                                              "predicted chance is this many points off what happened."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Fairness audit: selection rate, true/false positive rates and calibration per group of customers.

    The audit made with the same options from the same data (e.g. by `regulars demo`) is shown
    without refitting; `--fresh` audits again.
    """
    import pandas as pd

    from regulars.jobs.audit import REGISTRY, run_audit
    from regulars.jobs.audit_stored import current_audit
    from regulars.reports.fairness import fairness_report

    if model is not None and model not in REGISTRY:
        fail(f"no model {model!r} to audit; auditable: {', '.join(REGISTRY)}")
    if not show:
        with open_workspace(workspace) as ws:
            if ws.count("orders") == 0:
                fail("no orders in this workspace; load some with `regulars ingest orders FILE`")
            thresholds = {"disparity_threshold": min_ratio, "gap_threshold": max_gap / 100,
                          "calibration_threshold": max_calibration_gap / 100}
            with progress_steps("auditing", quiet=as_json) as say:
                try:
                    if stored:
                        run = run_audit(ws, [model] if model else None, cutoff=cutoff, stored=True, progress=say,
                                        **thresholds)
                    else:
                        run = current_audit(ws, [model] if model else None, cutoff=cutoff, fresh=fresh,
                                            progress=say, **thresholds)
                except ValueError as exc:
                    fail(str(exc).splitlines()[0])
        if getattr(run, "from_store", False):
            console.print(f"[dim]audit of {run.computed_at:%Y-%m-%d %H:%M} UTC, made with these options from the "
                          "same data (stored; `--fresh` audits again)[/]")
        for name, why in run.skipped.items():
            console.print(f"[yellow]{name} not audited:[/] {why}")
    with open_workspace(workspace, read_only=True) as ws:
        report = fairness_report(ws, model)
    if as_json:
        print_json(report.to_dict())
        return
    if not report.models:
        console.print(report.notes[0])
        return
    for m in report.models:
        console.print(f"\n[bold]{m['model']}[/]: decisions at {m['cutoff']} ({m['n']:,} customers; selected = "
                      f"{m['selection']}; outcome = {m['outcome']})")
        for note in m["notes"]:
            console.print(f"  [dim]{note}[/]")
        judged = [g for g in m["groups"] if g["judged"]]
        if judged:
            frame = pd.DataFrame(judged)[["attribute", "group", "n", "selection_rate", "true_positive_rate",
                                          "false_positive_rate", "mean_predicted", "observed_rate"]]
            for c in frame.columns[3:]:
                frame[c] = frame[c].map(lambda v: "" if v is None or pd.isna(v) else f"{100 * v:.0f}%")
            frame.columns = ["attribute", "group", "customers", "selected", "TPR", "FPR", "mean predicted", "happened"]
            render_frame(frame, "table")
        if m["flags"]:
            console.print("  [bold]gaps to look at:[/]")
            for f in m["flags"]:
                console.print(f"  • {f['sentence']}")
        else:
            console.print("  no gap beyond the thresholds")
    for note in report.notes:
        console.print(f"[dim]{note}[/]")


def model_card_command(
    model: str = typer.Argument(..., help="churn, propensity, value, next_order, leads or forecast."),
    as_json: bool = typer.Option(False, "--json", help="Print the card as JSON instead of Markdown."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Print a model's card (Markdown): intended use, data, inputs, accuracy, fairness, limitations."""
    from regulars.reports.fairness import NoCard, model_card

    with open_workspace(workspace, read_only=True) as ws:
        try:
            card = model_card(ws, model)
        except NoCard as exc:
            fail(str(exc))
    if as_json:
        print_json(card)
        return
    print(card["markdown"])


def export_command(
    table: str = typer.Argument(None, help="A table to export (customers, orders, events, ...)."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write: .csv or .parquet."),
    segment: str = typer.Option(None, "--segment", help="Export the customers of this segment instead of a table."),
    pseudonymise: bool = typer.Option(False, "--pseudonymise", help="Replace personal fields by keyed hashes and "
                                      "leave out free text."),
    key_file: Path = typer.Option(None, "--key-file", help="The pseudonymisation key (created if missing). The same "
                                  "key gives the same pseudonyms in every export; keep it secret."),
    channel: str = typer.Option(None, "--channel", help="Only customers who consented to this channel: email or sms."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Export a table or a segment, pseudonymised for sharing with an agency or analyst when asked."""
    from regulars.jobs.export import export
    from regulars.privacy.pseudonymise import new_key

    if (table is None) == (segment is None):
        fail("name a table (`regulars export customers -o customers.csv`) or a segment (`--segment rfm:champions`)")
    if channel not in (None, "email", "sms"):
        fail(f"--channel {channel!r} unknown; use email or sms")
    key = None
    if pseudonymise:
        if key_file is None:
            fail("--pseudonymise needs --key-file PATH (created with a new random key if it does not exist)")
        if key_file.exists():
            key = key_file.read_bytes().strip()
            if len(key) < 16:
                fail(f"{key_file} holds a key shorter than 16 bytes; use a longer one or a new file")
        else:
            key = new_key().hex().encode()
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_bytes(key)
            key_file.chmod(0o600)
            console.print(f"new pseudonymisation key written to {key_file} (keep it to get the same pseudonyms next time)")
    elif key_file is not None:
        fail("--key-file is only used with --pseudonymise")
    with open_workspace(workspace, read_only=True) as ws:
        try:
            result = export(ws, output, table=table, segment=segment, key=key, channel=channel)
        except ValueError as exc:
            fail(str(exc))
    console.print(f"wrote {result.rows:,} rows, {len(result.columns)} columns to {result.path}")
    if result.pseudonymised:
        console.print(f"pseudonymised: {', '.join(result.pseudonymised)}")
    for note in result.notes:
        console.print(f"[dim]note:[/] {note}")


privacy_app = typer.Typer(help="Privacy settings: sensitive model inputs, personal columns kept at ingest, "
                          "retention of raw web events.", no_args_is_help=True)


@privacy_app.command("show")
def privacy_show(workspace: Path = WorkspaceOption) -> None:
    """The privacy settings and what personal data the workspace holds."""
    import pandas as pd

    from regulars.data import privacy_store

    with open_workspace(workspace, read_only=True) as ws:
        settings = privacy_store.get(ws)
        held = privacy_store.personal_data_held(ws)
        runs = privacy_store.retention_runs(ws, 3)
    for name, value in settings.items():
        console.print(f"{name}: {value if value not in (None, []) else '(none)'}")
    render_frame(pd.DataFrame(held)[["table", "column", "values", "kept_at_ingest"]], "table", title="personal data held")
    for r in runs:
        console.print(f"[dim]retention {str(r['run_at'])[:16]}: {r['events_deleted']:,} events before "
                      f"{str(r['cutoff'])[:10]} aggregated into {r['daily_rows']:,} daily rows and deleted[/]")


@privacy_app.command("set")
def privacy_set(
    name: str = typer.Argument(..., help="sensitive_inputs, drop_columns or event_retention_months."),
    value: str = typer.Argument(..., help="Comma-separated names, a number of months, or 'none'."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Change a privacy setting. Dropping columns also erases the values already held."""
    from regulars.data import privacy_store
    from regulars.privacy.settings import validate

    with open_workspace(workspace) as ws:
        try:
            clean = validate(name, value)
            with ws.transaction() as tx:
                erased = privacy_store.put(tx, name, clean, updated_by="cli")
        except ValueError as exc:
            fail(str(exc))
        console.print(f"{name} = {privacy_store.get(ws, name)}")
    for col, n in erased.items():
        console.print(f"erased {n:,} stored value(s) of customers.{col}; it will not be kept at the next loads")


def retention_command(
    months: int = typer.Option(None, "--months", help="Keep raw web events of this many months (default: the "
                               "privacy setting event_retention_months)."),
    apply: bool = typer.Option(False, "--apply", help="Aggregate and delete (without it: only say what would happen)."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Retention limit: raw web events older than N months are counted per day, then deleted (logged)."""
    from regulars.jobs.retention import retention

    with open_workspace(workspace, read_only=not apply) as ws:
        try:
            result = retention(ws, months=months, apply=apply)
        except ValueError as exc:
            fail(str(exc))
    if "reason" in result:
        console.print(result["reason"])
        return
    cutoff = str(result["cutoff"])[:10]
    if result["applied"]:
        console.print(f"{result['events_deleted']:,} raw events before {cutoff} aggregated into "
                      f"{result['daily_rows']:,} daily rows (event_daily) and deleted in {result['seconds']:.1f}s")
    else:
        console.print(f"would aggregate and delete {result['events']:,} raw events before {cutoff} "
                      f"(oldest {str(result['oldest'])[:10] if result['oldest'] else '-'}); run with --apply")


def register(app: typer.Typer) -> None:
    """Add ``anomalies``, ``audit``, ``model-card``, ``export``, ``privacy`` and ``retention`` to the app."""
    app.command("export")(export_command)
    app.command("retention")(retention_command)
    app.add_typer(privacy_app, name="privacy")
    app.command("anomalies")(anomalies_command)
    app.command("audit")(audit_command)
    app.command("model-card")(model_card_command)
