"""`regulars`: the command-line entry point.

Why this module is long: the entry point registers every command area and holds the few top-level
commands (init, load, doctor, demo, ...) whose options are the product's first contact; each is
short, and the areas themselves live in their own ``register(app)`` modules.

Every command takes ``--workspace PATH`` (or ``$REGULARS_WORKSPACE``;
default ``./regulars.duckdb``).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import typer

from regulars import __version__
from regulars.cli.engine_opts import EngineOption, engine_tables
from regulars.cli.group import RegularsGroup
from regulars.cli.common import (
    FormatOption,
    WorkspaceOption,
    console,
    err_console,
    fail,
    open_workspace,
    print_json,
    progress_steps,
    render_frame,
    say_stored,
)
from regulars.data.schema import KINDS

app = typer.Typer(
    name="regulars",
    help="Customer analytics for a small shop: load your exports, see KPIs, segments and predictions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=RegularsGroup,  # while `regulars serve` holds the workspace, commands run through it
)

#: CLI modules of the other areas; each exposes ``register(app)``.
AREAS: tuple[str, ...] = ("segments", "explore", "predict", "server", "experiments", "privacy", "recommend", "activation",
                          "settings", "text", "trust", "lists", "lake")


def _version(value: bool) -> None:
    if value:
        print(f"regulars {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """regulars: the customer-analytics department a small shop cannot hire."""


@app.command()
def ingest(
    kind: str = typer.Argument(..., help=f"What the files hold: {', '.join(KINDS)}."),
    files: list[Path] = typer.Argument(..., help="One or more files of the same format."),
    format: str = typer.Option(
        None, "--format", help="csv, parquet, jsonl, or a preset: shopify, woocommerce, klaviyo, mailchimp, ga4 "
        "(default: detected from the header and extension).",
    ),
    mapping: str = typer.Option(None, "--mapping", "-m", help="TOML file mapping your columns to canonical ones, "
                                "or the name of a mapping saved on the dashboard's Data page."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
    engine: str = typer.Option(None, "--engine", envvar="REGULARS_ENGINE", help="duckdb (default: into the "
                               "workspace) or spark: into the lake workspace (REGULARS_LAKE), read on the cluster."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Load files into the workspace (validated, idempotent, all-or-nothing).

    Rows that cannot be loaded are kept in the quarantine with their reason:
    see `regulars quarantine`. With --engine spark, into the lake workspace on Spark.
    """
    if engine is not None and engine.strip().lower() not in ("duckdb", "spark"):
        fail(f"unknown engine {engine!r}: duckdb or spark")
    if engine is not None and engine.strip().lower() == "spark":
        from regulars.cli.ingest_spark import ingest_on_spark

        ingest_on_spark(workspace, kind, files, format, mapping, as_json)
        return
    from regulars.data.ingest.options import MappingError

    from regulars.data.ingest.pipeline import LoadInvariantError, ingest as run_ingest

    from regulars.cli.ingest_mapping import resolve_mapping

    with open_workspace(workspace) as ws:
        try:
            chosen = resolve_mapping(ws, mapping)
            with progress_steps(f"loading {kind}", quiet=as_json) as say:
                result = run_ingest(ws, kind, [str(f) for f in files], format=format, mapping=chosen, progress=say)
        except (MappingError, LoadInvariantError) as exc:
            fail(str(exc))
    if as_json:
        print_json(result.as_dict())
        return
    from regulars.cli.ingest_summary import print_ingest

    print_ingest(result, see_why=f"regulars quarantine --run {result.run_id}")


