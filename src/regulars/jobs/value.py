"""Value predictions you can trust: the transaction model chosen on a holdout, calibrated ranges.

``fit_value`` is what ``regulars predict`` (and the backtest, at its cutoff) runs for the
value columns: expected orders, spend and CLV with 80 % ranges, the chance of ordering again
within the horizon (``p_alive``) and the next-order date. In three steps:

1. **A calibration window** whose outcome is known: the cutoff ``C = as_of - h`` with ``h``
   the horizon shown (365 days by default) or, when the history is too short for that, the
   longest window that leaves :data:`MIN_FIT_DAYS` of history before ``C``. Every candidate
   transaction model -- BG/NBD (Fader, Hardie & Lee 2005), MBG/NBD (Batislam, Denizel &
   Filiztekin 2007) and Pareto/NBD (Schmittlein, Morrison & Colombo 1987) -- is fitted on the
   purchases before ``C`` (a hash sample of at most :data:`MAX_CALIBRATION_CUSTOMERS`: the log
   scores of the three models differ by far more than their standard error at that size).
2. **The choice**: a fit on the edge of its parameter space or not identified by the data
   (:meth:`~regulars.models._base.MaximumLikelihoodModel.fit_problems`) is set aside; of the
   others, the one that gave the highest probability to what each customer actually did in
   the window (mean log predictive probability of the observed number of purchases, a proper
   score) is chosen, and a sentence says which and why.
3. **Calibration** on the same window: the chosen model's ranges of orders, spend, CLV and
   next-order date get conformal quantile levels (:mod:`regulars.models.intervals`). Then the
   chosen model is refitted on everything before ``as_of``.

The chance of ordering again within the horizon (``p_alive``) is the chosen model's own
``P(N >= 1)``, kept within 1-99 %: unlike the BG/NBD's P(alive) it falls for a one-time buyer as
time passes. (A logistic recalibration learned on the calibration window was tried and made it
worse on the demo shop's backtest -- 8 to 12 points of calibration error instead of 3 to 4 --
because that window is shorter and earlier than the horizon it would correct.)

The backtest judges the result on the shop's own history and reports each range's measured
coverage next to its nominal 80 %.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regulars.jobs.tables import SampledTables, as_known_on
from regulars.models.beta_geo import BetaGeoModel
from regulars.models.clv import customer_lifetime_value
from regulars.models.gamma_gamma import GammaGammaModel
from regulars.models.intervals import conformal_levels, count_log_score, count_pit
from regulars.models.modified_beta_geo import ModifiedBetaGeoModel
from regulars.models.next_order import NextOrderEstimator, add_days
from regulars.models.pareto_nbd import ParetoNBDModel
from regulars.models.readiness import MIN_OBSERVED
from regulars.features.purchase_history import gap_statistics, purchase_outcomes, purchase_summary
from regulars.values import to_date

__all__ = ["CANDIDATES", "COVERAGE", "ValueModels", "activity", "fit_value", "score_value", "value_frame"]

#: ``key -> (name, estimator class)`` of the transaction models compared on the holdout.
CANDIDATES = {
    "bgnbd": ("BG/NBD", BetaGeoModel),
    "mbgnbd": ("MBG/NBD", ModifiedBetaGeoModel),
    "pnbd": ("Pareto/NBD", ParetoNBDModel),
}
COVERAGE = 0.8  # every range is an 80 % range
MIN_FIT_DAYS = 90  # history a transaction model needs before a cutoff
MIN_CALIBRATION_DAYS = 28
MAX_CALIBRATION_CUSTOMERS = 30_000
#: The chosen model's four parameters are fitted on at most this many customers (a hash
#: sample: their standard errors are then well under 1 %); every customer is scored.
MAX_FIT_CUSTOMERS = 50_000
DISCOUNT_MONTHLY = 0.01
#: The chance of ordering again is shown within these bounds: never "100 %" (nor 0 %).
ACTIVITY_BOUNDS = (0.01, 0.99)
RANGES = ("orders", "spend", "clv", "next_order")


@dataclass
class ValueModels:
    """The value models fitted as of ``as_of`` and how they were chosen and calibrated."""

    as_of: dt.date
    horizon_days: int
    key: str
    transaction: object
    spend: GammaGammaModel
    next_order: NextOrderEstimator
    levels: dict[str, tuple[float, float]]
    calibration: dict
    candidates: dict[str, dict]
    sentence: str
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return CANDIDATES[self.key][0]

    def to_dict(self) -> dict:
        return {"model": self.name, "key": self.key, "sentence": self.sentence, "notes": self.notes,
                "levels": {k: [round(v[0], 4), round(v[1], 4)] for k, v in self.levels.items()},
                "calibration": self.calibration, "candidates": self.candidates}


def _fit(cls, frame: pd.DataFrame, small: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(penalizer=0.001 if small else 0.0).fit(frame["frequency"], frame["recency"], frame["T"])


def _hash_sample(frame: pd.DataFrame, size: int) -> pd.DataFrame:
    """At most about ``size`` rows, chosen by a hash of the customer id (the same every run)."""
    if len(frame) <= size:
        return frame
    keep = pd.util.hash_pandas_object(frame.index.to_series(), index=False).to_numpy() % 10_000
    return frame[keep < int(10_000 * size / len(frame))]


def _fit_spend(frame: pd.DataFrame, small: bool) -> GammaGammaModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GammaGammaModel(penalizer=0.001 if small else 0.0).fit(frame["frequency"], frame["monetary_value"])


class _Rows:
    """The distinct (x, t_x, T) rows of a frame: predictive distributions are computed once each."""

    def __init__(self, frame: pd.DataFrame):
        cols = [frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")]
        key = pd.DataFrame({"x": cols[0], "tx": cols[1], "T": cols[2]})
        self.codes = key.groupby(["x", "tx", "T"], sort=False).ngroup().to_numpy()
        _, first = np.unique(self.codes, return_index=True)
        self.x, self.tx, self.T = (c[first] for c in cols)

    def distribution(self, model, t: float):
        return model.count_distribution(t, self.x, self.tx, self.T)


def value_frame(ws, tables, as_of) -> pd.DataFrame:
    """BTYD summary (days) and gap statistics of every customer with a purchase before ``as_of``
    (read from the provider ``tables``, run by the workspace ``ws``)."""
    summary = ws.frame(purchase_summary(tables, as_of))
    gaps = ws.frame(gap_statistics(tables, as_of))
    frame = summary.set_index("customer_id").join(gaps.set_index("customer_id"), how="left").sort_index()
    for c in ("frequency", "recency", "T", "monetary_value"):
        frame[c] = frame[c].astype(float)
    frame["days_since_last_order"] = frame["T"] - frame["recency"] + 1
    return frame


def activity(p) -> np.ndarray:
    """The chance of ordering again as shown: within :data:`ACTIVITY_BOUNDS`, never "100 %"."""
    return np.clip(np.asarray(p, dtype=float), *ACTIVITY_BOUNDS)


def _calibration_window(as_of: dt.date, horizon: int, first_day: dt.date | None) -> int:
    """Length of the calibration window: the horizon, or less when the history is short."""
    if first_day is None:
        return 0
    history = (as_of - first_day).days
    return int(min(horizon, history - MIN_FIT_DAYS))


def _clv_ratio(model, spend, frame: pd.DataFrame, horizon: int, rows: "_Rows | None" = None):
    """Expected orders, expected value of one order and CLV / (orders x value) over ``horizon`` days."""
    clv = customer_lifetime_value(model, spend, frame["frequency"], frame["recency"], frame["T"],
                                  frame["monetary_value"], horizon_months=max(1, round(horizon / 30.4375)),
                                  discount_rate_monthly=DISCOUNT_MONTHLY, freq_days=1.0)
    rows = rows or _Rows(frame)
    expected = model.expected_purchases(float(horizon), rows.x, rows.tx, rows.T)[rows.codes]
    value = clv["expected_spend"].to_numpy()
    ratio = clv["clv"].to_numpy() / np.maximum(expected * value, 1e-12)
    return expected, value, np.where(expected * value > 1e-12, ratio, 1.0)


def _per_order(amount: np.ndarray, value: np.ndarray) -> np.ndarray:
    """An observed amount in units of one order's expected value (0 value: 0 or 'a lot')."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = amount / value
    return np.where(value > 0, out, np.where(amount > 0, 1e9, 0.0))


