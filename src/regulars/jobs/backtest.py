"""Backtests: how accurate has each prediction been on this shop's own history?

Why this module is long: the backtest of every prediction (churn, propensity, value, next order,
leads, forecast) against its naive rule at one cutoff is one comparison with shared cutoffs, samples
and readiness rules; the value and forecast parts already live in jobs/backtest_value.py.

``backtest(ws, cutoff=None)`` refits every model with only the data before ``cutoff`` (the
very code ``regulars predict`` runs: :func:`~regulars.jobs.predict.fit_models` and
:func:`~regulars.jobs.scoring.score_customers`), scores the period after it, and compares
with a naive rule that a shop owner could apply by hand:

==============  ==================================================  ===================================
prediction      judged on                                           naive rule
==============  ==================================================  ===================================
churn           no order in the 90 days after the cutoff            days since the last order
propensity      an order in the 30 days after the cutoff            most recent order first
next order      (1) an order within the horizon, (2) its date       (1) the shop's base rate, (2) last
                                                                    order + the customer's median gap
value (CLV)     orders and spend over the horizon shown             last year's repeat-buying pace
demand          weekly orders in the last four 8-week periods       repeat the last week
leads           leads who bought within 30 days, by tier            visited in the last 7 days
==============  ==================================================  ===================================

Classifiers, leads and the forecast are judged at the cutoff (default: 90 days before the
end of the data); the value predictions and the next order at the **value cutoff**, as many
days before the end as the horizon they are shown for (365 by default, see
:mod:`regulars.jobs.backtest_value`). Every 80 % range is reported with its measured
coverage. Classifiers are judged on the customers who ordered in the year before the cutoff
(long-gone customers are easy to call and would flatter both the model and the rule).
Metrics: ROC AUC, PR AUC, Brier score, reliability bins, lift in the top decile; MAE/MAPE for
dates, counts and money. What the data supports is decided the same way as by ``regulars
predict``: a prediction that predict refuses today is refused here too, with its reason.
Each metric row carries a plain sentence; the rows are stored in ``backtests``.
"""

from __future__ import annotations

import datetime as dt
import copy
import time
import uuid
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from regulars.data import predictions_store as store
from regulars.data.as_of import ORDERS, resolve_as_of
from regulars.features.labels import ACTIVE_DAYS, churn_labels, propensity_labels
from regulars.jobs.backtest_value import judge_forecast, judge_value, value_window
from regulars.jobs.tables import as_known_on, in_shop_money
from regulars.jobs.data_stats import data_stats
from regulars.jobs.predict import converted, fit_models
from regulars.jobs.scoring import CHURN_WINDOW, MODEL_VERSIONS, PROPENSITY_WINDOW, score_customers
from regulars.features.leads import lead_features
from regulars.models.readiness import MIN_OBSERVED, Verdict, assess

__all__ = ["BacktestResult", "agreed_verdicts", "backtest", "classification_metrics", "default_cutoff", "reliability_bins"]

VALUE_DAYS = 365


# -- metrics -------------------------------------------------------------------------------
def reliability_bins(y, p, bins: int = 10) -> list[dict]:
    """Mean predicted probability vs observed rate in ``bins`` equal-count groups.

    Examples
    --------
    >>> rows = reliability_bins([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], bins=2)
    >>> [(round(r["predicted"], 2), r["observed"], r["n"]) for r in rows]
    [(0.15, 0.0, 2), (0.85, 1.0, 2)]
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    out = []
    for chunk in np.array_split(order, min(bins, len(order))):
        if len(chunk):
            out.append({"predicted": float(p[chunk].mean()), "observed": float(y[chunk].mean()), "n": len(chunk)})
    return out


def lift_top_decile(y, score) -> float:
    """Rate of positives among the top tenth by ``score`` divided by the overall rate."""
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    k = max(1, round(len(y) * 0.1))
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].mean() / max(y.mean(), 1e-12))


def classification_metrics(y, p, baseline_score=None) -> dict:
    """AUC, PR-AUC, Brier, expected calibration error, lift (and the baseline's AUC/PR-AUC/lift)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    bins = reliability_bins(y, p)
    m = {
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "brier_base_rate": float(y.mean() * (1 - y.mean())),
        "calibration_error": float(sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in bins) / len(y)),
        "lift_top_decile": lift_top_decile(y, p),
        "reliability": bins,
        "positive_rate": float(y.mean()),
        "n": len(y),
    }
    if baseline_score is not None:
        b = np.asarray(baseline_score, dtype=float)
        m["baseline_auc"] = float(roc_auc_score(y, b))
        m["baseline_pr_auc"] = float(average_precision_score(y, b))
        m["baseline_lift_top_decile"] = lift_top_decile(y, b)
    return m


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


