"""`regulars experiments ...`: A/B tests, holdouts, bandits and quasi-experiments, answered in money.

Wire into the main app with ``register(app)``::

    regulars experiments create NAME --arms control:0.5,offer:0.5 [--segment S | --everyone] [--stratify-by rfm]
    regulars experiments list | stop NAME
    regulars experiments assign-upload NAME FILE          # customer_id,arm[,assigned_at]
    regulars experiments assign NAME ID [ID ...] [--source journey --ref NAME]
    regulars experiments analyze NAME [--as-of DATE] [--window DAYS]
    regulars experiments plan [--metric conversion|revenue] [--lift 0.02 | --effect 2.0] [--segment S]
    regulars experiments bandit NAME [--update]
    regulars experiments uplift NAME [--learner x|t]
    regulars experiments did --treated SEGMENT --change-date DATE [--comparison SEGMENT]
    regulars experiments impact --change-date DATE [--by location --treated NAME]
"""

from __future__ import annotations

from pathlib import Path

import typer

from regulars.cli.common import (FormatOption, WorkspaceOption, console, date_option, fail, open_workspace, print_json,
                                 progress_steps, render_frame, render_summary)

experiments_app = typer.Typer(help="Experiments: create and assign A/B tests and holdouts, analyse them in money, "
                              "plan sample sizes, run bandits, measure changes that could not be randomised.",
                              no_args_is_help=True)

AsOfOption = typer.Option(None, "--as-of", help="Only data before this date (YYYY-MM-DD) counts "
                          "(default: the day after the latest data).")


def register(app: typer.Typer) -> None:
    """Add `experiments` to the main app."""
    app.add_typer(experiments_app, name="experiments")




def _errors():
    from regulars.data.experiments_store import ExperimentError
    from regulars.segments.membership import SegmentError

    return (ExperimentError, SegmentError, ValueError)


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json", "csv"):
        fail(f"unknown format {fmt!r}; use table, json or csv")


def _money(v, currency: str) -> str:
    import pandas as pd
    return "–" if v is None or pd.isna(v) else f"{v:,.2f}" + (f" {currency}" if currency else "")


