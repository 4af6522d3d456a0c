"""Data in: ``POST /api/events`` (real time) and ``POST /api/ingest/{kind}`` (file uploads)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, File, Form, Path, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from regulars.api.routes._common import ERRORS, JSON, example
from regulars.data.realtime import EventError
from regulars.data.schema import KINDS
from regulars.server.errors import ApiError
from regulars.server.security import Principal, require
from regulars.server.uploads import run_upload

router = APIRouter(tags=["data in"])

Text = lambda n, d="": Field(None, max_length=n, description=d)  # noqa: E731


class EventIn(BaseModel):
    """One web/app event. At least one of customer_id, email, phone or anonymous_id says whose it is."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "event_id": "evt-20240501-0001", "customer_id": "C000123", "event_type": "add_to_cart",
        "occurred_at": "2024-05-01T12:30:00Z", "product_id": "P12", "session_id": "s-88",
        "properties": {"quantity": 1}}]})

    event_id: str | None = Text(200, "Your id for the event; resending it changes nothing. Default: a hash of the event.")
    customer_id: str | None = Text(200, "The shop's customer id; an unknown id creates the customer.")
    email: str | None = Text(320, "Finds the customer by e-mail (stored hashed in the identity links).")
    phone: str | None = Text(40, "Finds the customer by phone.")
    anonymous_id: str | None = Text(200, "Cookie or device id; linked to the customer when sent with another identifier.")
    session_id: str | None = Text(200)
    event_type: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_.:-]*$",
                            description="page_view, product_view, search, add_to_cart, begin_checkout, purchase, …")
    occurred_at: dt.datetime | None = Field(None, description="ISO 8601; without an offset it is UTC. Default: now.")
    page_url: str | None = Text(2000)
    product_id: str | None = Text(200)
    search_query: str | None = Text(500)
    traffic_source: str | None = Text(200, "utm source / medium")
    properties: dict[str, Any] | None = Field(None, description="Anything else, as a JSON object.")


class EventBatch(BaseModel):
    """Several events, written in one transaction (all or none)."""

    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(..., min_length=1, max_length=10_000)


EVENTS_EXAMPLE = {"accepted": 2, "new": 2, "duplicates": 0, "customers": ["C000123"], "customers_created": 0,
                  "run_id": 42}


@router.post(
    "/events",
    summary="Post events (one, or a batch of up to 10,000)",
    description="Events are validated, resolved to customers (shop id, e-mail, phone or anonymous id; unknown "
    "shop ids, e-mails and phones create a customer) and written durably before the answer. The customers' "
    "profile features and segment memberships are refreshed right after, typically within a second. "
    "A batch is all-or-nothing: one invalid event rejects the batch with its index and field. Needs analyst.",
    responses={**ERRORS, **example(EVENTS_EXAMPLE)},
)
def post_events(
    request: Request,
    principal: Principal = Depends(require("analyst")),
    body: EventIn | EventBatch = Body(..., openapi_examples={
        "single": {"summary": "one event", "value": {"customer_id": "C000123", "event_type": "page_view",
                                                      "page_url": "/products/p12"}},
        "batch": {"summary": "a batch", "value": {"events": [
            {"customer_id": "C000123", "event_type": "product_view", "product_id": "P12"},
            {"email": "ann@example.com", "event_type": "add_to_cart", "product_id": "P12"}]}},
    }),
):
    events = body.events if isinstance(body, EventBatch) else [body]
    limit = request.app.state.settings.max_events_per_request
    if len(events) > limit:
        raise ApiError(413, f"at most {limit} events per request; split the batch")
    try:
        result = request.app.state.shared.post_events([e.model_dump() for e in events])
    except EventError as exc:
        raise ApiError(422, str(exc), problems=[{"where": f"body.events.{exc.index}" + (
            f".{exc.field}" if exc.field else ""), "problem": str(exc)}]) from None
    return JSON(result.as_dict())


UPLOAD_EXAMPLE = {"run_id": 7, "kind": "orders", "format": "shopify", "files": ["orders_export.csv"],
                  "rows_read": 1200, "rows_loaded": 1195, "rows_quarantined": 5, "rows_new": 1195,
                  "rows_updated": 0, "rows_unchanged": 0, "tables": {"orders": {"new": 400}},
                  "customers_created": 12, "customers_merged": 0, "warnings": [], "seconds": 0.8}


@router.post(
    "/ingest/{kind}",
    summary="Upload export files (the same ingest path as `regulars ingest`)",
    description="Multipart upload of one or more files of one kind and format. The load is validated, "
    "idempotent and all-or-nothing; rejected rows go to the quarantine. Answers with the load summary. "
    "Needs analyst.",
    responses={**ERRORS, **example(UPLOAD_EXAMPLE), 413: {"description": "Upload too large."},
               503: {"description": "Too many uploads waiting to be loaded; try again later."}},
)
def upload(
    request: Request,
    principal: Principal = Depends(require("analyst")),
    kind: Literal[tuple(KINDS)] = Path(..., description="What the files hold."),  # type: ignore[valid-type]
    files: list[UploadFile] = File(..., description="CSV, Parquet or JSONL files (or a preset's export)."),
    format: str | None = Form(None, max_length=40, description="csv, parquet, jsonl or a preset name; default: detected."),
    mapping: UploadFile | None = File(None, description="Optional TOML mapping file."),
):
    result = run_upload(request, principal, kind, files, format, mapping)
    return JSON(result)
