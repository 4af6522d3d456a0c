"""`regulars settings`: the shop's own settings kept in the workspace (time zone, currency, name).

``regulars settings`` lists them; ``regulars settings timezone Europe/Paris`` changes one;
``regulars settings --rate USD=0.92`` sets an exchange rate to the shop's currency (``--rate USD=``
removes it). The
time zone is where the shop's days begin: reports group days, weeks and months by it, and file
times without an offset are read in it. It is set by the first load that states one.
"""

from __future__ import annotations

from pathlib import Path

import typer

from regulars.cli.common import FormatOption, WorkspaceOption, console, fail, open_workspace, render_frame


def settings(
    name: str = typer.Argument(None, help="A setting to change: timezone, currency, shop_name, session_hours."),
    value: str = typer.Argument(None, help="Its new value, e.g. Europe/Paris for timezone."),
    rate: list[str] = typer.Option(None, "--rate", help="An exchange rate to the shop's currency, CODE=RATE: "
                                   "--rate USD=0.92 means one USD is 0.92 of the shop's currency (repeat it; "
                                   "USD= removes one)."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Show the shop's settings, or change one (e.g. `regulars settings timezone Europe/Paris`)."""
    import pandas as pd

    from regulars.data import auth

    if name is not None and value is None:
        fail(f"give a value: `regulars settings {name} VALUE` (settings: {', '.join(auth.SETTINGS)})")
    changes = {name: value} if name is not None else {}
    with open_workspace(workspace, read_only=not (changes or rate)) as ws:
        if rate:
            from regulars.data.shop import RateError, parse_rates

            try:
                changes["exchange_rates"] = parse_rates(" ; ".join(rate), auth.get_settings(ws)["exchange_rates"],
                                                        merge=True)
            except RateError as exc:
                fail(str(exc))
        if changes:
            try:
                with ws.transaction() as tx:
                    auth.set_settings(tx, changes, updated_by="cli")
            except auth.AuthError as exc:
                fail(str(exc))
        current = auth.get_settings(ws)
    rows = [{"setting": k, "value": _shown(k, v), "meaning": auth.SETTINGS[k][1]} for k, v in current.items()]
    render_frame(pd.DataFrame(rows), format, title="shop settings")
    if name == "timezone":
        console.print("[dim]reports now group days, weeks and months in this time zone; stored times are unchanged "
                      "(they are UTC)[/]")


def _shown(name: str, value) -> str:
    """A setting's value as the shop reads it (rates with the day each was set)."""
    if value is None:
        return ""
    if name == "exchange_rates":
        return ", ".join(f"{c}={r['rate']:g} (set {r['set_on']})" for c, r in value.items()) or "none"
    return value


def register(app: typer.Typer) -> None:
    app.command("settings")(settings)
