"""`regulars settings`: the shop's own settings kept in the workspace (time zone, currency, name).

``regulars settings`` lists them; ``regulars settings timezone Europe/Paris`` changes one. The
time zone is where the shop's days begin: reports group days, weeks and months by it, and file
times without an offset are read in it. It is set by the first load that states one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from regulars.cli.common import FormatOption, WorkspaceOption, console, fail, open_workspace, render_frame


def settings(
    name: str = typer.Argument(None, help="A setting to change: timezone, currency, shop_name, session_hours."),
    value: str = typer.Argument(None, help="Its new value, e.g. Europe/Paris for timezone."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Show the shop's settings, or change one (e.g. `regulars settings timezone Europe/Paris`)."""
    from regulars.data import auth

    if name is not None and value is None:
        fail(f"give a value: `regulars settings {name} VALUE` (settings: {', '.join(auth.SETTINGS)})")
    with open_workspace(workspace, read_only=name is None) as ws:
        if name is not None:
            try:
                with ws.transaction() as con:
                    auth.set_settings(con, {name: value}, updated_by="cli")
            except auth.AuthError as exc:
                fail(str(exc))
        current = auth.get_settings(ws)
    rows = [{"setting": k, "value": "" if v is None else v, "meaning": auth.SETTINGS[k][1]} for k, v in current.items()]
    render_frame(pd.DataFrame(rows), format, title="shop settings")
    if name == "timezone":
        console.print("[dim]reports now group days, weeks and months in this time zone; stored times are unchanged "
                      "(they are UTC)[/]")


def register(app: typer.Typer) -> None:
    app.command("settings")(settings)
