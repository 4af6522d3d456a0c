"""Predictions, read side: the shop-wide summary, one customer's predictions, backtest results.

Every function reads what ``regulars predict`` and ``regulars backtest`` stored and returns a
typed result with ``to_dict()``; the CLI, the API and the dashboard all render these. Each
prediction comes with its accuracy on the shop's own history (the latest backtest's plain
sentences) and, when the data was too thin, the readiness message **instead of** numbers.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> s = predictions_summary(ws)
>>> s.as_of is None, s.notes[0]
(True, 'no predictions yet: run `regulars predict`')
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pandas as pd

from regulars.data import customer_queries
from regulars.data import predictions_store as store
from regulars.data.rows import jsonable

__all__ = [
    "BacktestReport",
    "CustomerPredictions",
    "PredictionsSummary",
    "accuracy_sentences",
    "backtest_report",
    "customer_predictions",
    "predictions_summary",
]

#: Which backtest model judges which prediction column.
JUDGED_BY = {
    "churn_risk": "churn", "propensity_30d": "propensity", "next_order_date": "next_order", "p_alive": "next_order",
    "clv": "clv", "expected_orders": "clv", "lead_tier": "leads", "forecast": "forecast",
}
#: Which readiness verdict governs which prediction.
GOVERNED_BY = {"churn": "churn", "propensity": "propensity", "next_order": "next_order", "clv": "value",
               "leads": "leads", "forecast": "forecast"}


def _clean(value):
    """NaN/NA as None, numpy scalars as Python numbers."""
    if value is None or (not isinstance(value, (str, list, dict)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _parse(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class BacktestReport:
    """One backtest run: its cutoff, each model's status, sentences and metrics."""

    run_id: str | None
    cutoff: dt.date | None
    run_at: dt.datetime | None
    models: dict[str, dict] = field(default_factory=dict)

    def sentences(self, model: str) -> list[str]:
        return list(self.models.get(model, {}).get("sentences", []))

    def to_dict(self) -> dict:
        return jsonable({"run_id": self.run_id, "cutoff": self.cutoff, "run_at": self.run_at, "models": self.models})


def backtest_report(ws, run_id: str | None = None) -> BacktestReport:
    """The latest (or the given) backtest run, grouped by model."""
    df = store.read_backtests(ws, run_id)
    if df.empty:
        return BacktestReport(None, None, None)
    models: dict[str, dict] = {}
    for model, rows in df.groupby("model", sort=False):
        statuses = set(rows["status"])
        status = "refused" if "refused" in statuses else "warn" if "warn" in statuses else "ok"
        metrics = {}
        for r in rows.itertuples(index=False):
            if r.metric == "readiness":
                continue
            metrics[r.metric] = {"value": _clean(r.value), "baseline": _clean(r.baseline),
                                 "baseline_value": _clean(r.baseline_value), "n": _clean(r.n),
                                 "horizon_days": _clean(r.horizon_days), "population": _clean(r.population),
                                 "details": _parse(_clean(r.details))}
        order = rows["metric"].map(lambda m: 0 if m == "readiness" else 1)
        sentences = [s for s in rows.assign(_o=order).sort_values("_o", kind="stable")["sentence"] if isinstance(s, str)]
        models[model] = {"status": status, "sentences": sentences, "metrics": metrics}
    first = df.iloc[0]
    return BacktestReport(first["run_id"], pd.Timestamp(first["cutoff"]).date(), first["run_at"], models)


def accuracy_sentences(report: BacktestReport, model: str) -> list[str]:
    """What to show next to a prediction: the backtest's sentences, or a note that there is none."""
    if report.run_id is None:
        return ["not backtested yet: run `regulars backtest` to see how accurate this has been on your history"]
    if model not in report.models:
        return [f"the last backtest (cutoff {report.cutoff}) did not cover this prediction"]
    return [f"backtest with cutoff {report.cutoff}:"] + report.sentences(model)


