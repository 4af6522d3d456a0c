"""docs/api.md names every route of the OpenAPI spec (a new route must be documented)."""

from __future__ import annotations

import re
from pathlib import Path

from regulars.api import Settings, create_app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_route_is_in_the_api_docs():
    text = DOCS.read_text(encoding="utf-8")
    spec = create_app(Settings(workspace="unused.duckdb")).openapi()
    missing = []
    for path, ops in spec["paths"].items():
        for method in ops:
            if not re.search(rf"{method.upper()}\b[^\n]*{re.escape(path)}(?![\w/{{])", text):
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"routes not described in docs/api.md: {missing}"


def test_every_operation_has_a_summary_and_error_answers():
    spec = create_app(Settings(workspace="unused.duckdb")).openapi()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path} has no summary"
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path} does not document 401/403"
