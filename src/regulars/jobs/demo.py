"""The demo job: build the demo shop, show what it holds, offer the dashboard."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from regulars.cli.common import console, open_workspace, progress_steps


def run_demo(workspace: Path | None, customers: int, seed: int, serve: bool, keep_files: Path | None) -> None:
    """Generate the demo shop into *workspace*, load it, print headline KPIs and next steps."""
    from regulars.demo import build_demo

    started = time.perf_counter()
    with open_workspace(workspace) as ws:
        with progress_steps(f"building a demo shop with {customers:,} customers") as say:
            summary = build_demo(ws, n_customers=customers, seed=seed, progress=say, keep_files_in=keep_files)
        path = ws.path
        console.print(f"[bold green]demo shop ready[/] in {time.perf_counter() - started:.1f}s → {path}")
        counts = {t: ws.count(t) for t in ("customers", "orders", "order_lines", "events", "messages", "tickets", "reviews")}
        console.print("  " + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.items()))
        try:
            from regulars.reports.kpis import kpis
        except ImportError:  # KPIs not installed in this build
            kpis = None
        if kpis is not None:
            report = kpis(ws)
            row = report.table.iloc[0].to_dict() if len(report.table) else {}
            shown = {k: v for k, v in row.items() if isinstance(v, (int, float)) and v == v}
            console.print("  " + ", ".join(f"{k.replace('_', ' ')}: {v:,.2f}" if isinstance(v, float) else f"{k.replace('_', ' ')}: {v:,}" for k, v in list(shown.items())[:8]))
    del summary
    console.print(
        "next: [bold]regulars kpis --by month[/], [bold]regulars doctor[/], "
        "[bold]regulars sql \"SELECT * FROM orders LIMIT 5\"[/]" + (f" (add --workspace {path})" if workspace else "")
    )
    if serve and sys.stdin.isatty():
        _offer_dashboard(path)


def _offer_dashboard(path: Path) -> None:
    try:
        from regulars.cli.server import start_server
    except ImportError:
        return
    import typer

    if typer.confirm("Open the dashboard now?", default=True):
        start_server(path)
