"""JSON errors with clear messages and the right status codes (HTML pages for the dashboard).

The page a browser sees is drawn by the function the composition root passes to :func:`install`
(the dashboard's layout, :func:`regulars.web.layout.error_page`).

Every error from ``/api/`` has the same shape::

    {"error": "not_found", "message": "no customer 'c-999'", "status": 404}

A request that fails validation (422) also lists each problem under ``problems``
with where it is (``query.limit``, ``body.events.3.occurred_at``) and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from regulars.server.security import AuthProblem, LoginRequired

CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 500: "internal_error",
         503: "unavailable"}


class ApiError(Exception):
    """An error the caller can fix; the message says how."""

    def __init__(self, status: int, message: str, code: str | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code or CODES.get(status, "error"), extra


def error_body(status: int, code: str, message: str, **extra) -> dict:
    return {"error": code, "message": message, "status": status, **extra}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.url.path != "/openapi.json"


#: ``error_page(request, status, message, headers=...)``: the HTML page of an error for a browser.
ErrorPage = Callable[..., Response]


def install(app: FastAPI, error_page: ErrorPage) -> None:
    """Register the handlers on *app*; *error_page* draws the errors of the dashboard's pages."""

    def _html_error(request: Request, status: int, message: str, headers=None) -> Response:
        return error_page(request, status, message, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        if _wants_html(request):
            return _html_error(request, exc.status, exc.message)
        return JSONResponse(error_body(exc.status, exc.code, exc.message, **exc.extra), status_code=exc.status)

    @app.exception_handler(AuthProblem)
    async def auth_problem(request: Request, exc: AuthProblem):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if _wants_html(request):
            return _html_error(request, exc.status, exc.message, headers)
        return JSONResponse(error_body(exc.status, exc.code, exc.message), status_code=exc.status, headers=headers)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        return RedirectResponse(f"/login?next={exc.next_url}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            loc = ".".join(str(p) for p in e.get("loc", ()))
            problems.append({"where": loc, "problem": e.get("msg", "invalid"), "type": e.get("type")})
        first = problems[0] if problems else {"where": "request", "problem": "invalid"}
        message = f"{first['where']}: {first['problem']}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        if _wants_html(request):
            return _html_error(request, 422, message)
        return JSONResponse(error_body(422, "invalid", message, problems=problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}; see /openapi.json for the routes"
        if exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.method} is not allowed on {request.url.path}"
        if _wants_html(request):
            return _html_error(request, exc.status_code, message, exc.headers)
        return JSONResponse(error_body(exc.status_code, CODES.get(exc.status_code, "error"), message),
                            status_code=exc.status_code, headers=exc.headers)
