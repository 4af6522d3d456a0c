"""Privacy routes: the erasure suppression list (admin). Erasure itself is ``DELETE /api/customers/{id}``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request

from regulars.api.routes._common import ERRORS, JSON, NOT_FOUND, example
from regulars.data import auth, suppression
from regulars.server.errors import ApiError
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["admin"])

ITEM = {"erasure_id": "5f0c2a…", "suppressed_at": "2025-01-01T10:00:00", "identifiers": {"email": 1, "shop_id": 1}}


@router.get("/suppressions", summary="Erased people kept out of future loads (admin)",
            description="One item per erasure: when, and how many identifiers of each kind are suppressed. The list "
            "holds keyed hashes only; rows carrying them are quarantined as `erased customer` without content.",
            responses={**ERRORS, **example({"items": [ITEM]})})
def list_suppressions(principal: Principal = Depends(require("admin")), ws=Depends(read_view)):
    return JSON({"items": suppression.listing(ws)})


@router.delete("/suppressions/{erasure_id}", summary="Lift an erasure's suppression (admin, audited)",
               description="The person's rows load again from the next import or posted event.",
               responses={**ERRORS, **NOT_FOUND, **example({"erasure_id": "5f0c2a…", "lifted": 2})})
def lift_suppression(request: Request, principal: Principal = Depends(require("admin")),
                     erasure_id: str = Path(..., min_length=1, max_length=64)):
    def run(ws):
        n = suppression.lift(ws, erasure_id=erasure_id)
        if not n:
            raise ApiError(404, f"no suppression for erasure {erasure_id!r}; see GET /api/suppressions")
        auth.record(ws, principal.actor, principal.role, "suppression.lift", erasure_id, {"identifiers": n})
        return n

    return JSON({"erasure_id": erasure_id, "lifted": request.app.state.shared.write_transaction(run)})
