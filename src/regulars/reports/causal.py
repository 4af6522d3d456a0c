"""Causal reports beyond a plain A/B comparison: who is persuadable (uplift models on an
experiment), did a change work when it could not be randomised (difference-in-differences on a
segment, synthetic control or a structural time-series counterfactual for the whole shop).

Each returns a typed result with ``to_dict()`` (for the API and the dashboard), a plain
``sentence`` and the assumptions under which its answer is causal. Only aggregates: no customer
appears in any of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from regulars.data import experiments_store as store
from regulars.experiments.quasi import Counterfactual, DiDResult, difference_in_differences, structural_counterfactual, synthetic_control
from regulars.experiments.uplift import TLearner, XLearner, qini_curve, uplift_scores
from regulars.features.mart import customer_features, purchases, resolve_as_of
from regulars.features.outcomes import experiment_outcomes, revenue_series, weekly_spend

__all__ = ["DiDReport", "ImpactReport", "UpliftReport", "did_report", "impact_report", "uplift_report"]


def _unit(currency: str) -> str:
    return f" {currency}" if currency else ""


@dataclass
class DiDReport:
    treated: str
    comparison: str
    change_date: dt.date
    result: DiDResult
    currency: str
    weeks: list[str]

    @property
    def sentence(self) -> str:
        r, u = self.result, _unit(self.currency)
        more = "more" if r.estimate >= 0 else "less"
        text = (f"After {self.change_date:%Y-%m-%d}, {self.treated} spent {abs(r.estimate):,.2f}{u} {more} per customer and week "
                f"than {self.comparison} would suggest (between {r.lower:,.2f}{u} and {r.upper:,.2f}{u}).")
        return text + (" But their trends already differed before: do not trust this answer." if r.pre_trend_differs else "")

    def to_dict(self) -> dict:
        return {"treated": self.treated, "comparison": self.comparison, "change_date": str(self.change_date),
                "currency": self.currency, "weeks": self.weeks, "sentence": self.sentence, **self.result.to_dict()}


def _members(ws, segment: str):
    from regulars.segments.membership import get_segment

    seg = get_segment(ws, segment)
    m = ws.table("segment_memberships")
    return m.filter(m.segment_id == seg["segment_id"]).select("customer_id"), seg["name"]


def did_report(ws, treated_segment: str, change_date, comparison_segment: str | None = None,
               weeks_before: int = 12, weeks_after: int = 8) -> DiDReport:
    """Difference-in-differences of weekly net spend: members of *treated_segment* against
    *comparison_segment* (default: every other customer who bought before the change)."""
    change = pd.Timestamp(change_date).date()
    start = change - dt.timedelta(days=7 * weeks_before)
    end = change + dt.timedelta(days=7 * weeks_after)
    if end > resolve_as_of(ws):
        raise ValueError(f"the data end before {end:%Y-%m-%d} ({weeks_after} weeks after the change): "
                         "shorten --weeks-after or wait")
    treated, t_name = _members(ws, treated_segment)
    if comparison_segment:
        comparison, c_name = _members(ws, comparison_segment)
    else:
        p = purchases(ws, change)
        comparison = p.select("customer_id").distinct().anti_join(treated, "customer_id")
        c_name = "customers outside it who had bought before"
    t_ids = ws.execute(treated.distinct())["customer_id"]
    c_ids = ws.execute(comparison.distinct())["customer_id"]
    c_ids = c_ids[~c_ids.isin(t_ids)]
    ids = pd.concat([t_ids, c_ids], ignore_index=True)
    import ibis

    spend = ws.frame(weekly_spend(ws, ibis.memtable({"customer_id": ids.astype(str).tolist()}), start,
                                  weeks_before + weeks_after))
    panel = np.zeros((len(ids), weeks_before + weeks_after))
    rows = pd.Index(ids.astype(str)).get_indexer(spend["customer_id"].astype(str))
    np.add.at(panel, (rows, spend["week"].to_numpy(dtype=int)), spend["spend"].to_numpy(dtype=float))
    flag = np.arange(len(ids)) < len(t_ids)
    result = difference_in_differences(panel, flag, weeks_before)
    weeks = [str(start + dt.timedelta(days=7 * k)) for k in range(weeks_before + weeks_after)]
    return DiDReport(t_name, c_name, change, result, store.dominant_currency(ws), weeks)


@dataclass
class ImpactReport:
    change_date: dt.date
    unit: str
    treated: str
    periods: list[str]
    result: Counterfactual
    currency: str

    @property
    def sentence(self) -> str:
        r, u = self.result, _unit(self.currency)
        more = "more" if r.effect >= 0 else "less"
        return (f"Since {self.change_date:%Y-%m-%d}, {self.treated} brought in {abs(r.effect):,.2f}{u} {more} than the "
                f"{r.method} says it would have without the change ({r.relative_effect:+.1%}; between "
                f"{r.effect_lower:,.2f}{u} and {r.effect_upper:,.2f}{u}; p = {r.p_value:.2g}).")

    def to_dict(self) -> dict:
        return {"change_date": str(self.change_date), "unit": self.unit, "treated": self.treated, "periods": self.periods,
                "currency": self.currency, "sentence": self.sentence, **self.result.to_dict()}


def impact_report(ws, change_date, before: int = 56, after: int = 28, unit: str = "day", by: str | None = None,
                  treated: str | None = None) -> ImpactReport:
    """Effect of a shop-level change on net revenue (guest orders included).

    Without *by*: a structural time-series counterfactual of the whole shop (weekly seasonality for
    daily data). With *by* (``location`` or ``channel``) and *treated* (the one that changed): a
    synthetic control built from the others.
    """
    change = pd.Timestamp(change_date).date()
    step = 1 if unit == "day" else 7
    start = change - dt.timedelta(days=before * step)
    end = change + dt.timedelta(days=after * step)
    if end > resolve_as_of(ws):
        raise ValueError(f"the data end before {end:%Y-%m-%d}: shorten the after period or wait")
    series = ws.frame(revenue_series(ws, start, end, unit, by))
    n = before + after
    labels = [str(start + dt.timedelta(days=k * step)) for k in range(n)]
    if by is None:
        y = np.zeros(n)
        np.add.at(y, series["period"].to_numpy(dtype=int), series["revenue"].to_numpy(dtype=float))
        result = structural_counterfactual(y, before, seasonal=7 if unit == "day" else None)
        name = "the shop"
    else:
        if not treated:
            raise ValueError(f"name the {by} that changed (--treated)")
        wide = series.pivot_table(index="period", columns="group", values="revenue", aggfunc="sum").reindex(range(n)).fillna(0)
        if treated not in wide.columns:
            raise ValueError(f"no {by} {treated!r} in these dates; known: {', '.join(map(str, wide.columns[:20]))}")
        donors = wide.drop(columns=treated)
        result = synthetic_control(wide[treated].to_numpy(), donors.to_numpy(), before, list(map(str, donors.columns)))
        name = f"{by} {treated}"
    return ImpactReport(change, unit, name, labels, result, store.dominant_currency(ws))


@dataclass
class UpliftReport:
    experiment_id: str
    learner: str
    outcome: str
    train_customers: int
    test_customers: int
    scores: dict                    # qini / auuc of the uplift model on held-out customers
    baseline_scores: dict           # same for ranking by likelihood to buy (a response model)
    curve: dict                     # fraction targeted -> incremental responses, model and random
    top_share_gain: float           # share of all incremental responses reached by targeting the top 30 %
    qini_gap_se: float              # bootstrap standard error of (model - baseline) Qini on the held-out customers
    features: list[str] = field(default_factory=list)

    @property
    def better(self) -> bool:
        """The model's Qini beats the likely-to-buy ranking by more than two bootstrap standard errors."""
        return self.scores["qini"] - self.baseline_scores["qini"] > 2 * self.qini_gap_se

    @property
    def sentence(self) -> str:
        return (f"On customers held out of training, ranking by predicted uplift scores a Qini of {self.scores['qini']:.2f} "
                f"against {self.baseline_scores['qini']:.2f} for ranking by likelihood to buy (give or take "
                f"{2 * self.qini_gap_se:.2f}): "
                + ("the uplift model finds the persuadable better." if self.better else
                   "no clear difference, so target by the simple rule or gather more data."))

    def to_dict(self) -> dict:
        return {**asdict(self), "sentence": self.sentence}


