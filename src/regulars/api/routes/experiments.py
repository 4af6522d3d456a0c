"""Experiment routes: list, analysis in money, sample-size plan, bandit state; create and assign.

Reads need a viewer key (only per-arm aggregates are returned), writes an analyst key. The
dashboard's Experiments page calls the same functions (:mod:`regulars.server.experiment_views`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, example
from regulars.server import experiment_views as views
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["experiments"])

ANALYSIS_EXAMPLE = {"experiment": {"experiment_id": "win-back-10", "name": "Win-back 10%", "control_arm": "control"},
                    "as_of": "2024-04-15", "analysed_customers": 2400, "pending_customers": 0,
                    "sentences": ["'offer' brought in 2.10 EUR per customer more than doing nothing, between 0.40 EUR and "
                                  "3.80 EUR; 94% chance it is positive."], "notes": [], "result": {"arms": [], "comparisons": []}}


class NewExperiment(BaseModel):
    name: str = Field(..., min_length=1, max_length=120)
    arms: str = Field("control:0.5,offer:0.5", max_length=500, description="NAME:SHARE,... adding up to 1.")
    segment: str | None = Field(None, max_length=200, description="Assign this segment's current members now.")
    everyone: bool = Field(False, description="Assign every customer now.")
    stratify_by: str | None = Field(None, max_length=40, description="Balance arms within this segment family (rfm, lifecycle).")
    control: str | None = Field(None, max_length=80)
    action: str | None = Field(None, max_length=80, description="The next-best-action measured.")
    kind: Literal["test", "bandit"] = "test"
    min_share: float = Field(0.05, ge=0, le=0.5)
    window_days: int = Field(30, ge=1, le=730)
    pre_days: int = Field(90, ge=0, le=730)
    planned_end: dt.date | None = None
    planned_customers: int | None = Field(None, ge=2, le=1_000_000_000)
    description: str | None = Field(None, max_length=1000)


class Assignment(BaseModel):
    customer_id: str = Field(..., min_length=1, max_length=200)
    arm: str = Field(..., min_length=1, max_length=80)
    assigned_at: dt.datetime | None = None


class Assignments(BaseModel):
    customer_ids: list[str] | None = Field(None, max_length=100_000, description="Let regulars choose these customers' arms.")
    rows: list[Assignment] | None = Field(None, max_length=100_000, description="Or record arms decided elsewhere.")
    source: Literal["journey", "campaign", "export", "upload", "regulars", "api"] = "api"
    source_ref: str | None = Field(None, max_length=200, description="Which journey, campaign or export.")


@router.get("/experiments", summary="Experiments and their sizes", responses={**ERRORS})
def list_experiments(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(views.experiment_list(request, ws))


@router.get(
    "/experiments/plan",
    summary="Sample size for a test, from the shop's own numbers",
    description="Customers per arm needed to detect `lift` (conversion, in rate points) or `effect` (revenue per "
    "customer) with 80% power at 5% significance, and what the audience can detect today.",
    responses={**ERRORS, **NOT_FOUND},
)
def get_plan(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
             metric: Literal["conversion", "revenue"] = Query("conversion"),
             lift: float | None = Query(None, gt=-1, lt=1, allow_inf_nan=False),
             effect: float | None = Query(None, allow_inf_nan=False),
             segment: str | None = Query(None, max_length=200), window_days: int = Query(30, ge=1, le=730),
             treatment_share: float = Query(0.5, gt=0, lt=1)):
    return JSON(views.plan(request, ws, metric, lift, effect, segment, window_days, treatment_share))


@router.get(
    "/experiments/{experiment_id}/analysis",
    summary="Did it work? The experiment's result in money",
    description="Per arm: customers, conversion, revenue per customer. Per treatment arm: differences with Welch, "
    "bootstrap and CUPED intervals, an always-valid interval, Bayesian chances, sample-ratio check, sentence.",
    responses={**ERRORS, **NOT_FOUND, **example(ANALYSIS_EXAMPLE)},
)
def get_analysis(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                 experiment_id: str = Path(..., max_length=200), as_of: dt.date | None = Query(None),
                 window_days: int | None = Query(None, ge=1, le=730),
                 by_segment: str | None = Query(None, max_length=40, description="Effects within each segment of this "
                                                "family (rfm, lifecycle, ...).")):
    return JSON(views.analysis(request, ws, experiment_id, as_of, window_days, by_segment))


@router.get("/experiments/{experiment_id}/bandit", summary="A bandit's variants, regret and next shares",
            responses={**ERRORS, **NOT_FOUND})
def get_bandit(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
               experiment_id: str = Path(..., max_length=200)):
    return JSON(views.bandit(request, ws, experiment_id))


@router.post("/experiments", summary="Create an experiment (and assign its audience)", status_code=201,
             responses={**ERRORS})
def post_experiment(request: Request, body: NewExperiment = Body(...), principal: Principal = Depends(require("analyst"))):
    data = body.model_dump()
    return JSON(views.create(request, data), status_code=201)


@router.post(
    "/experiments/{experiment_id}/assignments",
    summary="Assign customers (regulars chooses) or record assignments made elsewhere",
    description="With `customer_ids`, regulars picks each customer's arm by keyed hashing (the same customer always "
    "gets the same arm) and logs it; answers the arms. With `rows`, the arms given are logged; answers what happened "
    "to every row (recorded, already there, rejected with a reason).",
    responses={**ERRORS, **NOT_FOUND},
)
def post_assignments(request: Request, body: Assignments = Body(...), principal: Principal = Depends(require("analyst")),
                     experiment_id: str = Path(..., max_length=200)):
    rows = [r.model_dump() for r in body.rows] if body.rows else None
    return JSON(views.assign(request, experiment_id, body.customer_ids, rows, body.source, body.source_ref))