@experiments_app.command("create")
def create_cmd(
    name: str = typer.Argument(..., help='A name, e.g. "Win-back 10% off".'),
    arms: str = typer.Option("control:0.5,offer:0.5", "--arms", help="Arms and their shares, adding up to 1."),
    segment: str = typer.Option(None, "--segment", help="Assign the current members of this segment now."),
    everyone: bool = typer.Option(False, "--everyone", help="Assign every customer now."),
    stratify_by: str = typer.Option(None, "--stratify-by", help="Balance the arms within each segment of this family "
                                    "(rfm, lifecycle, ...)."),
    control: str = typer.Option(None, "--control", help="The arm that does nothing (default: 'control' or 'holdout')."),
    action: str = typer.Option(None, "--action", help="The next-best-action this measures (e.g. win_back)."),
    bandit: bool = typer.Option(False, "--bandit", help="Adaptive allocation (Thompson sampling) instead of fixed shares."),
    min_share: float = typer.Option(0.05, "--min-share", help="Bandit: smallest share any arm keeps."),
    window: int = typer.Option(30, "--window", help="Days after assignment in which a purchase counts."),
    pre_days: int = typer.Option(90, "--pre-days", help="Days before assignment whose spend reduces noise (CUPED); 0 = off."),
    planned_end: str = typer.Option(None, "--planned-end", help="The date you commit to read the result (YYYY-MM-DD)."),
    planned_customers: int = typer.Option(None, "--planned-customers", help="Customers you plan to have by then."),
    description: str = typer.Option(None, "--description"),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Create an experiment; with --segment or --everyone its customers are assigned now (keyed hashing)."""
    import pandas as pd

    from regulars.jobs.experiments import create_experiment

    _check_format(format)
    with open_workspace(workspace) as ws, progress_steps("assigning customers") as say:
        say("hashing")
        try:
            out = create_experiment(ws, name, arms, segment=segment, everyone=everyone, stratify_by=stratify_by,
                                    control=control, action=action, kind="bandit" if bandit else "test",
                                    min_share=min_share, window_days=window, pre_days=pre_days,
                                    planned_end=date_option(planned_end, "--planned-end"), planned_customers=planned_customers,
                                    description=description)
        except _errors() as exc:
            fail(str(exc))
    if format == "json":
        print_json(out)
        return
    if format == "csv":  # one row per arm: how many customers it got
        render_frame(pd.DataFrame([{"experiment_id": out["experiment_id"], "arm": a, "customers": n}
                                   for a, n in (out.get("arms_assigned") or {}).items()],
                                  columns=["experiment_id", "arm", "customers"]), "csv")
    console.print(f"created experiment [bold]{out['experiment_id']}[/] (control arm: {out['control']})")
    if out["customers"]:
        console.print("assigned " + ", ".join(f"{n:,} to {a}" for a, n in out["arms_assigned"].items()))
    else:
        console.print("no customers assigned yet: `regulars experiments assign-upload`, a journey, or "
                      "`regulars experiments assign` will add them")


@experiments_app.command("list")
def list_cmd(format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Every experiment with its status and number of customers."""
    from regulars.reports.experiments import experiment_list

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        df = experiment_list(ws)
    if df.empty and format == "table":
        console.print("no experiments yet: `regulars experiments create NAME --segment S --arms control:0.5,offer:0.5`")
        return
    render_frame(df, format, title="experiments")


@experiments_app.command("stop")
def stop_cmd(name: str = typer.Argument(...), workspace: Path = WorkspaceOption) -> None:
    """Stop an experiment: it takes no more assignments (its results stay)."""
    from regulars.jobs.experiments import stop_experiment

    with open_workspace(workspace) as ws:
        try:
            stop_experiment(ws, name)
        except _errors() as exc:
            fail(str(exc))
    console.print(f"stopped {name}")


def _print_record(result, format: str) -> None:
    if format != "table":
        render_summary(result.to_dict(), format)
        return
    console.print(f"{result.rows:,} rows: {result.recorded:,} recorded, {result.already:,} already there, "
                  f"{len(result.rejected):,} rejected")
    if len(result.rejected):
        render_frame(result.rejected, "table", title="rejected rows", limit=20)


@experiments_app.command("assign-upload")
def assign_upload_cmd(name: str = typer.Argument(...), file: Path = typer.Argument(..., help="CSV: customer_id,arm[,assigned_at]."),
                      format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Record assignments made elsewhere (an e-mail tool's split, a printed mailing)."""
    from regulars.jobs.experiments import upload_assignments

    _check_format(format)
    with open_workspace(workspace) as ws:
        try:
            result = upload_assignments(ws, name, file)
        except _errors() as exc:
            fail(str(exc))
    _print_record(result, format)


@experiments_app.command("assign")
def assign_cmd(name: str = typer.Argument(...), customers: list[str] = typer.Argument(..., help="Customer ids."),
               source: str = typer.Option("api", "--source", help="journey, campaign, export, upload, regulars or api."),
               ref: str = typer.Option(None, "--ref", help="Which journey, campaign or export."),
               format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Let regulars pick (and log) the arm of these customers; the same customer always gets the same arm."""
    from regulars.jobs.experiments import assign_customers

    _check_format(format)
    with open_workspace(workspace) as ws:
        try:
            df = assign_customers(ws, name, customers, source=source, source_ref=ref)
        except _errors() as exc:
            fail(str(exc))
    render_frame(df, format, title=f"arms in {name}")


@experiments_app.command("analyze")
def analyze_cmd(
    name: str = typer.Argument(...),
    as_of: str = AsOfOption,
    window: int = typer.Option(None, "--window", help="Outcome window in days (default: the experiment's)."),
    resamples: int = typer.Option(500, "--resamples", help="Bootstrap resamples for revenue."),
    by_segment: str = typer.Option(None, "--by-segment", help="Also show the effect within each segment of this family "
                                   "(rfm, lifecycle, ...)."),
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Did it work? Conversion and revenue per customer per arm, differences in money with intervals."""
    import pandas as pd

    from regulars.reports.experiments import analyze

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws, progress_steps("analysing") as say:
        say("reading outcomes")
        try:
            report = analyze(ws, name, date_option(as_of, "--as-of"), window, resamples, by_segment=by_segment)
        except _errors() as exc:
            fail(str(exc))
    if format == "json":
        print_json(report.to_dict())
        return
    exp, r = report.experiment, report.result
    console.print(f"[bold]{exp['name']}[/] ({exp['experiment_id']}, {exp['kind']}, {exp['status']}) as of {report.as_of}: "
                  f"{report.analysed:,} customers with a complete {window or exp['window_days']}-day window")
    for note in report.notes:
        console.print(f"[dim]note:[/] {note}")
    columns = ["arm", "customers", "conversion", "conversion 95%", "revenue / customer", "revenue"]
    if r is None:
        if format == "csv":  # nothing to compare yet (the notes say why): the header alone
            render_frame(pd.DataFrame(columns=columns), "csv")
        return
    cur = r.currency
    arms = pd.DataFrame(columns=columns, data=[{"arm": a.arm, "customers": a.customers, "conversion": f"{a.conversion:.1%}",
                          "conversion 95%": f"{a.conversion_lower:.1%} – {a.conversion_upper:.1%}",
                          "revenue / customer": _money(a.revenue_per_customer, cur),
                          "revenue": _money(a.revenue_total, cur)} for a in r.arms])
    if format == "csv":
        render_frame(arms, "csv")
        return
    render_frame(arms, "table", title="arms")
    for c in r.comparisons:
        h = c.headline
        console.print(f"\n[bold]{c.arm}[/] vs {c.control}: [green]{c.sentence}[/]")
        console.print(f"  conversion {c.conversion.estimate * 100:+.2f} points ({c.conversion.lower * 100:+.2f} to "
                      f"{c.conversion.upper * 100:+.2f}); {c.p_conversion_positive:.0%} chance it is higher")
        console.print(f"  revenue per customer {_money(h.estimate, cur)}: fixed-horizon {_money(h.lower, cur)} to "
                      f"{_money(h.upper, cur)}, always-valid {_money(c.always_valid[0], cur)} to {_money(c.always_valid[1], cur)}"
                      f" (verdict uses the {c.decision_interval} interval)")
        console.print(f"  without pre-period adjustment: Welch {_money(c.revenue.lower, cur)} to {_money(c.revenue.upper, cur)}, "
                      f"bootstrap {_money(c.revenue_bootstrap.lower, cur)} to {_money(c.revenue_bootstrap.upper, cur)}")
        if c.cuped:
            console.print(f"  CUPED with pre-period spend removed {c.cuped.variance_reduction:.0%} of the variance")
        if c.by_stratum:
            render_frame(pd.DataFrame(c.by_stratum), "table", title=f"{c.arm} vs {c.control} by segment")
    p_best = ", ".join(f"{a.arm} {p:.0%}" for a, p in zip(r.arms, r.bayes_revenue.p_best))
    console.print(f"\nchance each arm brings in the most revenue: {p_best}")
    console.print(f"sample ratio: {', '.join(f'{s:.1%}' for s in r.srm.observed_shares)} "
                  f"(planned {', '.join(f'{s:.0%}' for s in r.srm.planned_shares)}; p = {r.srm.p_value:.2g})")
    for w in r.warnings:
        console.print(f"[yellow]warning:[/] {w}")


@experiments_app.command("plan")
def plan_cmd(
    metric: str = typer.Option("conversion", "--metric", help="conversion or revenue."),
    lift: float = typer.Option(0.02, "--lift", help="Conversion: the increase to detect, in rate points (0.02 = +2 points)."),
    effect: float = typer.Option(None, "--effect", help="Revenue: the increase per customer to detect (default 10% of today's)."),
    segment: str = typer.Option(None, "--segment", help="The audience (default: all customers)."),
    window: int = typer.Option(30, "--window", help="Outcome window in days."),
    treatment_share: float = typer.Option(0.5, "--treatment-share", help="Share of customers getting the action."),
    power: float = typer.Option(0.8, "--power"),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (false-positive rate)."),
    as_of: str = AsOfOption,
    format: str = FormatOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """How many customers a test needs, from the shop's own conversion and spend."""
    from regulars.reports.experiments import plan

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            p = plan(ws, metric, lift=lift, effect=effect, segment=segment, window_days=window, alpha=alpha, power=power,
                     treatment_share=treatment_share, as_of=date_option(as_of, "--as-of"))
        except _errors() as exc:
            fail(str(exc))
    if format != "table":
        render_summary(p.to_dict(), format)
    else:
        console.print(p.sentence)


@experiments_app.command("bandit")
def bandit_cmd(name: str = typer.Argument(...), update: bool = typer.Option(False, "--update", help="Store the new shares."),
               as_of: str = AsOfOption, format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """A bandit's variants: conversions, chance of being best, regret, and the next shares."""
    import pandas as pd

    from regulars.jobs.experiments import update_bandit
    from regulars.reports.experiments import bandit_report

    _check_format(format)
    with open_workspace(workspace, read_only=not update) as ws:
        try:
            if update:
                update_bandit(ws, name, date_option(as_of, "--as-of"))
            report = bandit_report(ws, name, date_option(as_of, "--as-of"))
        except _errors() as exc:
            fail(str(exc))
    d = report.to_dict()
    if format == "json":
        print_json(d)
        return
    df = pd.DataFrame({"variant": d["variants"], "customers": d["customers"], "conversions": d["conversions"],
                       "chance best": [f"{p:.0%}" for p in d["p_best"]], "next share": [f"{s:.0%}" for s in d["next_shares"]]})
    render_frame(df, format, title=f"bandit {report.experiment_id}")
    if format == "table":
        console.print(d["sentence"] + ("" if update else " (`--update` stores the next shares)"))


@experiments_app.command("uplift")
def uplift_cmd(name: str = typer.Argument(...), learner: str = typer.Option("x", "--learner", help="x or t."),
               outcome: str = typer.Option("conversion", "--outcome", help="conversion or revenue."),
               as_of: str = AsOfOption, format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Who responds because of the action: an uplift model on the experiment, checked on held-out customers."""
    from regulars.reports.causal import uplift_report

    _check_format(format)
    if learner not in ("x", "t") or outcome not in ("conversion", "revenue"):
        fail("--learner is x or t; --outcome is conversion or revenue")
    with open_workspace(workspace, read_only=True) as ws, progress_steps("fitting uplift models") as say:
        say("features and learners")
        try:
            r = uplift_report(ws, name, learner, "binary" if outcome == "conversion" else "continuous",
                              as_of=date_option(as_of, "--as-of"))
        except _errors() as exc:
            fail(str(exc))
    if format != "table":
        render_summary(r.to_dict(), format)
        return
    console.print(r.sentence)
    console.print(f"targeting the top 30% by predicted uplift reaches {r.top_share_gain:.0%} of the incremental "
                  f"responses (trained on {r.train_customers:,}, checked on {r.test_customers:,} customers)")


def _print_assumptions(d: dict) -> None:
    console.print("[dim]this answer is causal only if:[/]")
    for a in d["assumptions"]:
        console.print(f"  - {a}")
    for w in d.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}")


@experiments_app.command("did")
def did_cmd(treated: str = typer.Option(..., "--treated", help="Segment that got the change."),
            change_date: str = typer.Option(..., "--change-date", help="YYYY-MM-DD"),
            comparison: str = typer.Option(None, "--comparison", help="Comparison segment (default: everyone else who had bought)."),
            weeks_before: int = typer.Option(12, "--weeks-before"), weeks_after: int = typer.Option(8, "--weeks-after"),
            format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Difference-in-differences of weekly spend, with a pre-trend check (e.g. did the loyalty club raise spend?)."""
    from regulars.reports.causal import did_report

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws:
        try:
            r = did_report(ws, treated, date_option(change_date, "--change-date"), comparison, weeks_before, weeks_after)
        except _errors() as exc:
            fail(str(exc))
    d = r.to_dict()
    if format != "table":
        render_summary(d, format)
        return
    console.print(r.sentence)
    console.print(f"{d['treated_units']:,} customers in {d['treated']}, {d['comparison_units']:,} in the comparison group; "
                  f"pre-trend gap {d['pre_trend_gap']:+.2f} per week (p = {d['pre_trend_p']:.2g})")
    _print_assumptions(d)


@experiments_app.command("impact")
def impact_cmd(change_date: str = typer.Option(..., "--change-date", help="YYYY-MM-DD"),
               before: int = typer.Option(56, "--before", help="Periods before the change to learn from."),
               after: int = typer.Option(28, "--after", help="Periods after the change to measure."),
               unit: str = typer.Option("day", "--unit", help="day or week."),
               by: str = typer.Option(None, "--by", help="location or channel: compare the treated one with the others."),
               treated: str = typer.Option(None, "--treated", help="With --by: the location/channel that changed."),
               format: str = FormatOption, workspace: Path = WorkspaceOption) -> None:
    """Effect of a shop-level change (a price change, new opening hours) on net revenue, against a counterfactual."""
    from regulars.reports.causal import impact_report

    _check_format(format)
    with open_workspace(workspace, read_only=True) as ws, progress_steps("fitting the counterfactual") as say:
        say("series")
        try:
            r = impact_report(ws, date_option(change_date, "--change-date"), before, after, unit, by, treated)
        except _errors() as exc:
            fail(str(exc))
    d = r.to_dict()
    if format != "table":
        render_summary(d, format)
        return
    console.print(r.sentence)
    if d["weights"]:
        console.print("built from: " + ", ".join(f"{k} {v:.0%}" for k, v in d["weights"].items() if v >= 0.005))
    _print_assumptions(d)