def uplift_report(ws, name: str, learner: str = "x", outcome: str = "binary", test_share: float = 0.3,
                  seed: int = 0, as_of=None) -> UpliftReport:
    """Fit a T- or X-learner on an experiment's customers (features as of the day the experiment
    started: nothing later reaches the model) and evaluate it on held-out customers."""
    exp = store.get(ws, name)
    as_of = resolve_as_of(ws, as_of)
    out = ws.frame(experiment_outcomes(ws, exp["experiment_id"], exp["window_days"], exp["pre_days"], as_of))
    if len(out) < 200:
        raise ValueError(f"only {len(out)} customers with a complete window: uplift models need a few hundred at least")
    first_day = pd.Timestamp(out["assigned_at"].min()).date()
    mart = ws.frame(customer_features(ws, first_day, categories=[]))
    X = out[["customer_id"]].merge(mart, on="customer_id", how="left")
    cols = [c for c in X.columns if c != "customer_id" and pd.api.types.is_numeric_dtype(X[c])]
    matrix = X[cols].to_numpy(dtype=float)
    y = (out["converted"] if outcome == "binary" else out["revenue"]).to_numpy(dtype=float)
    t = (out["arm"] != exp["control_arm"]).to_numpy()
    rng = np.random.default_rng(seed)
    test = rng.random(len(out)) < test_share
    model = (XLearner if learner == "x" else TLearner)(outcome=outcome, random_state=seed)
    model.fit(matrix[~test], y[~test], t[~test])
    score = model.predict_uplift(matrix[test])
    import lightgbm as lgb

    kind = lgb.LGBMClassifier if outcome == "binary" else lgb.LGBMRegressor
    response = kind(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=50, random_state=seed,
                    n_jobs=1, verbose=-1).fit(matrix[~test], y[~test] if outcome != "binary" else y[~test].astype(int))
    base = response.predict_proba(matrix[test])[:, 1] if outcome == "binary" else response.predict(matrix[test])
    x, q = qini_curve(y[test], t[test], score)
    gap_se = _qini_gap_se(y[test], t[test], score, base, rng)
    pick = np.linspace(0, len(x) - 1, min(len(x), 51)).astype(int)
    top = q[int(0.3 * (len(q) - 1))] / q[-1] if q[-1] > 0 else float("nan")
    return UpliftReport(exp["experiment_id"], learner, outcome, int((~test).sum()), int(test.sum()),
                        uplift_scores(y[test], t[test], score), uplift_scores(y[test], t[test], base),
                        {"x": x[pick].tolist(), "model": q[pick].tolist(), "random": (x[pick] * q[-1]).tolist()},
                        float(top), gap_se, cols)


def _qini_gap_se(y, t, score, base, rng, resamples: int = 100, cap: int = 20_000) -> float:
    """Bootstrap standard error of qini(score) - qini(base) over the held-out customers."""
    n = min(len(y), cap)
    gaps = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), n)
        gaps.append(uplift_scores(y[i], t[i], score[i])["qini"] - uplift_scores(y[i], t[i], base[i])["qini"])
    return float(np.std(gaps, ddof=1))
