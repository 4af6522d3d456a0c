"""No request can forge a line in the server's log, nor put NUL or terminal escapes in it (issue 13 #10).

The server logs through :func:`regulars.server.middleware.configure_logging` (what `regulars serve`
uses) into a buffer; every line of the buffer must be a real log line.
"""

from __future__ import annotations

import io
import logging
import re

import pytest

from regulars.server.middleware import configure_logging
from tests.api.server import start
from tests.api.shop import build_shop

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
FORGED = "2025-01-01 00:00:00,000 INFO regulars.access: DELETE /api/customers/C0001 200 1.0ms key=admin"
PATHS = [
    "/api/nothing%0a" + FORGED.replace(" ", "%20"),
    "/api/nothing%0d%0a" + FORGED.replace(" ", "%20"),
    "/api/x%00y",
    "/api/x%e2%80%a8" + FORGED.replace(" ", "%20"),  # U+2028 LINE SEPARATOR
    "/api/x%c2%85next",  # U+0085 NEXT LINE
    "/api/x%1b%5b31mred%1b%5b0m",  # a terminal colour escape
    "/customers/%0a" + FORGED.replace(" ", "%20"),
]


@pytest.fixture
def log_buffer():
    names = ("regulars", "uvicorn")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level)
             for n in names}
    buffer = io.StringIO()
    configure_logging("info", stream=buffer)
    yield buffer
    for n, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(n)
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def test_requests_cannot_forge_log_lines(tmp_path, log_buffer):
    shop = build_shop(tmp_path / "shop.duckdb", n_customers=5)
    server = start(shop.path, warm_profiles=False, warm_reports=False)
    try:
        with server.client() as anonymous, server.client("viewer") as viewer:
            for path in PATHS:
                anonymous.get(path)
                viewer.get(path)
    finally:
        server.stop()
    text = log_buffer.getvalue()
    lines = text.split("\n")[:-1]
    assert sum("regulars.access" in line for line in lines) >= 2 * len(PATHS)
    bad = [line for line in lines if not LINE.match(line) and not line.startswith("    ")]
    assert not bad, f"lines that are not log entries: {bad[:3]}"
    assert not any(line.startswith(FORGED[:30]) for line in lines)
    for ch in ("\x00", "\x1b", "\r", "\u2028", "\x85"):
        assert ch not in text, repr(ch)
    assert "\\x0a2025-01-01" in text  # the attempt is logged, escaped, on the real line
