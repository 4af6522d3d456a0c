"""Trust routes: anomaly and fraud flags, fairness audits, model cards.

Each calls the same function as its dashboard page (:mod:`regulars.server.trust_views`).
"""

from __future__ import annotations

import datetime as dt

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, Limit, Offset, example
from regulars.server import trust_views
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["trust"])

AnomalyKind = Literal["large_order", "large_quantity", "serial_returner", "code_abuse", "many_emails", "many_phones",
                      "bot_session"]


@router.get(
    "/anomalies",
    summary="Anomaly and fraud flags, highest score first",
    description="Unusual orders (total or quantity), serial returners, single-use discount codes used again and "
    "again, many e-mail addresses or phones on one customer, bot-like sessions: each with a 0..1 score and the "
    "reason in words. `checks` says which checks ran and which the data could not support.",
    responses={**ERRORS, **example({"run": {"run_id": "a-20250101", "finished_at": "2025-01-01T10:00:00"},
                                    "counts": {"large_order": 3}, "checks": {"orders": "ran"}, "total": 3,
                                    "limit": 50, "offset": 0, "notes": [],
                                    "items": [{"entity": "order", "entity_id": "O104512", "customer_id": "C000812",
                                               "kind": "large_order", "what": "unusually large order total",
                                               "score": 0.93, "reason": "order total USD 2,400.00 is 55 times the "
                                               "shop's typical order (USD 43.00)",
                                               "first_flagged_at": "2025-01-01T10:00:00"}]})},
)
def get_anomalies(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                  kind: AnomalyKind | None = Query(None), limit: int = Limit, offset: int = Offset):
    return JSON(trust_views.anomalies(request, ws, kind=kind, limit=limit, offset=offset))


@router.post(
    "/anomalies/refresh",
    summary="Run every anomaly check now (analyst)",
    description="As `regulars anomalies --refresh`; new flags are handed to the alert subscribers.",
    responses={**ERRORS, **example({"run_id": "a-20250101", "counts": {"large_order": 3}, "new": 1,
                                    "checks": {"orders": "ran"}, "seconds": 0.8})},
)
def post_anomalies_refresh(request: Request, principal: Principal = Depends(require("analyst"))):
    return JSON(trust_views.refresh_anomalies(request))


AuditedModel = Literal["churn", "propensity", "leads", "next_action", "recommendations"]
CardModel = Literal["churn", "propensity", "value", "next_order", "leads", "forecast"]


@router.get(
    "/fairness",
    summary="Fairness audit of the models: metrics per group of customers and the gaps worth a look",
    description="Per audited model (churn, propensity, leads, next best action, recommendations): decisions judged at a cutoff (as the backtest), per "
    "country, region, acquisition channel, age band and gender when present: selection rate, true and false "
    "positive rates, mean predicted and observed rate; gaps in plain sentences (four-fifths rule, 10-point gaps, "
    "calibration), and which sensitive attributes the model used as inputs.",
    responses={**ERRORS, **example({"models": [{"model": "churn", "cutoff": "2024-09-30", "n": 8120,
                                                "sensitive_inputs": [], "flags": [{"kind": "four_fifths",
                                                "sentence": "Customers with acquisition channel 'store' are ..."}],
                                                "groups": [{"attribute": "acquisition_channel", "group": "store",
                                                            "n": 812, "selection_rate": 0.21}]}], "notes": []})},
)
def get_fairness(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                 model: AuditedModel | None = Query(None)):
    return JSON(trust_views.fairness(request, ws, model))


@router.post(
    "/fairness/run",
    summary="Run the fairness audit now (analyst)",
    description="Refits the models on data before the cutoff and judges their decisions per group, as "
    "`regulars audit` (the same options). Takes as long as a backtest; `stored=true` judges the previous "
    "audit's scores again without a refit (e.g. with other thresholds).",
    responses={**ERRORS, **example({"cutoff": "2024-09-30", "results": {}, "skipped": {}, "seconds": {"churn": 12.1}})},
)
def post_fairness_run(
    request: Request, principal: Principal = Depends(require("analyst")),
    model: AuditedModel | None = Query(None),
    cutoff: dt.date | None = Query(None, description="Judge decisions made on this date; default: 90 days before "
                                   "the last order, as the backtest."),
    stored: bool = Query(False, description="Judge the previous audit's scores again (no refit)."),
    min_ratio: float = Query(0.8, gt=0, le=1, description="Flag a group selected at less than this times the most "
                             "selected group's rate (0.8: the four-fifths rule)."),
    max_gap: float = Query(10.0, gt=0, lt=100, description="Flag true/false positive rates that differ by more "
                           "than this many percentage points between groups."),
    max_calibration_gap: float = Query(10.0, gt=0, lt=100, description="Flag a group whose mean predicted chance "
                                       "is this many points off what happened."),
):
    return JSON(trust_views.run_fairness(request, model, cutoff=cutoff, stored=stored,
                                         disparity_threshold=min_ratio, gap_threshold=max_gap / 100,
                                         calibration_threshold=max_calibration_gap / 100))


@router.get(
    "/model-cards",
    summary="The models that have a card",
    responses={**ERRORS, **example({"items": [{"model": "churn", "title": "Churn risk", "version": "churn-lgbm-1",
                                               "as_of": "2024-12-21"}], "notes": []})},
)
def get_model_cards(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(trust_views.model_cards(request, ws))


@router.get(
    "/model-cards/{model}",
    summary="One model's card: intended use, data, inputs, accuracy against a baseline, fairness, limitations",
    description="Regenerated on every `regulars predict`; `markdown` is the same card as text.",
    responses={**ERRORS, **NOT_FOUND},
)
def get_model_card(request: Request, model: CardModel, principal: Principal = Depends(require("viewer")),
                   ws=Depends(read_view)):
    return JSON(trust_views.model_card(request, ws, model))
