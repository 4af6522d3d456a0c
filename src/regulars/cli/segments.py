"""`regulars segment ...` (live segmentations) and `regulars segments ...` (saved segments).

Wire into the main app with ``register(app)``::

    regulars segment rfm [--as-of DATE] [--config rfm.toml] [--customers] [--format table|json|csv]
    regulars segment lifecycle [--as-of DATE] [--at-risk-after N] [--churned-after N] [--new-within N]
    regulars segment tiers [--as-of DATE] [--config tiers.toml]
    regulars segments list | show NAME | create NAME RULE | delete NAME | members NAME
    regulars segments history NAME [--customer ID] | refresh [--as-of DATE] | sizes | movement

Every command takes ``--engine duckdb|spark`` (or ``$REGULARS_ENGINE``) where it computes.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from regulars.cli.common import (FormatOption, WorkspaceOption, console, date_option, fail, open_workspace, print_json,
                                 render_frame)

segment_app = typer.Typer(help="Segment customers now: RFM, lifecycle stages, behavioural tiers.",
                          no_args_is_help=True)
segments_app = typer.Typer(help="Saved segments: rules, versions, memberships and their history.",
                           no_args_is_help=True)

AsOfOption = typer.Option(None, "--as-of", help="Only data before this date (YYYY-MM-DD) counts "
                          "(default: the day after the latest data).")
EngineOption = typer.Option(None, "--engine", envvar="REGULARS_ENGINE", help="duckdb (default) or spark.")
CustomersOption = typer.Option(False, "--customers", help="One row per customer instead of the summary.")


def register(app: typer.Typer) -> None:
    """Add `segment` and `segments` to the main app."""
    app.add_typer(segment_app, name="segment")
    app.add_typer(segments_app, name="segments")


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json", "csv"):
        fail(f"unknown format {fmt!r}; use table, json or csv")




def _errors():
    """The exceptions whose message already says what to fix."""
    from regulars.data.engines import EngineError
    from regulars.segments.membership import SegmentError
    from regulars.segments.rfm import RFMConfigError
    from regulars.segments.rules import RuleError

    return (EngineError, SegmentError, RFMConfigError, RuleError, ValueError)


def _show(seg, fmt: str, customers: bool, title: str) -> None:
    if fmt == "json" and not customers:
        print_json(seg.to_dict())
        return
    render_frame(seg.customers if customers else seg.summary, fmt, title=f"{title} as of {seg.as_of}",
                 limit=50 if fmt == "table" and customers else None)
    if fmt == "table":
        for note in seg.notes:
            console.print(f"[dim]note:[/] {note}")


# -- regulars segment ------------------------------------------------------------------------
@segment_app.command("rfm")
def rfm_cmd(
    as_of: str = AsOfOption,
    config: Path = typer.Option(None, "--config", help="Your RFM grid TOML (copy the shipped one: "
                                "regulars segment rfm-config > my-rfm.toml)."),
    customers: bool = CustomersOption,
    format: str = FormatOption,
    engine: str = EngineOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """RFM scores (1-5 quintiles) and named segments: champions, loyal, at risk, lost …"""
    from regulars.reports.segments import rfm_report

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            seg = rfm_report(ws, date_option(as_of), config, engine)
        except _errors() as exc:
            fail(str(exc))
    _show(seg, format, customers, "RFM segments")


@segment_app.command("rfm-config")
def rfm_config_cmd() -> None:
    """Print the shipped RFM grid, to copy and edit."""
    from regulars.segments.rfm import DEFAULT_CONFIG

    print(DEFAULT_CONFIG.read_text(encoding="utf-8"), end="")


@segment_app.command("lifecycle")
def lifecycle_cmd(
    as_of: str = AsOfOption,
    at_risk_after: int = typer.Option(None, "--at-risk-after", help="Days without a purchase before 'at risk' "
                                      "(default: 75th percentile of the shop's repeat-purchase gaps)."),
    churned_after: int = typer.Option(None, "--churned-after", help="Days before 'churned' (default: 95th percentile)."),
    new_within: int = typer.Option(None, "--new-within", help="Days a first-time buyer counts as 'new'."),
    customers: bool = CustomersOption,
    format: str = FormatOption,
    engine: str = EngineOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Lifecycle stages: new, active, reactivated, at risk, churned."""
    from regulars.reports.segments import lifecycle_report

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            seg = lifecycle_report(ws, date_option(as_of), engine, at_risk_after_days=at_risk_after,
                                   churned_after_days=churned_after, new_within_days=new_within)
        except _errors() as exc:
            fail(str(exc))
    _show(seg, format, customers, "lifecycle stages")


