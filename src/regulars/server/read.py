"""The read view of the workspace a request works on (a FastAPI dependency of routes and pages)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request


def read_view(request: Request) -> Iterator:
    """Dependency: a read view of the workspace for this request."""
    with request.app.state.shared.read() as ws:
        yield ws
