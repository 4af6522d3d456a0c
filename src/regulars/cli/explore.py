"""`regulars cohorts | funnel | clusters | icp`: explore retention, journeys and customer types.

Wire into the main app with ``register(app)``::

    regulars cohorts [--by month|week] [--metric customers|revenue] [--kind acquisition|promotion|category]
    regulars funnel [--by source|segment] [--segment-column COL] [--steps a,b,c] [--unit session|visitor]
    regulars clusters [--method kmeans|hierarchical|hdbscan] [--k N] [--customers]
    regulars icp [--top-share 0.1] [--scores N] [--prospects]

Every command takes ``--format table|json|csv``, ``--as-of YYYY-MM-DD`` and ``--engine duckdb|spark``.
"""

from __future__ import annotations

import contextlib

import typer

from regulars.cli.common import (FormatOption, WorkspaceOption, console, date_option, fail, open_workspace, print_json,
                                 render_frame, say_stored)

AsOfOption = typer.Option(None, "--as-of", help="Only data before this date (YYYY-MM-DD) counts.")
EngineOption = typer.Option(None, "--engine", envvar="REGULARS_ENGINE", help="duckdb (default) or spark.")


def register(app: typer.Typer) -> None:
    """Add `cohorts`, `funnel`, `clusters` and `icp` to the main app."""
    app.command("cohorts")(cohorts)
    app.command("funnel")(funnel)
    app.command("clusters")(clusters)
    app.command("icp")(icp)




def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        fail(f"{name} {value!r} is not one of: {', '.join(str(a) for a in allowed)}")


@contextlib.contextmanager
def _engine(workspace, engine):
    from regulars.data.engines import EngineError, open_engine

    with open_workspace(workspace, read_only=True) as ws:
        try:
            with open_engine(ws, engine) as tables:
                yield tables
        except EngineError as exc:
            fail(str(exc))


def _stored(tables, read):
    """``read(tables).value``: a stored report while the shop's data is unchanged (see
    :mod:`regulars.reports.standard`); on Spark (a provider without a DuckDB connection) it is computed."""
    result = read(tables)
    say_stored(result)
    return result.value


def cohorts(
    by: str = typer.Option("month", "--by", help="month or week."),
    metric: str = typer.Option("customers", "--metric", help="customers (share still ordering) or revenue (vs period 0)."),
    kind: str = typer.Option("acquisition", "--kind", help="acquisition, promotion (first order discounted) or category (of the first order)."),
    periods: int = typer.Option(12, "--periods", help="Periods shown in the table (json/csv get all)."),
    as_of: str = AsOfOption,
    fmt: str = FormatOption,
    engine: str = EngineOption,
    workspace=WorkspaceOption,
) -> None:
    """Retention by cohort: the share of each cohort ordering (or its revenue) k periods after the first order."""
    from regulars.features.cohorts import KINDS, METRICS, PERIODS
    from regulars.reports.cohorts import cohort_matrix

    _check("--by", by, PERIODS)
    _check("--kind", kind, KINDS)
    _check("--metric", metric, METRICS)
    _check("--format", fmt, ("table", "json", "csv"))
    with _engine(workspace, engine) as tables:
        result = cohort_matrix(tables, by=by, kind=kind, metric=metric, as_of=date_option(as_of))
    if result.matrix.empty:
        fail("no purchases yet: load orders first (`regulars ingest orders FILE`)")
    if fmt == "json":
        print_json(result.to_dict())
        return
    table = result.table(None if fmt == "csv" else periods)
    if fmt == "table":
        what = "share of the cohort ordering" if metric == "customers" else "net revenue vs period 0"
        for col in table.columns[2:]:
            table[col] = table[col].map(lambda v: "" if v != v else f"{v:.0%}")
        render_frame(table, "table", title=f"{kind} cohorts by {by}: {what}")
        hidden = len(result.table(None).columns) - len(table.columns)
        if hidden > 0:
            console.print(f"[dim]{hidden} later periods not shown: --periods {len(table.columns) - 3 + hidden} "
                          "shows them, --format csv gives every one.[/dim]")
    else:
        render_frame(table, "csv")


