"""Customer text features in the churn model -- only if the backtest shows they help.

Features (per customer, from texts written before the snapshot date only): mean VADER sentiment
of what they wrote, how many texts, how many negative ones, and negative support tickets in the 90
days before. They enter the churn and propensity models only after :func:`compare` has refitted
the churn model at the backtest cutoff with and without them and the version with them was better
on the customers' real outcomes: AUC higher by at least :data:`MIN_AUC_GAIN` and a Brier score no
worse. The decision and both sets of metrics are stored (``text_feature_decisions``) and shown by
``regulars text features`` and in the churn model card.
"""

from __future__ import annotations

import contextlib
import contextvars

import pandas as pd

from regulars.data import text_store

MIN_AUC_GAIN = 0.005
FEATURES = ("text_sentiment", "texts_written", "negative_texts", "negative_tickets_90d")

_override: contextvars.ContextVar[bool | None] = contextvars.ContextVar("text_features_override", default=None)


def enabled(ws) -> bool:
    """True when text features are model inputs: the latest decision (or the override while comparing)."""
    forced = _override.get()
    if forced is not None:
        return forced
    if "text_feature_decisions" not in ws.list_tables():
        return False
    decision = text_store.latest_feature_decision(ws)
    return bool(decision and decision["use"])


@contextlib.contextmanager
def forced(value: bool):
    token = _override.set(value)
    try:
        yield
    finally:
        _override.reset(token)


def text_features(ws, as_of) -> pd.DataFrame:
    """The features of every customer who wrote something before *as_of* (others: no text, zeros)."""
    frame = text_store.customer_text_features(ws, as_of).set_index("customer_id")
    return frame[list(FEATURES)].astype(float)


def compare(ws, cutoff=None, progress=None) -> dict:
    """Refit churn at *cutoff* with and without text features, judge both on the real outcomes, store the decision."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from regulars.jobs.backtest import ACTIVE_DAYS, default_cutoff
    from regulars.jobs.predict import fit_models, score_customers
    from regulars.models.churn import churn_labels

    say = progress or (lambda _s: None)
    if text_store.latest_run(ws) is None:
        raise ValueError("no text analysis yet: run `regulars text analyse` first")
    cutoff = pd.Timestamp(cutoff).date() if cutoff is not None else default_cutoff(ws)
    results = {}
    for use in (False, True):
        say(f"refitting churn {'with' if use else 'without'} text features")
        with forced(use):
            fm = fit_models(ws, cutoff, progress=say)
            if fm.churn is None:
                raise ValueError("the churn model could not be fitted at the cutoff: "
                                 + "; ".join(fm.verdicts["churn"].messages))
            scored = score_customers(ws, fm, horizon_days=90, reasons=False).set_index("customer_id")
        since = (pd.Timestamp(cutoff) - pd.to_datetime(scored["last_order_at"])).dt.days
        active = scored[since.to_numpy() <= ACTIVE_DAYS]
        labels = ws.execute(churn_labels(ws.table("orders"), cutoff, 90)).set_index("customer_id")["churned"]
        y = labels.reindex(active.index).fillna(0).astype(int).to_numpy()
        p = active["churn_risk"].to_numpy(dtype=float)
        results[use] = {"auc": float(roc_auc_score(y, p)), "brier": float(brier_score_loss(y, p)), "n": len(y),
                        "inputs": [str(f) for f in fm.churn.feature_names_in_]}
    with_, without = results[True], results[False]
    keep = with_["auc"] >= without["auc"] + MIN_AUC_GAIN and with_["brier"] <= without["brier"] + 1e-9
    sentence = (f"Churn backtest at {cutoff} on {with_['n']:,} customers: AUC {with_['auc']:.3f} with text features "
                f"vs {without['auc']:.3f} without; Brier {with_['brier']:.4f} vs {without['brier']:.4f}. "
                + ("Kept: they help." if keep else f"Not used: they do not help enough (an AUC gain of at least "
                                                   f"{MIN_AUC_GAIN} and no worse Brier score is required)."))
    row = {"decided_at": pd.Timestamp.now(tz="UTC").tz_localize(None), "cutoff": cutoff, "use": bool(keep),
           "n": with_["n"], "auc_with": with_["auc"], "auc_without": without["auc"], "brier_with": with_["brier"],
           "brier_without": without["brier"], "sentence": sentence}
    if not set(FEATURES) <= set(with_["inputs"]) or set(FEATURES) & set(without["inputs"]):
        raise RuntimeError("the comparison did not change the churn model's inputs; nothing was decided")
    text_store.write_feature_decision(ws, row)
    return {**row, "cutoff": cutoff.isoformat(), "decided_at": str(row["decided_at"])[:19]}
