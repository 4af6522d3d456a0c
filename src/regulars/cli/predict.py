"""`regulars predict`, `regulars backtest`, `regulars customer`: predictions in the terminal.

Wired by ``regulars.cli.main`` through :func:`register`.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.table import Table

from regulars.cli.engine_opts import EngineOption, engine_workspace_or_fail
from regulars.cli.common import (
    WorkspaceOption,
    console,
    date_option,
    fail,
    open_workspace,
    print_json,
    progress_steps,
    say_stored,
)

_STATUS = {"ok": "[green]ok[/]", "small": "[yellow]small-data mode[/]", "warn": "[yellow]rough[/]",
           "refused": "[red]not enough data[/]"}

NO_ORDERS = "no orders in this workspace; load some with `regulars ingest orders FILE`"


def _days(text: str) -> int:
    """``365d``, ``52w``, ``12m``, ``1y`` or a bare number of days."""
    m = re.fullmatch(r"\s*(\d+)\s*([dwmy]?)\s*", str(text).lower())
    if not m:
        raise typer.BadParameter(f"{text!r} is not a duration; use e.g. 365d, 52w, 12m or 1y")
    n, unit = int(m.group(1)), m.group(2) or "d"
    days = n * {"d": 1, "w": 7, "m": 30, "y": 365}[unit]
    if days < 1:
        raise typer.BadParameter("the horizon must be at least one day")
    return days




def _money(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def predict_command(
    as_of: str = typer.Option(None, "--as-of", help="Predict as of this date (YYYY-MM-DD); default: the day after the last order."),
    horizon: str = typer.Option("365d", "--horizon", help="Horizon of expected orders, spend and CLV, e.g. 365d, 26w, 6m."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
    engine: str = EngineOption,
    refresh: bool = typer.Option(False, "--refresh", help="Fit again even when the stored predictions were made "
                                 "from the same data."),
    fit_sample: int = typer.Option(None, "--fit-sample", envvar="REGULARS_FIT_SAMPLE", min=100,
                                   help="With --engine spark: fit the models on a stratified sample of at most this "
                                        "many customers (default 200,000; [scoring] fit_sample in regulars.toml)."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Fit the models on your history and write every customer's predictions.

    With --engine spark the data preparation runs on Spark, the models fit here from a
    stratified sample of the customers (--fit-sample) and every customer is scored on the
    Spark executors with the fitted models; the predictions are written to the workspace.
    Recommendations and next actions run on the workspace.

    Writes customer_predictions (p_alive, expected orders/spend/CLV with ranges, churn risk
    and reasons, next order date, 30-day purchase propensity), lead_scores, replenishments
    and demand_forecast. Predictions the data cannot support are refused, with the reason.
    When the latest predictions were made with the same options from the same data (e.g. by
    `regulars demo`), they are shown without fitting again; `--refresh` fits anyway.
    """
    from regulars.cli.engine_opts import on_spark
    from regulars.jobs.predict import predict
    from regulars.jobs.predict_display import latest_display, store_display
    from regulars.reports.predictions import backtest_report

    days = _days(horizon)
    day = date_option(as_of, "--as-of")
    with open_workspace(workspace) as ws:
        spark = on_spark(ws, engine)
        if not spark and ws.count("orders") == 0:
            fail(NO_ORDERS + " (or try `regulars demo`)")
        shown = None if refresh or spark else latest_display(ws, day, days)
        if shown is None:
            with progress_steps("predicting", quiet=as_json) as say, engine_workspace_or_fail(ws, engine) as reads:
                if spark and reads.count("orders") == 0:  # on a lake, the orders loaded on Spark count too
                    fail(NO_ORDERS)
                result = predict(reads, as_of=day, horizon_days=days, progress=say, fit_sample=fit_sample)
                offers = recommend_and_decide(ws, result.as_of, say)
            store_display(ws, day, days, result, offers)
        else:
            result, offers = shown.value["result"], shown.value["offers"]
            say_stored(shown)
        report = backtest_report(ws)
    if as_json:
        print_json({**result.to_dict(), "recommendations": offers})
        return
    s = result.summary
    console.print(f"[bold]predictions as of {result.as_of}[/] for {s.get('customers', 0):,} customers "
                  f"(horizon {days} days, {result.timings.get('total', 0):.1f}s)")
    table = Table(show_header=True)
    for col in ("prediction", "status", "headline"):
        table.add_column(col, overflow="fold")
    heads = {
        "churn": (f"{s['high_churn_risk']:,} customers at high risk; average risk {100 * s['mean_churn_risk']:.0f}%"
                  if "high_churn_risk" in s else ""),
        "propensity": f"about {s['expected_buyers_30d']:,.0f} customers expected to buy in 30 days" if "expected_buyers_30d" in s else "",
        "value": (f"{s['expected_orders']:,.0f} orders and CLV {_money(s['total_clv'])} expected over {days} days"
                  if "total_clv" in s else ""),
        "next_order": "next order dates with 80% ranges" if result.verdicts["next_order"].status != "refused" else "",
        "leads": ", ".join(f"{v:,} {k}" for k, v in s.get("leads", {}).items()),
        "forecast": (f"{s['forecast_orders']:,.0f} orders in the next 8 weeks; busiest: {', '.join(s['busiest_days'])}"
                     if "forecast_orders" in s else ""),
    }
    for name, verdict in result.verdicts.items():
        text = heads.get(name, "") if not verdict.refused else "; ".join(verdict.messages)
        table.add_row(name, _STATUS.get(verdict.status, verdict.status), text)
    console.print(table)
    if s.get("not_personalised"):
        console.print(f"{s['not_personalised']:,} customer(s) refused personalisation: they get generic treatment "
                      "(no personal score, lead score or reminder)")
    for name, verdict in result.verdicts.items():
        if verdict.small:
            for m in verdict.messages:
                console.print(f"[yellow]note ({name}):[/] {m}")
    if "fit_sample" in s:
        where = "on the Spark executors" if s.get("scoring", {}).get("where") == "executors" else "here"
        console.print(f"[dim]{s['fit_sample']['sentence']}; every customer scored {where}[/]")
    for key in ("value_model", "forecast_model"):
        if key in s:
            console.print(f"[dim]{s[key]['sentence']}[/]")
    for note in s.get("value_model", {}).get("notes", []):
        console.print(f"[yellow]note (value):[/] {note}")
    if report.run_id is None:
        console.print("[dim]accuracy: not backtested yet; run `regulars backtest` to see how these predictions "
                      "would have done on your own history[/]")
    else:
        console.print(f"[dim]accuracy: last backtest at cutoff {report.cutoff} — see `regulars backtest --show`[/]")
    if "error" in offers:
        console.print(f"[yellow]recommendations:[/] {offers['error']}")
    else:
        rec, nba = offers["recommendations"], offers["next_actions"]
        acting = sum(n for a, n in nba["counts"].items() if a != "do_nothing")
        console.print(f"recommendations: top {offers['k']} for {rec['customers']:,} customers ({rec['served']}: "
                      f"{rec['served_reason']}); next best action for {acting:,} customers, "
                      f"do nothing for {nba['counts'].get('do_nothing', 0):,}")
    console.print("one customer: regulars customer CUSTOMER_ID; what to offer: regulars recommend CUSTOMER_ID; "
                  "next actions: regulars next-actions")