@dataclass
class PredictionsSummary:
    """Shop-wide view of the latest predictions."""

    as_of: dt.date | None
    readiness: dict[str, dict]
    counts: dict
    at_risk: list[dict]
    likely_buyers: list[dict]
    leads: dict
    forecast: list[dict]
    busiest_days: list[dict]
    replenishments_due: int
    accuracy: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)
    busiest_weekdays: list[dict] = field(default_factory=list)  # forecast orders vs the average day

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


def predictions_summary(ws, as_of=None, top: int = 10) -> PredictionsSummary:
    """Counts, the most valuable customers at risk, likely buyers, leads, forecast and accuracy."""
    as_of = pd.Timestamp(as_of).date() if as_of is not None else store.latest_as_of(ws)
    report = backtest_report(ws)
    if as_of is None:
        return PredictionsSummary(None, {}, {}, [], [], {}, [], [], 0, {}, ["no predictions yet: run `regulars predict`"])
    run = store.read_prediction_run(ws, as_of) or {}
    readiness = run.get("readiness") or {}
    preds = store.read_customer_predictions(ws, as_of)
    notes = [m for v in readiness.values() for m in v.get("messages", [])]
    from regulars.reports.kpis import guest_note

    guests = guest_note(ws, as_of)
    if guests:
        notes.append(guests.replace("not in customer analyses", "not in the customer predictions"))
    counts: dict = {"customers": len(preds)}
    at_risk, buyers = [], []
    if len(preds) and preds["churn_risk"].notna().any():
        counts["churn_bands"] = {b: int((preds["churn_band"] == b).sum()) for b in ("high", "medium", "low")}
        risky = preds[preds["churn_band"] == "high"].copy()
        risky = risky.sort_values(["clv", "churn_risk"], ascending=False, na_position="last").head(top)
        at_risk = [{"customer_id": r.customer_id, "churn_risk": r.churn_risk, "clv": r.clv,
                    "reasons": _parse(r.churn_reasons)} for r in risky.itertuples()]
    if len(preds) and preds["propensity_30d"].notna().any():
        counts["expected_buyers_30d"] = float(preds["propensity_30d"].sum())
        likely = preds.nlargest(top, "propensity_30d")
        buyers = [{"customer_id": r.customer_id, "propensity_30d": r.propensity_30d,
                   "reasons": _parse(r.propensity_reasons)} for r in likely.itertuples()]
    if len(preds) and preds["clv"].notna().any():
        counts["total_clv"] = float(preds["clv"].sum())
        counts["expected_orders"] = float(preds["expected_orders"].sum())
    leads = store.read_table_as_of(ws, "lead_scores", as_of)
    lead_counts = {t: int((leads["tier"] == t).sum()) for t in ("hot", "warm", "cold")} if len(leads) else {}
    fc = store.read_table_as_of(ws, "demand_forecast", as_of).sort_values("day")
    forecast = fc[["day", "orders", "orders_lower", "orders_upper", "revenue", "revenue_lower", "revenue_upper"]].to_dict("records") if len(fc) else []
    busiest = fc.nlargest(5, "orders")[["day", "orders", "orders_upper"]].to_dict("records") if len(fc) else []
    weekdays = []
    if len(fc):
        by_day = fc.groupby(pd.to_datetime(fc["day"]).dt.day_name())["orders"].mean()
        weekdays = [{"weekday": d, "relative": float(v / by_day.mean())} for d, v in by_day.sort_values(ascending=False).items()]
    rep = store.read_table_as_of(ws, "replenishments", as_of)
    due = 0
    if len(rep):
        soon = pd.Timestamp(as_of) + pd.Timedelta(days=14)
        due = int((pd.to_datetime(rep["due_lower"]) <= soon).sum())
    accuracy = {model: accuracy_sentences(report, model) for model in ("churn", "propensity", "next_order", "clv",
                                                                         "leads", "forecast")}
    return PredictionsSummary(as_of, readiness, counts, at_risk, buyers, lead_counts, forecast, busiest, due,
                              accuracy, notes, weekdays)


@dataclass
class CustomerPredictions:
    """One customer's predictions with reasons, each with its accuracy or refusal message."""

    customer_id: str
    as_of: dt.date | None
    facts: dict
    predictions: dict
    reasons: dict[str, list[str]]
    replenishments: list[dict]
    lead: dict | None
    accuracy: dict[str, list[str]]
    refused: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)


