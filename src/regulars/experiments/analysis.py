"""Analyse an experiment from one row per assigned customer: every arm against the control.

Input: a frame with ``arm``, ``converted`` (0/1: a purchase in the customer's window),
``revenue`` (net revenue in the window, refunds deducted) and, when available, ``pre_revenue``
(net spend in the same number of days before assignment) and ``stratum``. For each treatment arm:

- **conversion**: difference of rates with Newcombe's Wilson-score interval
  (:func:`~regulars.experiments.estimates.rate_difference`), Beta posteriors;
- **revenue per customer**: Welch interval on the raw values, a percentile bootstrap (skewed,
  mostly-zero revenue) and Welch on CUPED-adjusted values (:mod:`~regulars.experiments.cuped`),
  whose variance reduction is reported; normal posteriors of the (adjusted) means;
- **peeking guard**: the always-valid interval (:mod:`~regulars.experiments.sequential`) next to
  the fixed-horizon one. Before the planned end date (or without one) the always-valid interval
  is the one the verdict uses, and a warning names the planned end date;
- **sample-ratio mismatch** (:mod:`~regulars.experiments.srm`) over all arms;
- **per-segment effects** when a stratum is given (CUPED Welch within each stratum).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> n = 20000
>>> arm = np.where(rng.random(n) < 0.5, "control", "offer")
>>> pre = rng.binomial(1, 0.3, n) * rng.gamma(2, 30, n)
>>> buy = rng.random(n) < np.where(arm == "offer", 0.14, 0.12)
>>> rev = buy * (rng.gamma(2, 20, n) + 0.3 * pre)
>>> frame = pd.DataFrame({"arm": arm, "converted": buy, "revenue": rev, "pre_revenue": pre})
>>> res = analyse(frame, control="control", shares={"control": 0.5, "offer": 0.5}, currency="EUR")
>>> c = res.comparisons[0]
>>> c.arm, c.decision_interval, res.srm.mismatch
('offer', 'always-valid', False)
>>> c.cuped.variance_reduction > 0
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from regulars.experiments.bayes import BayesView, mean_posteriors, rate_posteriors
from regulars.experiments.cuped import CupedFit, cuped
from regulars.experiments.estimates import Difference, bootstrap_difference, rate_difference, rate_interval, welch_difference
from regulars.experiments.sequential import always_valid_p, confidence_sequence, mixture_variance
from regulars.experiments.srm import SampleRatio, sample_ratio_check

__all__ = ["ArmSummary", "Comparison", "ExperimentResult", "analyse", "chance", "sentence"]

#: Below this many buyers in an arm, revenue intervals are flagged as rough.
FEW_BUYERS = 50
NOTHING_ARMS = ("control", "holdout", "hold-out", "nothing", "none", "no_action")


@dataclass
class ArmSummary:
    arm: str
    customers: int
    conversion: float
    conversion_lower: float
    conversion_upper: float
    revenue_per_customer: float
    revenue_total: float
    pre_revenue_per_customer: float | None


@dataclass
class Comparison:
    """One treatment arm against the control."""

    arm: str
    control: str
    conversion: Difference
    revenue: Difference               # Welch on raw revenue
    revenue_bootstrap: Difference
    revenue_cuped: Difference | None  # Welch on CUPED-adjusted revenue
    cuped: CupedFit | None
    always_valid: tuple[float, float]  # interval on the headline revenue difference, valid at any look
    always_valid_p: float
    decision_interval: str             # "fixed-horizon" or "always-valid"
    p_positive: float                  # posterior probability the revenue difference is > 0
    p_conversion_positive: float
    by_stratum: list[dict] = field(default_factory=list)
    sentence: str = ""

    @property
    def headline(self) -> Difference:
        return self.revenue_cuped or self.revenue

    @property
    def interval(self) -> tuple[float, float]:
        h = self.headline
        return self.always_valid if self.decision_interval == "always-valid" else (h.lower, h.upper)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["headline_method"] = "CUPED (pre-period spend) + Welch" if self.revenue_cuped else "Welch"
        d["interval"] = list(self.interval)
        d["estimate"] = self.headline.estimate
        return d


@dataclass
class ExperimentResult:
    arms: list[ArmSummary]
    comparisons: list[Comparison]
    srm: SampleRatio
    bayes_revenue: BayesView
    bayes_conversion: BayesView
    confidence: float
    currency: str
    warnings: list[str]

    def to_dict(self) -> dict:
        return {"arms": [asdict(a) for a in self.arms], "comparisons": [c.to_dict() for c in self.comparisons],
                "srm": self.srm.to_dict(), "bayes_revenue": self.bayes_revenue.to_dict(),
                "bayes_conversion": self.bayes_conversion.to_dict(), "confidence": self.confidence,
                "currency": self.currency, "warnings": self.warnings}


def _money(v: float, currency: str) -> str:
    return f"{abs(v):,.2f}" + (f" {currency}" if currency else "")


def sentence(arm: str, control: str, estimate: float, interval: tuple[float, float], p_positive: float,
             currency: str = "") -> str:
    """The result as a shop owner reads it.

    >>> sentence("10% off", "control", 2.1, (0.4, 3.8), 0.94, "EUR")
    "'10% off' brought in 2.10 EUR per customer more than doing nothing, between 0.40 EUR and 3.80 EUR; 94% chance it is positive."
    """
    against = "doing nothing" if control.lower() in NOTHING_ARMS else f"'{control}'"
    more = "more" if estimate >= 0 else "less"
    lo, hi = interval
    span = f"between {'-' if lo < 0 else ''}{_money(lo, currency)} and {'-' if hi < 0 else ''}{_money(hi, currency)}"
    return (f"'{arm}' brought in {_money(estimate, currency)} per customer {more} than {against}, {span}; "
            f"{chance(p_positive)} chance it is positive.")


def chance(p: float) -> str:
    """A probability as a shop owner reads it, never a false certainty.

    >>> chance(0.9412), chance(0.9999), chance(0.00001)
    ('94%', 'over 99%', 'under 1%')
    """
    if p > 0.99:
        return "over 99%"
    if p < 0.01:
        return "under 1%"
    return f"{p:.0%}"


def _check(frame: pd.DataFrame, control: str, shares: dict[str, float]) -> None:
    missing = {"arm", "converted", "revenue"} - set(frame.columns)
    if missing:
        raise ValueError(f"outcomes need the columns arm, converted, revenue; missing: {', '.join(sorted(missing))}")
    if control not in shares:
        raise ValueError(f"the control arm {control!r} is not one of the arms: {', '.join(shares)}")


def analyse(frame: pd.DataFrame, control: str, shares: dict[str, float], *, confidence: float = 0.95,
            n_resamples: int = 500, seed: int = 0, currency: str = "", as_of: dt.date | None = None,
            planned_end: dt.date | None = None, planned_customers: int | None = None) -> ExperimentResult:
    """Compare every arm of *shares* with *control* (see the module docstring).

    Parameters
    ----------
    frame : DataFrame
        One row per customer whose window is complete: ``arm, converted, revenue``
        [, ``pre_revenue``, ``stratum``].
    control : str
        The arm that did nothing (or the current practice).
    shares : dict
        Planned share of each arm (for the sample-ratio check; every arm, in display order).
    planned_end, planned_customers : optional
        The fixed horizon decided in advance. Before *planned_end* (compared with *as_of*) the
        verdict uses the always-valid interval; *planned_customers* tunes it to be narrowest there.
    """
    _check(frame, control, shares)
    names = list(shares)
    arm = frame["arm"].to_numpy()
    conv = frame["converted"].to_numpy(dtype=float)
    rev = frame["revenue"].to_numpy(dtype=float)
    has_pre = "pre_revenue" in frame.columns
    adjusted, fit = (cuped(rev, frame["pre_revenue"].to_numpy(dtype=float)) if has_pre else (None, None))
    codes = pd.Categorical(arm, categories=names).codes
    masks = [codes == k for k in range(len(names))]
    counts = [int(m.sum()) for m in masks]
    srm = sample_ratio_check(counts, [shares[a] for a in names])
    warnings = []
    if srm.mismatch:
        warnings.append(f"sample-ratio mismatch: the arms hold {', '.join(f'{s:.1%}' for s in srm.observed_shares)} of "
                        f"customers instead of {', '.join(f'{s:.0%}' for s in srm.planned_shares)} (p = {srm.p_value:.2g}); "
                        "something lost or added customers in one arm, so these results cannot be trusted")
    arms = []
    for name, m, n in zip(names, masks, counts):
        x = int(conv[m].sum())
        lo, hi = rate_interval(x, n, confidence) if n else (float("nan"), float("nan"))
        arms.append(ArmSummary(name, n, x / n if n else float("nan"), lo, hi, float(rev[m].mean()) if n else float("nan"),
                               float(rev[m].sum()), float(frame["pre_revenue"].to_numpy(dtype=float)[m].mean())
                               if has_pre and n else None))
    if counts[names.index(control)] < 2 or sum(c >= 2 for c in counts) < 2:
        raise ValueError("not enough customers yet: every compared arm needs at least 2 customers whose window is over")
    buyers = {a.arm: int(round(a.conversion * a.customers)) for a in arms if a.customers}
    few = [f"{a} ({b})" for a, b in buyers.items() if b < FEW_BUYERS]
    if few:
        warnings.append(f"few buyers so far in {', '.join(few)}: with skewed revenue the intervals are rough until each arm "
                        f"has about {FEW_BUYERS} buyers")
    headline = adjusted if adjusted is not None else rev
    means = [float(headline[m].mean()) if n else 0.0 for m, n in zip(masks, counts)]
    ses = [float(headline[m].std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf") for m, n in zip(masks, counts)]
    bayes_rev = mean_posteriors(means, ses, seed=seed)
    bayes_conv = rate_posteriors([a.conversion * a.customers if a.customers else 0 for a in arms], counts, seed=seed)
    early = planned_end is None or as_of is None or as_of < planned_end
    if early and planned_end is not None:
        warnings.append(f"this is an early look: the test was planned to run until {planned_end:%Y-%m-%d}. Until then the "
                        "verdict uses the always-valid interval (wider), which stays honest however often you look; the "
                        "fixed-horizon interval is only valid on the planned end date")
    comparisons = []
    c_mask = masks[names.index(control)]
    for k, name in enumerate(names):
        if name == control or counts[k] < 2:
            continue
        t_mask = masks[k]
        conv_d = rate_difference(int(conv[t_mask].sum()), counts[k], int(conv[c_mask].sum()), int(c_mask.sum()), confidence)
        raw = welch_difference(rev[t_mask], rev[c_mask], confidence)
        boot = bootstrap_difference(rev[t_mask], rev[c_mask], n_resamples, confidence, seed=seed + k)
        adj = welch_difference(adjusted[t_mask], adjusted[c_mask], confidence) if adjusted is not None else None
        head = adj or raw
        variance = head.se ** 2
        planned_var = variance
        if planned_customers:
            per_customer = variance / (1 / counts[k] + 1 / int(c_mask.sum()))
            share_t, share_c = shares[name], shares[control]
            total_share = sum(shares.values())
            planned_var = per_customer * (total_share / (share_t * planned_customers) + total_share / (share_c * planned_customers))
        tau2 = mixture_variance(planned_var, 1 - confidence)
        cs = confidence_sequence(head.estimate, variance, tau2, 1 - confidence)
        comp = Comparison(
            arm=name, control=control, conversion=conv_d, revenue=raw, revenue_bootstrap=boot, revenue_cuped=adj, cuped=fit,
            always_valid=cs, always_valid_p=always_valid_p(head.estimate, variance, tau2),
            decision_interval="always-valid" if early else "fixed-horizon",
            p_positive=_p_beats(means, ses, k, names.index(control)),
            p_conversion_positive=_p_rate(arms[k], arms[names.index(control)], seed),
            by_stratum=_by_stratum(frame, t_mask, c_mask, headline, confidence) if "stratum" in frame.columns else [])
        comp.sentence = sentence(name, control, head.estimate, comp.interval, comp.p_positive, currency)
        comparisons.append(comp)
    return ExperimentResult(arms, comparisons, srm, bayes_rev, bayes_conv, confidence, currency, warnings)


def _p_beats(means, ses, k: int, c: int) -> float:
    """Posterior P(mean_k > mean_c) under the arms' independent normal posteriors."""
    return float(stats.norm.cdf((means[k] - means[c]) / np.hypot(ses[k], ses[c])))


def _p_rate(t: ArmSummary, c: ArmSummary, seed: int) -> float:
    v = rate_posteriors([round(c.conversion * c.customers), round(t.conversion * t.customers)], [c.customers, t.customers],
                        seed=seed)
    return v.p_beats_first[1]


def _by_stratum(frame: pd.DataFrame, t_mask, c_mask, values: np.ndarray, confidence: float) -> list[dict]:
    strata = frame["stratum"].astype("string").fillna("(none)").to_numpy()
    rows = []
    for s in pd.unique(strata):
        in_s = strata == s
        t, c = values[t_mask & in_s], values[c_mask & in_s]
        if len(t) < 2 or len(c) < 2:
            rows.append({"stratum": str(s), "treatment": len(t), "control": len(c), "estimate": None, "lower": None,
                         "upper": None})
            continue
        d = welch_difference(t, c, confidence)
        rows.append({"stratum": str(s), "treatment": len(t), "control": len(c), "estimate": d.estimate,
                     "lower": d.lower, "upper": d.upper})
    return sorted(rows, key=lambda r: -(r["treatment"] + r["control"]))
