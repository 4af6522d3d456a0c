"""Customer text features in the churn model -- only if the backtest shows they help.

Two groups of features, per customer, from texts written before the snapshot date only:

- **sentiment**: mean VADER sentiment of what they wrote, how many texts, how many negative ones,
  and negative support tickets in the 90 days before;
- **complaint_topic**: the topic of their last complaint (negative text), one-hot by shop theme
  (:mod:`regulars.text.complaints`). The topics are fitted again at every snapshot date on the
  complaints written before it: the stored topics of ``regulars text analyse`` are fitted on every
  text, later ones included, and would carry the future into the past.

A group enters the churn and propensity models only after :func:`compare` has refitted the churn
model at the backtest cutoff with and without it (on top of the groups already kept) and the
version with it was better on the customers' real outcomes: AUC higher by at least
:data:`MIN_AUC_GAIN` and a Brier score no worse. The decision and the metrics are stored
(``text_feature_decisions``) and shown by ``regulars text features`` and in the churn and
propensity model cards.
"""

from __future__ import annotations

import contextlib
import hashlib
import contextvars

import pandas as pd

from regulars.data import text_store
from regulars.text.complaints import COLUMNS, ComplaintTopics

MIN_AUC_GAIN = 0.005
FEATURES = ("text_sentiment", "texts_written", "negative_texts", "negative_tickets_90d")

#: Feature groups, judged one after the other (each kept only if it helps the model with the ones
#: kept before it): what customers wrote and how they felt, then the topic of their last complaint.
GROUPS: dict[str, tuple[str, ...]] = {"sentiment": FEATURES, "complaint_topic": COLUMNS}
TITLES = {"sentiment": "Sentiment features (mean sentiment, texts written, negative texts, negative tickets "
                       "in the last 90 days)",
          "complaint_topic": "Topic of the last complaint"}

_override: contextvars.ContextVar[frozenset | None] = contextvars.ContextVar("text_features_override", default=None)


def enabled(ws, group: str = "sentiment") -> bool:
    """True when the features of *group* are model inputs: the latest decision (or the override while comparing).

    A decision stored before topics were judged (no per-group verdicts) covers the sentiment group only.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown text feature group {group!r}; known: {', '.join(GROUPS)}")
    forced_groups = _override.get()
    if forced_groups is not None:
        return group in forced_groups
    if "text_feature_decisions" not in ws.list_tables():
        return False
    decision = text_store.latest_feature_decision(ws)
    if not decision:
        return False
    groups = decision.get("groups")
    if groups:
        return bool(groups.get(group, {}).get("use"))
    return group == "sentiment" and bool(decision["use"])


@contextlib.contextmanager
def forced(value):
    """Use exactly these feature groups while the block runs: True (all), False (none) or group names."""
    groups = frozenset(GROUPS) if value is True else frozenset() if value is False else frozenset(value)
    unknown = groups - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown text feature group(s) {sorted(unknown)}; known: {', '.join(GROUPS)}")
    token = _override.set(groups)
    try:
        yield
    finally:
        _override.reset(token)


def text_features(ws, as_of) -> pd.DataFrame:
    """The features of every customer who wrote something before *as_of* (others: no text, zeros)."""
    frame = text_store.customer_text_features(ws, as_of).set_index("customer_id")
    return frame[list(FEATURES)].astype(float)


_COMPLAINT_CACHE: dict[tuple, pd.DataFrame] = {}


def complaint_topic_features(ws, as_of) -> pd.DataFrame:
    """One-hot topic of each customer's last complaint before *as_of* (:data:`COLUMNS`), for every
    customer with a complaint then; the others get ``complaint_none`` when joined.

    The topics are fitted on the complaints written before *as_of* only, so a later text changes
    nothing here. A result is kept for the same complaints (a backtest asks for the same dates
    several times); any change to them, or to their words, fits again.
    """
    complaints = text_store.complaints_before(ws, as_of)
    words = text_store.product_words(ws)
    digest = hashlib.blake2b(pd.util.hash_pandas_object(complaints, index=False).to_numpy().tobytes()
                             + "\n".join(sorted(words)).encode(), digest_size=16).hexdigest()
    key = (pd.Timestamp(as_of).date(), digest)
    if key not in _COMPLAINT_CACHE:
        encoder = ComplaintTopics(extra_stop_words=words).fit(
            complaints["text"].tolist(), keys=(complaints["source"] + ":" + complaints["text_id"]).tolist())
        last = complaints[complaints["is_last"]]
        frame = pd.DataFrame(encoder.transform(last["text"].tolist()), columns=list(COLUMNS),
                             index=pd.Index(last["customer_id"].to_numpy(), name="customer_id"))
        while len(_COMPLAINT_CACHE) >= 16:
            _COMPLAINT_CACHE.pop(next(iter(_COMPLAINT_CACHE)))
        _COMPLAINT_CACHE[key] = frame
    return _COMPLAINT_CACHE[key].copy()


def _judge(ws, cutoff, groups: frozenset, say) -> dict:
    """Refit churn at *cutoff* with these text feature groups; its AUC and Brier score on the real outcomes."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from regulars.features.labels import ACTIVE_DAYS, CHURN_WINDOW, churn_labels
    from regulars.jobs.predict import fit_models
    from regulars.jobs.scoring import score_customers
    from regulars.jobs.tables import in_shop_money

    say("refitting churn with " + (", ".join(TITLES[g].split(" (")[0].lower() for g in sorted(groups))
                                   if groups else "no text features"))
    reads = in_shop_money(ws)  # amounts in the shop's currency, as `regulars predict` reads them
    with forced(groups):
        fm = fit_models(reads, cutoff, progress=say)
        if fm.churn is None:
            raise ValueError("the churn model could not be fitted at the cutoff: "
                             + "; ".join(fm.verdicts["churn"].messages))
        scored = score_customers(reads, fm, reasons=False, value=False).set_index("customer_id")
    since = (pd.Timestamp(cutoff) - pd.to_datetime(scored["last_order_date"])).dt.days
    active = scored[since.to_numpy() <= ACTIVE_DAYS]
    labels = ws.execute(churn_labels(ws.table("orders"), cutoff, CHURN_WINDOW)).set_index("customer_id")["churned"]
    y = labels.reindex(active.index).fillna(0).astype(int).to_numpy()
    p = active["churn_risk"].to_numpy(dtype=float)
    return {"auc": float(roc_auc_score(y, p)), "brier": float(brier_score_loss(y, p)), "n": len(y),
            "inputs": [str(f) for f in fm.churn.feature_names_in_]}


