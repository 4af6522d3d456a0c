"""Analytics routes: KPIs, data doctor, segments, personas, cohorts, funnel, predictions, backtests.

Each calls the same function as its dashboard page (:mod:`regulars.server.views`,
which calls :mod:`regulars.reports` and caches the result until the next write).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, Limit, Offset, example
from regulars.server import views
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["analytics"])


@router.get(
    "/kpis",
    summary="Key numbers, overall or by month, acquisition channel or cohort",
    description="Customers, active customers, orders, revenue, AOV, purchase frequency, repeat-purchase, "
    "retention and churn rates, historical CLV, new vs returning customers, conversion, CAC and CSAT/NPS. "
    "`definitions` explains each column, `notes` what is missing. When orders are in several currencies, "
    "amounts are converted with the shop's exchange rates (`currency_note` says how), or, when a rate is "
    "missing, money columns are empty and `by_currency` gives the figures per currency (`by=currency` too).",
    responses={**ERRORS, **example({"by": "month", "start": "2023-01-01", "end": "2024-12-31", "active_days": 90,
                                    "columns": ["month", "customers", "revenue"],
                                    "rows": [{"month": "2024-12", "customers": 812, "revenue": 40210.5}],
                                    "definitions": {"revenue": "net revenue of purchases in the period"},
                                    "notes": []})},
)
def get_kpis(
    request: Request,
    principal: Principal = Depends(require("viewer")),
    ws=Depends(read_view),
    by: Literal["month", "channel", "cohort", "currency"] | None = Query(
        None, description="Break down by month, channel, cohort or the orders' currency."),
    start: dt.date | None = Query(None, description="First day of the window (default: first order)."),
    end: dt.date | None = Query(None, description="Last day of the window (default: last order)."),
    active_days: int | None = Query(None, ge=1, le=3650, description="Activity window in days (default: from the shop's rhythm)."),
):
    return JSON(views.kpis(request, ws, by=by, start=start, end=end, active_days=active_days))


@router.get(
    "/doctor",
    summary="Data-quality and readiness report",
    description="Completeness, duplicates, outliers, date ranges, and which analyses the data supports.",
    responses={**ERRORS},
)
def get_doctor(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(views.doctor(request, ws))


@router.get(
    "/cohorts",
    summary="Cohort retention matrix",
    description="Rows are cohorts (first-purchase month or week), columns periods since; values are the share "
    "of the cohort ordering (`metric=customers`) or net revenue relative to period 0 (`metric=revenue`). "
    "A cell that cannot be observed yet is null.",
    responses={**ERRORS, **example({"by": "month", "kind": "acquisition", "metric": "customers",
                                    "cohorts": ["2024-01"], "periods": [0, 1, 2], "sizes": [120],
                                    "values": [[1.0, 0.31, 0.22]]})},
)
def get_cohorts(
    request: Request,
    principal: Principal = Depends(require("viewer")),
    ws=Depends(read_view),
    by: Literal["month", "week"] = Query("month"),
    kind: Literal["acquisition", "promotion", "category"] = Query("acquisition"),
    metric: Literal["customers", "revenue"] = Query("customers"),
):
    return JSON(views.cohorts(request, ws, by=by, kind=kind, metric=metric))


@router.get(
    "/funnel",
    summary="Step conversion, overall or by traffic source or segment",
    description="Sessions (or visitors) reaching each step in order, conversion from the previous step and "
    "from the start, the most common paths, and where cart abandoners stopped.",
    responses={**ERRORS, **example({"steps": ["product_view", "add_to_cart", "begin_checkout", "purchase"],
                                    "by": None, "unit": "session",
                                    "funnel": [{"group": "all", "step": "product_view", "units": 1000,
                                                "conversion_from_start": 1.0}],
                                    "paths": [], "abandonment": []})},
)
def get_funnel(
    request: Request,
    principal: Principal = Depends(require("viewer")),
    ws=Depends(read_view),
    by: Literal["source", "segment"] | None = Query(None, description="Group by traffic source or current segment."),
    unit: Literal["session", "visitor"] = Query("session"),
    steps: str | None = Query(None, max_length=500, pattern=r"^[A-Za-z0-9_,.: -]*$",
                              description="Comma-separated event types (default: product_view, add_to_cart, "
                              "begin_checkout, purchase)."),
):
    step_list = [s.strip() for s in steps.split(",") if s.strip()] if steps else None
    return JSON(views.funnel(request, ws, by=by, unit=unit, steps=step_list))


# -- segments and personas ---------------------------------------------------------------------
SEGMENTS_EXAMPLE = {"refresh_id": 3, "as_of": "2024-12-20", "customers": 18250, "revenue": 2104332.5,
                    "movement_since_refresh": 2, "notes": [], "items": [{
                        "segment_id": "rfm:champions", "name": "Champions", "kind": "rfm", "family": "rfm",
                        "description": "bought recently, buy often and spend the most", "members": 1830,
                        "share": 0.1, "revenue": 801233.1, "revenue_share": 0.38, "entered": 120, "exited": 95}]}


@router.get(
    "/segments",
    summary="Segments: size, value share and movement",
    description="Every segment (RFM, lifecycle, tiers, engagement, saved rule segments) at the latest refresh: "
    "members, share of customers, net revenue and share of revenue, and how many entered and exited since the "
    "previous refresh.",
    responses={**ERRORS, **example(SEGMENTS_EXAMPLE)},
)
def get_segments(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(views.segments(request, ws))


@router.post(
    "/segments/refresh",
    summary="Recompute every segment membership now (analyst)",
    description="Runs the same refresh as `regulars segments refresh` through the server (which holds the "
    "workspace), recording entries and exits. Takes seconds on a large shop.",
    responses={**ERRORS, **example({"refresh_id": 4, "as_of": "2024-12-21", "segments": 42, "members": 51230,
                                    "entered": 310, "exited": 280, "seconds": 3.2})},
)
def refresh_segments(request: Request, principal: Principal = Depends(require("analyst"))):
    result = views.refresh_segments(request)
    return JSON(result)


@router.get(
    "/segments/{segment_id}",
    summary="One segment and its latest entries and exits",
    responses={**ERRORS, **NOT_FOUND, **example({**SEGMENTS_EXAMPLE["items"][0], "recent_changes": [
        {"refresh_id": 3, "customer_id": "C000123", "change": "entered", "as_of": "2024-12-20"}]})},
)
def get_segment(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                segment_id: str = Path(..., min_length=1, max_length=200)):
    return JSON(views.segment(request, ws, segment_id))


@router.get(
    "/segments/{segment_id}/members",
    summary="Members of a segment (JSON or CSV)",
    description="Current members with consent flags and order totals, highest revenue first. `format=csv` "
    "downloads every member (ignores limit/offset) for an e-mail or ads tool; `channel=email|sms` keeps only "
    "the members whose consent for that channel is granted. Viewers get personal fields as `\"***\"`.",
    responses={**ERRORS, **NOT_FOUND, **example({"total": 1830, "limit": 50, "offset": 0, "notes": [],
                                                 "segment": SEGMENTS_EXAMPLE["items"][0],
                                                 "items": [{"customer_id": "C000123", "email": "***",
                                                            "accepts_email": True, "orders": 12,
                                                            "revenue": 980.4}]}),
               200: {"description": "Members", "content": {"application/json": {}, "text/csv": {}}}},
)
def get_members(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                segment_id: str = Path(..., min_length=1, max_length=200),
                format: Literal["json", "csv"] = Query("json"), limit: int = Limit, offset: int = Offset,
                channel: Literal["email", "sms"] | None = Query(None, description="CSV only: just the members "
                                                                  "who accept this channel (consent granted).")):
    if format == "csv":
        csv_text, name = views.segment_members_csv(request, ws, segment_id, include_pii=principal.sees_pii,
                                                   channel=channel)
        return Response(csv_text, media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}.csv"'})
    return JSON(views.segment_members(request, ws, segment_id, limit=limit, offset=offset,
                                      include_pii=principal.sees_pii))


@router.get(
    "/personas",
    summary="Persona cards: who the customer groups are, in words",
    responses={**ERRORS},
)
def get_personas(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(views.personas(request, ws))


# -- predictions ---------------------------------------------------------------------------------
PREDICTIONS_EXAMPLE = {"as_of": "2024-12-20", "total": 18250, "limit": 50, "offset": 0, "sort": "at_risk_value",
                       "items": [{"customer_id": "C000123", "churn_risk": 0.81, "churn_band": "high", "clv": 640.2,
                                  "p_alive": 0.22, "propensity_30d": 0.04, "next_order_date": "2025-02-01",
                                  "churn_reasons": ["no order for 210 days, 3 times their usual gap"]}],
                       "distributions": {"churn_risk": {"bins": [0.025], "edges": [0.0, 0.05], "counts": [812]}},
                       "summary": {"counts": {"customers": 18250}, "accuracy": {"churn": [
                           "backtest with cutoff 2024-06-30:", "of the customers flagged high risk, 71% did not "
                           "buy again (the 'no order in 2× usual gap' rule: 58%)"]}}, "notes": []}


@router.get(
    "/predictions",
    summary="Customer scores: churn risk, CLV, chance still active, next order, 30-day purchase chance",
    description="The latest scores per customer with reasons, sorted by `sort` (`at_risk_value`: customers with "
    "a high churn risk, most valuable first), distributions of the main scores, and the shop-wide summary "
    "(counts, likely buyers, demand forecast, accuracy sentences). Each customer's name and e-mail stand next "
    "to the id (`***` for viewers).",
    responses={**ERRORS, **example(PREDICTIONS_EXAMPLE)},
)
def get_predictions(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                    sort: Literal["churn_risk", "clv", "at_risk_value", "propensity"] = Query("churn_risk"),
                    limit: int = Limit, offset: int = Offset):
    return JSON(views.predictions(request, ws, limit=limit, offset=offset, sort=sort,
                                  include_pii=principal.sees_pii))


@router.get(
    "/predictions/{customer_id}",
    summary="One customer's predictions, reasons and their accuracy",
    responses={**ERRORS, **NOT_FOUND},
)
def get_customer_predictions(request: Request, principal: Principal = Depends(require("viewer")),
                             ws=Depends(read_view), customer_id: str = Path(..., min_length=1, max_length=200)):
    return JSON(views.customer_predictions(request, ws, customer_id))


@router.get(
    "/backtests",
    summary="How accurate the predictions have been, against a naive baseline",
    description="The latest backtest: models fitted on data before a cutoff and scored on what happened after, "
    "each metric next to a simple baseline's, with plain sentences.",
    responses={**ERRORS, **example({"run_id": "bt-20250101", "cutoff": "2024-06-30", "run_at": "2025-01-01T10:00:00",
                                    "models": {"churn": {"status": "ok", "sentences": ["…"], "metrics": {
                                        "auc": {"value": 0.78, "baseline": "recency rule", "baseline_value": 0.69}}}}})},
)
def get_backtests(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(views.backtests(request, ws))
