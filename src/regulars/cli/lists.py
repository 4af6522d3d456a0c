"""`regulars lists`: the lists a shop owner acts on (at-risk, likely buyers, hot leads, re-buys due,
each segment), whole, with names and e-mails, as a table or a CSV/JSON file."""

from __future__ import annotations

from pathlib import Path

import typer

from regulars.cli.common import FormatOption, WorkspaceOption, console, fail, open_workspace, print_json, render_frame


def lists_command(
    name: str = typer.Argument(None, help="A list: at-risk, likely-buyers, hot-leads, replenishment-due or "
                                          "segment:ID (e.g. segment:rfm:champions). Without it: every list and its size."),
    format: str = FormatOption,
    limit: int = typer.Option(20, "--limit", min=0, help="Rows shown as a table (0: all); csv and json hold every row."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the whole list as CSV to this file."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Lists to act on, with names and e-mails: `regulars lists at-risk -o at-risk.csv`."""
    import pandas as pd

    from regulars.reports.action_lists import UnknownList, action_list, available

    with open_workspace(workspace, read_only=True) as ws:
        if name is None:
            items = available(ws)
        else:
            try:
                found = action_list(ws, name, include_pii=True)  # the local user owns the workspace
            except UnknownList as exc:
                fail(exc.args[0])
    if name is None:
        render_frame(pd.DataFrame(items, columns=["name", "size", "title"]), format, title="lists")
        if format == "table":
            console.print("[dim]see one: `regulars lists NAME`; export it: `regulars lists NAME -o FILE.csv`[/]")
        return
    if output is not None:
        output.write_text(found.to_csv(), encoding="utf-8", newline="")
        console.print(f"wrote {len(found.rows):,} rows of {found.title.lower()} to {output}")
        return
    if format == "json":
        print_json(found.to_dict())
    elif format == "csv":
        print(found.to_csv(), end="")
    else:
        shown = pd.DataFrame(found.display())
        for note in found.notes:
            console.print(f"[yellow]note:[/] {note}")
        when = f" (predictions of {found.as_of})" if found.as_of else ""
        render_frame(shown, "table", title=f"{found.title}: {len(found.rows):,}{when}", limit=limit or None)
        if found.rows:
            console.print(f"[dim]export every row with names and e-mails: `regulars lists {name} -o {found.file_name()}`[/]")


def register(app: typer.Typer) -> None:
    app.command("lists")(lists_command)
