"""Backtests: how accurate has each prediction been on this shop's own history?

``backtest(ws, cutoff=None)`` refits every model with only the data before ``cutoff`` (the
very code ``regulars predict`` runs: :func:`~regulars.jobs.predict.fit_models` and
:func:`~regulars.jobs.predict.score_customers`), scores the period after it, and compares
with a naive rule that a shop owner could apply by hand:

==============  ==================================================  =============================
prediction      judged on                                           naive rule
==============  ==================================================  =============================
churn           no order in the 90 days after the cutoff            days since the last order
propensity      an order in the 30 days after the cutoff            most recent order first
next order      date of the first order after the cutoff            last order + the last gap
value (CLV)     orders and spend in the window after the cutoff     last year's pace, repeated
demand          daily orders in the weeks after the cutoff          same weekday, the week before
leads           leads who bought within 30 days, by tier            visited in the last 7 days
==============  ==================================================  =============================

Classifiers are judged on the customers who ordered in the year before the cutoff (long-gone
customers are easy to call and would flatter both the model and the rule). Metrics: ROC AUC,
PR AUC, Brier score, reliability bins (mean predicted vs observed per tenth of the
predictions), lift in the top decile; MAE/MAPE for dates, counts and money. Each metric row
carries a plain sentence; the rows are stored in ``backtests``.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from regulars.data import predictions_store as store
from regulars.jobs.predict import (
    CHURN_WINDOW,
    MODEL_VERSIONS,
    PROPENSITY_WINDOW,
    converted,
    fit_models,
    resolve_as_of,
    score_customers,
)
from regulars.models.churn import churn_labels
from regulars.models.forecast import daily_sales
from regulars.models.leads import lead_features
from regulars.models.propensity import propensity_labels
from regulars.models.readiness import purchases

__all__ = ["BacktestResult", "backtest", "classification_metrics", "default_cutoff", "reliability_bins"]

ACTIVE_DAYS = 365  # classifiers are judged on customers who ordered in this many days before the cutoff
FORECAST_DAYS = 56
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
            horizon=None, population=None, details=None, status="ok"):
        self.rows.append({
            "run_id": self.run_id, "cutoff": self.cutoff, "model": model,
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
    return resolve_as_of(ws) - dt.timedelta(days=CHURN_WINDOW)


def backtest(ws, cutoff=None, progress=None, write: bool = True) -> BacktestResult:
    """Refit every model on data before ``cutoff``, judge it on what happened after, store the result."""
    start = time.perf_counter()
    say = progress or (lambda _s: None)
    end = resolve_as_of(ws)
    cutoff = pd.Timestamp(cutoff).date() if cutoff is not None else default_cutoff(ws)
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

    say(f"refitting on data before {cutoff}")
    fm = fit_models(ws, cutoff, progress=say)
    value_days = min(VALUE_DAYS, available)
    scored = score_customers(ws, fm, horizon_days=value_days, reasons=False, progress=say).set_index("customer_id")
    say("judging")
    since_last = (pd.Timestamp(cutoff) - pd.to_datetime(scored["last_order_at"])).dt.days.astype(float)
    active = since_last <= ACTIVE_DAYS
    population = f"customers who ordered in the {ACTIVE_DAYS} days before {cutoff}"

    _judge_churn(ws, rows, fm, scored, since_last, active, population, cutoff, available)
    _judge_propensity(ws, rows, fm, scored, since_last, active, population, cutoff, available)
    _judge_next_order(ws, rows, fm, scored, active, cutoff, available)
    _judge_value(ws, rows, fm, scored, cutoff, value_days)
    _judge_forecast(ws, rows, fm, cutoff, available)
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
        rows.add("churn", "readiness", None, sentence=f"only {available} days after {cutoff}: the 90-day churn "
                 "outcome is not known yet; choose an earlier cutoff", status="refused")
        return
    idx = scored.index[active.to_numpy()]
    y = _labels(ws, churn_labels, cutoff, CHURN_WINDOW, idx, "churned").to_numpy()
    p = scored.loc[idx, "churn_risk"].to_numpy(dtype=float)
    rule = since_last.loc[idx].to_numpy()
    if len(y) < 20 or y.min() == y.max():
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
    rule90 = rule >= 90
    s_flag = (f"Of the {n_flag:,} customers flagged as at risk (risk of 50% or more) on {cutoff}, {caught:,} "
              f"({_pct(caught / max(n_flag, 1))}) did not order in the next {CHURN_WINDOW} days; of the same number "
              f"with the longest time since their last order, {rule_caught:,} did not. The rule 'no order in 90 days' "
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
    if len(y) < 20 or y.min() == y.max():
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


def _first_order_after(ws, cutoff, days) -> pd.Series:
    p = purchases(ws.table("orders"))
    lo, hi = ibis.literal(cutoff), ibis.literal(cutoff + dt.timedelta(days=days))
    p = p.filter((p.day >= lo) & (p.day < hi))
    df = ws.execute(p.group_by("customer_id").aggregate(first=p.day.min()))
    return pd.to_datetime(df.set_index("customer_id")["first"])


def _last_gaps(ws, cutoff) -> pd.Series:
    """Days between each customer's last two purchase days before ``cutoff``."""
    p = purchases(ws.table("orders"))
    days = p.filter(p.day < ibis.literal(cutoff)).select("customer_id", "day").distinct()
    w = ibis.window(group_by=days.customer_id, order_by=days.day)
    days = days.mutate(gap=days.day.delta(days.day.lag().over(w), unit="day"))
    last = days.group_by("customer_id").aggregate(gap=days.gap.argmax(days.day))
    return ws.execute(last).set_index("customer_id")["gap"].astype(float)


