"""Activation routes: journeys (approval by an admin, results with uplift, the send log), audience
exports, webhook subscriptions and deliveries, the Monday report, alerts and activation settings."""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, Limit, Offset, example
from regulars.reports import activation as report
from regulars.server.actions import journeys, monday, requeue_delivery, set_journey_status, write
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["activation"])
JourneyId = Path(..., min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
FORMAT = Literal["klaviyo", "mailchimp", "google", "meta"]


# -- journeys ------------------------------------------------------------------------------------
@router.get("/journeys", summary="Journeys: on or off, trigger, steps, entrants and holdout",
            responses={**ERRORS, **example({"items": [{"journey_id": "cart_abandonment", "name": "Cart abandonment",
                                                       "status": "approved", "running": True, "version": 1,
                                                       "trigger": "a 'add_to_cart' event not followed by a purchase",
                                                       "steps": ["1:00:00 email"], "holdout": 0.1,
                                                       "entrants": 120, "held_out": 11, "active": 40}]})})
def list_journeys(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(journeys(request, principal, ws))


@router.get("/journeys/{journey_id}", summary="One journey: definition, per-step outcomes, uplift over the holdout",
            responses={**ERRORS, **NOT_FOUND})
def get_journey(request: Request, journey_id: str = JourneyId, principal: Principal = Depends(require("viewer")),
                ws=Depends(read_view)):
    d = report.journey_detail(ws, journey_id)
    if d is None:
        raise ApiError(404, f"no journey {journey_id!r}; see GET /api/journeys")
    return JSON(d)


class JourneyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition: str = Field(..., min_length=10, max_length=100_000, description="The journey in TOML.")


@router.put("/journeys/{journey_id}", summary="Save a journey's TOML as its next version (admin; a draft until approved)",
            responses={**ERRORS})
def put_journey(request: Request, body: JourneyIn, journey_id: str = JourneyId,
                principal: Principal = Depends(require("admin"))):
    from regulars.activation.definitions import JourneyError, parse
    from regulars.jobs.activation_admin import save_journey

    try:
        if parse(body.definition).journey_id != journey_id:
            raise ApiError(422, f"the definition's id must be {journey_id!r}")
    except JourneyError as exc:
        raise ApiError(422, str(exc)) from None
    return JSON(write(request, lambda ws: save_journey(ws, body.definition, principal.actor, principal.role)))


@router.post("/journeys/{journey_id}/approve", summary="Turn a journey on (admin): the human in the loop",
             responses={**ERRORS, **NOT_FOUND})
def approve_journey(request: Request, journey_id: str = JourneyId, principal: Principal = Depends(require("admin"))):
    return JSON(set_journey_status(request, principal, journey_id, "approved"))


@router.post("/journeys/{journey_id}/pause", summary="Turn a journey off (admin)", responses={**ERRORS, **NOT_FOUND})
def pause_journey(request: Request, journey_id: str = JourneyId, principal: Principal = Depends(require("admin"))):
    return JSON(set_journey_status(request, principal, journey_id, "paused"))


@router.get("/journeys/{journey_id}/log", summary="What was sent to whom and why (and what was not)",
            responses={**ERRORS})
def journey_log(journey_id: str = JourneyId, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                customer_id: str | None = Query(None, max_length=200), status: str | None = Query(None, max_length=20),
                limit: int = Limit, offset: int = Offset):
    return JSON(report.send_log(ws, journey_id, customer_id, status, limit, offset))


@router.post("/activation/run", summary="Run one round of the activation runner now (admin)", responses={**ERRORS})
def run_now(request: Request, principal: Principal = Depends(require("admin"))):
    runner = getattr(request.app.state, "activation", None)
    if runner is None:
        raise ApiError(409, "the activation runner is off on this server (REGULARS_RUN_ACTIVATION=0)")
    return JSON(runner.runner.run_once())


# -- audiences -------------------------------------------------------------------------------------
@router.get("/audiences", summary="Segments and journey-built lists that can be exported", responses={**ERRORS})
def list_audiences(principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(report.audiences(ws))


@router.get("/audiences/export", summary="An audience file (analyst; consent-filtered unless an admin says otherwise)",
            description="CSV for Klaviyo, Mailchimp, or hashed customer match (Google, Meta). The header "
                        "`X-Regulars-Export` holds a JSON summary: rows, and how many were left out and why.",
            responses={**ERRORS, **NOT_FOUND, 200: {"description": "The CSV file.", "content": {"text/csv": {}}}})
def export(request: Request, principal: Principal = Depends(require("analyst")),
           source: str = Query(..., min_length=1, max_length=200, description="Segment id, audience:<name> or all."),
           format: FORMAT = Query(...), consent: bool = Query(True, description="Filter by consent (admins may switch it off).")):
    from regulars.jobs.activation_admin import export_audience

    file = write(request, lambda ws: export_audience(ws, source, format, principal.actor, principal.role, consent))
    return Response(file.content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{file.filename}"',
        "X-Regulars-Export": json.dumps(file.summary(), ensure_ascii=True)})


# -- webhooks ----------------------------------------------------------------------------------------
class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=100)
    url: str = Field(..., min_length=8, max_length=2000)
    topics: list[str] = Field(..., min_length=1, max_length=10)
    channels: list[Literal["sms", "webhook"]] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list, max_length=100)