def _choose(candidates: dict[str, dict], window: int, start: dt.date) -> tuple[str, str]:
    usable = [k for k, c in candidates.items() if c.get("log_score") is not None and not c["problems"]]
    pool = usable or [k for k, c in candidates.items() if c.get("log_score") is not None]
    best = max(pool, key=lambda k: candidates[k]["log_score"])
    name = CANDIDATES[best][0]
    others = [k for k in candidates if k != best and candidates[k].get("log_score") is not None]
    compared = ", ".join(f"{candidates[k]['name']} {candidates[k]['orders_mae']:.2f}" for k in others)
    sentence = (f"{name} was chosen: over the {window} days from {start}, it gave the highest probability to how many "
                f"times each customer actually bought (its expected orders were off by "
                f"{candidates[best]['orders_mae']:.2f} per customer; {compared}).")
    set_aside = [k for k in candidates if k not in pool or (usable and k not in usable)]
    for k in set_aside:
        sentence += f" {candidates[k]['name']} was set aside: {'; '.join(candidates[k]['problems']) or 'its fit failed'}."
    if not usable:
        sentence += " No model fitted these data cleanly, so its figures are rough."
    return best, sentence


def fit_value(ws, as_of, horizon_days: int, frame: pd.DataFrame, small: bool = False,
              first_day: dt.date | None = None, tables=None, progress=None,
              customers: int | None = None) -> ValueModels:
    """Choose, calibrate and fit the value models as of ``as_of`` (see the module docstring).

    Parameters
    ----------
    ws : Workspace
        Runs the queries (``ws.frame``).
    as_of : date
    horizon_days : int
        The horizon the predictions are shown for.
    frame : DataFrame
        :func:`value_frame` (or the job's snapshot) as of ``as_of``, indexed by customer.
    small : bool
        Small-data mode: a light penalty on every fit.
    first_day : date, optional
        The first purchase day of the shop (decides the calibration window).
    tables : table provider, optional
        What the calibration window reads (default ``ws``; the jobs pass a point-in-time view).
    customers : int, optional
        How many customers ``frame`` stands for when it is a sample of them (default: its length);
        sizes the calibration sample.
    """
    say = progress or (lambda _s: None)
    as_of, horizon = to_date(as_of), int(horizon_days)
    tables = tables if tables is not None else ws
    window = _calibration_window(as_of, horizon, first_day)
    notes: list[str] = []
    candidates: dict[str, dict] = {}
    levels = {k: ((1 - COVERAGE) / 2, (1 + COVERAGE) / 2) for k in RANGES}
    calibration = {"horizon_days": window if window >= MIN_CALIBRATION_DAYS else 0}
    fits: dict[str, object] = {}
    if window >= MIN_CALIBRATION_DAYS:
        say("choosing and calibrating the value models")
        start = as_of - dt.timedelta(days=window)
        cal = _calibration_frame(ws, as_known_on(ws, start, tables), start, window, customers or len(frame))
        calibration.update(cutoff=start.isoformat(), customers=len(cal))
        if window < horizon:
            notes.append(f"ranges were calibrated on {window} days (the history is too short for the {horizon}-day "
                         "horizon), so their coverage over the full horizon is less certain")
        if len(cal) and (cal["frequency"] > 0).sum() >= MIN_OBSERVED:
            observed = cal["orders"].to_numpy(dtype=float)
            x, tx, T = (cal[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
            for key, (name, cls) in CANDIDATES.items():
                try:
                    model = _fit(cls, cal, small)
                except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                    candidates[key] = {"name": name, "problems": [f"{name} could not be fitted: {exc}"]}
                    continue
                fits[key] = model
                score = count_log_score(model.count_distribution(float(window), x, tx, T).sf, observed)
                expected = model.expected_purchases(float(window), x, tx, T)
                candidates[key] = {"name": name, "log_score": float(np.mean(score)),
                                   "orders_mae": float(np.abs(expected - observed).mean()),
                                   "params": {k: round(v, 6) for k, v in model.params_.items()},
                                   "problems": model.fit_problems(name)}
            if fits:
                key, sentence = _choose(candidates, window, start)
                levels = _calibrate(fits[key], cal, start, window, small)
            else:
                key, sentence = "bgnbd", "BG/NBD is used: no model could be compared on a holdout."
        else:
            key, sentence = "bgnbd", ("BG/NBD is used: too few repeat customers before the calibration window to "
                                      "compare models")
    else:
        key, sentence = "bgnbd", (f"BG/NBD is used without a holdout comparison: the history is too short to keep "
                                  f"{MIN_CALIBRATION_DAYS} days aside after {MIN_FIT_DAYS} days of fitting")
        notes.append("the ranges are the model's own 80% ranges, not checked against this shop's history yet")
    say(f"fitting {CANDIDATES[key][0]}")
    transaction = _fit(CANDIDATES[key][1], _hash_sample(frame, MAX_FIT_CUSTOMERS), small)
    for problem in transaction.fit_problems(CANDIDATES[key][0]):
        notes.append(problem)
    spend = _fit_spend(frame, small)
    next_order = NextOrderEstimator().fit(frame["n_gaps"], frame["log_gap_mean"], frame["log_gap_var"])
    return ValueModels(as_of, horizon, key, transaction, spend, next_order, levels, calibration, candidates,
                       sentence, notes)


def _calibration_frame(ws, tables, start: dt.date, window: int, customers: int) -> pd.DataFrame:
    """The summary as of ``start`` of a hash sample of customers, with what they did in the window.

    ``customers`` (those with a purchase before ``as_of``, at least as many as before ``start``)
    sizes the sample without a query."""
    fraction = min(1.0, MAX_CALIBRATION_CUSTOMERS / max(customers, 1))
    sample = SampledTables(tables, fraction) if fraction < 1 else tables
    frame = value_frame(ws, sample, start)
    outcome = ws.frame(purchase_outcomes(sample, start, window, DISCOUNT_MONTHLY)).set_index("customer_id")
    frame = frame.join(outcome, how="left")
    for c in ("orders", "spend", "discounted"):
        frame[c] = frame[c].fillna(0.0).astype(float)
    return frame


def _calibrate(model, cal: pd.DataFrame, start: dt.date, window: int, small: bool):
    """Conformal levels of every range, on the calibration window."""
    t = float(window)
    x, tx, T = (cal[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    sf = model.count_distribution(t, x, tx, T).sf

    levels = {"orders": conformal_levels(*count_pit(sf, cal["orders"].to_numpy()), COVERAGE)}
    spend = _fit_spend(cal, small)
    _, value, ratio = _clv_ratio(model, spend, cal, window)
    levels["spend"] = conformal_levels(*count_pit(sf, _per_order(cal["spend"].to_numpy(), value)), COVERAGE)
    levels["clv"] = conformal_levels(*count_pit(sf, _per_order(cal["discounted"].to_numpy(), value * ratio)), COVERAGE)
    levels["next_order"] = ((1 - COVERAGE) / 2, (1 + COVERAGE) / 2)
    back = cal[cal["first_day"].notna().to_numpy()]
    if len(back) >= MIN_OBSERVED:
        est = NextOrderEstimator().fit(cal["n_gaps"], cal["log_gap_mean"], cal["log_gap_var"])
        wait = (pd.to_datetime(back["first_day"]) - pd.Timestamp(start)).dt.days.to_numpy(dtype=float)
        r, alpha = model.params_["r"], model.params_["alpha"]
        # a purchase on day k after the cutoff is shown as that date: its wait is k (+1/2 for the day)
        p = est.truncated_cdf(wait + 0.5, t, back["n_gaps"], back["log_gap_mean"], back["log_gap_var"],
                              back["days_since_last_order"], r + back["frequency"].to_numpy(dtype=float),
                              alpha + back["T"].to_numpy(dtype=float))
        levels["next_order"] = conformal_levels(p, p, COVERAGE)
    return levels


def score_value(vm: ValueModels, frame: pd.DataFrame) -> pd.DataFrame:
    """The value columns of ``customer_predictions`` for every row of ``frame`` (same index)."""
    model, horizon, as_of = vm.transaction, float(vm.horizon_days), vm.as_of
    out = pd.DataFrame(index=frame.index)
    if len(frame) == 0:
        return out
    rows = _Rows(frame)
    expected, value, ratio = _clv_ratio(model, vm.spend, frame, vm.horizon_days, rows)
    dist = rows.distribution(model, horizon)
    active = dist.sf(np.ones(rows.x.size))[rows.codes]  # P(at least one order)
    out["p_alive"] = activity(active)
    out["expected_orders"] = expected
    names = ("orders", "spend", "clv")
    quantiles = dist.quantiles([level for name in names for level in vm.levels[name]])[:, rows.codes]
    bounds = {name: (quantiles[2 * i], quantiles[2 * i + 1]) for i, name in enumerate(names)}
    out["expected_orders_lower"], out["expected_orders_upper"] = bounds["orders"]
    out["expected_spend"] = expected * value
    out["expected_spend_lower"], out["expected_spend_upper"] = (b * value for b in bounds["spend"])
    out["clv"] = expected * value * ratio
    out["clv_lower"], out["clv_upper"] = (b * value * ratio for b in bounds["clv"])
    lo, hi = vm.levels["next_order"]
    r, alpha = model.params_["r"], model.params_["alpha"]
    q = vm.next_order.truncated_quantiles(
        (lo, 0.5, hi), horizon, frame["n_gaps"], frame["log_gap_mean"], frame["log_gap_var"],
        frame["days_since_last_order"], r + frame["frequency"].to_numpy(dtype=float),
        alpha + frame["T"].to_numpy(dtype=float))
    out["next_order_lower"] = add_days(as_of, q[0]).to_numpy()
    out["next_order_date"] = add_days(as_of, q[1]).to_numpy()
    out["next_order_upper"] = add_days(as_of, q[2]).to_numpy()
    return out
