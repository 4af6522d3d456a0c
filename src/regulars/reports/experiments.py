"""Read-side experiment reports for the CLI, the API and the dashboard: the list, one experiment's
analysis in money, sample-size planning on the shop's own numbers, a bandit's regret, and the
measured response uplift per action that next-best-action consumes.

Outcomes come from :mod:`regulars.features.outcomes` (the mart's definition of a purchase and of
net revenue), the statistics from :mod:`regulars.experiments`. Nothing here shows a customer: only
per-arm aggregates, so viewers see the same report as analysts.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> experiment_list(ws).empty
True
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pandas as pd

from regulars.data import experiments_store as store
from regulars.experiments.power import Plan, plan_mean, plan_rate

if TYPE_CHECKING:  # imported where used: planning a test needs none of them (SciPy, LightGBM, scikit-learn)
    from regulars.experiments.analysis import ExperimentResult
    from regulars.experiments.bandit import RegretReport
    from regulars.experiments.uplift import ActionUplift, ResponseUplift
from regulars.features.mart import resolve_as_of
from regulars.features.outcomes import experiment_outcomes, pending_customers, window_outcomes

__all__ = ["BanditReport", "ExperimentReport", "analyze", "bandit_report", "experiment_list", "measured_uplift",
           "plan", "response_uplift_for"]


def experiment_list(ws) -> pd.DataFrame:
    """Every experiment: id, name, kind, status, arms and shares, action, segment, dates, customers assigned."""
    df = store.list_experiments(ws)
    df["arms"] = [" / ".join(f"{a['name']} {a['share']:.0%}" for a in json.loads(v)) for v in df["arms"]]
    df["starts_at"] = [str(v)[:10] for v in df["starts_at"]]
    df["planned_end"] = [None if pd.isna(v) else str(v)[:10] for v in df["planned_end"]]
    return df[["experiment_id", "name", "kind", "status", "arms", "customers", "starts_at", "planned_end", "window_days",
               "action", "segment_id"]]


def _public(exp: dict) -> dict:
    return {k: (str(v) if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in exp.items() if k != "salt"}


@dataclass
class ExperimentReport:
    """One experiment analysed as of a date (``result`` is None while no window is complete)."""

    experiment: dict
    as_of: dt.date
    analysed: int
    pending: int
    result: ExperimentResult | None
    notes: list[str] = field(default_factory=list)

    @property
    def sentences(self) -> list[str]:
        return [c.sentence for c in self.result.comparisons] if self.result else []

    def to_dict(self) -> dict:
        return {"experiment": _public(self.experiment), "as_of": str(self.as_of), "analysed_customers": self.analysed,
                "pending_customers": self.pending, "sentences": self.sentences, "notes": self.notes,
                "result": self.result.to_dict() if self.result else None}


def _outcomes(ws, exp: dict, as_of: dt.date, window_days: int) -> pd.DataFrame:
    return ws.frame(experiment_outcomes(ws, exp["experiment_id"], window_days, exp["pre_days"], as_of))


def analyze(ws, name: str, as_of=None, window_days: int | None = None, n_resamples: int = 500,
            seed: int = 0, by_segment: str | None = None) -> ExperimentReport:
    """Analyse *name* with every customer whose window (default: the experiment's) is over by *as_of*
    (default: the day after the latest data).

    Effects per segment are given for a stratified experiment (its strata), or with *by_segment*
    (a segment family such as ``rfm`` or ``lifecycle``: each customer's current segment in it).
    """
    exp = store.get(ws, name)
    as_of = resolve_as_of(ws, as_of)
    window = int(window_days or exp["window_days"])
    frame = _outcomes(ws, exp, as_of, window)
    pending = int(ws.execute(pending_customers(ws, exp["experiment_id"], window, as_of)))
    notes = []
    if pending:
        notes.append(f"{pending:,} assigned customers are still inside their {window}-day window and are not counted yet")
    if exp["pre_days"] == 0 and len(frame):
        frame = frame.drop(columns="pre_revenue")
    if by_segment:
        strata = store.audience(ws, None, by_segment)
        frame = frame.drop(columns="stratum").merge(strata, on="customer_id", how="left")
        frame["stratum"] = frame["stratum"].fillna("(none)")
    elif not exp["stratify_by"]:
        frame = frame.drop(columns="stratum")
    shares = {a["name"]: a["share"] for a in exp["arms"]}
    if exp["kind"] == "bandit":
        shares = {a: 1.0 for a in shares}  # allocation changes over time: no fixed ratio to check
        notes.append("bandit: arm sizes follow the adaptive allocation, so the sample-ratio check does not apply; "
                     "estimates of arms that were starved early are less precise")
    from regulars.experiments.analysis import analyse

    currency = store.dominant_currency(ws)
    try:
        result = analyse(frame, exp["control_arm"], shares, n_resamples=n_resamples, seed=seed, currency=currency,
                         as_of=as_of, planned_end=exp["planned_end"], planned_customers=exp["planned_customers"])
    except ValueError as exc:
        notes.append(str(exc))
        result = None
    if result is not None and exp["kind"] == "bandit":
        result.warnings = [w for w in result.warnings if not w.startswith("sample-ratio")]
    return ExperimentReport(exp, as_of, len(frame), pending, result, notes)


def _audience(ws, segment: str | None):
    if not segment:
        return ws.table("customers"), None, "the shop"
    from regulars.segments.membership import get_segment

    seg = get_segment(ws, segment)
    m = ws.table("segment_memberships")
    return m.filter(m.segment_id == seg["segment_id"]), seg["segment_id"], f"your {seg['name']} segment"


def plan(ws, metric: str = "conversion", lift: float | None = None, effect: float | None = None,
         segment: str | None = None, window_days: int = 30, alpha: float = 0.05, power: float = 0.8,
         treatment_share: float = 0.5, as_of=None) -> Plan:
    """Sample size for a test on *segment* (or all customers), from the shop's own last
    *window_days*: its conversion rate, or the mean and spread of revenue per customer.

    *lift* is in rate points for conversion (0.02 = +2 points); *effect* in money per customer.
    """
    as_of = resolve_as_of(ws, as_of)
    audience, segment_id, population = _audience(ws, segment)
    base = ws.frame(window_outcomes(ws, audience, as_of - dt.timedelta(days=window_days), as_of))
    if len(base) < 10:
        raise ValueError("fewer than 10 customers in this audience: nothing to plan on yet")
    inflow = store.weekly_inflow(ws, segment_id)
    if metric == "conversion":
        rate = float(base["converted"].mean())
        who = "the shop's customers" if segment_id is None else population
        source = f"the share of {who} who bought in the last {window_days} days"
        if rate == 0:  # a lapsed audience (a win-back test): the rate of comparable lapsed customers before
            from regulars.reports.lapsed_baseline import lapsed_baseline

            lapsed = lapsed_baseline(ws, base["customer_id"], as_of, window_days)
            rate, source = lapsed.rate, lapsed.source
        elif rate == 1:
            raise ValueError(f"everybody in this audience bought in the last {window_days} days; "
                             "plan on a revenue metric or a shorter window")
        planned = plan_rate(rate, lift if lift is not None else 0.02, alpha, power, treatment_share, len(base),
                            inflow, population)
        return replace(planned, baseline_source=source,
                       sentence=f"{planned.sentence} Base rate {rate:.1%}: {source}.")
    if metric == "revenue":
        mean, sd = float(base["revenue"].mean()), float(base["revenue"].std(ddof=1))
        effect = effect if effect is not None else round(0.1 * mean, 2) or 1.0
        return plan_mean(mean, sd, effect, store.dominant_currency(ws), alpha, power, treatment_share, len(base),
                         inflow, population)
    raise ValueError("metric must be conversion or revenue")


@dataclass
class BanditReport:
    experiment_id: str
    as_of: dt.date
    regret: RegretReport
    revenue_per_conversion: float
    currency: str
    history: list[dict]

    def to_dict(self) -> dict:
        unit = f" {self.currency}" if self.currency else ""
        r = self.regret
        return {"experiment_id": self.experiment_id, "as_of": str(self.as_of), **r.to_dict(),
                "revenue_per_conversion": self.revenue_per_conversion, "history": self.history,
                "sentence": (f"So far the allocation lost about {r.regret:,.1f} conversions against always sending the best "
                             f"variant (at most {r.regret_upper:,.1f}; an even split would have lost {r.uniform_regret:,.1f}), "
                             f"about {r.regret * self.revenue_per_conversion:,.2f}{unit}.")}


def bandit_report(ws, name: str, as_of=None, seed: int = 0) -> BanditReport:
    """Conversions per variant (customers whose window is over), P(best), regret and next shares."""
    exp = store.get(ws, name)
    if exp["kind"] != "bandit":
        raise ValueError(f"experiment {exp['experiment_id']!r} is a fixed test, not a bandit")
    as_of = resolve_as_of(ws, as_of)
    frame = _outcomes(ws, exp, as_of, exp["window_days"])
    variants = [a["name"] for a in exp["arms"]]
    g = frame.groupby("arm").agg(n=("converted", "size"), x=("converted", "sum"), rev=("revenue", "sum"))
    g = g.reindex(variants).fillna(0)
    from regulars.experiments.bandit import regret_report

    report = regret_report(variants, g["x"].astype(int), g["n"].astype(int), exp["min_share"] or 0.05, seed=seed)
    buyers = frame.loc[frame["converted"].astype(bool), "revenue"]
    history = json.loads(store.allocations(ws, exp["experiment_id"]).to_json(orient="records", date_format="iso"))
    return BanditReport(exp["experiment_id"], as_of, report, float(buyers.mean()) if len(buyers) else 0.0,
                        store.dominant_currency(ws), history)


def measured_uplift(ws, as_of=None) -> list[ActionUplift]:
    """Per experiment that measures an action: its conversion uplift over the control (treatment
    arms pooled), on customers whose window is over. Feed to :func:`response_uplift`."""
    from regulars.experiments.bayes import rate_posteriors
    from regulars.experiments.estimates import rate_difference
    from regulars.experiments.uplift import ActionUplift

    as_of = resolve_as_of(ws, as_of)
    out = []
    for row in store.list_experiments(ws).itertuples():
        if not row.action:
            continue
        exp = store.get(ws, row.experiment_id)
        frame = _outcomes(ws, exp, as_of, exp["window_days"])
        treated = frame["arm"] != exp["control_arm"]
        n_t, n_c = int(treated.sum()), int((~treated).sum())
        if min(n_t, n_c) < 2:
            continue
        conv = frame["converted"].astype(bool)
        d = rate_difference(int(conv[treated].sum()), n_t, int(conv[~treated].sum()), n_c)
        p = rate_posteriors([int(conv[~treated].sum()), int(conv[treated].sum())], [n_c, n_t]).p_beats_first[1]
        out.append(ActionUplift(exp["action"], exp["experiment_id"], d.estimate, d.lower, d.upper, n_t, n_c, p, str(as_of)))
    return out


def response_uplift_for(ws, priors: dict[str, float], min_customers: int = 1000, as_of=None) -> dict[str, ResponseUplift]:
    """The response uplift next-best-action should use per action: measured by experiments where one
    has at least *min_customers* per side, else the configured prior (see
    :func:`regulars.experiments.uplift.response_uplift`)."""
    from regulars.experiments.uplift import response_uplift

    return response_uplift(priors, measured_uplift(ws, as_of), min_customers)