@router.get("/webhooks", summary="Webhook subscriptions (admin; secrets are never shown again)", responses={**ERRORS})
def list_webhooks(principal: Principal = Depends(require("admin")), ws=Depends(read_view)):
    return JSON(report.subscriptions(ws))


@router.post("/webhooks", status_code=201, summary="Subscribe a URL to topics (admin); the signing secret is shown once",
             responses={**ERRORS})
def add_webhook(request: Request, body: WebhookIn, principal: Principal = Depends(require("admin"))):
    from regulars.jobs.activation_admin import add_webhook as add

    filters = {k: v for k, v in (("channels", body.channels), ("segments", body.segments)) if v}
    sub = write(request, lambda ws: add(ws, body.name, body.url, body.topics, principal.actor, principal.role,
                                        filters=filters))
    return JSON(sub, status_code=201)


@router.delete("/webhooks/{subscription_id}", summary="Remove a subscription (admin)", responses={**ERRORS, **NOT_FOUND})
def remove_webhook(request: Request, subscription_id: str = Path(..., min_length=1, max_length=100),
                   principal: Principal = Depends(require("admin"))):
    from regulars.jobs.activation_admin import remove_webhook as remove

    write(request, lambda ws: remove(ws, subscription_id, principal.actor, principal.role))
    return JSON({"removed": subscription_id})


@router.get("/webhooks/deliveries", summary="The delivery log (`status=dead`: the dead-letter list)",
            responses={**ERRORS})
def webhook_deliveries(principal: Principal = Depends(require("admin")), ws=Depends(read_view),
                       status: Literal["pending", "delivered", "dead"] | None = Query(None),
                       topic: str | None = Query(None, max_length=40), limit: int = Limit, offset: int = Offset):
    return JSON(report.deliveries(ws, status, topic, limit, offset))


@router.post("/webhooks/deliveries/{delivery_id}/retry", summary="Queue a dead delivery again (admin)",
             responses={**ERRORS, **NOT_FOUND})
def retry_delivery(request: Request, delivery_id: str = Path(..., min_length=1, max_length=200),
                   principal: Principal = Depends(require("admin"))):
    requeue_delivery(request, principal, delivery_id)
    return JSON({"queued": delivery_id})


# -- reports, alerts, settings ----------------------------------------------------------------------
@router.get("/reports/monday", summary="The weekly report: KPIs vs last week, segments, at-risk customers, journeys",
            responses={**ERRORS})
def get_monday(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
               as_of: dt.date | None = Query(None, description="Report the 7 days before this date.")):
    return JSON(monday(request, ws, as_of))


@router.get("/alerts", summary="Alerts fired (at most once per alert and day)", responses={**ERRORS})
def list_alerts(principal: Principal = Depends(require("viewer")), ws=Depends(read_view), limit: int = Limit):
    return JSON(report.alerts(ws, limit))


@router.get("/activation/settings", summary="Activation settings (admin; the SMTP password shows as set or not)",
            responses={**ERRORS})
def get_activation_settings(principal: Principal = Depends(require("admin")), ws=Depends(read_view)):
    from regulars.jobs.activation_admin import current_settings

    return JSON(current_settings(ws))


@router.put("/activation/settings", summary="Change activation settings (admin)", responses={**ERRORS})
def put_activation_settings(request: Request, values: dict[str, str | int | float | bool] = Body(...),
                            principal: Principal = Depends(require("admin"))):
    from regulars.jobs.activation_admin import change_settings

    return JSON(write(request, lambda ws: change_settings(ws, values, principal.actor, principal.role)))


@router.get("/activation/schedules", summary="Scheduled reports, exports and alert checks, with recent runs",
            responses={**ERRORS})
def schedules(principal: Principal = Depends(require("admin")), ws=Depends(read_view)):
    return JSON(report.schedules(ws))
