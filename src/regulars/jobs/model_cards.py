"""Model cards, regenerated on every ``regulars predict``: one per fitted model.

:func:`write_model_cards` is called by :func:`regulars.jobs.predict.predict` when it has written
the predictions. Each card gathers what the prediction run knows (data window and size, inputs,
mode), the latest backtest's metrics with their baselines and interval coverage, the latest
fairness audit, and known limitations; :func:`regulars.fairness.cards.render_markdown` writes it as
Markdown. Cards are stored in ``model_cards`` (:mod:`regulars.data.fairness_store`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from regulars.data import fairness_store as store
from regulars.data import order_queries, predictions_store
from regulars.fairness.cards import render_markdown
from regulars.fairness.groups import sensitive_inputs

BTYD_INPUTS = ["frequency (repeat purchase days)", "recency (day of the last purchase)", "T (customer age in days)",
               "monetary value (average net spend of repeat purchases)"]

#: model -> (title, intended use, not for, backtest name, static limitations)
ABOUT: dict[str, tuple] = {
    "churn": ("Churn risk", "Rank customers by the chance that they place no order in the next 90 days, to choose "
              "whom to win back first; read with the reasons shown next to each score.",
              ["decisions about credit, prices or access to service", "judging one customer without looking at them"],
              "churn", ["A customer who buys rarely (once a year) looks at risk most of the time.",
                        "Trained on the shop's own past: a change of range, prices or channels makes it less accurate "
                        "until it is refitted."]),
    "propensity": ("30-day purchase propensity", "Estimate each customer's chance of ordering in the next 30 days, "
                   "to time reminders and plan stock.", ["deciding prices per customer"], "propensity",
                   ["Promotions that were not in the history (a new kind of sale) are not anticipated."]),
    "value": ("Customer value (BG/NBD + Gamma-Gamma)", "Expected orders, spend and lifetime value per customer over "
              "the horizon, with 80% ranges, and the chance a customer is still active.",
              ["accounting revenue forecasts (use the demand forecast)"], "clv",
              ["Assumes customers buy at a steady personal rate until they silently stop; strong seasonality and "
               "subscriptions break that assumption.", "Says nothing about customers who never bought."]),
    "next_order": ("Next order date", "When each repeat customer is likely to order next, with an 80% range.",
                   ["promising delivery dates"], "next_order",
                   ["Customers with a single order get the shop-wide gap, so their dates are rough."]),
    "leads": ("Lead scores", "Sort people who have not bought yet into hot, warm and cold leads from their visits and "
              "e-mail engagement.", ["excluding anyone from the shop"], "leads",
              ["Without enough past conversions the tiers come from simple rules, not a fitted model."]),
    "forecast": ("Demand forecast", "Daily orders and revenue for the next weeks, with ranges, for stock and "
                 "staffing.", ["per-customer decisions"], "forecast",
                 ["Events the history has not seen (a new store, a viral post) are not foreseen."]),
}


def _window(ws, as_of: dt.date) -> str:
    first = order_queries.first_order_date(ws, before=as_of)
    return f"{first} to {as_of - dt.timedelta(days=1)}" if first else "no orders"


def _performance(backtests: pd.DataFrame, name: str) -> tuple[list[dict], list[dict], str | None]:
    rows = backtests[(backtests["model"] == name) & (backtests["metric"] != "readiness")]
    refused = backtests[(backtests["model"] == name) & (backtests["metric"] == "readiness")]
    perf, coverage = [], []
    for r in rows.to_dict("records"):
        item = {"metric": r["metric"], "value": None if pd.isna(r["value"]) else float(r["value"]),
                "baseline": r["baseline"], "sentence": r["sentence"],
                "baseline_value": None if pd.isna(r["baseline_value"]) else float(r["baseline_value"])}
        (coverage if r["metric"] == "interval_coverage" else perf).append(item)
    note = None
    if not len(rows):
        note = ("; ".join(refused["sentence"].dropna()) if len(refused) else
                "Not backtested yet: run `regulars backtest`.")
    return perf, coverage, note


def _fairness(ws, name: str) -> dict:
    audit_name = {"value": None, "next_order": None, "forecast": None}.get(name, name)
    if audit_name is None:
        return {"status": "Not audited: this model does not select customers (it estimates amounts or dates); "
                          "its errors per group are not measured yet.", "flags": []}
    audit = store.latest_audit(ws, audit_name)
    if audit is None:
        return {"status": "Not audited yet: run `regulars audit`.", "flags": []}
    run = audit["run"]
    flags = audit["flags"]["sentence"].tolist()
    status = (f"Audited on {str(run['finished_at'])[:10]} (decisions at {run['cutoff']}, {int(run['n']):,} customers, "
              f"by {', '.join(a.replace('_', ' ') for a in run['attributes'])}): "
              + (f"{len(flags)} gap(s) to look at." if flags else "no gap beyond the thresholds."))
    return {"status": status, "flags": flags, "notes": run["notes"]}


def build_cards(ws, result, fm) -> list[dict]:
    """One card per model the prediction run fitted (refused models get none)."""
    from regulars.jobs.predict import training_dates
    from regulars.jobs.scoring import CHURN_WINDOW, MODEL_VERSIONS, PROPENSITY_WINDOW

    backtests = predictions_store.read_backtests(ws)
    as_of = result.as_of
    window = _window(ws, as_of)
    scored = result.rows.get("customer_predictions", 0)
    cards = []
    for name, verdict in result.verdicts.items():
        if verdict.refused or name not in ABOUT:
            continue
        title, use, not_for, bt_name, limits = ABOUT[name]
        data = {"window": window, "customers_scored": int(scored), "mode": verdict.status}
        features: list[str] = []
        model = getattr(fm, name, None)
        if name in ("churn", "propensity") and model is not None:
            features = [str(f) for f in model.feature_names_in_]
            data["training_rows"] = int(getattr(model, "n_train_", 0)) or None
            data["calibration_rows"] = int(getattr(model, "n_calibration_", 0) or 0) or None
            w = CHURN_WINDOW if name == "churn" else PROPENSITY_WINDOW
            data["snapshots"] = [d.isoformat() for d in training_dates(as_of, w, 2)] + [
                (as_of - dt.timedelta(days=w)).isoformat() + " (calibration)"]
        elif name in ("value", "next_order"):
            features = BTYD_INPUTS if name == "value" else BTYD_INPUTS[:3] + ["log gaps between purchase days"]
        elif name == "leads":
            from regulars.models.leads import LEAD_FEATURES

            features = list(LEAD_FEATURES)
            data["customers_scored"] = int(result.rows.get("lead_scores", 0))
        elif name == "forecast":
            features = ["daily orders and revenue before the as-of date", "weekday", "time of year"]
            data["customers_scored"] = None
        if name in ("churn", "propensity"):
            from regulars.data import text_store

            from regulars.jobs.text_features import card_sentence

            decision = text_store.latest_feature_decision(ws) if "text_feature_decisions" in ws.list_tables() else None
            data["text_features"] = card_sentence(decision)
        excluded = (result.summary or {}).get("not_personalised")
        if excluded and name in ("churn", "propensity", "value", "next_order"):
            data["excluded"] = (f"{excluded:,} customer(s) who refused personalisation get no personal score "
                                "(generic treatment)")
        perf, coverage, note = _performance(backtests, bt_name)
        limitations = list(limits) + [m for m in verdict.messages]
        if verdict.small:
            limitations.insert(0, "Runs in small-data mode: a simpler model and wide ranges; accuracy figures are rough.")
        card = {"model": name, "title": title, "version": MODEL_VERSIONS.get(name, name), "as_of": as_of.isoformat(),
                "intended_use": use, "not_for": not_for, "data": data, "features": features,
                "sensitive_inputs": sensitive_inputs(features), "performance": perf, "coverage": coverage,
                "performance_note": note, "fairness": _fairness(ws, name), "limitations": limitations}
        cards.append(card)
    return cards


def write_model_cards(ws, result, fm) -> int:
    """Build and store the cards of one prediction run; returns how many were written."""
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    cards = build_cards(ws, result, fm)
    return store.write_cards(ws, [{"model": c["model"], "as_of": result.as_of, "run_id": result.run_id,
                                   "created_at": now, "card": c, "markdown": render_markdown(c)} for c in cards])