def _judge_next_order(ws, rows, fm, scored, active, cutoff, available):
    if fm.verdicts["next_order"].refused or "next_order_at" not in scored:
        rows.refuse("next_order", fm.verdicts["next_order"].messages or ["next order dates were not computed"])
        return
    window = min(available, 180)
    end = pd.Timestamp(cutoff) + pd.Timedelta(days=window)
    first = _first_order_after(ws, cutoff, window)
    idx = scored.index[active.to_numpy()]
    returned = idx.intersection(first.index)
    if len(returned) < 20:
        rows.add("next_order", "readiness", None, sentence="too few customers ordered again after the cutoff to judge "
                 "next-order dates", status="refused")
        return
    # everyone active is judged; a date after the window counts as "after the window" (censored)
    actual = first.reindex(idx).fillna(end).clip(upper=end)
    pred = pd.to_datetime(scored.loc[idx, "next_order_at"]).clip(upper=end)
    lo, hi = pd.to_datetime(scored.loc[idx, "next_order_lower"]), pd.to_datetime(scored.loc[idx, "next_order_upper"])
    # the rule: one last gap after the last order (the cutoff when that date has passed; 30 days without a gap)
    gap = _last_gaps(ws, cutoff).reindex(idx)
    last = pd.to_datetime(scored.loc[idx, "last_order_at"])
    rule = last + pd.to_timedelta(gap.fillna(30.0).to_numpy(), unit="D")
    rule = rule.where(rule >= pd.Timestamp(cutoff), pd.Timestamp(cutoff)).clip(upper=end)
    err = (pred - actual).dt.days.abs().to_numpy(dtype=float)
    rule_err = (rule - actual).dt.days.abs().to_numpy(dtype=float)
    back = idx.isin(returned)
    inside = float(((actual[back] >= lo[back]) & (actual[back] <= hi[back])).mean())
    status = "warn" if fm.verdicts["next_order"].small else "ok"
    rows.add("next_order", "mae_days", err.mean(), "last order + last gap", rule_err.mean(),
             f"Over the {window} days after {cutoff}, the predicted next-order date of the {len(idx):,} recent customers "
             f"was off by {err.mean():.0f} days on average (a date after the window counts as right for those who did "
             f"not order); 'one last gap after the last order' was off by {rule_err.mean():.0f}.",
             n=len(idx), horizon=window, population=f"customers who ordered in the {ACTIVE_DAYS} days before {cutoff}",
             status=status)
    rows.add("next_order", "mae_days_returners", err[back].mean(), "last order + last gap", rule_err[back].mean(),
             f"For the {int(back.sum()):,} who did order again, the date was off by {err[back].mean():.0f} days "
             f"(median {np.median(err[back]):.0f}); the rule by {rule_err[back].mean():.0f} "
             f"(median {np.median(rule_err[back]):.0f}).",
             n=int(back.sum()), horizon=window, population=f"customers who ordered again within {window} days",
             status=status)
    rows.add("next_order", "interval_coverage", inside, None, None,
             f"{_pct(inside)} of those ordered inside the predicted 80% range (judged only on those who came back "
             f"within {window} days, so this favours early dates).",
             n=int(back.sum()), horizon=window, population=f"customers who ordered again within {window} days",
             status=status)