def funnel(
    by: str = typer.Option(None, "--by", help="source (traffic source) or segment; default: overall."),
    segment_column: str = typer.Option("segment", "--segment-column", help="With --by segment: 'segment' (RFM segment) or any column of the features mart, e.g. acquisition_channel."),
    steps: str = typer.Option(None, "--steps", help="Comma-separated event types (default product_view,add_to_cart,begin_checkout,purchase)."),
    unit: str = typer.Option("session", "--unit", help="session or visitor."),
    gap: float = typer.Option(30, "--gap", help="Minutes of inactivity that end a session."),
    session: str = typer.Option("inactivity", "--session", help="inactivity (gap-based) or source (the file's session_id where present)."),
    paths: int = typer.Option(10, "--paths", help="How many top paths to show."),
    as_of: str = AsOfOption,
    fmt: str = FormatOption,
    engine: str = EngineOption,
    workspace=WorkspaceOption,
) -> None:
    """Funnel conversion per step (overall, by traffic source or segment), top paths and where carts are abandoned."""
    _check("--format", fmt, ("table", "json", "csv"))
    if by is not None:
        _check("--by", by, ("source", "segment"))
    _check("--unit", unit, ("session", "visitor"))
    _check("--session", session, ("inactivity", "source"))
    step_list = [s.strip() for s in steps.split(",")] if steps else None
    day = date_option(as_of)
    from regulars.reports import standard

    options = {"by": by, "segment_column": segment_column, "steps": step_list, "unit": unit, "gap": gap,
               "session": session, "paths": paths, "as_of": day}
    with _engine(workspace, engine) as tables:
        try:
            report = _stored(tables, lambda t: standard.funnel(t, **options))
        except ValueError as exc:
            fail(str(exc))
    if fmt == "json":
        print_json(report.to_dict())
        return
    if fmt == "csv":
        render_frame(report.funnel, "csv")
        return
    from regulars.reports.words import step_words

    f = report.funnel.copy()
    f["step"] = f["step"].map(step_words)
    for col in ("conversion_from_previous", "conversion_from_start"):
        f[col] = f[col].map(lambda v: "" if v != v else f"{v:.1%}")
    render_frame(f, "table", title=f"Funnel by {by or 'all'} ({unit}s)")
    p = report.paths.copy()
    if "path" in p.columns:
        p["path"] = p["path"].map(step_words)
    for col in ("share", "conversion_rate"):
        p[col] = p[col].map(lambda v: "" if v != v else f"{v:.1%}")
    render_frame(p, "table", title="Top paths")
    a = report.abandonment.copy()
    if "furthest_step" in a.columns:
        a["furthest_step"] = a["furthest_step"].map(step_words)
    a["share"] = a["share"].map(lambda v: "" if v != v else f"{v:.0%}")
    render_frame(a, "table", title="Cart abandoners: furthest checkout step")


def clusters(
    method: str = typer.Option("kmeans", "--method", help="kmeans, hierarchical or hdbscan."),
    k: int = typer.Option(None, "--k", help="Number of clusters (default: chosen by silhouette and bootstrap stability)."),
    customers: bool = typer.Option(False, "--customers", help="One row per customer with their cluster and persona."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    as_of: str = AsOfOption,
    fmt: str = FormatOption,
    engine: str = EngineOption,
    workspace=WorkspaceOption,
) -> None:
    """Cluster customers on behaviour and describe every cluster as a persona card."""
    from regulars.segments.clusters import METHODS

    _check("--method", method, METHODS)
    _check("--format", fmt, ("table", "json", "csv"))
    if k is not None and k < 2:
        fail("--k must be at least 2")
    from regulars.reports import standard

    options = {"method": method, "k": k, "as_of": date_option(as_of), "seed": seed}
    with _engine(workspace, engine) as tables:
        try:
            report = _stored(tables, lambda t: standard.clusters(t, **options))
        except ValueError as exc:
            fail(str(exc))
    if customers:
        render_frame(report.assignments, fmt, title="Customers by cluster")
        return
    if fmt == "json":
        print_json(report.to_dict())
        return
    if fmt == "csv":
        render_frame(report.cards_table(), "csv")
        return
    console.print(f"[bold]{method}[/]: {report.selection}")
    for card in report.cards:
        console.print(
            f"\n[bold]{card.name}[/] (cluster {card.cluster}): {card.size:,} customers ({card.share:.0%}), "
            f"{card.value_share:.0%} of revenue, {card.revenue_per_customer:,.2f} per customer"
        )
        for trait in card.traits:
            console.print(f"  • {trait}")
        if card.preferred_channel:
            console.print(f"  channel: mostly {card.preferred_channel} ({card.channels.get(card.preferred_channel, 0):.0%})")
        console.print(f"  [green]→ {card.action}[/]")


def icp(
    top_share: float = typer.Option(0.1, "--top-share", help="Share of buyers taken as the ideal customers."),
    scores: int = typer.Option(20, "--scores", help="How many people to list by similarity (0 for none)."),
    prospects: bool = typer.Option(False, "--prospects", help="List only prospects (no purchase yet)."),
    as_of: str = AsOfOption,
    fmt: str = FormatOption,
    engine: str = EngineOption,
    workspace=WorkspaceOption,
) -> None:
    """The ideal customer profile: what your best customers share, and everyone's similarity to it (0-100)."""
    from regulars.reports.personas import icp_report

    _check("--format", fmt, ("table", "json", "csv"))
    with _engine(workspace, engine) as tables:
        try:
            profile = icp_report(tables, top_share=top_share, as_of=date_option(as_of))
        except ValueError as exc:
            fail(str(exc))
    listed = profile.scores[~profile.scores.is_ideal]
    if prospects:
        listed = listed[listed.kind == "prospect"]
    listed = listed.head(scores).reset_index()
    if fmt == "json":
        out = profile.to_dict(n_scores=0)
        out["scores"] = listed.to_dict(orient="records")
        print_json(out)
        return
    if fmt == "csv":
        render_frame(profile.scores.reset_index(), "csv")
        return
    console.print(f"[bold]Ideal customers[/]: {profile.definition}")
    for text in profile.summary():
        console.print(f"  • {text}")
    if len(profile.lifts):
        render_frame(profile.lifts, "table", title="Over-represented among ideal customers")
    if scores:
        render_frame(listed, "table", title="Closest to the profile (not yet ideal customers)")
