"""/api/customers: search, the 360 profile, right of access and erasure."""

from __future__ import annotations

import json

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, Limit, Offset, example
from regulars.data import auth, keyed
from regulars.reports import customers as report
from regulars.server.actions import erase
from regulars.server.errors import ApiError
from regulars.server.profiles import DEFAULTS as PROFILE_DEFAULTS
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["customers"])

DEFAULT_EVENTS, DEFAULT_ORDERS = PROFILE_DEFAULTS["events_limit"], PROFILE_DEFAULTS["orders_limit"]

CustomerId = Path(..., min_length=1, max_length=200, description="The customer id (see `GET /api/customers`).")

LIST_EXAMPLE = {"total": 1, "limit": 50, "offset": 0, "notes": [], "items": [{
    "customer_id": "C000123", "email": "***", "phone": None, "first_name": "***", "last_name": "***",
    "city": "Lyon", "country": "FR", "acquisition_channel": "organic", "created_at": "2023-04-02T10:11:00",
    "orders": 7, "revenue": 412.5, "first_order_at": "2023-04-02T10:15:00", "last_order_at": "2024-11-30T18:02:00"}]}

PROFILE_EXAMPLE = {
    "customer_id": "C000123",
    "customer": {"customer_id": "C000123", "email": "ann@example.com", "first_name": "Ann", "city": "Lyon",
                 "accepts_email": True},
    "summary": {"orders": 7, "returns": 0, "revenue": 412.5, "aov": 58.93,
                "first_order_at": "2023-04-02T10:15:00", "last_order_at": "2024-11-30T18:02:00"},
    "identities": [{"kind": "shop_id", "value": "C000123", "reason": "first seen in customers.csv row 12"}],
    "consents": {"current": {"email": True, "sms": False, "personalization": True}, "history": []},
    "orders": {"total": 7, "shown": 7, "items": [{"order_id": "1001", "total": 58.0, "lines": [
        {"line_number": 1, "product_id": "P12", "quantity": 2, "unit_price": 29.0}]}]},
    "events": {"total": 130, "by_type": {"page_view": 90, "add_to_cart": 12}, "shown": 130, "items": []},
    "engagement": {"by_type": {"sent": 20, "opened": 9}, "open_rate": 0.45, "click_rate": 0.1},
    "segments": {"current": [{"segment": "champions"}], "history": []},
    "predictions": {"p_alive": 0.93, "churn_risk": 0.08, "churn_reasons": ["ordered 12 days ago"]},
    "timeline": [{"at": "2024-11-30T18:02:00", "kind": "order", "id": "1001", "text": "order 1001: 58.0 EUR"}],
    "pii_masked": False,
}


@router.get(
    "/customers",
    summary="Search and list customers",
    description="Customers with order count, net revenue and first/last order, newest activity first. "
    "`q` finds a customer id (exact or part); analysts and admins can also search an e-mail or a name. "
    "`segment` keeps the customers currently in a segment (id or name). Viewers get personal fields as `\"***\"`.",
    responses={**ERRORS, **example(LIST_EXAMPLE)},
)
def list_customers(
    principal: Principal = Depends(require("viewer")),
    ws=Depends(read_view),
    q: str | None = Query(None, max_length=200, description="Customer id, e-mail or name (or part of one)."),
    segment: str | None = Query(None, max_length=200, description="Only members of this segment (id or name)."),
    sort: Literal["last_order", "revenue", "orders", "created", "id"] = Query("last_order"),
    limit: int = Limit,
    offset: int = Offset,
):
    page = report.list_customers(ws, q, segment=segment, sort=sort, limit=limit, offset=offset,
                                 include_pii=principal.sees_pii)
    return JSON(page.to_dict())


@router.get(
    "/customers/{customer_id}",
    summary="One customer's 360 profile",
    description="Identity links (and why they were made), consents, orders with lines, events timeline, "
    "e-mail/SMS engagement, tickets, reviews, surveys, segment memberships with history and predictions with "
    "reasons. Each section is present when the data exists. Viewers get personal fields as `\"***\"`.",
    responses={**ERRORS, **NOT_FOUND, **example(PROFILE_EXAMPLE)},
)
def get_customer(
    request: Request,
    principal: Principal = Depends(require("viewer")),
    ws=Depends(read_view),
    customer_id: str = CustomerId,
    events: int = Query(DEFAULT_EVENTS, ge=0, le=5000, description="How many recent events to include."),
    orders: int = Query(DEFAULT_ORDERS, ge=0, le=5000, description="How many recent orders to include."),
):
    try:
        if events == DEFAULT_EVENTS and orders == DEFAULT_ORDERS:
            body = request.app.state.profiles.json_bytes(ws, customer_id, principal.sees_pii)
            return JSON(json.loads(body))  # the stored profile is in UTC: JSON writes the shop's offsets
        profile = report.customer_profile(ws, customer_id, include_pii=principal.sees_pii,
                                          events_limit=events, orders_limit=orders)
    except report.CustomerNotFound as exc:
        raise ApiError(404, str(exc)) from None
    return JSON(profile.to_dict())


@router.get(
    "/customers/{customer_id}/export",
    summary="Everything held about a customer (right of access, admin)",
    responses={**ERRORS, **NOT_FOUND, **example({"customer_id": "C000123", "exported_at": "2025-01-01T00:00:00",
                                                 "tables": {"customers": [{"customer_id": "C000123"}]}})},
)
def export_customer(
    request: Request,
    principal: Principal = Depends(require("admin")),
    ws=Depends(read_view),
    customer_id: str = CustomerId,
):
    from regulars.data.erasure import CustomerNotFound, export_customer as export

    try:
        data = export(ws, customer_id)
    except CustomerNotFound:
        raise ApiError(404, f"no customer {customer_id!r}") from None
    shared = request.app.state.shared
    subject = "hmac:" + keyed.for_connection(ws).hash(data["customer_id"])  # no customer id, no bare hash
    shared.submit(lambda w: auth.record(w, principal.actor, principal.role, "customer.export", subject))
    return JSON(data, headers={"content-disposition": f'attachment; filename="customer-{_safe(customer_id)}.json"'})


@router.delete(
    "/customers/{customer_id}",
    summary="Erase a customer (right to erasure, admin)",
    description="Deletes the customer from every table (canonical and derived) — with the provisional customers "
    "made from their e-mails and phones, quarantined raw rows and mentions in other rows' text — in one "
    "transaction, adds their identifiers (as keyed hashes) to the suppression list so a re-import does not bring "
    "them back, keeps an audit record without personal data, and rewrites the workspace file so no deleted byte "
    "remains. Reads wait for the few seconds the rewrite takes. Answers with the record.",
    responses={**ERRORS, **NOT_FOUND, **example({"erasure_id": "5f0c…", "rows_deleted": {"customers": 1, "orders": 7},
                                                 "customers_erased": 1, "identifiers_suppressed": 3,
                                                 "text_redacted": {}, "sharing_customers": []})},
)
def erase_customer(
    request: Request,
    principal: Principal = Depends(require("admin")),
    customer_id: str = CustomerId,
):
    return JSON(erase(request, principal, customer_id))


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]
