"""The one data path behind the Experiments page and the ``/api/experiments`` routes.

Each function calls :mod:`regulars.reports.experiments` (or :mod:`regulars.reports.causal`) and
returns its JSON-ready ``to_dict()``, cached until the next write like every other report
(:mod:`regulars.server.cache`). Only aggregates per arm leave here: viewers see them too. Writes
(create, assign) go through the server's single writer and clear the cached experiment reports.
"""

from __future__ import annotations

import datetime as dt

from fastapi import Request

from regulars.data.rows import jsonable
from regulars.server.errors import ApiError


def _errors():
    from regulars.data.experiments_store import ExperimentError
    from regulars.segments.membership import SegmentError

    return (ExperimentError, SegmentError)


def _cached(request: Request, ws, key: tuple, compute):
    try:
        return request.app.state.cache.get(("experiments", *key), lambda w: jsonable(compute(w)), ws)
    except _errors() as exc:
        status = 404 if str(exc).startswith("no experiment") or str(exc).startswith("no segment") else 422
        raise ApiError(status, str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, str(exc).splitlines()[0]) from None


def experiment_list(request: Request, ws) -> dict:
    from regulars.reports.experiments import experiment_list as report

    return _cached(request, ws, ("list",), lambda w: {"items": report(w).to_dict(orient="records")})


def analysis(request: Request, ws, experiment: str, as_of: dt.date | None = None, window_days: int | None = None,
             by_segment: str | None = None) -> dict:
    from regulars.reports.experiments import analyze

    return _cached(request, ws, ("analysis", experiment, as_of, window_days, by_segment),
                   lambda w: analyze(w, experiment, as_of=as_of, window_days=window_days, by_segment=by_segment).to_dict())


def plan(request: Request, ws, metric: str, lift: float | None, effect: float | None, segment: str | None,
         window_days: int, treatment_share: float) -> dict:
    from regulars.reports.experiments import plan as report

    return _cached(request, ws, ("plan", metric, lift, effect, segment, window_days, treatment_share),
                   lambda w: report(w, metric, lift=lift, effect=effect, segment=segment, window_days=window_days,
                                    treatment_share=treatment_share).to_dict())


def bandit(request: Request, ws, experiment: str) -> dict:
    from regulars.reports.experiments import bandit_report

    return _cached(request, ws, ("bandit", experiment), lambda w: bandit_report(w, experiment).to_dict())


def _write(request: Request, fn):
    try:
        out = request.app.state.shared.write(fn)
    except _errors() as exc:
        raise ApiError(404 if str(exc).startswith("no experiment") else 422, str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, str(exc).splitlines()[0]) from None
    request.app.state.cache.clear(only=("experiments",))
    return out


def create(request: Request, body: dict) -> dict:
    from regulars.jobs.experiments import create_experiment

    return jsonable(_write(request, lambda ws: create_experiment(ws, **body)))


def assign(request: Request, experiment: str, customer_ids: list[str] | None, rows: list[dict] | None, source: str,
           source_ref: str | None) -> dict:
    """Let regulars choose the arms of *customer_ids*, or record *rows* (``customer_id, arm[, assigned_at]``)."""
    import pandas as pd

    from regulars.jobs.experiments import assign_customers, record_assignments

    if rows:
        result = _write(request, lambda ws: record_assignments(ws, experiment, pd.DataFrame(rows), source=source,
                                                               source_ref=source_ref))
        return jsonable(result.to_dict())
    arms = _write(request, lambda ws: assign_customers(ws, experiment, customer_ids or [], source=source,
                                                       source_ref=source_ref))
    return {"items": jsonable(arms.astype(object).where(arms.notna(), None).to_dict(orient="records"))}
