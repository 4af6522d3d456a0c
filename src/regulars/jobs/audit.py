"""The fairness audit job: refit each model at a cutoff, judge its decisions per group of customers.

``run_audit(ws, models=None, cutoff=None)`` is what ``regulars audit [MODEL]`` runs. Each audited
model is **one registration** (:func:`register` with an :class:`AuditedModel`): how to get its
scores, its decisions ("selected") and the outcomes at the cutoff, and which inputs it used.
Churn, purchase propensity, lead scores, the next best action and product recommendations are
registered here; another model registers itself the same way.

The models are refitted on data before the cutoff (default: 90 days before the last order, as
the backtest) with the code ``regulars predict`` runs (:func:`~regulars.jobs.predict.fit_models`);
outcomes are what happened after. Groups are built from the customers table
(:func:`regulars.fairness.groups.customer_groups`) and never come from the model's inputs; the
audit reports which sensitive attributes the model *did* use as inputs (none, unless the shop
opted in with the privacy setting ``sensitive_inputs``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regulars.data import fairness_store as store
from regulars.data import privacy_store
from regulars.fairness.audit import (CALIBRATION_THRESHOLD, DISPARITY_THRESHOLD, GAP_THRESHOLD, AuditResult,
                                     audit_model)
from regulars.fairness.groups import customer_groups, sensitive_inputs
from regulars.features.labels import ACTIVE_DAYS, CHURN_WINDOW, PROPENSITY_WINDOW

#: The churn decision audited: the "high risk" band of ``regulars predict``.
CHURN_SELECTED = 0.6
#: The propensity decision audited: the top tenth of the customers by chance to buy.
PROPENSITY_TOP_SHARE = 0.1


@dataclass
class AuditContext:
    """What the registered models share within one audit: the workspace, the cutoff, one refit."""

    ws: object
    cutoff: dt.date
    progress: Callable[[str], None] = lambda _s: None
    _fitted: object = None
    _scored: pd.DataFrame | None = None

    def fitted(self):
        if self._fitted is None:
            from regulars.jobs.predict import fit_models
            from regulars.jobs.tables import in_shop_money

            self.progress(f"refitting the models on data before {self.cutoff}")
            self._fitted = fit_models(in_shop_money(self.ws), self.cutoff, progress=self.progress)
        return self._fitted

    def scored(self) -> pd.DataFrame:
        """Customers who ordered in the year before the cutoff, with their churn and propensity scores
        as of the cutoff, scored as the backtest scores them (without refitting the value models)."""
        if self._scored is None:
            from regulars.jobs.scoring import score_customers
            from regulars.jobs.tables import in_shop_money

            scored = score_customers(in_shop_money(self.ws), self.fitted(), reasons=False,
                                     value=False).set_index("customer_id")
            since = (pd.Timestamp(self.cutoff) - pd.to_datetime(scored["last_order_date"])).dt.days
            self._scored = scored[since.to_numpy() <= ACTIVE_DAYS]
        return self._scored


@dataclass(frozen=True)
class AuditedModel:
    """A model the audit knows: how to read its decisions at a cutoff, and its inputs.

    ``scores(ctx)`` returns ``customer_id, score, selected, outcome`` (None when the model was not
    fitted, with the reason in ``ctx``'s notes); ``inputs(ctx)`` the model's input names.
    """

    name: str
    title: str
    selection: str
    outcome: str
    scores: Callable[[AuditContext], pd.DataFrame | None]
    inputs: Callable[[AuditContext], list[str]]
    #: False when the score is not a probability (an expected value, a ranking score): no calibration judged
    probability: bool = True


REGISTRY: dict[str, AuditedModel] = {}


def register(model: AuditedModel) -> AuditedModel:
    """Make *model* auditable by ``regulars audit`` (one call per model)."""
    REGISTRY[model.name] = model
    return model


def _labels(ctx: AuditContext, fn, window: int, index, column: str) -> np.ndarray:
    lab = ctx.ws.execute(fn(ctx.ws.table("orders"), ctx.cutoff, window)).set_index("customer_id")[column]
    return lab.reindex(index).fillna(0).astype(bool).to_numpy()


def _churn_scores(ctx: AuditContext) -> pd.DataFrame | None:
    from regulars.features.labels import churn_labels

    if ctx.fitted().churn is None:
        return None
    s = ctx.scored()
    risk = s["churn_risk"].to_numpy(dtype=float)
    return pd.DataFrame({"customer_id": s.index, "score": risk, "selected": risk >= CHURN_SELECTED,
                         "outcome": _labels(ctx, churn_labels, CHURN_WINDOW, s.index, "churned")})


def _propensity_scores(ctx: AuditContext) -> pd.DataFrame | None:
    from regulars.features.labels import propensity_labels

    if ctx.fitted().propensity is None:
        return None
    s = ctx.scored()
    p = s["propensity_30d"].to_numpy(dtype=float)
    top = np.argsort(-p, kind="stable")[: max(1, round(len(p) * PROPENSITY_TOP_SHARE))]
    selected = np.zeros(len(p), dtype=bool)
    selected[top] = True
    return pd.DataFrame({"customer_id": s.index, "score": p, "selected": selected,
                         "outcome": _labels(ctx, propensity_labels, PROPENSITY_WINDOW, s.index, "bought")})


def _lead_scores(ctx: AuditContext) -> pd.DataFrame | None:
    from regulars.jobs.predict import converted
    from regulars.features.leads import lead_features

    fm = ctx.fitted()
    if fm.leads is None:
        return None
    X = ctx.ws.frame(lead_features(ctx.ws, ctx.cutoff)).set_index("customer_id")
    if X.empty:
        return None
    scored = fm.leads.tiers(X)
    return pd.DataFrame({"customer_id": X.index, "score": scored["score"].to_numpy(dtype=float),
                         "selected": (scored["tier"] == "hot").to_numpy(),
                         "outcome": converted(ctx.ws, X.index, ctx.cutoff, 30)})


def _classifier_inputs(name: str) -> Callable[[AuditContext], list[str]]:
    def inputs(ctx: AuditContext) -> list[str]:
        model = getattr(ctx.fitted(), name)
        return [str(f) for f in getattr(model, "feature_names_in_", [])]
    return inputs


def _lead_inputs(ctx: AuditContext) -> list[str]:
    from regulars.models.leads import LEAD_FEATURES

    return list(LEAD_FEATURES)


register(AuditedModel("churn", "Churn risk", "flagged at high churn risk (60% or more)",
                      "no order in the 90 days after the cutoff", _churn_scores, _classifier_inputs("churn")))
register(AuditedModel("propensity", "30-day purchase propensity", "rated in the top tenth most likely to buy",
                      "an order in the 30 days after the cutoff", _propensity_scores, _classifier_inputs("propensity")))
register(AuditedModel("leads", "Lead scores", "called a hot lead", "a first order within 30 days",
                      _lead_scores, _lead_inputs))

#: What the next-best-action chooser and the recommender saw, for the sensitive-input check.
_SEEN: dict[str, list[str]] = {}
_OUTPUTS = {"customer_id", "action", "expected_value", "as_of", "model_version", "run_id", "reason", "reasons",
            "channel", "label"}


def _next_action_scores(ctx: AuditContext) -> pd.DataFrame | None:
    from regulars.jobs.next_actions import next_actions
    from regulars.jobs.predict import converted
    from regulars.recommend.actions import DO_NOTHING

    chosen = next_actions(ctx.ws, as_of=ctx.cutoff, write=False).frame
    if chosen is None or chosen.empty:
        return None
    _SEEN["next_action"] = [c for c in chosen.columns if c not in _OUTPUTS]
    ids = chosen["customer_id"]
    return pd.DataFrame({"customer_id": ids.to_numpy(), "score": chosen["expected_value"].astype(float).to_numpy(),
                         "selected": (chosen["action"].astype(str) != DO_NOTHING).to_numpy(),
                         "outcome": converted(ctx.ws, ids, ctx.cutoff, 30)})


def _recommendation_scores(ctx: AuditContext) -> pd.DataFrame | None:
    from regulars.jobs.recommend import recommend

    recs = recommend(ctx.ws, as_of=ctx.cutoff, k=10, write=False).frame
    if recs is None or recs.empty:
        return None
    _SEEN["recommendations"] = [c for c in recs.columns if c not in _OUTPUTS | {"product_id", "rank", "score",
                                                                               "source", "served", "is_personal"}]
    if "is_personal" not in recs:
        recs = recs.assign(is_personal=recs["source"].astype(str) != "popularity" if "source" in recs else True)
    bought = store.products_bought(ctx.ws, ctx.cutoff, 30)
    hit = recs.merge(bought.assign(hit=True), on=["customer_id", "product_id"], how="left")
    per = hit.groupby("customer_id").agg(score=("score", "max"), personal=("is_personal", "max"),
                                         outcome=("hit", lambda h: bool(h.fillna(False).any())))
    return pd.DataFrame({"customer_id": per.index, "score": per["score"].astype(float).to_numpy(),
                         "selected": per["personal"].astype(bool).to_numpy(), "outcome": per["outcome"].to_numpy()})


register(AuditedModel("next_action", "Next best action", "offered an action (anything but doing nothing)",
                      "an order in the 30 days after the cutoff", _next_action_scores,
                      lambda ctx: _SEEN.get("next_action", []), probability=False))
register(AuditedModel("recommendations", "Product recommendations",
                      "given personal recommendations (not the best-sellers fallback)",
                      "bought one of their ten recommended products within 30 days", _recommendation_scores,
                      lambda ctx: _SEEN.get("recommendations", []), probability=False))


@dataclass
class AuditRun:
    cutoff: dt.date
    results: dict[str, AuditResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"cutoff": self.cutoff.isoformat(), "results": {k: v.to_dict() for k, v in self.results.items()},
                "skipped": self.skipped, "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def default_cutoff(ws) -> dt.date:
    from regulars.jobs.backtest import default_cutoff as backtest_cutoff

    return backtest_cutoff(ws)


def run_audit(ws, models: list[str] | None = None, cutoff=None, stored: bool = False, progress=None,
              disparity_threshold: float = DISPARITY_THRESHOLD, gap_threshold: float = GAP_THRESHOLD,
              calibration_threshold: float = CALIBRATION_THRESHOLD, fitted=None) -> AuditRun:
    """Audit *models* (default: every registered one) at *cutoff*; store and return the results.

    With ``stored`` the scores of the previous audit are judged again (no refit): quick, e.g. after
    loading customer attributes. *fitted*: the models :func:`~regulars.jobs.predict.fit_models` fitted
    at this cutoff (the backtest's), used instead of fitting them again. The thresholds are those of :func:`regulars.fairness.audit.audit_model`
    (selection-rate ratio, TPR/FPR gap and calibration gap, the last two as fractions).
    """
    if not 0 < disparity_threshold <= 1:
        raise ValueError(f"the selection-rate ratio must be between 0 and 1 (0.8 is the four-fifths rule); "
                         f"got {disparity_threshold}")
    for what, value in (("rate gap", gap_threshold), ("calibration gap", calibration_threshold)):
        if not 0 < value < 1:
            raise ValueError(f"the {what} must be between 0 and 100 percentage points; got {100 * value:g}")
    say = progress or (lambda _s: None)
    names = models or list(REGISTRY)
    unknown = [m for m in names if m not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; auditable: {', '.join(REGISTRY)}")
    cutoff = pd.Timestamp(cutoff).date() if cutoff is not None else default_cutoff(ws)
    ctx = AuditContext(ws, cutoff, say, _fitted=fitted)
    run = AuditRun(cutoff)
    attributes = store.customer_attributes(ws)
    groups_on: dict = {}  # customer groups per cutoff, built once
    opted_in = set(privacy_store.get(ws, "sensitive_inputs"))
    for name in names:
        model = REGISTRY[name]
        t = time.perf_counter()
        if stored:
            scores = store.stored_scores(ws, name)
            if scores.empty:
                run.skipped[name] = "no stored scores: run `regulars audit` without --stored first"
                continue
            cutoff_used = pd.Timestamp(scores["cutoff"].iloc[0]).date()
            inputs = (store.latest_audit(ws, name) or {"run": {"inputs": []}})["run"]["inputs"]
        else:
            say(f"scores of {name}")
            scores = model.scores(ctx)
            if scores is None:
                verdict = ctx.fitted().verdicts.get(name)
                run.skipped[name] = "; ".join(verdict.messages) if verdict and verdict.messages else \
                    f"{name} was not fitted at {cutoff}"
                continue
            cutoff_used = cutoff
            inputs = model.inputs(ctx)
        say(f"auditing {name}")
        if cutoff_used not in groups_on:
            groups_on[cutoff_used] = customer_groups(attributes, cutoff_used)
        groups = groups_on[cutoff_used]
        result = audit_model(name, scores[["customer_id", "score", "selected", "outcome"]], groups,
                             selection=model.selection, disparity_threshold=disparity_threshold,
                             gap_threshold=gap_threshold,
                             calibration_threshold=calibration_threshold if model.probability else float("inf"))
        if not model.probability:
            result.notes.append("its score is not a probability (an expected value or a ranking score): "
                                "calibration is not judged")
        used = sensitive_inputs(inputs)
        not_allowed = [f for f in used if not any(a in f for a in opted_in)]
        result.notes.insert(0, "sensitive attributes used as model inputs: " + (", ".join(used) if used else "none")
                            + (f" (opted in by the shop: {', '.join(sorted(opted_in))})" if opted_in else ""))
        if not_allowed:
            result.flags.insert(0, {"attribute": "inputs", "kind": "sensitive_input", "group": ", ".join(not_allowed),
                                    "value": float(len(not_allowed)),
                                    "sentence": f"The {name} model uses {', '.join(not_allowed)} as inputs although "
                                                "the shop has not opted in to sensitive inputs."})
        run.results[name] = result
        run_id = f"f-{pd.Timestamp.now(tz='UTC').strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        groups_frame = result.table().rename(columns={"group": "grp"}).assign(run_id=run_id, model=name)
        flags_frame = pd.DataFrame(result.flags, columns=["attribute", "kind", "group", "value", "sentence"]) \
            .rename(columns={"group": "grp"}).assign(run_id=run_id, model=name)
        to_store = None if stored else scores.assign(model=name, cutoff=cutoff_used)
        store.write_audit(ws, {
            "run_id": run_id, "model": name, "cutoff": cutoff_used,
            "finished_at": pd.Timestamp.now(tz="UTC").tz_localize(None), "n": result.n,
            "attributes": result.attributes, "inputs": inputs, "sensitive_inputs": used, "overall": result.overall,
            "notes": result.notes, "selection": model.selection, "outcome": model.outcome,
        }, groups_frame, flags_frame, to_store)
        run.seconds[name] = time.perf_counter() - t
    return run