def helps(with_: dict, without: dict) -> bool:
    """The rule: AUC higher by at least :data:`MIN_AUC_GAIN` and a Brier score no worse.

    >>> helps({"auc": 0.80, "brier": 0.150}, {"auc": 0.79, "brier": 0.151})
    True
    >>> helps({"auc": 0.80, "brier": 0.152}, {"auc": 0.79, "brier": 0.151})
    False
    """
    return with_["auc"] >= without["auc"] + MIN_AUC_GAIN and with_["brier"] <= without["brier"] + 1e-9


def compare(ws, cutoff=None, progress=None) -> dict:
    """Judge the text feature groups at *cutoff* on the customers' real outcomes and store the decision.

    The churn model is refitted without text features, then with each group of :data:`GROUPS` added
    in turn to the groups kept so far; a group is kept when it :func:`helps`. The row-level
    ``auc_with`` / ``brier_with`` are those of the model with every kept group (equal to the model
    without text features when none is kept); ``groups`` holds each group's own comparison.
    """
    from regulars.jobs.backtest import default_cutoff

    say = progress or (lambda _s: None)
    if text_store.latest_run(ws) is None:
        raise ValueError("no text analysis yet: run `regulars text analyse` first")
    cutoff = pd.Timestamp(cutoff).date() if cutoff is not None else default_cutoff(ws)
    kept: set[str] = set()
    without = current = _judge(ws, cutoff, frozenset(), say)
    verdicts, parts = {}, []
    for group, columns in GROUPS.items():
        trial = _judge(ws, cutoff, frozenset(kept | {group}), say)
        if not set(columns) <= set(trial["inputs"]) or set(columns) & set(current["inputs"]):
            raise RuntimeError(f"the comparison did not change the churn model's inputs for {group}; "
                               "nothing was decided")
        use = helps(trial, current)
        verdicts[group] = {"use": use, "auc_with": trial["auc"], "auc_without": current["auc"],
                           "brier_with": trial["brier"], "brier_without": current["brier"],
                           "on_top_of": sorted(kept)}
        base = " (added to " + ", ".join(TITLES[g].split(" (")[0].lower() for g in sorted(kept)) + ")" if kept else ""
        parts.append(f"{TITLES[group]}{base}: AUC {trial['auc']:.3f} with vs {current['auc']:.3f} without, "
                     f"Brier {trial['brier']:.4f} vs {current['brier']:.4f}: "
                     + ("kept (it helps)." if use else "not used (it does not help enough)."))
        if use:
            kept.add(group)
            current = trial
    sentence = (f"Churn backtest at {cutoff} on {without['n']:,} customers. " + " ".join(parts)
                + f" (Kept only with an AUC gain of at least {MIN_AUC_GAIN} and no worse Brier score.)")
    row = {"decided_at": pd.Timestamp.now(tz="UTC").tz_localize(None), "cutoff": cutoff, "use": bool(kept),
           "n": without["n"], "auc_with": current["auc"], "auc_without": without["auc"],
           "brier_with": current["brier"], "brier_without": without["brier"], "sentence": sentence,
           "groups": verdicts}
    text_store.write_feature_decision(ws, row)
    return {**row, "cutoff": cutoff.isoformat(), "decided_at": str(row["decided_at"])[:19]}


def verdicts(decision: dict | None) -> dict[str, bool | None]:
    """Per group: used (True), not used (False) or never judged (None), from a stored decision.

    >>> verdicts(None)
    {'sentiment': None, 'complaint_topic': None}
    >>> verdicts({"use": True, "groups": None})  # decided before the complaint topic was judged
    {'sentiment': True, 'complaint_topic': None}
    """
    if decision is None:
        return {g: None for g in GROUPS}
    groups = decision.get("groups")
    if groups:
        return {g: bool(groups[g]["use"]) if g in groups else None for g in GROUPS}
    return {g: bool(decision["use"]) if g == "sentiment" else None for g in GROUPS}


def card_sentence(decision: dict | None) -> str:
    """What the churn and propensity model cards say about text features: the comparison and each verdict."""
    if decision is None:
        return ("Customer text features (sentiment, negative tickets, topic of the last complaint) are not used: "
                "not compared yet (`regulars text features --evaluate`).")
    words = []
    for group, used in verdicts(decision).items():
        name = TITLES[group].split(" (")[0]
        words.append(f"{name}: " + ("used." if used else "not used." if used is False
                                     else "not judged yet, so not used (`regulars text features --evaluate`)."))
    return decision["sentence"] + " " + " ".join(words)