class CustomerNotFound(LookupError):
    """No customer, order or lead with that id."""


def _resolve(ws, ref: str) -> str:
    """The customer id *ref* names (id, shop id, e-mail, phone); *ref* itself when none (it may be a lead)."""
    from regulars.data.erasure import CustomerNotFound as NoMatch, resolve_customer

    try:
        return resolve_customer(ws, ref)
    except NoMatch:
        return ref.strip()


def customer_predictions(ws, customer_id: str, as_of=None) -> CustomerPredictions:
    """Everything predicted for ``customer_id`` (latest ``as_of`` by default).

    Raises
    ------
    CustomerNotFound
        When the id is neither a customer nor a lead in the workspace.

    ``customer_id`` may also be a shop id, an e-mail or a phone number (written any way): it is
    resolved through the identity layer, as ``regulars export-customer`` does.
    """
    customer_id = _resolve(ws, customer_id)
    facts = customer_queries.order_facts(ws, customer_id)
    known = customer_queries.customer_exists(ws, customer_id)
    as_of = pd.Timestamp(as_of).date() if as_of is not None else store.latest_as_of(ws)
    row = store.read_customer_predictions(ws, as_of, customer_id) if as_of else pd.DataFrame()
    lead_df = store.read_table_as_of(ws, "lead_scores", as_of, customer_id) if as_of else pd.DataFrame()
    if not known and not facts["orders"] and row.empty and lead_df.empty:
        raise CustomerNotFound(f"no customer {customer_id!r} in this workspace (tried customer id, shop id, "
                               "e-mail and phone)")
    run = (store.read_prediction_run(ws, as_of) or {}) if as_of else {}
    readiness = run.get("readiness") or {}
    report = backtest_report(ws)
    predictions, reasons = {}, {}
    notes = []
    if as_of is None:
        notes.append("no predictions yet: run `regulars predict`")
    elif row.empty and lead_df.empty:
        notes.append(f"no prediction for this customer as of {as_of} (no purchase before that day)")
    if len(row):
        r = row.iloc[0].to_dict()
        keep = ["p_alive", "expected_orders", "expected_orders_lower", "expected_orders_upper", "expected_spend",
                "expected_spend_lower", "expected_spend_upper", "clv", "clv_lower", "clv_upper", "churn_risk",
                "churn_band", "propensity_30d", "next_order_date", "next_order_lower", "next_order_upper",
                "horizon_days", "data_mode", "orders_to_date", "last_order_date"]
        predictions = {k: (None if (not isinstance(r.get(k), str) and pd.isna(r.get(k))) else r.get(k)) for k in keep}
        predictions["model_versions"] = _parse(r.get("model_versions"))
        reasons = {"churn": _parse(r.get("churn_reasons")) or [], "propensity": _parse(r.get("propensity_reasons")) or []}
        if r.get("data_mode") == "small":
            notes.append("small-data mode: estimates lean on shop-wide averages and intervals are wide")
    lead = None
    if len(lead_df):
        lr = lead_df.iloc[0].to_dict()
        lead = {"tier": lr["tier"], "score": lr["score"], "reasons": _parse(lr["reasons"]), "last_seen_at": lr["last_seen_at"]}
    reps = store.read_table_as_of(ws, "replenishments", as_of, customer_id) if as_of else pd.DataFrame()
    replenishments = reps.drop(columns=["customer_id", "as_of", "run_id"], errors="ignore").to_dict("records")
    refused = {m: readiness[GOVERNED_BY[m]]["messages"] for m in GOVERNED_BY
               if readiness.get(GOVERNED_BY[m], {}).get("status") == "refused"}
    shown = ["churn", "propensity", "next_order", "clv"] + (["leads"] if lead else [])
    accuracy = {m: accuracy_sentences(report, m) for m in shown}
    return CustomerPredictions(customer_id, as_of, facts, predictions, reasons, replenishments, lead, accuracy,
                               refused, notes)
