"""Static files: plotly.js from the installed plotly package (never a CDN), the dashboard's CSS and JS.

Served without authentication (they hold no shop data), compressed when the
browser accepts gzip, and cached for a year under a versioned URL.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from regulars.web.assets import APP_CSS, APP_JS

router = APIRouter(include_in_schema=False)


@functools.cache
def _plotly_js() -> bytes:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()


@functools.cache
def _asset(name: str) -> tuple[bytes, bytes, str]:
    """(raw, gzipped, media type) of an asset."""
    if name == "plotly.min.js":
        raw, media = _plotly_js(), "text/javascript"
    elif name == "app.css":
        raw, media = APP_CSS.encode(), "text/css"
    elif name == "app.js":
        raw, media = APP_JS.encode(), "text/javascript"
    else:
        raise KeyError(name)
    return raw, gzip.compress(raw, 6), media


@functools.cache
def version() -> str:
    """A short hash of the assets, appended to their URLs so a new release is fetched again."""
    h = hashlib.sha256()
    for name in ("app.css", "app.js"):
        h.update(_asset(name)[0])
    import plotly

    h.update(plotly.__version__.encode())
    return h.hexdigest()[:10]


def url(name: str) -> str:
    return f"/static/{name}?v={version()}"


@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    try:
        raw, gz, media = _asset(name)
    except KeyError:
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {"cache-control": "public, max-age=31536000, immutable", "vary": "accept-encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["content-encoding"] = "gzip"
        return Response(gz, media_type=media, headers=headers)
    return Response(raw, media_type=media, headers=headers)
