"""What the route modules share: JSON responses, standard error documentation (and the read view)."""

from __future__ import annotations

import json

from fastapi import Query
from fastapi.responses import Response

from regulars.data.rows import jsonable
from regulars.reports.shop_time import SHOP_TIMEZONE, with_offsets


Limit = Query(50, ge=1, le=1000, description="Page size (1 to 1000).")
Offset = Query(0, ge=0, le=100_000_000, description="Rows to skip.")


def _err(status: int, code: str, message: str) -> dict:
    return {"description": message, "content": {"application/json": {"example": {
        "error": code, "message": message, "status": status}}}}


#: Error responses every authenticated route can give.
ERRORS = {
    401: _err(401, "unauthenticated", "No API key, or a wrong or revoked one."),
    403: _err(403, "forbidden", "The key's role is too low for this route."),
    422: _err(422, "invalid", "A parameter or the body is invalid; `problems` says which and why."),
}
NOT_FOUND = {404: _err(404, "not_found", "No such item.")}


class JSON(Response):
    """JSON without FastAPI's slow generic encoder (values are made JSON-ready first).

    Every stored moment is written as ISO 8601 with the shop's UTC offset
    (:func:`regulars.reports.shop_time.with_offsets`); dates stay dates.
    """

    media_type = "application/json"

    def render(self, content) -> bytes:
        ready = with_offsets(jsonable(content), SHOP_TIMEZONE.get())
        return json.dumps(ready, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def example(value: dict | list, description: str = "Success.") -> dict:
    """An OpenAPI ``responses`` entry for 200 with an example body."""
    return {200: {"description": description, "content": {"application/json": {"example": value}}}}
