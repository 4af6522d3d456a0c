"""Terminal rendering of the data doctor's report (`regulars doctor`)."""

from __future__ import annotations

from rich.table import Table

from regulars.cli.common import console
from regulars.reports.doctor import DoctorReport

_STATUS_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "missing": "[red]missing[/]", "info": "[dim]info[/]"}


def show(report: DoctorReport) -> None:
    """Print the summary, the tables, what needs attention and what each analysis can do."""
    console.print(f"[bold]{report.summary}[/]")
    console.print(_tables(report))
    findings = report.findings
    if findings:
        table = Table(title="needs attention", title_justify="left")
        for col in ("status", "area", "what"):
            table.add_column(col, overflow="fold")
        for f in findings:
            table.add_row(_STATUS_STYLE.get(f["status"], f["status"]), f["area"], f["message"])
        console.print(table)
    else:
        console.print("[green]no duplicates, outliers or rejected rows found[/]")
    console.print(_readiness(report))
    if report.personal_data:
        console.print(_personal(report))


def _tables(report: DoctorReport) -> Table:
    table = Table(title="tables", title_justify="left")
    for col in ("table", "rows", "from", "to", "least filled column"):
        table.add_column(col, overflow="fold")
    for t in report.tables:
        filled = {c: s for c, s in t.completeness.items() if s is not None}
        worst = min(filled.items(), key=lambda kv: kv[1]) if filled else None
        table.add_row(
            t.name, f"{t.rows:,}", (t.first or "")[:10], (t.last or "")[:10],
            f"{worst[0]} {worst[1]:.0%}" if worst else "",
        )
    return table


def _readiness(report: DoctorReport) -> Table:
    table = Table(title="what the data supports", title_justify="left")
    for col in ("analysis", "status", "needs", "have", "next step"):
        table.add_column(col, overflow="fold")
    for r in report.readiness:
        table.add_row(r.title, _STATUS_STYLE.get(r.status, r.status), r.minimum, r.have, r.load or ("" if r.status == "ok" else r.reason))
    return table


def _personal(report: DoctorReport) -> Table:
    table = Table(title="personal data held", title_justify="left")
    for col in ("table", "column", "values", "kept at ingest", "note"):
        table.add_column(col, overflow="fold")
    for p in report.personal_data:
        note = ""
        if p.get("retention"):
            note = f"oldest {p.get('oldest') or '-'}; retention: {p['retention']}"
        table.add_row(p["table"], p["column"], f"{p['values']:,}", "yes" if p["kept_at_ingest"] else "[yellow]no (dropped)[/]",
                      note)
    return table


def show_engine(check) -> None:
    """Print which engine was checked, what it is connected to, and the row counts on both sides."""
    style = "green" if check.ok else "red"
    console.print(f"[bold]engine:[/] {check.engine}")
    for sentence in check.sentences():
        console.print(f"  [{style}]{sentence}[/]")
    if check.settings:
        sources = check.settings.get("from", {})
        shown = {k: v for k, v in check.settings.items() if k != "from" and v not in (None, {}, "")}
        for key, value in shown.items():
            console.print(f"  {key.replace('_', ' ')}: {value} [dim]({sources.get(key, 'default')})[/]")