# -- the run -------------------------------------------------------------------------------
@dataclass
class BacktestResult:
    run_id: str
    cutoff: dt.date
    rows: pd.DataFrame
    sentences: dict[str, list[str]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def metric(self, model: str, metric: str) -> float:
        r = self.rows[(self.rows["model"] == model) & (self.rows["metric"] == metric)]
        return float(r["value"].iloc[0]) if len(r) else float("nan")

    def baseline(self, model: str, metric: str) -> float:
        r = self.rows[(self.rows["model"] == model) & (self.rows["metric"] == metric)]
        return float(r["baseline_value"].iloc[0]) if len(r) else float("nan")

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "cutoff": self.cutoff.isoformat(), "statuses": self.statuses,
                "sentences": self.sentences, "seconds": round(self.seconds, 2),
                "metrics": [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()
                             if k not in ("details", "run_at")} for r in self.rows.to_dict("records")]}


class _Rows:
    def __init__(self, run_id: str, cutoff: dt.date):
        self.run_id, self.cutoff, self.rows = run_id, cutoff, []
        self.sentences: dict[str, list[str]] = {}
        self.statuses: dict[str, str] = {}

    def add(self, model, metric, value, baseline=None, baseline_value=None, sentence=None, *, n=None,
            horizon=None, population=None, details=None, status="ok", cutoff=None):
        self.rows.append({
            "run_id": self.run_id, "cutoff": cutoff or self.cutoff, "model": model,
            "model_version": MODEL_VERSIONS.get("value" if model == "clv" else model), "status": status,
            "horizon_days": horizon, "population": population, "n": n, "metric": metric,
            "value": None if value is None else float(value), "baseline": baseline,
            "baseline_value": None if baseline_value is None else float(baseline_value),
            "sentence": sentence, "details": details,
        })
        if sentence:
            self.sentences.setdefault(model, []).append(sentence)
        self.statuses[model] = status if self.statuses.get(model, "ok") == "ok" else self.statuses[model]

    def refuse(self, model, messages):
        for msg in messages:
            self.add(model, "readiness", None, sentence=msg, status="refused")

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        df["run_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
        return df


def default_cutoff(ws) -> dt.date:
    """The latest cutoff that leaves a full churn window (90 days) after it."""
    return resolve_as_of(ws, basis=ORDERS) - dt.timedelta(days=CHURN_WINDOW)


def agreed_verdicts(then: dict[str, Verdict], now: dict[str, Verdict]) -> dict[str, Verdict]:
    """What the backtest may judge: refused when ``regulars predict`` refuses it today (``now``)
    or when the data before the cutoff could not support it (``then``); rough (small-data) when
    either is. So the backtest never reports accuracy for a prediction predict would not show.

    Examples
    --------
    >>> ok, no = Verdict("forecast", "ok"), Verdict("forecast", "refused", ["too few days"])
    >>> v = agreed_verdicts({"forecast": ok}, {"forecast": no})["forecast"]
    >>> v.status, v.messages
    ('refused', ['regulars predict refuses this today: too few days'])
    """
    out = {}
    for name, before in then.items():
        today = now.get(name, before)
        if today.refused:
            out[name] = Verdict(name, "refused", [f"regulars predict refuses this today: {m}" for m in today.messages])
        elif before.refused:
            out[name] = before
        elif today.small or before.small:
            out[name] = Verdict(name, "small", list(dict.fromkeys(before.messages + today.messages)))
        else:
            out[name] = before
    return out


def backtest(ws, cutoff=None, horizon_days: int | None = None, progress=None, write: bool = True,
             on_fitted=None) -> BacktestResult:
    """Refit every model on data before its cutoff, judge it on what happened after, store the result.

    Parameters
    ----------
    ws : Workspace
    cutoff : date, optional
        Cutoff of the classifiers, leads and forecast (default 90 days before the end of the data);
        given explicitly, the value predictions are judged from it too.
    horizon_days : int, optional
        The horizon the value predictions are shown for (default: that of the latest ``regulars
        predict``, else 365); they are judged over it.
    on_fitted : callable, optional
        Called with the models fitted at the cutoff, as :func:`~regulars.jobs.predict.fit_models`
        returned them (the fairness audit reuses them: :mod:`regulars.jobs.audit_stored`).
    """
    start = time.perf_counter()
    say = progress or (lambda _s: None)
    ws = in_shop_money(ws)  # judged in the shop's currency, as `regulars predict` predicts
    end = resolve_as_of(ws, basis=ORDERS)
    explicit = cutoff is not None
    cutoff = pd.Timestamp(cutoff).date() if explicit else default_cutoff(ws)
    if horizon_days is None:
        run = store.read_prediction_run(ws) or {}
        horizon_days = int(run.get("horizon_days") or VALUE_DAYS)
    available = (end - cutoff).days
    run_id = f"b-{cutoff.isoformat()}-{uuid.uuid4().hex[:8]}"
    rows = _Rows(run_id, cutoff)
    if available < 7:
        rows.add("all", "readiness", None, sentence=f"the cutoff {cutoff} leaves {available} days of data after it; "
                 "choose a cutoff at least 30 (better 90) days before the last order", status="refused")
        result = BacktestResult(run_id, cutoff, rows.frame(), rows.sentences, rows.statuses)
        if write:
            store.write_backtests(ws, result.rows, run_id)
        return result

    say("checking what the data supports today")
    stats_now = data_stats(ws, end)
    now = assess(stats_now)
    say(f"refitting on data before {cutoff}")
    fm = fit_models(ws, cutoff, progress=say)
    if on_fitted is not None:
        on_fitted(copy.copy(fm))  # before the verdicts below change it
    fm.verdicts = agreed_verdicts(fm.verdicts, now)
    for name in ("churn", "propensity", "leads", "forecast"):
        if fm.verdicts[name].refused:
            setattr(fm, name, None)
    scored = score_customers(ws, fm, reasons=False, progress=say, value=False).set_index("customer_id")
    say("judging")
    since_last = (pd.Timestamp(cutoff) - pd.to_datetime(scored["last_order_date"])).dt.days.astype(float)
    active = since_last <= ACTIVE_DAYS
    population = f"customers who ordered in the {ACTIVE_DAYS} days before {cutoff}"

    _judge_churn(ws, rows, fm, scored, since_last, active, population, cutoff, available)
    _judge_propensity(ws, rows, fm, scored, since_last, active, population, cutoff, available)
    first_day = end - dt.timedelta(days=stats_now.history_days) if stats_now.history_days else None
    value_start, _ = value_window(end, horizon_days, first_day, cutoff if explicit else None)
    value_verdict = agreed_verdicts({"value": assess(data_stats(ws, value_start))["value"]}, now)["value"]
    judge_value(ws, rows, value_verdict, end, horizon_days, first_day, cutoff if explicit else None, say=say)
    judge_forecast(ws, rows, fm.verdicts["forecast"], end)
    _judge_leads(ws, rows, fm, cutoff, available)

    result = BacktestResult(run_id, cutoff, rows.frame(), rows.sentences, rows.statuses, time.perf_counter() - start)
    if write:
        store.write_backtests(ws, result.rows, run_id)
    return result


def _labels(ws, fn, cutoff, window, index, column):
    lab = ws.execute(fn(ws.table("orders"), cutoff, window)).set_index("customer_id")[column]
    return lab.reindex(index).fillna(0).astype(int)


def _judge_churn(ws, rows, fm, scored, since_last, active, population, cutoff, available):
    if fm.churn is None:
        rows.refuse("churn", fm.verdicts["churn"].messages or ["churn risk was not fitted"])
        return
    if available < CHURN_WINDOW:
        rows.add("churn", "readiness", None, sentence=f"only {available} days after {cutoff}: the {CHURN_WINDOW}-day churn "
                 "outcome is not known yet; choose an earlier cutoff", status="refused")
        return
    idx = scored.index[active.to_numpy()]
    y = _labels(ws, churn_labels, cutoff, CHURN_WINDOW, idx, "churned").to_numpy()
    p = scored.loc[idx, "churn_risk"].to_numpy(dtype=float)
    rule = since_last.loc[idx].to_numpy()
    if len(y) < MIN_OBSERVED or y.min() == y.max():
        rows.add("churn", "readiness", None, sentence="too few customers with both outcomes after the cutoff to judge churn",
                 status="refused")
        return
    m = classification_metrics(y, p, rule)
    status = "warn" if fm.verdicts["churn"].small else "ok"
    common = {"n": len(y), "horizon": CHURN_WINDOW, "population": population, "status": status}
    flagged = p >= 0.5
    n_flag = int(flagged.sum())
    caught = int(y[flagged].sum())
    top_rule = np.argsort(-rule, kind="stable")[:n_flag]
    rule_caught = int(y[top_rule].sum())
    rule90 = rule >= CHURN_WINDOW  # the rule of thumb: gone when no order within the churn window
    s_flag = (f"Of the {n_flag:,} customers flagged as at risk (risk of 50% or more) on {cutoff}, {caught:,} "
              f"({_pct(caught / max(n_flag, 1))}) did not order in the next {CHURN_WINDOW} days; of the same number "
              f"with the longest time since their last order, {rule_caught:,} did not. The rule 'no order in {CHURN_WINDOW} days' "
              f"flagged {int(rule90.sum()):,}, of whom {int(y[rule90].sum()):,} did not return.")
    rows.add("churn", "precision_flagged", caught / max(n_flag, 1), "days since last order",
             rule_caught / max(n_flag, 1), s_flag, details={"flagged": n_flag, "caught": caught,
                                                             "rule_caught": rule_caught}, **common)
    _classifier_rows(rows, "churn", m, "days since last order", "who left from who stayed", common)


def _classifier_rows(rows, model, m, rule_name, what, common):
    rows.add(model, "auc", m["auc"], rule_name, m["baseline_auc"],
             f"Ranking customers by the prediction separates {what} with an AUC of {m['auc']:.2f}; the rule "
             f"'{rule_name}' reaches {m['baseline_auc']:.2f} (1.0 is perfect, 0.5 a coin toss).", **common)
    rows.add(model, "pr_auc", m["pr_auc"], rule_name, m["baseline_pr_auc"], None, **common)
    rows.add(model, "lift_top_decile", m["lift_top_decile"], rule_name, m["baseline_lift_top_decile"],
             f"The top tenth of the predictions holds {m['lift_top_decile']:.1f}x the average rate "
             f"({m['baseline_lift_top_decile']:.1f}x for the rule).", **common)
    bins = m["reliability"]
    worst = max(bins, key=lambda b: abs(b["predicted"] - b["observed"]))
    rows.add(model, "brier", m["brier"], "base rate", m["brier_base_rate"],
             f"Probabilities are calibrated to within {100 * m['calibration_error']:.1f} points on average (Brier "
             f"{m['brier']:.3f} vs {m['brier_base_rate']:.3f} for always saying {_pct(m['positive_rate'])}); "
             f"at worst, where it said {_pct(worst['predicted'])}, {_pct(worst['observed'])} happened.",
             details={"reliability": bins}, **common)
    rows.add(model, "calibration_error", m["calibration_error"], None, None, None, details={"reliability": bins},
             **common)


def _judge_propensity(ws, rows, fm, scored, since_last, active, population, cutoff, available):
    if fm.propensity is None:
        rows.refuse("propensity", fm.verdicts["propensity"].messages or ["propensity was not fitted"])
        return
    if available < PROPENSITY_WINDOW:
        rows.add("propensity", "readiness", None, sentence=f"only {available} days after {cutoff}: the 30-day "
                 "outcome is not known yet", status="refused")
        return
    idx = scored.index[active.to_numpy()]
    y = _labels(ws, propensity_labels, cutoff, PROPENSITY_WINDOW, idx, "bought").to_numpy()
    p = scored.loc[idx, "propensity_30d"].to_numpy(dtype=float)
    rule = -since_last.loc[idx].to_numpy()
    if len(y) < MIN_OBSERVED or y.min() == y.max():
        rows.add("propensity", "readiness", None, sentence="too few customers with both outcomes to judge propensity",
                 status="refused")
        return
    m = classification_metrics(y, p, rule)
    common = {"n": len(y), "horizon": PROPENSITY_WINDOW, "population": population,
                  "status": "warn" if fm.verdicts["propensity"].small else "ok"}
    k = max(1, round(len(y) * 0.1))
    top = np.argsort(-p, kind="stable")[:k]
    top_rule = np.argsort(-rule, kind="stable")[:k]
    bought, rule_bought = int(y[top].sum()), int(y[top_rule].sum())
    expected = float(p.sum())
    rows.add("propensity", "precision_top_decile", bought / k, "most recent order first", rule_bought / k,
             f"Of the {k:,} customers rated most likely to buy in the {PROPENSITY_WINDOW} days after {cutoff}, "
             f"{bought:,} ({_pct(bought / k)}) did; of the {k:,} who had ordered most recently, {rule_bought:,} did. "
             f"The model expected {expected:,.0f} buyers in all; {int(y.sum()):,} bought.", **common)
    _classifier_rows(rows, "propensity", m, "most recent order first", "who bought from who did not", common)


def _judge_leads(ws, rows, fm, cutoff, available):
    if fm.leads is None:
        rows.refuse("leads", fm.verdicts["leads"].messages or ["lead scoring was not fitted"])
        return
    if available < PROPENSITY_WINDOW:
        rows.add("leads", "readiness", None, sentence="less than 30 days after the cutoff to judge lead tiers",
                 status="refused")
        return
    X = ws.execute(lead_features(as_known_on(ws, cutoff), cutoff)).set_index("customer_id")
    if len(X) < 10:
        rows.add("leads", "readiness", None, sentence="too few leads at the cutoff to judge lead tiers", status="refused")
        return
    tiers = fm.leads.tiers(X)["tier"]
    bought = converted(ws, X.index, cutoff, PROPENSITY_WINDOW)
    rates = {t: (int(bought[(tiers == t).to_numpy()].sum()), int((tiers == t).sum())) for t in ("hot", "warm", "cold")}
    recent = pd.to_numeric(X["days_since_last_visit"], errors="coerce").fillna(1e9).to_numpy() <= 7
    rule_rate = float(bought[recent].mean()) if recent.any() else float("nan")
    hot_b, hot_n = rates["hot"]
    parts = ", ".join(f"{t} {b}/{n} ({_pct(b / n) if n else '-'})" for t, (b, n) in rates.items())
    status = "warn" if fm.verdicts["leads"].small or fm.leads.method_ == "rules" else "ok"
    rows.add("leads", "hot_conversion", hot_b / hot_n if hot_n else None, "visited in the last 7 days", rule_rate,
             f"Leads who bought within {PROPENSITY_WINDOW} days of {cutoff}, by tier: {parts}; of the "
             f"{int(recent.sum()):,} who had visited in the last 7 days, {_pct(rule_rate) if recent.any() else '-'} bought.",
             n=len(X), horizon=PROPENSITY_WINDOW, population=f"leads on {cutoff}", status=status,
             details={t: {"bought": b, "n": n} for t, (b, n) in rates.items()})


#: Under this name :func:`remember_run` records which backtest was made from which data and options.
RUN_MARKER = "backtest"


def remember_run(ws, cutoff, horizon_days, run_id: str) -> None:
    """Record that backtest *run_id* was made with these options (None: the defaults) from the current data."""
    from regulars.reports.stored import stored

    stored(ws, RUN_MARKER, {"cutoff": cutoff, "horizon_days": horizon_days}, lambda _w: run_id, refresh=True,
           reads="inputs", daily=False)


def remembered_run(ws, cutoff, horizon_days):
    """The :class:`~regulars.reports.stored.Stored` run id of the latest backtest with these options on the
    same data when it is still the latest one stored, else None."""
    from regulars.data import predictions_store
    from regulars.reports.stored import lookup

    found = lookup(ws, RUN_MARKER, {"cutoff": cutoff, "horizon_days": horizon_days}, reads="inputs", daily=False)
    if found is None:
        return None
    latest = predictions_store.read_backtests(ws)
    if latest.empty or str(latest["run_id"].iloc[0]) != found.value:
        return None
    return found
