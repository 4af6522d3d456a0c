r"""Access log without personal data, security headers, and a clean 500 for unexpected errors.

The access log line is ``METHOD /path STATUS ms key=<key id>``: never the
query string (searches may hold e-mails), and e-mail-like or phone-like text
in the path is replaced by ``[redacted]``. Unexpected errors are logged with
their type and the route, not their message (database errors may quote values).

Nothing logged can forge a log line: control characters (line breaks, NUL, escape
sequences) and Unicode line separators in any message are written as ``\xNN`` or
``\uNNNN`` escapes (:func:`log_safe`), and traceback lines are indented.

Every response that is not a static asset carries ``Cache-Control: no-store``: pages
and JSON may hold personal data and must not stay in a browser's or a proxy's cache.

>>> redact("/api/customers/ann@example.com?q=+33 6 12 34 56 78")
'/api/customers/[redacted]?q=[redacted]'
>>> print(log_safe("/api/x\n2025-01-01 INFO regulars.access: DELETE\x00"))
/api/x\x0a2025-01-01 INFO regulars.access: DELETE\x00
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import unicodedata
import uuid

log = logging.getLogger("regulars.server")
access = logging.getLogger("regulars.access")

_EMAIL = re.compile(r"[^\s/?&=@]+@[^\s/?&=@]+")
_PHONE = re.compile(r"\+[\d\s().-]{6,}\d")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
]


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def log_safe(text: str) -> str:
    """*text* with every control, format and line/paragraph separator character escaped (one log line)."""
    return "".join(_escape(ch) if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text))


def redact(text: str) -> str:
    """Replace e-mail-like and phone-like text (``+`` then digits) by ``[redacted]``."""
    return _PHONE.sub("[redacted]", _EMAIL.sub("[redacted]", text))


class RedactFilter(logging.Filter):
    """Redacts e-mails and phone numbers in any log record (message, arguments, traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break logging
            message = str(record.msg)
        record.msg, record.args = log_safe(redact(message)), None
        if record.exc_info:
            lines = "".join(traceback.format_exception(*record.exc_info)).splitlines()
            record.exc_text = "\n".join("    " + log_safe(redact(line)) for line in lines)
            record.exc_info = None
        return True


def configure_logging(level: str = "info", stream=None) -> None:
    """Log ``regulars.*`` and uvicorn's messages to stderr through the redacting filter.

    Uvicorn's own access log is turned off: :class:`ServerMiddleware` writes one without query strings.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter())
    for name in ("regulars", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True


class HttpMiddleware:
    """Pure ASGI middleware acting on HTTP requests (others pass through): a subclass writes :meth:`http`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope, receive, send):  # pragma: no cover - every subclass writes its own
        raise NotImplementedError


class ServerMiddleware(HttpMiddleware):
    """Timing + access log, security headers, JSON/HTML 500."""

    async def http(self, scope, receive, send):
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if b"cache-control" not in present:  # static assets set their own
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if scope["path"].startswith("/api/") and not await self._gate(scope, send_wrapped):
                return
            await self.app(scope, receive, send_wrapped)
        except Exception as exc:  # noqa: BLE001 - last line of defence
            ref = uuid.uuid4().hex[:12]
            log.error("unhandled %s on %s %s (ref %s)", type(exc).__name__, log_safe(scope["method"]),
                      log_safe(redact(scope["path"])), ref)
            log.debug("traceback for ref %s", ref, exc_info=True)
            if not status["sent"]:
                body = json.dumps({"error": "internal_error", "status": 500,
                                   "message": f"something went wrong on the server (ref {ref}); the log has details"})
                await send_wrapped({"type": "http.response.start", "status": 500,
                                    "headers": [(b"content-type", b"application/json")]})
                await send_wrapped({"type": "http.response.body", "body": body.encode()})
        finally:
            state = scope.get("state") or {}
            principal = state.get("principal")
            ms = (time.perf_counter() - started) * 1000
            access.info("%s %s %s %.1fms key=%s", log_safe(scope["method"]), log_safe(redact(scope["path"])),
                        status["code"], ms, principal.key_id if principal else "-")

    @staticmethod
    async def _gate(scope, send) -> bool:
        """Nothing under /api/ is answered (not even a 404) without valid credentials."""
        from starlette.requests import Request

        from regulars.server.security import AuthProblem, identify

        try:
            principal = identify(Request(scope))
            problem = None if principal else AuthProblem(
                401, "unauthenticated", "send an API key: `Authorization: Bearer <key>`")
        except AuthProblem as exc:
            principal, problem = None, exc
        if problem is None:
            scope.setdefault("state", {})["principal"] = principal
            return True
        body = json.dumps({"error": problem.code, "message": problem.message, "status": problem.status})
        headers = [(b"content-type", b"application/json")]
        if problem.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": problem.status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})
        return False
