"""Quasi-experiments, for changes that could not be randomised.

- :func:`difference_in_differences`: a group that got the change (e.g. loyalty-programme
  members) against a comparison group, before and after. Each unit's after-minus-before change
  is computed first, so the interval (Welch, between groups) is robust to any correlation of a
  unit's periods (the 2x2 estimator with unit-clustered errors, Bertrand et al. 2004). A
  **pre-trend check** compares the groups' slopes over the before periods; different slopes
  mean the comparison group does not show what would have happened, and the answer says so.
- :func:`synthetic_control`: one treated series (a store, a region, a category) against a
  weighted mix of untouched ones fitted on the before period (Abadie et al. 2010), with a
  placebo test (each donor pretending to be treated).
- :func:`structural_counterfactual`: the series' own trend and seasonality (and any untouched
  control series) fitted on the before period as a structural time-series model, forecast
  over the after period as the counterfactual (Brodersen et al. 2015's CausalImpact idea with
  statsmodels' ``UnobservedComponents``, maximum likelihood rather than spike-and-slab MCMC).

Each result carries ``assumptions``: the conditions under which its answer is causal.

References
----------
- Angrist, J. D. & Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, chapter 5.
- Bertrand, M., Duflo, E. & Mullainathan, S. (2004). "How much should we trust
  differences-in-differences estimates?". *Quarterly Journal of Economics* 119(1), 249-275.
- Abadie, A., Diamond, A. & Hainmueller, J. (2010). "Synthetic control methods for comparative
  case studies". *JASA* 105(490), 493-505.
- Brodersen, K. H., Gallusser, F., Koehler, J., Remy, N. & Scott, S. L. (2015). "Inferring causal
  impact using Bayesian structural time-series models". *Annals of Applied Statistics* 9(1), 247-274.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.gamma(1.0, 10.0, size=(4000, 12))           # 4,000 customers, 12 weeks of spend
>>> treated = np.arange(4000) < 1000
>>> y[treated, 8:] += 3.0                                   # the programme adds 3.00 a week from week 8
>>> r = difference_in_differences(y, treated, first_post=8)
>>> r.lower < 3.0 < r.upper, r.pre_trend_differs
(True, False)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, stats

from regulars.experiments.estimates import welch_difference

__all__ = ["Counterfactual", "DiDResult", "difference_in_differences", "structural_counterfactual", "synthetic_control"]

DID_ASSUMPTIONS = [
    "parallel trends: without the change, both groups would have moved alike (checked on the before periods)",
    "no anticipation: nobody changed behaviour before the change date",
    "no spill-over: the change did not affect the comparison group",
    "stable groups: who is in each group does not depend on the change",
]
SYNTH_ASSUMPTIONS = [
    "the untouched series were not affected by the change",
    "a fixed mix of them tracked the treated series before the change and would have kept doing so",
    "nothing else happened to the treated series alone at the change date",
]
STS_ASSUMPTIONS = [
    "trend and seasonality learned before the change would have continued without it",
    "control series (if any) were not affected by the change",
    "nothing else changed at the same time (a holiday, a stock-out, a competitor's sale)",
]


@dataclass
class DiDResult:
    estimate: float             # effect per unit and period
    lower: float
    upper: float
    p_value: float
    treated_units: int
    comparison_units: int
    pre_periods: int
    post_periods: int
    pre_trend_gap: float        # difference of slopes (treated - comparison) per period, before
    pre_trend_p: float
    pre_trend_differs: bool
    gaps: list[float]           # treated mean - comparison mean per period, minus that of the last before period
    assumptions: list[str] = field(default_factory=lambda: list(DID_ASSUMPTIONS))
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def difference_in_differences(y, treated, first_post: int, confidence: float = 0.95,
                              pre_trend_alpha: float = 0.05) -> DiDResult:
    """Difference-in-differences on a balanced panel.

    Parameters
    ----------
    y : array (units, periods)
        Outcome per unit and period (e.g. a customer's weekly net spend).
    treated : bool array (units,)
        Which units got the change.
    first_post : int
        Index of the first period after the change.
    """
    y = np.asarray(y, dtype=float)
    g = np.asarray(treated).astype(bool)
    if y.ndim != 2 or len(g) != len(y):
        raise ValueError("y needs one row per unit and one column per period; treated one flag per unit")
    if not 2 <= first_post < y.shape[1]:
        raise ValueError("difference-in-differences needs at least 2 periods before the change and 1 after")
    if g.sum() < 2 or (~g).sum() < 2:
        raise ValueError("each group needs at least 2 units")
    change = y[:, first_post:].mean(axis=1) - y[:, :first_post].mean(axis=1)
    d = welch_difference(change[g], change[~g], confidence)
    t = np.arange(first_post, dtype=float)
    tc = t - t.mean()
    slopes = (y[:, :first_post] - y[:, :first_post].mean(axis=1, keepdims=True)) @ tc / (tc @ tc)
    trend = welch_difference(slopes[g], slopes[~g], confidence)
    gap = y[g].mean(axis=0) - y[~g].mean(axis=0)
    differs = trend.p_value < pre_trend_alpha
    warnings = []
    if differs:
        warnings.append(f"pre-trends differ: before the change the treated group drifted by {trend.estimate:+.2f} per period "
                        f"against the comparison group (p = {trend.p_value:.2g}); the comparison group does not show "
                        "what would have happened, so read the estimate with great caution")
    return DiDResult(d.estimate, d.lower, d.upper, d.p_value, int(g.sum()), int((~g).sum()), first_post,
                     y.shape[1] - first_post, trend.estimate, trend.p_value, differs,
                     (gap - gap[first_post - 1]).tolist(), warnings=warnings)


@dataclass
class Counterfactual:
    """Observed series against what would have happened without the change."""

    method: str
    observed: list[float]
    counterfactual: list[float]
    lower: list[float]          # per-period interval of the counterfactual
    upper: list[float]
    first_post: int
    effect: float               # sum over the after periods of observed - counterfactual
    effect_lower: float
    effect_upper: float
    relative_effect: float      # effect / sum of the counterfactual after the change
    p_value: float
    pre_fit_rmse: float
    weights: dict[str, float] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _synth_weights(target: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to one that best reproduce *target* from *donors* (columns)."""
    j = donors.shape[1]
    scale = max(float(np.abs(target).max()), 1.0) * 100
    A = np.vstack([donors, np.full((1, j), scale)])
    b = np.concatenate([target, [scale]])
    w, _ = optimize.nnls(A, b)
    return w / w.sum() if w.sum() > 0 else np.full(j, 1 / j)


def synthetic_control(treated, donors, first_post: int, donor_names=None, confidence: float = 0.95) -> Counterfactual:
    """Abadie-Diamond-Hainmueller synthetic control for one treated series.

    The p-value is the placebo test's: the share of series (the treated one and every donor
    treated as if it had changed) whose after/before prediction-error ratio is at least the
    treated one's. The effect interval comes from the placebos' effects (their spread when nothing
    happened); with few donors it is coarse, and the warning says so.
    """
    y = np.asarray(treated, dtype=float)
    X = np.asarray(donors, dtype=float)
    if X.ndim != 2 or X.shape[0] != len(y) or X.shape[1] < 2:
        raise ValueError("synthetic control needs the treated series and at least 2 untouched series of the same length")
    if not 3 <= first_post < len(y):
        raise ValueError("synthetic control needs at least 3 periods before the change and 1 after")
    names = list(donor_names) if donor_names is not None else [f"series {i + 1}" for i in range(X.shape[1])]
    w = _synth_weights(y[:first_post], X[:first_post])
    synth = X @ w
    gap = y - synth

    def ratio(g):
        pre = np.sqrt(np.mean(g[:first_post] ** 2))
        return np.sqrt(np.mean(g[first_post:] ** 2)) / max(pre, 1e-12)

    placebo_ratios, placebo_effects = [], []
    for k in range(X.shape[1]):
        others = np.delete(X, k, axis=1)
        pk = X[:, k] - others @ _synth_weights(X[:first_post, k], others[:first_post])
        placebo_ratios.append(ratio(pk))
        placebo_effects.append(pk[first_post:].sum())
    p = (1 + sum(r >= ratio(gap) for r in placebo_ratios)) / (1 + len(placebo_ratios))
    effect = float(gap[first_post:].sum())
    spread = np.quantile(np.abs(placebo_effects), confidence) if placebo_effects else np.nan
    cf_post = synth[first_post:].sum()
    warnings = []
    if X.shape[1] < 1 / (1 - confidence) - 1:
        warnings.append(f"only {X.shape[1]} untouched series: the placebo test cannot reach {1 - confidence:.0%} "
                        f"significance (smallest possible p = {1 / (1 + X.shape[1]):.2f})")
    pre_rmse = float(np.sqrt(np.mean(gap[:first_post] ** 2)))
    return Counterfactual("synthetic control", y.tolist(), synth.tolist(), synth.tolist(), synth.tolist(), first_post, effect,
                          float(effect - spread), float(effect + spread), float(effect / cf_post) if cf_post else float("nan"),
                          float(p), pre_rmse, dict(zip(names, map(float, w))), list(SYNTH_ASSUMPTIONS), warnings)


def structural_counterfactual(y, first_post: int, seasonal: int | None = 7, controls=None, confidence: float = 0.95,
                              draws: int = 1000, seed: int = 0) -> Counterfactual:
    """Local-level structural time-series (plus seasonality and control regressors) fitted on the
    periods before *first_post*, simulated forward as the counterfactual.

    The effect interval is the spread of ``sum(observed - simulated path)`` over *draws* simulated
    paths of the fitted model (state and observation noise; the parameters' own uncertainty is
    not included, so the interval is somewhat too narrow for short histories).
    """
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    y = np.asarray(y, dtype=float)
    exog = None if controls is None else np.asarray(controls, dtype=float).reshape(len(y), -1)
    season = seasonal if seasonal and first_post >= 3 * seasonal else None
    if first_post < 8 or first_post >= len(y):
        raise ValueError("a structural counterfactual needs at least 8 periods before the change and 1 after")
    model = UnobservedComponents(y[:first_post], level="local level", seasonal=season,
                                 exog=None if exog is None else exog[:first_post])
    fit = model.fit(disp=False)
    h = len(y) - first_post
    ex_post = None if exog is None else exog[first_post:]
    fc = fit.get_forecast(h, exog=ex_post)
    alpha = 1 - confidence
    ci = np.asarray(fc.conf_int(alpha=alpha))
    sims = np.asarray(fit.simulate(h, repetitions=draws, anchor="end", exog=ex_post,
                                   rng=np.random.default_rng(seed))).reshape(h, -1)
    effects = (y[first_post:, None] - sims).sum(axis=0)
    mean_cf = np.asarray(fc.predicted_mean)
    cf = np.concatenate([np.asarray(fit.fittedvalues), mean_cf])
    lo = np.concatenate([np.asarray(fit.fittedvalues), ci[:, 0]])
    hi = np.concatenate([np.asarray(fit.fittedvalues), ci[:, 1]])
    effect = float((y[first_post:] - mean_cf).sum())
    p = float(2 * min((effects <= 0).mean(), (effects >= 0).mean()))
    warnings = [] if season or not seasonal else [
        f"seasonality of {seasonal} periods not modelled: it needs at least {3 * seasonal} periods before the change"]
    resid = y[:first_post] - np.asarray(fit.fittedvalues)
    return Counterfactual("structural time series", y.tolist(), cf.tolist(), lo.tolist(), hi.tolist(), first_post, effect,
                          float(np.quantile(effects, alpha / 2)), float(np.quantile(effects, 1 - alpha / 2)),
                          float(effect / mean_cf.sum()) if mean_cf.sum() else float("nan"), max(p, 1 / draws),
                          float(np.sqrt(np.mean(resid[season or 1:] ** 2))), {}, list(STS_ASSUMPTIONS), warnings)
