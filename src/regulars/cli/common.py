"""What every CLI command shares: the workspace option, output formats, errors that say what to fix."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator

import typer
from rich.console import Console

from regulars.data.location import ENV_VAR

# pandas, rich.progress and the Workspace (DuckDB, Ibis) are imported where they are used:
# `regulars --help` and a command's --help must not pay for them.



class _NotesConsole(Console):
    """The console for tables and notes: on stderr while stdout carries csv or json (:func:`machine_output`)."""

    machine = False

    @property
    def file(self):
        return sys.stderr if _NotesConsole.machine and self._file is None else super().file

    @file.setter
    def file(self, new_file) -> None:
        self._file = new_file


def machine_output(on: bool = True) -> None:
    """Send every note to stderr from now on: stdout holds only the csv/json data (``print``)."""
    _NotesConsole.machine = on


console = _NotesConsole()
err_console = Console(stderr=True)

WorkspaceOption = typer.Option(
    None, "--workspace", "-w", envvar=ENV_VAR,
    help="Workspace file (default ./regulars.duckdb).", show_default=False,
)
FormatOption = typer.Option("table", "--format", "-f", help="table, json or csv.")


def fail(message: str, code: int = 1) -> None:
    """Print an error that says what to fix, and exit."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def date_option(value: str | None, option: str = "--as-of") -> dt.date | None:
    """The day a command-line *option* names (``None`` when it was not given).

    The one reading of dates typed on the command line, :func:`regulars.values.iso_date`
    (``YYYY-MM-DD``; ``03/05/2024`` is refused, not guessed): anything else stops the command
    with an error naming the option.

    >>> date_option("2024-03-05"), date_option(None)
    (datetime.date(2024, 3, 5), None)
    """
    from regulars.values import iso_date

    if value is None:
        return None
    try:
        return iso_date(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date; write it as YYYY-MM-DD")


@contextlib.contextmanager
def open_workspace(path, read_only: bool = False) -> Iterator:
    from regulars.data.workspace import Workspace, WorkspaceError

    try:
        ws = Workspace(path, read_only=read_only)
    except WorkspaceError as exc:
        fail(str(exc))
    from regulars.reports.shop_time import SHOP_TIMEZONE

    SHOP_TIMEZONE.set(ws.timezone or "UTC")  # what render_frame writes moments in (cli/times.py)
    try:
        yield ws
    finally:
        ws.close()
        from regulars.reports.stored import save_pending  # results a read-only command computed

        save_pending()


@contextlib.contextmanager
def progress_steps(description: str, quiet: bool = False) -> Iterator:
    """A spinner with the current step, for long work. Yields a ``say(step)`` callback."""
    if quiet or not sys.stderr.isatty():
        yield lambda _step: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        task = progress.add_task(description)
        yield lambda step: progress.update(task, description=f"{description}: {step}")


def _jsonable(value):
    import pandas as pd

    if hasattr(value, "isoformat"):
        return value.isoformat()
    if pd.isna(value) if not isinstance(value, (list, dict, tuple)) else False:
        return None
    if hasattr(value, "item"):
        return value.item()
    return str(value) if value.__class__.__name__ == "Decimal" else value


def render_frame(df, fmt: str = "table", title: str | None = None, limit: int | None = None) -> None:
    """Print a DataFrame as a Rich table, JSON records or CSV; moments in the shop's time zone
    (:mod:`regulars.cli.times`)."""
    from regulars.cli.times import in_shop_time
    from regulars.reports.shop_time import SHOP_TIMEZONE

    zone = SHOP_TIMEZONE.get()
    df, moments = in_shop_time(df, zone, fmt)
    if fmt == "json":
        records = [{k: _jsonable(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
        print(json.dumps(records, indent=2, default=str))
    elif fmt == "csv":  # no cell a spreadsheet would evaluate (CSV injection)
        from regulars.reports.csv_safe import LINE_END, safe_frame

        safe_frame(df).to_csv(sys.stdout, index=False, lineterminator=LINE_END)
    elif fmt == "table":
        from regulars.cli.tables import print_table

        shown = df if limit is None else df.head(limit)
        rows = [["" if _isnull(v) else _fmt(v) for v in row] for row in shown.itertuples(index=False)]
        print_table(console, rows, [str(c) for c in shown.columns], title=title)
        if limit is not None and len(df) > limit:
            console.print(f"[dim]… {len(df) - limit} more rows (use --limit or --format csv)[/]")
        if moments:
            console.print(f"[dim]times ({', '.join(moments)}) are in {zone}, the shop's time zone[/]")
    else:
        fail(f"unknown format {fmt!r}; use table, json or csv")


def _isnull(v) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _fmt(v) -> str:
    if isinstance(v, dt.datetime) and v.tzinfo is None and v.time() == dt.time():
        return v.date().isoformat()  # a day (moments were written out by in_shop_time)
    if isinstance(v, float):
        if v.is_integer() and abs(v) >= 1:
            return f"{int(v):,}"
        return f"{v:,.4g}" if abs(v) < 1 else f"{v:,.2f}"
    return str(v)


def render_summary(summary: dict, fmt: str) -> None:
    """Print one result: all of it as JSON, or its plain fields as a one-row CSV (lists and tables left out)."""
    import pandas as pd

    if fmt == "json":
        print_json(summary)
    else:
        flat = {k: v for k, v in summary.items() if not isinstance(v, (list, dict, tuple, pd.DataFrame))}
        render_frame(pd.DataFrame([flat]), fmt)


def say_stored(result) -> None:
    """A dim note under a report read from the stored results: when it was computed (notes console)."""
    if result.from_store:
        console.print(f"[dim]computed {result.computed_at:%Y-%m-%d %H:%M} UTC from the same data "
                      "(stored; recomputed when the data changes)[/]")


def print_json(obj) -> None:
    """Print *obj* as JSON; moments as ISO 8601 with the shop's offset (as the API writes them)."""
    from regulars.reports.shop_time import SHOP_TIMEZONE, with_offsets

    zone = SHOP_TIMEZONE.get()
    if zone:
        obj = with_offsets(json.loads(json.dumps(obj, default=_jsonable)), zone)
    print(json.dumps(obj, indent=2, default=_jsonable))