def _judge_value(ws, rows, fm, scored, cutoff, days):
    if fm.verdicts["value"].refused or "expected_orders" not in scored:
        rows.refuse("clv", fm.verdicts["value"].messages or ["value models were not fitted"])
        return
    p = purchases(ws.table("orders"))
    lo, hi = cutoff - dt.timedelta(days=365), cutoff + dt.timedelta(days=days)
    d = p.group_by(["customer_id", "day"]).aggregate(net=p.net.sum())
    agg = d.group_by("customer_id").aggregate(
        after_orders=(d.day >= ibis.literal(cutoff)).sum(where=d.day < ibis.literal(hi)),
        after_spend=d.net.sum(where=(d.day >= ibis.literal(cutoff)) & (d.day < ibis.literal(hi))),
        year_orders=(d.day >= ibis.literal(lo)).sum(where=d.day < ibis.literal(cutoff)),
        year_spend=d.net.sum(where=(d.day >= ibis.literal(lo)) & (d.day < ibis.literal(cutoff))),
    )
    actual = ws.execute(agg).set_index("customer_id").reindex(scored.index).fillna(0.0).astype(float)
    scale = days / 365.0
    # the BTYD counts repeat purchases after the first; a purchase day is what we count after the cutoff
    pred_orders = scored["expected_orders"].to_numpy(dtype=float)
    pred_spend = scored["expected_spend"].to_numpy(dtype=float)
    base_orders = actual["year_orders"].to_numpy() * scale
    base_spend = actual["year_spend"].to_numpy() * scale
    y_orders, y_spend = actual["after_orders"].to_numpy(), actual["after_spend"].to_numpy()
    common = {"n": len(scored), "horizon": days, "population": f"customers who ordered before {cutoff}",
                  "status": "warn" if fm.verdicts["value"].small else "ok"}

    def total_err(pred, y):
        return (pred.sum() - y.sum()) / max(y.sum(), 1e-9)

    te, tb = total_err(pred_orders, y_orders), total_err(base_orders, y_orders)
    rows.add("clv", "orders_total_error", te, "last year's pace", tb,
             f"In the {days} days after {cutoff} these {len(scored):,} customers ordered on {y_orders.sum():,.0f} days; "
             f"the model expected {pred_orders.sum():,.0f} ({'+' if te >= 0 else ''}{_pct(te)}), repeating last "
             f"year's pace gave {base_orders.sum():,.0f} ({'+' if tb >= 0 else ''}{_pct(tb)}).", **common)
    mae, mae_b = np.abs(pred_orders - y_orders).mean(), np.abs(base_orders - y_orders).mean()
    rows.add("clv", "orders_mae", mae, "last year's pace", mae_b,
             f"Per customer, expected orders were off by {mae:.2f} on average; last year's pace by {mae_b:.2f}.", **common)
    smae, smae_b = np.abs(pred_spend - y_spend).mean(), np.abs(base_spend - y_spend).mean()
    ste, stb = total_err(pred_spend, y_spend), total_err(base_spend, y_spend)
    rows.add("clv", "spend_mae", smae, "last year's pace", smae_b,
             f"Per customer, expected spend was off by {smae:,.0f} on average (total {'+' if ste >= 0 else ''}{_pct(ste)}); "
             f"last year's pace by {smae_b:,.0f} (total {'+' if stb >= 0 else ''}{_pct(stb)}).", **common)
    rows.add("clv", "spend_total_error", ste, "last year's pace", stb, None, **common)


