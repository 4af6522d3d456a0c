"""`regulars lake promote` and `regulars lake show`: a lake workspace (month-partitioned Parquet written by Spark).

Wired by ``regulars.cli.main`` through :func:`register`.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from regulars.cli.common import (FormatOption, WorkspaceOption, console, fail, open_workspace, print_json, progress_steps,
                                 render_frame)

lake_app = typer.Typer(help="A lake workspace: the shop's tables as month-partitioned Parquet, read by Spark "
                       "and DuckDB.", no_args_is_help=True)


def _tables_frame(manifest: dict):
    import pandas as pd

    return pd.DataFrame([{"table": name, "rows": spec["rows"],
                          "partitioned by": f"month of {spec['month_of']}" if spec["partitioned_by"] else "",
                          "months": (f"{len(spec['months'])} ({spec['months'][0]} … {spec['months'][-1]})"
                                     if spec["months"] else "")}
                         for name, spec in manifest["tables"].items()])


@lake_app.command("promote")
def promote_command(
    warehouse: Path = typer.Argument(..., help="The lake folder (created; a lake already there is replaced "
                                     "once the new one is complete). On a cluster: a folder every executor sees."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Copy the workspace into a lake: orders, order lines, events and messages by month, the rest as they are.

    Written by Spark (local[2], or the cluster of REGULARS_SPARK_MASTER / [spark] in regulars.toml); the rows
    of every table are counted in the lake before it replaces the previous one, so a failure changes nothing.
    """
    from regulars.data.engines import EngineError
    from regulars.data.lake import promote

    with open_workspace(workspace, read_only=True) as ws:
        start = time.perf_counter()
        try:
            with progress_steps("promoting to a lake", quiet=format != "table") as say:
                done = promote(ws, warehouse, progress=say)
        except EngineError as exc:
            fail(str(exc))
        seconds = time.perf_counter() - start
    if format == "json":
        print_json({"warehouse": str(done.warehouse), "seconds": round(seconds, 1), "rows": done.rows,
                    "tables": {n: {k: s[k] for k in ("rows", "partitioned_by", "months")}
                               for n, s in done.manifest["tables"].items()}})
        return
    if format == "csv":
        render_frame(_tables_frame(done.manifest), "csv")
        return
    render_frame(_tables_frame(done.manifest), "table", title=f"lake at {done.warehouse}")
    console.print(f"[bold]{done.rows:,} row(s)[/] in {len(done.manifest['tables'])} tables, every count checked "
                  f"against the workspace ({seconds:.1f} s).")
    console.print(f"To run the analyses on it: [bold]REGULARS_ENGINE=spark REGULARS_LAKE={done.warehouse}[/] "
                  f"(or [bold]lake = \"{done.warehouse}\"[/] in regulars.toml).")


@lake_app.command("show")
def show_command(
    warehouse: Path = typer.Argument(..., help="The lake folder."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """What a lake holds: when it was promoted, from which workspace and schema, its tables and months,
    and how many rows each table has in the workspace now (to see whether to promote again)."""
    from regulars.data.lake import LakeError, read_manifest
    from regulars.data.workspace import resolve_path

    try:
        manifest = read_manifest(warehouse)
    except LakeError as exc:
        fail(str(exc))
    now: dict[str, int] = {}
    if resolve_path(workspace).is_file():
        with open_workspace(workspace, read_only=True) as ws:
            existing = set(ws.list_tables())
            now = {name: ws.count(name) for name in manifest["tables"] if name in existing}
    changed = sorted(n for n, c in now.items() if c != manifest["tables"][n]["rows"])
    if format == "json":
        print_json({k: v for k, v in manifest.items() if k != "tables"}
                   | {"tables": {n: {**{k: s[k] for k in ("rows", "partitioned_by", "months")},
                                     "rows_in_workspace": now.get(n)} for n, s in manifest["tables"].items()},
                      "changed_since_promotion": changed})
        return
    frame = _tables_frame(manifest)
    if now:
        frame["rows in the workspace now"] = [now.get(n) for n in manifest["tables"]]
    if format == "csv":
        render_frame(frame, "csv")
        return
    console.print(f"Promoted {manifest['promoted_at']} from {manifest['workspace']} "
                  f"(schema version {manifest['schema_version']}); {manifest['storage']}, {manifest['catalog']}.")
    render_frame(frame, "table", title=f"lake at {Path(warehouse).resolve()}")
    if manifest.get("last_ingest"):
        done = manifest["last_ingest"]
        console.print(f"Files were loaded into this lake on Spark since its promotion (last: run {done['run_id']}, "
                      f"{done['kind']}, {done['at']}): the lake holds rows the workspace does not.")
    elif changed:
        console.print(f"[yellow]The workspace has changed since the promotion ({', '.join(changed)}):[/] "
                      "run `regulars lake promote` again to bring the lake up to date.")


def register(app: typer.Typer) -> None:
    """Add ``lake promote`` and ``lake show`` to the app."""
    app.add_typer(lake_app, name="lake")


def say_what_the_lake_still_holds(workspace: Path) -> None:
    """After an erasure on a lake workspace: the lake still holds the person until it is promoted again."""
    from regulars.data.lake import MANIFEST, lake_location, read_manifest

    lake = lake_location(workspace)
    if lake is None or not (lake / MANIFEST).is_file():
        return
    if read_manifest(lake).get("last_ingest"):
        console.print(f"  [yellow]not erased from the lake {lake}[/]: it has rows loaded on Spark that the workspace "
                      "lacks, so it cannot be promoted again, and erasing inside a lake is not built yet "
                      "(docs/lake.md). Its results are no longer shown, and the Spark commands refuse it")
    else:
        console.print(f"  [yellow]the lake {lake} still holds them[/]: its results are no longer shown, and the Spark "
                      f"commands refuse it until `regulars lake promote {lake}` rewrites it without them")
