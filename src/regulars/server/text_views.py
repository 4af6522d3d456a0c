"""The one data path behind the Text page and ``/api/text/*``: the text reports, cached until the next write.

Quotes are cached per masking (viewers get masked quotes; analysts and admins the full text).
"""

from __future__ import annotations

from fastapi import Request

from regulars.reports.customers import jsonable
from regulars.server.errors import ApiError
from regulars.server.views import _cached, report_module


def topics(request: Request, ws, include_pii: bool = False) -> dict:
    mod = report_module("text")
    return _cached(request, ws, ("text_topics", include_pii),
                   lambda w: mod.topics_report(w, include_pii=include_pii).to_dict())


def sentiment(request: Request, ws, by: str | None = None) -> dict:
    mod = report_module("text")
    return _cached(request, ws, ("text_sentiment", by), lambda w: mod.sentiment_report(w, by=by).to_dict())


def analyse(request: Request) -> dict:
    """Run the text analysis through the writer, then drop cached results."""
    try:
        from regulars.jobs.text import analyse_texts
    except ImportError:
        raise ApiError(503, "text analysis is not available in this installation") from None
    result = request.app.state.shared.write(lambda ws: analyse_texts(ws))
    request.app.state.cache.clear(("text_topics", "text_sentiment"))
    return jsonable(result.to_dict())
