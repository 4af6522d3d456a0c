"""The one data path behind the trust pages and their JSON routes: anomalies, fairness audits, model cards.

Each calls a :mod:`regulars.reports` function through the report cache (until the next write).
"""

from __future__ import annotations

from fastapi import Request

from regulars.reports.customers import jsonable
from regulars.server.errors import ApiError
from regulars.server.views import _cached, report_module


def anomalies(request: Request, ws, kind: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    mod = report_module("anomalies")
    return _cached(request, ws, ("anomalies", kind, limit, offset),
                   lambda w: mod.anomalies_report(w, kind=kind, limit=limit, offset=offset).to_dict())


def refresh_anomalies(request: Request) -> dict:
    """Run every anomaly check through the writer, then drop cached results."""
    try:
        from regulars.jobs.anomalies import detect_anomalies
    except ImportError:
        raise ApiError(503, "anomaly checks are not available in this installation") from None
    result = request.app.state.shared.write(lambda ws: detect_anomalies(ws))
    request.app.state.cache.clear(("anomalies",))
    return jsonable(result.to_dict())


def fairness(request: Request, ws, model: str | None = None) -> dict:
    mod = report_module("fairness")
    return _cached(request, ws, ("fairness", model), lambda w: mod.fairness_report(w, model).to_dict())


def run_fairness(request: Request, model: str | None = None, **options) -> dict:
    """Run the fairness audit through the writer (refits the models at the cutoff: can take a minute);
    ``options`` are :func:`~regulars.jobs.audit.run_audit`'s (cutoff, stored, thresholds)."""
    from regulars.jobs.audit import REGISTRY, run_audit

    if model is not None and model not in REGISTRY:
        raise ApiError(404, f"no model {model!r} to audit; auditable: {', '.join(REGISTRY)}")
    try:
        result = request.app.state.shared.write(lambda ws: run_audit(ws, [model] if model else None, **options))
    except ValueError as exc:
        raise ApiError(422, str(exc).splitlines()[0]) from None
    request.app.state.cache.clear(("fairness", "model_cards", "model_card"))
    return jsonable(result.to_dict())


def model_cards(request: Request, ws) -> dict:
    mod = report_module("fairness")
    return _cached(request, ws, ("model_cards",), lambda w: mod.model_cards(w))


def model_card(request: Request, ws, model: str) -> dict:
    mod = report_module("fairness")
    try:
        return _cached(request, ws, ("model_card", model), lambda w: mod.model_card(w, model))
    except mod.NoCard as exc:
        raise ApiError(404, str(exc)) from None
