"""`regulars recommend`, `regulars bought-together`, `regulars next-actions`: what to offer, what to do next.

Wired by ``regulars.cli.main`` through :func:`register`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from regulars.cli.common import (
    FormatOption,
    WorkspaceOption,
    console,
    date_option,
    fail,
    open_workspace,
    print_json,
    progress_steps,
    render_frame,
)


def _stored_covers(ws, k: int, as_of) -> bool:
    import pandas as pd
    from regulars.data import recommend_store as store

    run = store.read_run(ws)
    if run is None:
        return False
    if as_of is not None and pd.Timestamp(run["as_of"]).date() != as_of:
        return False
    return int((run.get("summary") or {}).get("k", 0)) >= k


def recommend_command(
    customer: str = typer.Argument(None, help="A customer id (or use --all)."),
    all_customers: bool = typer.Option(False, "--all", help="Every customer's recommendations."),
    k: int = typer.Option(None, "--k", min=1, max=100, help="How many products (default 5 for one customer, 10 with --all)."),
    as_of: str = typer.Option(None, "--as-of", help="Recommend as of this date (YYYY-MM-DD); default: the latest run."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """What to offer: products for one customer (or --all), each with the reason, best first.

    Reads what `regulars predict` stored; with --all and no stored run for --as-of (or fewer
    than --k products stored), fits the recommenders first and stores the result.
    """
    import pandas as pd

    from regulars.reports import recommend as report

    if (customer is None) == (not all_customers):
        fail("give one CUSTOMER id, or --all for every customer")
    day = date_option(as_of)
    if all_customers:
        k = k or 10
        with open_workspace(workspace, read_only=True) as ws:
            covered = _stored_covers(ws, k, day)
        if not covered:
            from regulars.jobs.recommend import recommend

            with open_workspace(workspace) as ws:
                if ws.count("orders") == 0:
                    fail("no orders in this workspace; load some with `regulars ingest orders FILE`")
                with progress_steps("recommending", quiet=format != "table") as say:
                    recommend(ws, as_of=day, k=max(k, 10), progress=say)
        with open_workspace(workspace, read_only=True) as ws:
            if format == "csv" and Path("/dev/stdout").exists():
                from regulars.data import recommend_store as store

                sys.stdout.flush()
                store.export_recommendations_csv(ws, "/dev/stdout", k, day)  # DuckDB writes it, fast
                return
            frame = report.all_recommendations(ws, k=k, as_of=day)
        render_frame(frame, format, title=f"top {k} per customer", limit=50 if format == "table" else None)
        return
    k = k or 5
    with open_workspace(workspace, read_only=True) as ws:
        try:
            recs = report.customer_recommendations(ws, customer, k=k)
        except report.CustomerNotFound as exc:
            fail(str(exc))
    if format == "json":
        print_json(recs.to_dict())
        return
    frame = pd.DataFrame(recs.items, columns=report.ITEM_COLUMNS)
    frame.insert(0, "customer_id", customer)
    if format == "csv":
        frame[report.EXPORT_COLUMNS].to_csv(sys.stdout, index=False)
        return
    console.print(f"[bold]what to offer {customer}[/]" + (f" (as of {recs.as_of})" if recs.as_of else ""))
    table = Table(show_header=True)
    for col in ("#", "product", "why"):
        table.add_column(col, overflow="fold")
    for item in recs.items:
        table.add_row(str(item["rank"]), str(item.get("product_name") or item["product_id"]), str(item["reason"]))
    if recs.items:
        console.print(table)
    for note in recs.notes:
        console.print(f"[yellow]note:[/] {note}")


def bought_together_command(
    product: str = typer.Argument(..., help="A product id."),
    k: int = typer.Option(10, "--k", min=1, max=100, help="How many products."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Products often bought together with PRODUCT: support, confidence and lift."""
    import pandas as pd

    from regulars.reports import recommend as report

    with open_workspace(workspace, read_only=True) as ws:
        try:
            result = report.bought_together(ws, product, k=k)
        except report.ProductNotFound as exc:
            fail(f"{exc}; see the product ids with `regulars sql \"SELECT product_id, name FROM products\"`")
    if format == "json":
        print_json(result.to_dict())
        return
    frame = pd.DataFrame(result.items, columns=["product_id", "product_name", "baskets", "support", "confidence",
                                                "lift", "sentence"])
    if format == "csv":
        render_frame(frame, "csv")
        return
    name = result.product.get("name") or product
    console.print(f"[bold]bought together with {name}[/] ({product})" + (f", as of {result.as_of}" if result.as_of else ""))
    if len(frame):
        render_frame(frame.drop(columns="sentence").assign(
            support=lambda f: (f["support"] * 100).round(2).astype(str) + "%",
            confidence=lambda f: (f["confidence"] * 100).round(1).astype(str) + "%",
            lift=lambda f: f["lift"].round(2)), "table")
        console.print(f"  e.g. {result.items[0]['sentence']}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")


