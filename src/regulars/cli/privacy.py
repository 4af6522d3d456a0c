"""`regulars suppressions list|lift`: the erasure suppression list (see :mod:`regulars.data.suppression`).

An erased person's identifiers stay on the list so that re-loading an export does not bring them
back; an admin lifts a suppression when the person asks to be known again.
"""

from __future__ import annotations

from pathlib import Path

import typer

from regulars.cli.common import FormatOption, WorkspaceOption, console, fail, open_workspace, render_frame

suppressions_app = typer.Typer(help="Erased people kept out of future loads (keyed hashes, never the identifiers).",
                               no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(suppressions_app, name="suppressions")


@suppressions_app.command("list")
def list_cmd(format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Each erasure still suppressed: when, and how many identifiers of each kind."""
    import pandas as pd

    from regulars.data import suppression

    with open_workspace(workspace, read_only=True) as ws:
        items = suppression.listing(ws)
    if not items and format == "table":
        console.print("no suppressed identifiers: nobody has been erased (or every suppression was lifted)")
        return
    rows = [{"erasure_id": i["erasure_id"], "suppressed_at": i["suppressed_at"],
             **{k: i["identifiers"].get(k, 0) for k in suppression.KINDS}} for i in items]
    columns = ["erasure_id", "suppressed_at", *suppression.KINDS]
    render_frame(pd.DataFrame(rows, columns=columns), format, title="suppressed after erasure")


@suppressions_app.command("lift")
def lift_cmd(
    erasure: str = typer.Option(None, "--erasure", help="Lift every identifier of this erasure (see `list`)."),
    email: str = typer.Option(None, "--email", help="Lift only this e-mail address."),
    phone: str = typer.Option(None, "--phone", help="Lift only this phone number."),
    customer_id: str = typer.Option(None, "--customer-id", help="Lift only this shop customer id."),
    anonymous_id: str = typer.Option(None, "--anonymous-id", help="Lift only this web visitor id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Let an erased person's rows load again (audited). Give --erasure, or one identifier."""
    import sys

    from regulars.data import auth, suppression

    given = {k: v for k, v in (("email", email), ("phone", phone), ("shop_id", customer_id),
                               ("anonymous_id", anonymous_id)) if v}
    if bool(erasure) + len(given) != 1:
        fail("give exactly one of --erasure ID, --email, --phone, --customer-id or --anonymous-id")
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to lift a suppression without confirmation; pass --yes")
        typer.confirm("Rows of this person will load again from the next import. Lift the suppression?", abort=True)
    with open_workspace(workspace) as ws:
        with ws.transaction():
            if erasure:
                n = suppression.lift(ws, erasure_id=erasure)
            else:
                (kind, text), = given.items()
                n = suppression.lift(ws, kind=kind, text=text)
            if n:
                auth.record(ws, "cli", None, "suppression.lift", erasure or "identifier", {"identifiers": n})
    if not n:
        fail("nothing to lift: no suppression matches (see `regulars suppressions list`)")
    console.print(f"lifted {n} suppressed identifier(s); their rows load again from the next import")