@segment_app.command("tiers")
def tiers_cmd(
    as_of: str = AsOfOption,
    config: Path = typer.Option(None, "--config", help="Your tiers TOML (keys of the shipped config/tiers.toml)."),
    customers: bool = CustomersOption,
    format: str = FormatOption,
    engine: str = EngineOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Behavioural tiers: frequency, spend, AOV, category affinity, discounts, engagement, region."""
    from regulars.reports.segments import tiers_report

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            seg = tiers_report(ws, date_option(as_of), config, engine)
        except _errors() as exc:
            fail(str(exc))
    _show(seg, format, customers, "behavioural tiers")


# -- regulars segments -----------------------------------------------------------------------
@segments_app.command("list")
def list_cmd(format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Saved and built-in segments with their size at the latest refresh."""
    from regulars.reports.segments import segment_list

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        df = segment_list(ws)
    if df.empty and format == "table":
        console.print("no segments yet: `regulars segments create NAME RULE`, then `regulars segments refresh`")
        return
    render_frame(df, format, title="segments")


@segments_app.command("show")
def show_cmd(name: str = typer.Argument(..., help="Segment id or name."), format: str = FormatOption,
             workspace: Path = WorkspaceOption) -> None:
    """A segment's definition, every version of its rule, and its size over the refreshes."""
    from regulars.reports.segments import size_trend
    from regulars.segments.membership import get_segment

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            seg = get_segment(ws, name)
        except _errors() as exc:
            fail(str(exc))
        trend = size_trend(ws, seg["segment_id"])
    if format == "json":
        seg["sizes"] = trend.to_dict(orient="records")
        print_json(seg)
        return
    console.print(f"[bold]{seg['name']}[/] ({seg['segment_id']}, {seg['kind']})"
                  + (" [red]deleted[/]" if seg.get("deleted_at") is not None and str(seg["deleted_at"]) != "NaT" else ""))
    if seg.get("description"):
        console.print(seg["description"])
    for v in seg["versions"]:
        console.print(f"  v{v['version']} ({v['created_at']:%Y-%m-%d}): {v['rule']}")
    if not trend.empty:
        render_frame(trend, format, title="size by refresh")


@segments_app.command("create")
def create_cmd(
    name: str = typer.Argument(..., help='A name, e.g. "Coffee regulars".'),
    rule: str = typer.Argument(..., help="e.g. \"orders >= 3 and category_share_coffee > 0.5\" (columns: docs/features.md)."),
    description: str = typer.Option("", "--description", "-d"),
    replace: bool = typer.Option(False, "--replace", help="Save a new version of an existing segment's rule."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Save a rule segment (validated now; members are computed by `regulars segments refresh`)."""
    from regulars.segments.membership import create_segment

    with open_workspace(workspace) as ws:
        try:
            saved = create_segment(ws, name, rule, description, replace=replace)
        except _errors() as exc:
            fail(str(exc))
    console.print(f"saved segment [bold]{saved['segment_id']}[/] version {saved['version']}: {saved['canonical']}")
    console.print("compute its members with: regulars segments refresh")


@segments_app.command("delete")
def delete_cmd(name: str = typer.Argument(...), workspace: Path = WorkspaceOption) -> None:
    """Delete a rule segment (its members exit at the next refresh; history is kept)."""
    from regulars.segments.membership import delete_segment

    with open_workspace(workspace) as ws:
        try:
            sid = delete_segment(ws, name)
        except _errors() as exc:
            fail(str(exc))
    console.print(f"deleted segment {sid}")


@segments_app.command("members")
def members_cmd(
    name: str = typer.Argument(..., help="Segment id or name, e.g. rfm:champions."),
    limit: int = typer.Option(100, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Current members of a segment and since when."""
    from regulars.reports.segments import members
    from regulars.segments.membership import get_segment

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            sid = get_segment(ws, name)["segment_id"]
        except _errors() as exc:
            fail(str(exc))
        df = members(ws, sid, limit, offset)
    render_frame(df, format, title=f"members of {sid}")


@segments_app.command("history")
def history_cmd(
    name: str = typer.Argument(..., help="Segment id or name."),
    customer: str = typer.Option(None, "--customer", help="Only this customer id."),
    limit: int = typer.Option(200, "--limit", min=0, help="Most changes to show, newest first (0: all of them)."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Who entered and who exited a segment, refresh by refresh (the newest 200 changes; --limit 0 for all)."""
    from regulars.reports.segments import history
    from regulars.segments.membership import get_segment

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            sid = get_segment(ws, name)["segment_id"]
        except _errors() as exc:
            fail(str(exc))
        df = history(ws, sid, customer, limit or None)
    render_frame(df, format, title=f"history of {sid}")
    if limit and len(df) >= limit:
        console.print(f"[dim]showing the newest {limit:,} changes only; see them all with --limit 0[/]")


@segments_app.command("refresh")
def refresh_cmd(
    as_of: str = AsOfOption,
    engine: str = EngineOption,
    rfm_config: Path = typer.Option(None, "--rfm-config", help="RFM grid TOML (default: shipped)."),
    tiers_config: Path = typer.Option(None, "--tiers-config", help="Tier thresholds TOML (default: shipped)."),
    builtin: bool = typer.Option(True, "--builtin/--rules-only", help="Also refresh RFM, lifecycle and tiers."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Recompute every membership and record who entered and exited since the last refresh."""
    from regulars.cli.common import progress_steps
    from regulars.jobs.segments import refresh
    from regulars.jobs.segments_lake import LAKE_ENGINE

    with open_workspace(workspace) as ws:
        try:
            with progress_steps("refreshing segments", quiet=as_json) as say:
                result = refresh(ws, date_option(as_of), engine, rfm_config, tiers_config, builtin=builtin, progress=say)
        except _errors() as exc:
            fail(str(exc))
        from regulars.jobs.precompute import precompute

        if result.engine != LAKE_ENGINE:  # on a lake, the pages read the lake's results
            with progress_steps("storing the reports pages and commands show", quiet=as_json) as say:
                precompute(ws, progress=say)  # so `regulars kpis`, `funnel`, `clusters` and the pages read them
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"[bold]refresh {result.refresh_id}[/] as of {result.as_of} on {result.engine}: "
                  f"{result.segments} segments, {result.entered:,} entries, {result.exited:,} exits "
                  f"in {result.seconds:.1f}s")
    if result.lifecycle:
        console.print(f"  lifecycle: {result.lifecycle}")
    for sid, err in result.errors.items():
        console.print(f"  [yellow]skipped {sid}[/] (kept its previous members): {err.splitlines()[0]}")


@segments_app.command("sizes")
def sizes_cmd(
    refresh: int = typer.Option(None, "--refresh", help="Refresh id (default: latest)."),
    family: str = typer.Option(None, "--family", help="rfm, lifecycle, frequency, spend, aov, affinity, engagement, region or rule."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Segment sizes, share of customers and share of revenue at a refresh."""
    from regulars.reports.segments import sizes

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            s = sizes(ws, refresh, family)
        except _errors() as exc:
            fail(str(exc))
    if format == "json":
        print_json(s.to_dict())
        return
    render_frame(s.table, format, title=f"segment sizes at refresh {s.refresh_id} (as of {s.as_of}; "
                 f"{s.customers:,} customers)")


@segments_app.command("movement")
def movement_cmd(
    from_refresh: int = typer.Option(None, "--from", help="Earlier refresh id (default: the one before the latest)."),
    to_refresh: int = typer.Option(None, "--to", help="Later refresh id (default: latest)."),
    family: str = typer.Option("rfm", "--family", help="rfm, lifecycle, frequency, … (flows between its segments)."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """How segments changed between two refreshes, and where their customers went."""
    from regulars.reports.segments import movement

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            m = movement(ws, from_refresh, to_refresh, family)
        except _errors() as exc:
            fail(str(exc))
    if format == "json":
        print(json.dumps(m.to_dict(), indent=2))
        return
    render_frame(m.table, format, title=f"segments from refresh {m.from_refresh} to {m.to_refresh}")
    if not m.flows.empty and format == "table":
        render_frame(m.flows, format, title="flows", limit=30)
