"""Recommendation routes: what to offer a customer, bought together, next best actions, their evaluation.

Each calls the same :mod:`regulars.reports.recommend` function as its dashboard page. Customer
ids and product names only; the next-actions CSV adds names, e-mails and phones for roles
that may see personal data (analyst, admin), never for viewers.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, Limit, Offset, example
from regulars.reports import recommend as report
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["recommendations"])


def opted_out(request: Request, ws) -> frozenset:
    """Customers who refuse personalisation, through the report cache (read again after every write: an
    opt-out posted to the server reaches the next answers)."""
    from regulars.data import recommend_store as store

    return request.app.state.cache.get(("recommend_opted_out",), lambda w: {"ids": store.opted_out_customers(w)},
                                       ws)["ids"]


def latest_run(request: Request, ws) -> dict | None:
    """The latest recommendation run, through the report cache (read again after every write)."""
    from regulars.data import recommend_store as store

    cache = request.app.state.cache
    run = cache.get(("recommend_run",), lambda w: {"run": store.read_run(w)}, ws)
    return run["run"]

RECS_EXAMPLE = {"customer_id": "C000123", "as_of": "2024-12-21", "served": "hybrid", "is_personal": True, "notes": [],
                "items": [{"rank": 1, "product_id": "P12", "product_name": "House Blend (12 oz)", "score": 2.2,
                           "reason": "due for a re-buy around 2025-01-04 (you buy it every ~30 days)",
                           "source": "replenishment", "is_personal": True}]}
PAIRS_EXAMPLE = {"product": {"product_id": "P60", "name": "Gooseneck Kettle", "category": "equipment"},
                 "as_of": "2024-12-21", "notes": [], "items": [{
                     "product_id": "P57", "product_name": "Hand Burr Grinder", "baskets": 213, "support": 0.0025,
                     "confidence": 0.103, "lift": 4.26, "sentence": "10% of the 2,071 orders with Gooseneck Kettle "
                     "also held Hand Burr Grinder (4.3x its usual rate)"}]}
ACTIONS_EXAMPLE = {"as_of": "2024-12-21", "segment": None, "total": 18000, "limit": 50, "offset": 0, "notes": [],
                   "actions": [{"action": "win_back_offer", "label": "Win-back offer", "customers": 454,
                                "expected_value": 1183.92, "channels": {"email": 250, "audience": 188, "sms": 16}}],
                   "items": [{"customer_id": "C000123", "action": "win_back_offer", "channel": "email",
                              "expected_value": 17.19, "reason": "Win-back offer by e-mail: 87% churn risk, ...",
                              "assumption": "uplift is an assumption (catalogue prior), not measured"}]}


@router.get(
    "/customers/{customer_id}/recommendations",
    summary="What to offer one customer: products with the reason for each",
    description="The customer's stored top `k` (computed by `regulars predict`), best first, each with one sentence "
    "of reason and the part of the hybrid it came from. A customer who opted out of personalisation, or who "
    "arrived after the last run, gets the shop's best-sellers, and `is_personal` is false.",
    responses={**ERRORS, **NOT_FOUND, **example(RECS_EXAMPLE)},
)
def get_recommendations(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                        customer_id: str = Path(..., min_length=1, max_length=200),
                        k: int = Query(5, ge=1, le=50, description="How many products.")):
    try:
        return JSON(report.customer_recommendations(ws, customer_id, k=k, run=latest_run(request, ws),
                                                    opted_out=opted_out(request, ws)).to_dict())
    except report.CustomerNotFound:
        raise ApiError(404, f"no customer {customer_id!r}") from None


@router.get(
    "/products",
    summary="Bought-together pairs with lift, best-sellers and the most recommended products",
    responses={**ERRORS},
)
def get_products(principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                 limit: int = Query(50, ge=1, le=1000),
                 min_baskets: int = Query(10, ge=1, le=1_000_000, description="Pairs seen in at least this many orders.")):
    return JSON(report.products_overview(ws, limit=limit, min_baskets=min_baskets))


@router.get(
    "/products/{product_id}/bought-together",
    summary="Products frequently bought together with one product (support, confidence, lift)",
    description="Association rules from the orders: `support` = share of orders holding both, `confidence` = share "
    "of the orders with this product that also held the other, `lift` = confidence / the other's usual share "
    "(above 1: bought together more than by chance). Highest lift first.",
    responses={**ERRORS, **NOT_FOUND, **example(PAIRS_EXAMPLE)},
)
def get_bought_together(principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                        product_id: str = Path(..., min_length=1, max_length=200),
                        k: int = Query(10, ge=1, le=100)):
    try:
        return JSON(report.bought_together(ws, product_id, k=k).to_dict())
    except report.ProductNotFound:
        raise ApiError(404, f"no product {product_id!r}") from None


@router.get(
    "/next-actions",
    summary="Next best action per customer: counts and expected value per action, the customers (JSON or CSV)",
    description="At most one action per customer (or `do_nothing`), chosen by expected incremental value = response "
    "uplift x value of a response - cost, within consent, contact caps and quiet periods. `channel` is email, sms, "
    "audience or none. Uplifts marked as an assumption are the catalogue's priors. `format=csv` downloads every "
    "matching customer (`action` to pick one action); names, e-mails and phones are included for analysts and "
    "admins only.",
    responses={**ERRORS, **example(ACTIONS_EXAMPLE),
               200: {"description": "Next actions", "content": {"application/json": {}, "text/csv": {}}}},
)
def get_next_actions(principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                     segment: str | None = Query(None, max_length=200, description="Only members of this segment."),
                     action: str | None = Query(None, max_length=100, pattern=r"^[A-Za-z0-9_]+$"),
                     format: Literal["json", "csv"] = Query("json"), limit: int = Limit, offset: int = Offset):
    try:
        if format == "csv":
            text = report.next_actions_csv(ws, action=action, segment=segment, include_pii=principal.sees_pii)
            name = "next-actions" + (f"-{action}" if action else "")
            return Response(text, media_type="text/csv; charset=utf-8",
                            headers={"content-disposition": f'attachment; filename="{name}.csv"'})
        return JSON(report.next_actions_report(ws, segment=segment, action=action, limit=limit, offset=offset).to_dict())
    except ValueError as exc:
        raise ApiError(404, str(exc)) from None


@router.get(
    "/recommendations/evaluation",
    summary="How good the recommendations were against the best-sellers, on the shop's own history",
    responses={**ERRORS},
)
def get_evaluation(principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(report.evaluation_report(ws))


@router.get(
    "/kpis/segments",
    tags=["analytics"],
    summary="KPIs and predicted value per segment of one kind (rfm, lifecycle, clv, ...)",
    description="Per current segment of the kind: members, buyers, orders and revenue in the window, AOV, purchase "
    "frequency, repeat-purchase rate, historical CLV, and from the latest predictions the mean predicted CLV, "
    "total predicted value, mean churn risk and expected buyers in 30 days. Same as `regulars kpis --by segment KIND`.",
    responses={**ERRORS},
)
def get_segment_kpis(principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                     kind: Literal["rfm", "lifecycle", "frequency", "spend", "aov", "clv", "affinity", "region",
                                   "engagement", "behaviour", "rule"] = Query("rfm")):
    from regulars.reports.segment_kpis import segment_kpis

    return JSON(segment_kpis(ws, kind).to_dict())
