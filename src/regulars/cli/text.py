"""`regulars text analyse | topics | sentiment`: what customers say, in the terminal.

Wired by ``regulars.cli.main`` through :func:`register`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from regulars.cli.common import FormatOption, WorkspaceOption, console, fail, open_workspace, print_json, progress_steps, render_frame

text_app = typer.Typer(help="What customers say: sentiment and topics of reviews, tickets and survey comments.",
                       no_args_is_help=True)


def _analyse(ws, quiet: bool = False):
    from regulars.jobs.text import analyse_texts

    with progress_steps("analysing texts", quiet=quiet) as say:
        return analyse_texts(ws, progress=say)


def _ensure(workspace, refresh: bool, quiet: bool) -> None:
    """Run the analysis first when asked, or when nothing is stored yet."""
    from regulars.data import text_store

    if not refresh:
        with open_workspace(workspace, read_only=True) as ws:
            if text_store.latest_run(ws) is not None:
                return
    with open_workspace(workspace) as ws:
        _analyse(ws, quiet)


@text_app.command("analyse")
def analyse_command(
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Detect the language, score the sentiment and find the topics of every text; store the result."""
    with open_workspace(workspace) as ws:
        result = _analyse(ws, quiet=as_json)
    if as_json:
        print_json(result.to_dict())
        return
    if not result.texts:
        console.print("no texts yet: load reviews, tickets or survey answers with `regulars ingest reviews FILE`")
        return
    topics = ", ".join(f"{n} in {s}" for s, n in result.topics.items()) or "none"
    console.print(f"[bold]{result.texts:,} texts[/]: {result.analysed:,} analysed (English); topics: {topics} "
                  f"({result.seconds['total']:.1f}s)")
    for note in result.notes:
        console.print(f"[dim]note:[/] {note}")
    console.print("see them: regulars text topics, regulars text sentiment --by month")


@text_app.command("topics")
def topics_command(
    source: str = typer.Option(None, "--source", help="Only reviews, tickets or surveys."),
    refresh: bool = typer.Option(False, "--refresh", help="Run the analysis again first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (quotes included)."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Topics of reviews, tickets and survey comments: top words, size, sentiment, emerging ones, quotes."""
    from regulars.reports.text import topics_report

    if source not in (None, "reviews", "tickets", "surveys"):
        fail(f"--source {source!r} unknown; use reviews, tickets or surveys")
    _ensure(workspace, refresh, as_json)
    with open_workspace(workspace, read_only=True) as ws:
        report = topics_report(ws, include_pii=True)
    if source:
        report.sources = [s for s in report.sources if s["source"] == source]
    if as_json:
        print_json(report.to_dict())
        return
    if report.run is None or not report.sources:
        for note in report.notes or ["no topics: too few English texts"]:
            console.print(note)
        return
    for s in report.sources:
        table = Table(title=f"topics of {s['name']}", title_justify="left")
        for col in ("topic", "words", "texts", "share", "sentiment", "negative", "last 90 days", "example"):
            table.add_column(col, overflow="fold")
        for t in s["topics"]:
            ex = t["examples"][0]["text"] if t["examples"] else ""
            trend = _pct(t["recent_share"]) + (" [bold red]emerging[/]" if t["emerging"] else "")
            table.add_row(t["label"], ", ".join(t["top_words"][:6]), f"{t['texts']:,}", _pct(t["share"]),
                          _signed(t["mean_sentiment"]), _pct(t["negative_share"]), trend,
                          (ex[:90] + "…") if len(ex) > 90 else ex)
        console.print(table)
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}")


@text_app.command("sentiment")
def sentiment_command(
    by: str = typer.Option(None, "--by", help="month, product, segment or source."),
    refresh: bool = typer.Option(False, "--refresh", help="Run the analysis again first."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """How positive or negative customers sound, overall or by month, product, segment or source."""
    import pandas as pd

    from regulars.reports.text import sentiment_report

    if by not in (None, "month", "product", "segment", "source"):
        fail(f"--by {by!r} unknown; use month, product, segment or source")
    _ensure(workspace, refresh, format != "table")
    with open_workspace(workspace, read_only=True) as ws:
        report = sentiment_report(ws, by=by)
    if format == "json":
        print_json(report.to_dict())
        return
    if report.run is None:
        console.print(report.notes[0])
        return
    label = by or "scope"  # without --by the one row covers every text
    table = report.table.rename(columns={"group": label})
    if format == "table":
        shown = pd.DataFrame({
            (by or "all texts"): table[label], "texts": table["texts"].map("{:,}".format),
            "analysed": table["analysed"].map("{:,}".format),
            "mean sentiment (-1..+1)": table["mean_sentiment"].map(_signed),
            "positive": table["positive_share"].map(_pct), "negative": table["negative_share"].map(_pct),
            "mean rating (1-5)": table["mean_rating"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.2f}"),
            "mean CSAT (1-5)": table["mean_csat"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.2f}"),
        })
        render_frame(shown, "table", title="sentiment" + (f" by {by}" if by else ""))
        for note in report.notes:
            console.print(f"[dim]note:[/] {note}")
        return
    render_frame(table, format)


@text_app.command("features")
def features_command(
    evaluate: bool = typer.Option(False, "--evaluate", help="Refit churn at the backtest cutoff with and without "
                                  "text features, compare, and keep them only if they help."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Do customer text features (sentiment, negative tickets, topic of the last complaint) improve the churn
    model? Shows the last verdict for each."""
    from regulars.data import text_store

    if evaluate:
        from regulars.jobs.text_features import compare

        with open_workspace(workspace) as ws:
            try:
                with progress_steps("comparing churn with and without text features") as say:
                    compare(ws, progress=say)
            except ValueError as exc:
                fail(str(exc))
    with open_workspace(workspace, read_only=True) as ws:
        decision = text_store.latest_feature_decision(ws)
    if decision is None:
        console.print("not compared yet: run `regulars text features --evaluate` (text features are not used until then)")
        return
    from regulars.jobs.text_features import TITLES, verdicts

    console.print(decision["sentence"])
    for group, used in verdicts(decision).items():
        state = ("[green]used[/] by the churn and propensity models from the next `regulars predict`" if used
                 else "[yellow]not used[/]" if used is False else "[yellow]not judged yet[/] (not used)")
        console.print(f"{TITLES[group].split(' (')[0]}: {state}")


def _pct(v) -> str:
    import pandas as pd
    return "" if v is None or pd.isna(v) else f"{100 * v:.0f}%"


def _signed(v) -> str:
    import pandas as pd
    return "" if v is None or pd.isna(v) else f"{v:+.2f}"


def register(app: typer.Typer) -> None:
    """Add ``regulars text ...`` to the ``regulars`` app."""
    app.add_typer(text_app, name="text")