def next_actions_command(
    segment: str = typer.Option(None, "--segment", help="Only the current members of this segment (id or name)."),
    action: str = typer.Option(None, "--action", help="Only customers given this action (e.g. win_back_offer)."),
    refresh: bool = typer.Option(False, "--refresh", help="Decide again now (otherwise: what `regulars predict` stored)."),
    actions_file: Path = typer.Option(None, "--actions", help="Action catalogue (TOML); default <workspace>.actions.toml "
                                      "or the shipped one. Implies --refresh."),
    as_of: str = typer.Option(None, "--as-of", help="Decide as of this date (with --refresh)."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """The next best action for each customer: action, channel, expected value and the reason.

    channel is email, sms, audience or none (do nothing). Expected values rest on each action's
    response uplift: the catalogue's prior (an assumption) until an experiment measures it.
    """
    import pandas as pd

    from regulars.data import recommend_store as store
    from regulars.recommend.actions import CatalogueError
    from regulars.reports import recommend as report

    with open_workspace(workspace, read_only=True) as ws:
        stale = refresh or actions_file is not None or as_of is not None or store.read_run(ws, "next_action_runs") is None
    if stale:
        from regulars.jobs.next_actions import next_actions

        with open_workspace(workspace) as ws:
            try:
                with progress_steps("deciding next actions", quiet=format != "table") as say:
                    next_actions(ws, as_of=date_option(as_of), catalogue=actions_file, progress=say)
            except CatalogueError as exc:
                fail(str(exc))
    with open_workspace(workspace, read_only=True) as ws:
        try:
            summary = report.next_actions_report(ws, segment=segment, action=action, limit=50)
            if format != "table":
                rows = store.read_next_actions(ws, segment_id=summary.segment, action=action)
        except ValueError as exc:
            fail(str(exc))
    if format in ("csv", "json"):
        render_frame(rows[report.ACTION_COLUMNS[:5] + ["assumption"]], format)
        return
    console.print(f"[bold]next best actions[/] as of {summary.as_of}" + (f" — segment {summary.segment}" if segment else ""))
    table = Table(show_header=True)
    for col in ("action", "customers", "expected value", "channels"):
        table.add_column(col, overflow="fold")
    for a in summary.actions:
        table.add_row(a["label"], f"{a['customers']:,}", f"{a['expected_value']:,.2f}",
                      ", ".join(f"{c} {n:,}" for c, n in a["channels"].items()))
    console.print(table)
    render_frame(pd.DataFrame(summary.items, columns=report.ACTION_COLUMNS)[report.ACTION_COLUMNS[:5]], "table",
                 title="highest expected value first", limit=20)
    for note in summary.notes:
        console.print(f"[dim]note:[/] {note}")


def register(app: typer.Typer) -> None:
    """Add ``recommend``, ``bought-together`` and ``next-actions`` to the ``regulars`` app."""
    app.command("recommend")(recommend_command)
    app.command("bought-together")(bought_together_command)
    app.command("next-actions")(next_actions_command)