def recommend_and_decide(ws, as_of, say, k: int = 10) -> dict:
    """After the predictions: fit the recommenders, recommend for everyone, choose next actions."""
    from regulars.jobs.next_actions import next_actions
    from regulars.jobs.recommend import recommend
    from regulars.recommend.actions import CatalogueError

    try:
        rec = recommend(ws, as_of=as_of, k=k, progress=lambda s_: say(f"recommendations: {s_}"))
        nba = next_actions(ws, as_of=as_of, progress=lambda s_: say(f"next actions: {s_}"))
    except (CatalogueError, ValueError) as exc:
        return {"error": str(exc).splitlines()[0]}
    return {"k": k, "recommendations": rec.to_dict(), "next_actions": nba.to_dict()}


def backtest_command(
    cutoff: str = typer.Option(None, "--cutoff", help="Refit on data before this date and judge the period after "
                               "(default: 90 days before the last order)."),
    horizon: str = typer.Option(None, "--horizon", help="Horizon the value predictions are judged over, e.g. 365d "
                                "(default: that of the latest `regulars predict`, else 365 days)."),
    show: bool = typer.Option(False, "--show", help="Only show the latest stored backtest, do not run one."),
    refresh: bool = typer.Option(False, "--refresh", help="Run again even when the latest backtest was made with "
                                 "the same options from the same data."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    engine: str = EngineOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """How accurate would the predictions have been? Refit before a cutoff, compare with simple rules.

    With --engine spark the data preparation runs on Spark (as for `regulars predict`); the
    recommendation evaluation runs on the workspace. When the latest backtest was made with the same
    options from the same data (e.g. by `regulars demo`), it is shown without running again (never
    with --engine spark); `--refresh` runs anyway.
    """
    from regulars.cli.engine_opts import on_spark
    from regulars.jobs.backtest import backtest, remember_run, remembered_run
    from regulars.jobs.recommend_eval import evaluate
    from regulars.reports.predictions import backtest_report
    from regulars.reports.recommend import evaluation_report

    day, days = date_option(cutoff, "--cutoff"), (_days(horizon) if horizon else None)
    with open_workspace(workspace, read_only=show) as ws:
        spark = on_spark(ws, engine)
        done = None if show or refresh or spark else remembered_run(ws, day, days)
        if done is not None:
            say_stored(done)
        elif not show:
            if not spark and ws.count("orders") == 0:
                fail(NO_ORDERS)
            with progress_steps("backtesting", quiet=as_json) as say:
                with engine_workspace_or_fail(ws, engine) as reads:
                    if spark and reads.count("orders") == 0:
                        fail(NO_ORDERS)
                    result = backtest(reads, cutoff=day, horizon_days=days, progress=say)
                evaluate(ws, cutoff=result.cutoff, progress=lambda s_: say(f"recommendations: {s_}"))
            remember_run(ws, day, days, result.run_id)
        report = backtest_report(ws)
        offers = evaluation_report(ws)
    if as_json:
        print_json({**report.to_dict(), "recommendations": offers})
        return
    if report.run_id is None:
        console.print("no backtest yet: run `regulars backtest`")
        return
    console.print(f"[bold]backtest[/] {report.run_id}: models refitted on data before {report.cutoff}, "
                  "judged on what happened after")
    coverage = [(label, report.models[m]["metrics"][metric]) for label, m, metric in (
        ("orders", "clv", "orders_coverage"), ("spend", "clv", "spend_coverage"), ("CLV", "clv", "clv_coverage"),
        ("next order date", "next_order", "interval_coverage"), ("forecast", "forecast", "interval_coverage"))
        if metric in report.models.get(m, {}).get("metrics", {})]
    if coverage:
        console.print("80% ranges, share of actual outcomes inside (nominal 80%): " + ", ".join(
            f"{label} {100 * v['value']:.0f}%" for label, v in coverage if v["value"] is not None))
    for model, info in report.models.items():
        console.print(f"\n[bold]{model}[/] ({_STATUS.get(info['status'], info['status'])})")
        for sentence in info["sentences"]:
            console.print(f"  • {sentence}")
        rows = [(k, v) for k, v in info["metrics"].items() if v["value"] is not None]
        if rows:
            table = Table(show_header=True, box=None, padding=(0, 2))
            for col in ("metric", "model", "baseline", "rule"):
                table.add_column(col)
            for k, v in rows:
                base = "" if v["baseline_value"] is None else f"{v['baseline_value']:.3f}"
                table.add_row(k, f"{v['value']:.3f}", base, v["baseline"] or "")
            console.print(table)
    _print_evaluation(offers)


def _print_evaluation(offers: dict) -> None:
    console.print(f"\n[bold]recommendations[/] (what customers bought in the {offers.get('horizon_days', '?')} days "
                  f"after {offers.get('cutoff', '?')}, against the best-sellers list)")
    for sentence in offers.get("sentences") or offers.get("notes", []):
        console.print(f"  • {sentence}")
    hybrid = (offers.get("metrics") or {}).get("hybrid")
    if hybrid:
        table = Table(show_header=True, box=None, padding=(0, 2))
        for col in ("metric", "recommendations", "best-sellers"):
            table.add_column(col)
        for name, v in hybrid.items():
            table.add_row(f"{name}@{offers['k']}" if name in ("precision", "recall", "ndcg", "hit_rate") else name,
                          f"{v['value']:.3f}", "" if v["popularity"] is None else f"{v['popularity']:.3f}")
        console.print(table)


def customer_command(
    customer_id: str = typer.Argument(..., help="Customer id, shop id, e-mail or phone."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    workspace: Path = WorkspaceOption,
) -> None:
    """One customer's profile with predictions, reasons and how accurate each has been."""
    from regulars.reports.predictions import CustomerNotFound, customer_predictions
    from regulars.reports.shop_time import SHOP_TIMEZONE, shown

    with open_workspace(workspace, read_only=True) as ws:
        try:
            c = customer_predictions(ws, customer_id)
        except CustomerNotFound as exc:
            fail(str(exc))
    if as_json:
        print_json(c.to_dict())
        return
    f = c.facts
    zone = SHOP_TIMEZONE.get() or "UTC"
    console.print(f"[bold]{c.customer_id}[/]: {f['orders'] or 0} order(s), revenue {_money(f['revenue'])}, "
                  f"first {shown(f['first_order_at'], zone) or '–'}, last {shown(f['last_order_at'], zone) or '–'} "
                  f"({zone})")
    for note in c.notes:
        console.print(f"[yellow]note:[/] {note}")
    p = c.predictions
    if p:
        console.print(f"as of {c.as_of}, over the next {p['horizon_days']} days:")
        if "clv" not in c.refused and p.get("p_alive") is not None:
            console.print(f"  orders again within {p['horizon_days']} days (p_alive): {100 * p['p_alive']:.0f}%")
            console.print(f"  expected orders: {p['expected_orders']:.1f} (80% range {p['expected_orders_lower']:.0f}–"
                          f"{p['expected_orders_upper']:.0f}), spend {_money(p['expected_spend'])} "
                          f"({_money(p['expected_spend_lower'])}–{_money(p['expected_spend_upper'])})")
            console.print(f"  CLV: {_money(p['clv'])} ({_money(p['clv_lower'])}–{_money(p['clv_upper'])})")
            console.print(f"  next order: around {str(p['next_order_date'])[:10]} (80% range "
                          f"{str(p['next_order_lower'])[:10]} to {str(p['next_order_upper'])[:10]}, if they order "
                          f"within {p['horizon_days']} days)")
        if p.get("churn_risk") is not None:
            console.print(f"  churn risk (no order in 90 days): {100 * p['churn_risk']:.0f}% ({p['churn_band']})")
            for r in c.reasons.get("churn", []):
                console.print(f"    - {r}")
        if p.get("propensity_30d") is not None:
            console.print(f"  buys in the next 30 days: {100 * p['propensity_30d']:.0f}%")
            for r in c.reasons.get("propensity", []):
                console.print(f"    - {r}")
    for model, messages in c.refused.items():
        console.print(f"  [red]{model}: not shown[/] — {'; '.join(messages)}")
    if c.lead:
        console.print(f"  lead: [bold]{c.lead['tier']}[/] — " + "; ".join(c.lead["reasons"]))
    if c.replenishments:
        console.print("  re-buys:")
        for r in c.replenishments[:5]:
            console.print(f"    {r['product_name'] or r['product_id']}: every ~{r['typical_interval_days']:.0f} days, "
                          f"due {str(r['due_date'])[:10]}" + (" (overdue)" if r["is_overdue"] else ""))
    console.print("[dim]how accurate these have been:[/]")
    for model, sentences in c.accuracy.items():
        console.print(f"  [dim]{model}: {' '.join(sentences)}[/]")


def register(app: typer.Typer) -> None:
    """Add ``predict``, ``backtest`` and ``customer`` to the ``regulars`` app."""
    app.command("predict")(predict_command)
    app.command("backtest")(backtest_command)
    app.command("customer")(customer_command)