def _judge_forecast(ws, rows, fm, cutoff, available):
    if fm.forecast is None:
        rows.refuse("forecast", fm.verdicts["forecast"].messages or ["the forecast was not fitted"])
        return
    days = min(FORECAST_DAYS, available)
    if days < 7:
        rows.add("forecast", "readiness", None, sentence="less than a week after the cutoff to judge the forecast",
                 status="refused")
        return
    fc = fm.forecast.forecast(days, start=cutoff)
    actual = ws.execute(daily_sales(ws, cutoff + dt.timedelta(days=days)))
    actual["day"] = pd.to_datetime(actual["day"])
    actual = actual.set_index("day")["orders"].astype(float)
    span = pd.date_range(pd.Timestamp(cutoff) - pd.Timedelta(days=7), periods=days + 7, freq="D")
    actual = actual.reindex(span, fill_value=0.0)
    fc_days = pd.to_datetime(fc["day"])
    y = actual.reindex(fc_days).to_numpy()
    naive = actual.reindex(fc_days - pd.Timedelta(days=7)).to_numpy()
    # the naive rule may only use days before the cutoff: repeat the last observed week
    before = actual[actual.index < pd.Timestamp(cutoff)].iloc[-7:].to_numpy()
    naive = np.resize(before, days)
    pred = fc["orders"].to_numpy()
    inside = float(((y >= fc["orders_lower"].to_numpy()) & (y <= fc["orders_upper"].to_numpy())).mean())
    weeks = days // 7
    wk = lambda v: v[: weeks * 7].reshape(weeks, 7).sum(axis=1)
    mape = float(np.mean(np.abs(wk(pred) - wk(y)) / np.maximum(wk(y), 1))) if weeks else float("nan")
    mape_b = float(np.mean(np.abs(wk(naive) - wk(y)) / np.maximum(wk(y), 1))) if weeks else float("nan")
    common = {"n": days, "horizon": days, "population": f"the {days} days from {cutoff}",
                  "status": "warn" if fm.verdicts["forecast"].small else "ok"}
    rows.add("forecast", "mae_orders_per_day", np.abs(pred - y).mean(), "same weekday, last week repeated",
             np.abs(naive - y).mean(),
             f"Daily orders were forecast within {np.abs(pred - y).mean():.1f} orders a day on average; repeating the "
             f"last week before the cutoff was off by {np.abs(naive - y).mean():.1f}.", **common)
    rows.add("forecast", "mape_weekly", mape, "same weekday, last week repeated", mape_b,
             f"Weekly totals were off by {_pct(mape)} on average ({_pct(mape_b)} for repeating the last week).", **common)
    rows.add("forecast", "interval_coverage", inside, None, fm.forecast.interval,
             f"{_pct(inside)} of the days fell inside the {_pct(fm.forecast.interval)} forecast range.", **common)


def _judge_leads(ws, rows, fm, cutoff, available):
    if fm.leads is None:
        rows.refuse("leads", fm.verdicts["leads"].messages or ["lead scoring was not fitted"])
        return
    if available < PROPENSITY_WINDOW:
        rows.add("leads", "readiness", None, sentence="less than 30 days after the cutoff to judge lead tiers",
                 status="refused")
        return
    X = ws.execute(lead_features(ws, cutoff)).set_index("customer_id")
    if len(X) < 10:
        rows.add("leads", "readiness", None, sentence="too few leads at the cutoff to judge lead tiers", status="refused")
        return
    tiers = fm.leads.score(X)["tier"]
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