@app.command()
def quarantine(
    run: int = typer.Option(None, "--run", help="Only rows rejected by this ingest run."),
    warnings: bool = typer.Option(False, "--warnings", help="List the values dropped from rows that loaded "
                                  "(a junk phone, a malformed e-mail ...) instead of the rejected rows."),
    limit: int = typer.Option(50, "--limit", help="Rows to show in a table."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """List rejected rows (file, row number, column and reason), or with --warnings the dropped values."""
    import pandas as pd

    from regulars.reports.data_admin import field_warnings, quarantine as rejected

    with open_workspace(workspace, read_only=True) as ws:
        page = (field_warnings if warnings else rejected)(ws, run_id=run, limit=100_000 if format != "table" else limit)
    df = pd.DataFrame(page.items)
    what = "field warnings" if warnings else "quarantined rows"
    if df.empty:
        console.print(f"no {what}" + (f" for run {run}" if run is not None else ""))
        return
    if "raw" in df.columns:
        df["raw"] = df["raw"].map(lambda r: r if isinstance(r, str) or r is None else json.dumps(r))
    render_frame(df, format, title=what)
    if format == "table" and page.total > len(df):
        console.print(f"[dim]… {page.total - len(df):,} more (use --limit or --format csv)[/]")


@app.command()
def runs(
    limit: int = typer.Option(20, "--limit"),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """List ingest runs, newest first."""
    from regulars.data.admin_queries import ingest_runs_frame

    with open_workspace(workspace, read_only=True) as ws:
        df = ingest_runs_frame(ws, limit)
    render_frame(df, format, title="ingest runs")


@app.command()
def sql(
    query: str = typer.Argument(..., help='One read-only query, e.g. "SELECT count(*) FROM orders".'),
    format: str = FormatOption,
    limit: int = typer.Option(100, "--limit", help="Rows to show in a table."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Run one read-only query on the workspace (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE).

    Nothing else runs: no COPY/EXPORT, no SET, no ATTACH, no files read or written.
    """
    from regulars.data import sandbox
    from regulars.data.workspace import WorkspaceError
    from regulars.reports.shop_time import SHOP_TIMEZONE

    try:
        df, zone = sandbox.query(workspace, query, with_time_zone=True)
    except (sandbox.SqlRefused, sandbox.SqlFailed, WorkspaceError) as exc:
        fail(str(exc))
    SHOP_TIMEZONE.set(zone)  # moments are printed in the shop's time zone
    render_frame(df, format, limit=limit if format == "table" else None)


@app.command()
def forget(
    customer: str = typer.Argument(..., help="Customer id, shop id, e-mail or phone."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Erase a customer everywhere (right to erasure); they stay out of future loads; an audit record holds no PII.

    Also erases the provisional customers made from their e-mails and phones, quarantined rows holding
    their identifiers, and mentions in other rows' text; then rewrites the workspace file so no deleted
    byte remains. `regulars suppressions lift` lets them load again.
    """
    from regulars.data.erasure import CustomerNotFound, forget as erase, resolve_customer

    with open_workspace(workspace) as ws:
        try:
            cid = resolve_customer(ws, customer)
        except CustomerNotFound as exc:
            fail(str(exc))
        if not yes:
            if not sys.stdin.isatty():
                fail("refusing to erase without confirmation; pass --yes")
            typer.confirm(f"Erase customer {cid} and everything about them?", abort=True)
        with progress_steps(f"erasing customer {cid}") as say:
            say("deleting and rewriting the workspace file")
            record = erase(ws, cid, requested_by="cli")
    total = sum(record["rows_deleted"].values())
    console.print(f"erased customer {cid}: {total} rows deleted ({json.dumps(record['rows_deleted'])}); "
                  f"{record['identifiers_suppressed']} identifier(s) kept out of future loads; "
                  f"audit record {record['erasure_id']}")
    if record["customers_erased"] > 1:
        console.print(f"  with {record['customers_erased'] - 1} provisional customer(s) made from their e-mail or phone")
    if record["text_redacted"]:
        console.print(f"  mentions replaced by [erased] in: {json.dumps(record['text_redacted'])}")
    if record["sharing_customers"]:
        console.print(f"  [yellow]note:[/] {', '.join(record['sharing_customers'])} share(s) an e-mail or phone with "
                      "them and was not erased; erase it too if it is the same person")
    from regulars.cli.lake import say_what_the_lake_still_holds

    say_what_the_lake_still_holds(workspace)


@app.command("export-customer")
def export_customer(
    customer: str = typer.Argument(..., help="Customer id, shop id, e-mail or phone."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Print everything held about one customer as JSON (right of access)."""
    from regulars.data.erasure import CustomerNotFound, export_customer as export

    with open_workspace(workspace, read_only=True) as ws:
        try:
            data = export(ws, customer)
        except CustomerNotFound as exc:
            fail(str(exc))
    print(json.dumps(data, indent=2, default=str))


def _keep_on_lake(tables, by, report) -> None:
    """On a lake workspace, keep the KPIs the dashboard shows in the lake (:mod:`regulars.data.lake_results`)."""
    from regulars.data.lake_results import KPI_COMMANDS, write_kpi_report
    from regulars.data.rows import jsonable

    if getattr(tables, "lake", None) is not None and by in KPI_COMMANDS:
        write_kpi_report(tables.lake, by, jsonable(report.to_dict()))


@app.command()
def kpis(
    by: str = typer.Option(None, "--by", help="month, channel, cohort, currency or segment (then a segment kind)."),
    kind: str = typer.Argument(None, help="With --by segment: rfm, lifecycle, frequency, spend, aov, clv, affinity, "
                               "region, engagement, behaviour or rule.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    format: str = FormatOption,
    engine: str = EngineOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Key numbers: customers, retention, churn, AOV, frequency, CLV, conversion, CAC, CSAT/NPS.

    `regulars kpis --by segment rfm` shows KPIs and predicted value per segment of a kind
    (from the stored segments and predictions, so always read from the workspace).
    """
    import pandas as pd

    from regulars.reports import standard
    from regulars.reports.kpis import ORDER_MONEY

    if by == "segment":
        _segment_kpis(kind or "rfm", as_json, format, workspace)
        return
    if kind is not None:
        fail(f"unexpected {kind!r}: a segment kind goes with --by segment")
    if by not in (None, "month", "channel", "cohort", "currency"):
        fail(f"--by {by!r} unknown; use month, channel, cohort, currency or segment")
    from regulars.cli.engine_opts import on_spark
    from regulars.data.shop import settings as shop_settings
    from regulars.reports.words import say

    with open_workspace(workspace, read_only=True) as ws:
        currency = shop_settings(ws)["currency"]
        if not on_spark(ws, engine):
            stored_report = standard.kpis(ws, by=by)
            say_stored(stored_report)
            report = stored_report.value
        else:
            from regulars.reports.kpis import kpis as compute

            with engine_tables(ws, engine) as tables:
                report = compute(tables, by=by)
                _keep_on_lake(tables, by, report)
    if as_json or format == "json":
        print_json(report.to_dict())
        return
    table = report.table
    if by is None and format == "table" and len(table) == 1:
        row = table.iloc[0]
        per_currency = report.by_currency is not None
        table = pd.DataFrame({"metric": [c.replace("_", " ") for c in table.columns],
                              "value": ["per currency, below" if per_currency and c in ORDER_MONEY else
                                        say(c, row[c].item() if hasattr(row[c], "item") else row[c], currency)
                                        for c in table.columns]})
    elif format == "table":
        from regulars.reports.words import in_words, partial_month

        table = _in_words_per_currency(table) if by == "currency" else in_words(table, currency)
        partial = partial_month(report.end) if by == "month" else None
        if partial and len(table) and str(table["month"].iloc[-1]) == partial:
            table.loc[table.index[-1], "month"] = f"{partial} (partial)"
            report.notes.append(f"{partial} is partial: the data ends on {report.end}; compare complete months")
    render_frame(table, format, title="KPIs" + (f" by {by}" if by else ""))
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}")
    if report.by_currency is not None and format == "table":
        keys = [c for c in ("currency", "month", "channel", "cohort") if c in report.by_currency.columns]
        shown = report.by_currency[keys + ["orders", *ORDER_MONEY[:-1]]]
        render_frame(_in_words_per_currency(shown), format,
                     title="money per currency (every KPI per currency: `regulars kpis --by currency`)")
    elif report.by_currency is not None:
        console.print("[dim]note:[/] money columns are empty: see them per currency with `regulars kpis --by currency`")


def _in_words_per_currency(table):
    """Each row of a per-currency table in words, its money in that row's currency."""
    import pandas as pd

    from regulars.reports.words import in_words

    return pd.concat([in_words(table.iloc[[i]], str(table["currency"].iloc[i])) for i in range(len(table))])


def _segment_kpis(kind: str, as_json: bool, format: str, workspace) -> None:
    from regulars.reports import standard

    with open_workspace(workspace, read_only=True) as ws:
        try:
            result = standard.segment_kpis(ws, kind)
        except ValueError as exc:
            fail(str(exc))
    say_stored(result)
    report = result.value
    if as_json or format == "json":
        print_json(report.to_dict())
        return
    render_frame(report.table, format, title=f"KPIs by {kind} segment ({report.start} to {report.end})")
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}")


@app.command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    engine: str = typer.Option(None, "--engine", help="Also check this engine: duckdb or spark (says what Spark "
                               "is connected to). Default: only when REGULARS_ENGINE or regulars.toml chooses one."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Data-quality and readiness report: what the data supports and what it lacks."""
    from regulars.cli.doctor_view import show, show_engine
    from regulars.data.engines import EngineError, engine_name
    from regulars.reports import standard
    from regulars.reports.engine_check import engine_check

    with open_workspace(workspace, read_only=True) as ws:
        result = standard.doctor(ws)
        check = None
        try:
            if engine or engine_name(None, workspace=ws.path) != "duckdb":
                with progress_steps("checking the engine", quiet=as_json):
                    check = engine_check(ws, engine)
        except EngineError as exc:
            fail(str(exc))
    say_stored(result)
    report = result.value
    if as_json:
        print_json({**report.to_dict(), **({"engine": check.to_dict()} if check else {})})
        return
    show(report)
    if check:
        show_engine(check)


@app.command()
def demo(
    customers: int = typer.Option(20_000, "--customers", help="How many customers the demo shop has."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same shop)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Offer to open the dashboard afterwards (only when run in a terminal)."),
    analyses: bool = typer.Option(True, "--analyses/--data-only", help="Also compute segments, predictions and backtests."),
    keep_files: Path = typer.Option(None, "--keep-files", help="Keep the generated export files in this folder."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Build a realistic demo shop (loaded through the normal ingest path), segment it, predict, backtest."""
    from regulars.jobs.demo import run_demo

    if customers < 1:
        fail("--customers must be at least 1")
    with open_workspace(workspace) as ws:
        with progress_steps(f"demo shop with {customers:,} customers") as say:
            summary = run_demo(ws, customers=customers, seed=seed, keep_files=keep_files, analyses=analyses, progress=say)
    _print_demo(summary, workspace)
    if serve and sys.stdin.isatty() and sys.stdout.isatty():
        from regulars.cli.server import start_server

        if typer.confirm("Open the dashboard now?", default=True):
            start_server(summary.path)


def _print_demo(summary, workspace) -> None:
    steps = ", ".join(f"{k} {v:.0f}s" for k, v in summary.steps.items())
    console.print(f"[bold green]demo shop ready[/] in {summary.seconds:.0f}s ({steps}) → {summary.path}")
    console.print("  " + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in summary.counts.items())
                  + f"; {summary.quarantined:,} rows quarantined")
    shown = list(summary.headline.items())[:8]
    if shown:
        console.print("  " + ", ".join(f"{k.replace('_', ' ')}: {_fmt(v)}" for k, v in shown))
    if summary.segments:
        s = summary.segments
        console.print(f"  segments: {s['segments']} segments, {s['members']:,} memberships"
                      + (f"; lifecycle {s['lifecycle']}" if s.get("lifecycle") else ""))
    if summary.predictions:
        p = summary.predictions["summary"]
        parts = [f"{p['high_churn_risk']:,} customers at high churn risk"] if "high_churn_risk" in p else []
        if "expected_buyers_30d" in p:
            parts.append(f"about {p['expected_buyers_30d']:,.0f} expected to buy in 30 days")
        if "total_clv" in p:
            parts.append(f"predicted 1-year value {p['total_clv']:,.0f}")
        console.print("  predictions: " + ("; ".join(parts) or "not enough data"))
    for model, sentences in (summary.backtest.get("sentences") or {}).items():
        if sentences:
            console.print(f"  backtest {model}: {sentences[0]}")
    offers = summary.recommendations or {}
    for sentence in ((offers.get("evaluation") or {}).get("sentences") or [])[:2]:
        console.print(f"  recommendations: {sentence}")
    if offers.get("next_actions"):
        counts = offers["next_actions"]["counts"]
        console.print("  next best actions: " + ", ".join(f"{n:,} {a.replace('_', ' ')}" for a, n in counts.items()))
    where = f" --workspace {summary.path}" if workspace else ""
    console.print(
        f"next: [bold]regulars serve{where}[/] (dashboard), [bold]regulars next-actions{where}[/], "
        f"[bold]regulars kpis --by month{where}[/], "
        f"[bold]regulars doctor{where}[/], [bold]regulars segment rfm{where}[/]"
    )


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) >= 1:
        return f"{int(v):,}"
    return f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"


def _register_areas() -> None:
    for name in AREAS:
        importlib.import_module(f"regulars.cli.{name}").register(app)


_register_areas()

if __name__ == "__main__":  # pragma: no cover
    app()
