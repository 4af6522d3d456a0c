"""Action lists: at-risk valuable customers, likely buyers, hot leads, re-buys due and each segment,
whole, as JSON or CSV (the same report as ``regulars lists`` and the dashboard's Lists page)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from regulars.api.routes._common import ERRORS, JSON, example
from regulars.server.actions import lists_overview, one_list
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["lists"])


@router.get("/lists", summary="The lists a shop owner acts on, with their sizes",
            responses={**ERRORS, **example({"items": [{"name": "at-risk", "title": "Valuable customers at risk",
                                                       "purpose": "high churn risk, most predicted value first",
                                                       "size": 150}]})})
def get_lists(principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(lists_overview(ws))


@router.get("/lists/{name}", summary="One whole list (JSON, or CSV with format=csv)",
            description="Every row, with the customer's name, e-mail and phone next to the id (masked as *** "
                        "for viewers). Lists: at-risk, likely-buyers, hot-leads, replenishment-due, segment:ID. "
                        "CSV cells a spreadsheet would evaluate are escaped.",
            responses={**ERRORS, 404: {"description": "No such list."}})
def get_list(request: Request, name: str = Path(..., max_length=200),
             format: Literal["json", "csv"] = Query("json"),
             principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    found = one_list(ws, name, principal)
    if format == "csv":
        from regulars.data import auth

        request.app.state.shared.submit(lambda w: auth.record(w, principal.actor, principal.role, "list.export",
                                                               name, {"rows": len(found.rows)}))
        return Response(found.to_csv(), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{found.file_name()}"'})
    return JSON(found.to_dict())
