"""Admin and data routes: who am I, keys, settings, audit log, workspace, ingest runs and quarantine."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, Limit, Offset, example
from regulars.data import auth
from regulars.data.schema import KINDS
from regulars.reports import data_admin
from regulars.server.actions import change_settings, drop_key, make_key
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["admin"])


@router.get("/me", summary="The key you are using and its role",
            responses={**ERRORS, **example({"key_id": "3f9a1c2b7d", "name": "crm sync", "role": "analyst",
                                            "sees_pii": True, "via": "key"})})
def me(principal: Principal = Depends(require("viewer"))):
    return JSON({"key_id": principal.key_id, "name": principal.key_name, "role": principal.role,
                 "sees_pii": principal.sees_pii, "via": principal.via})


@router.get("/status", summary="Server status: profile cache, real-time refresh, writes",
            responses={**ERRORS, **example({"profiles": {"cached_profiles": 20000, "max_profiles": 50000,
                                                         "warming": False, "hits": 1200, "misses": 3},
                                            "last_refresh": {"customers": 12, "seconds": 0.41},
                                            "writes": 5231})})
def status(request: Request, principal: Principal = Depends(require("viewer"))):
    state = request.app.state
    refresher = getattr(state, "refresher", None)
    return JSON({"profiles": state.profiles.status(), "reports_warming": getattr(state, "reports_warming", False),
                 "last_refresh": refresher.last if refresher else {},
                 "refresh_idle": refresher.wait_idle(0) if refresher else True, "writes": state.shared.version})


# -- keys -----------------------------------------------------------------------
class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "viewer", "name": "wall screen"}]})
    role: Literal["viewer", "analyst", "admin"]
    name: str = Field("", max_length=100, description="What the key is for.")


KEY_EXAMPLE = {"key_id": "3f9a1c2b7d", "name": "crm sync", "role": "analyst", "created_at": "2025-01-01T10:00:00",
               "created_by": "key:0a1b2c3d4e", "last_used_at": None, "revoked_at": None, "active": True}


@router.get("/keys", summary="List API keys (admin)", responses={**ERRORS, **example({"items": [KEY_EXAMPLE]})})
def list_keys(principal: Principal = Depends(require("admin")), ws=Depends(read_view)):
    return JSON({"items": [k.as_dict() for k in auth.list_keys(ws)]})


@router.post("/keys", status_code=201, summary="Create an API key (admin); the secret is shown once",
             responses={**ERRORS, 201: {"description": "Created.", "content": {"application/json": {"example": {
                 **KEY_EXAMPLE, "secret": "rk_3f9a1c2b7d_…"}}}}})
def create_key(request: Request, body: KeyIn, principal: Principal = Depends(require("admin"))):
    return JSON(make_key(request, principal, body.role, body.name), status_code=201)


@router.delete("/keys/{key_id}", summary="Revoke an API key (admin)",
               responses={**ERRORS, **NOT_FOUND, 409: {"description": "It is the last admin key."},
                          **example({**KEY_EXAMPLE, "active": False, "revoked_at": "2025-02-01T09:00:00"})})
def revoke_key(request: Request, principal: Principal = Depends(require("admin")),
               key_id: str = Path(..., min_length=1, max_length=40)):
    return JSON(drop_key(request, principal, key_id))


# -- settings and audit -----------------------------------------------------------
SETTINGS_EXAMPLE = {"shop_name": "Rosie's Bakery", "session_hours": 12.0, "timezone": "Europe/Paris",
                    "currency": "EUR"}


@router.get("/settings", summary="Server settings", responses={**ERRORS, **example(SETTINGS_EXAMPLE)})
def get_settings(request: Request, principal: Principal = Depends(require("viewer"))):
    return JSON(request.app.state.app_settings)


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [SETTINGS_EXAMPLE]})
    shop_name: str | None = Field(None, min_length=1, max_length=80)
    session_hours: float | None = Field(None, ge=0.25, le=720)
    timezone: str | None = Field(None, min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Paris")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR")
    exchange_rates: str | dict[str, float] | None = Field(
        None, description="Rates to the shop's currency, replacing the stored ones: \"USD=0.92, GBP=1.17\" or "
                          "{\"USD\": 0.92} (one USD is 0.92 of the shop's currency); each keeps the day it was set")


@router.put("/settings", summary="Change server settings (admin)", responses={**ERRORS, **example(SETTINGS_EXAMPLE)})
def put_settings(request: Request, body: SettingsIn = Body(...), principal: Principal = Depends(require("admin"))):
    return JSON(change_settings(request, principal, body.model_dump(exclude_none=True)))


@router.get("/audit", summary="Audit log: sign-ins, keys, uploads, exports, erasures (admin)",
            responses={**ERRORS, **example({"total": 1, "limit": 50, "offset": 0, "items": [{
                "logged_at": "2025-01-01T10:00:00", "actor": "key:3f9a1c2b7d", "role": "admin",
                "action": "customer.erase", "target": "5f0c…", "detail": {"rows_deleted": 12}}]})})
def audit(principal: Principal = Depends(require("admin")), ws=Depends(read_view), limit: int = Limit,
          offset: int = Offset):
    total, items = auth.audit_entries(ws, limit, offset)
    return JSON({"total": total, "limit": limit, "offset": offset, "items": items})


# -- the data -----------------------------------------------------------------------
@router.get("/workspace", summary="Table sizes, schema version, last load",
            responses={**ERRORS, **example({"path_name": "shop.duckdb", "schema_version": 3,
                                            "tables": {"customers": 20000}, "last_ingest_at": "2025-01-01T10:00:00",
                                            "kinds": list(KINDS)})})
def workspace(principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(data_admin.workspace_overview(ws))


@router.get("/ingest/runs", summary="Ingest runs, newest first",
            responses={**ERRORS, **example({"total": 1, "limit": 50, "offset": 0, "notes": [], "items": [{
                "run_id": 3, "kind": "orders", "format": "shopify", "files": ["orders_export.csv"],
                "rows_read": 1200, "rows_new": 1195, "rows_quarantined": 5}]})})
def runs(principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
         kind: Literal[tuple(KINDS)] | None = Query(None), limit: int = Limit, offset: int = Offset):  # type: ignore[valid-type]
    return JSON(data_admin.ingest_runs(ws, kind=kind, limit=limit, offset=offset).to_dict())


@router.get("/ingest/quarantine", summary="Rejected rows: file, row, column and reason",
            description="The raw row is shown to analysts and admins only (it may hold personal data).",
            responses={**ERRORS, **example({"total": 1, "limit": 50, "offset": 0,
                                            "notes": ["1 row(s): column \"total\": cannot read \"abc\" as an amount"],
                                            "items": [{"run_id": 3, "kind": "orders", "file": "orders.csv",
                                                       "row_number": 17, "column_name": "total",
                                                       "reason": "column \"total\": cannot read \"abc\" as an amount",
                                                       "raw": "***"}]})})
def quarantine(principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
               run_id: int | None = Query(None, ge=0, le=2**62), kind: Literal[tuple(KINDS)] | None = Query(None),  # type: ignore[valid-type]
               limit: int = Limit, offset: int = Offset):
    page = data_admin.quarantine(ws, run_id=run_id, kind=kind, limit=limit, offset=offset,
                                 include_pii=principal.sees_pii)
    return JSON(page.to_dict())


@router.get("/ingest/warnings", summary="Values dropped from rows that loaded (field-level warnings)",
            description="A junk phone, a malformed e-mail or an unreadable optional date is left out of its row, "
            "which still loads; each such value is listed with its file, row, column and reason. The value is "
            "shown to analysts and admins only (it may be personal data).",
            responses={**ERRORS, **example({"total": 1, "limit": 50, "offset": 0,
                                            "notes": ["1 value(s) dropped from column \"Phone\""],
                                            "items": [{"run_id": 3, "kind": "orders", "file": "orders.csv",
                                                       "row_number": 8, "column_name": "column \"Phone\"",
                                                       "value": "***",
                                                       "reason": "column \"Phone\": cannot read \"…\" as a phone number"}]})})
def warnings(principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
             run_id: int | None = Query(None, ge=0, le=2**62), kind: Literal[tuple(KINDS)] | None = Query(None),  # type: ignore[valid-type]
             limit: int = Limit, offset: int = Offset):
    page = data_admin.field_warnings(ws, run_id=run_id, kind=kind, limit=limit, offset=offset,
                                     include_pii=principal.sees_pii)
    return JSON(page.to_dict())
