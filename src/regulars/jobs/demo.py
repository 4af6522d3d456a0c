"""The main job on the demo shop: build it, segment it, predict, backtest — everything the dashboard shows.

The job returns a :class:`DemoSummary`; printing it is the interface's business
(``regulars demo`` in :mod:`regulars.cli.main`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Tables whose row counts the summary reports.
COUNTED_TABLES = ("customers", "orders", "order_lines", "events", "messages", "tickets", "reviews")


@dataclass
class DemoSummary:
    """What :func:`run_demo` built and computed.

    Attributes
    ----------
    path : Path
        The workspace file.
    counts : dict
        Rows per canonical table (:data:`COUNTED_TABLES`).
    quarantined : int
        Input rows rejected by ingestion (0 on a healthy demo).
    headline : dict
        Whole-period KPIs (metric -> value).
    steps : dict
        Seconds per step (``build``, ``segments``, ``predict``, ``backtest``, ``recommend``, ``text``, ``anomalies``,
        ``reports``: the stored reports of :mod:`regulars.jobs.precompute`).
    segments, predictions, backtest, recommendations, text, anomalies : dict
        What each analysis did (``to_dict()`` of its result), or ``{"error": ...}`` when it failed.
    """

    path: Path
    counts: dict[str, int]
    quarantined: int
    headline: dict
    steps: dict[str, float] = field(default_factory=dict)
    segments: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    backtest: dict = field(default_factory=dict)
    recommendations: dict = field(default_factory=dict)
    text: dict = field(default_factory=dict)
    anomalies: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.steps.values())


def run_demo(
    ws,
    customers: int = 20_000,
    seed: int = 0,
    keep_files: Path | None = None,
    analyses: bool = True,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Build the demo shop into the open workspace *ws*; then refresh segments, predict and backtest.

    Parameters
    ----------
    ws : regulars.Workspace
        Opened read-write.
    customers, seed : int
        Size of the shop; same seed, same shop.
    keep_files : path, optional
        Keep the generated export files in this folder.
    analyses : bool
        Also run segments, predictions and the backtest (what the dashboard pages show).
    progress : callable, optional
        Called with the current step.
    """
    from regulars.demo import build_demo
    from regulars.reports import standard

    say = progress or (lambda _s: None)
    steps: dict[str, float] = {}
    t = time.perf_counter()
    built = build_demo(ws, n_customers=customers, seed=seed, progress=say, keep_files_in=keep_files)
    steps["build"] = time.perf_counter() - t
    summary = DemoSummary(
        path=ws.path,
        counts={name: ws.count(name) for name in COUNTED_TABLES},
        quarantined=int(sum(built.get("quarantined", {}).values())),
        headline=_headline(standard.kpis(ws).value),  # stored: `regulars kpis` reads it
        steps=steps,
    )
    if not analyses:
        return summary
    summary.segments = _timed(steps, "segments", lambda: _segments(ws, say))
    predicted: dict = {}
    summary.predictions = _timed(steps, "predict", lambda: _predict(ws, say, predicted))
    fitted: dict = {}
    summary.backtest = _timed(steps, "backtest", lambda: _backtest(ws, say, fitted))
    summary.recommendations = _timed(steps, "recommend", lambda: _recommend(ws, say))
    summary.text = _timed(steps, "text", lambda: _text(ws, say))
    summary.anomalies = _timed(steps, "anomalies", lambda: _anomalies(ws, say))
    _timed(steps, "audit", lambda: _audit(ws, say, fitted.get("models")))
    _timed(steps, "reports", lambda: _store_reports(ws, say, predicted.get("result"), summary.recommendations))
    return summary


def _audit(ws, say, fitted) -> dict:
    """Store the fairness audit (with the backtest's models) so a plain `regulars audit` reads it.

    The journey templates go in first (as the reports step and the server do): the audit's data
    version includes them. The reports are stored after it, so its tables are in their version."""
    from regulars.jobs.audit_stored import store_after_backtest
    from regulars.jobs.precompute import add_journey_templates

    if fitted is None:
        return {}
    add_journey_templates(ws)
    outcome = store_after_backtest(ws, fitted, progress=lambda s: say(f"audit: {s}"))
    return {"cutoff": outcome.cutoff.isoformat(), "models": sorted(outcome.runs), "skipped": outcome.skipped}


def _store_reports(ws, say, result, offers: dict) -> dict:
    """Store what `regulars predict` shows for this run, and the reports pages and commands open first."""
    from regulars.jobs.precompute import precompute
    from regulars.jobs.predict_display import store_display

    if result is not None and "error" not in offers:
        store_display(ws, None, result.horizon_days, result,
                      {"k": offers["recommendations"].get("k", 10), "recommendations": offers["recommendations"],
                       "next_actions": offers["next_actions"]})
    return precompute(ws, progress=lambda s: say(f"reports: {s}"))


def _headline(report) -> dict:
    if not len(report.table):
        return {}
    row = report.table.iloc[0].to_dict()
    return {k: v for k, v in row.items() if isinstance(v, (int, float)) and v == v}


def _timed(steps: dict, name: str, fn: Callable[[], dict]) -> dict:
    t = time.perf_counter()
    try:
        return fn()
    finally:
        steps[name] = time.perf_counter() - t


def _segments(ws, say) -> dict:
    from regulars.jobs.segments import refresh

    return refresh(ws, progress=lambda s: say(f"segments: {s}")).to_dict()


def _predict(ws, say, keep: dict) -> dict:
    from regulars.jobs.predict import predict

    keep["result"] = predict(ws, progress=lambda s: say(f"predictions: {s}"))
    return keep["result"].to_dict()


def _text(ws, say) -> dict:
    from regulars.jobs.text import analyse_texts

    return analyse_texts(ws, progress=lambda s: say(f"text: {s}")).to_dict()


def _anomalies(ws, say) -> dict:
    from regulars.jobs.anomalies import detect_anomalies

    return detect_anomalies(ws, progress=lambda s: say(f"anomalies: {s}")).to_dict()


def _backtest(ws, say, fitted: dict) -> dict:
    from regulars.jobs.backtest import backtest, remember_run

    result = backtest(ws, progress=lambda s: say(f"backtest: {s}"), on_fitted=lambda fm: fitted.update(models=fm))
    remember_run(ws, None, None, result.run_id)  # `regulars backtest` shows it without running again
    return result.to_dict()


def _recommend(ws, say) -> dict:
    """Evaluate the recommenders at the backtest's cutoff, then recommend and choose next actions."""
    from regulars.jobs.next_actions import next_actions
    from regulars.jobs.recommend import recommend
    from regulars.jobs.recommend_eval import evaluate
    from regulars.data.as_of import ORDERS, resolve_as_of

    evaluation = evaluate(ws, progress=lambda s: say(f"recommendations: {s}"))
    rec = recommend(ws, as_of=resolve_as_of(ws, basis=ORDERS), progress=lambda s: say(f"recommendations: {s}"))
    nba = next_actions(ws, as_of=rec.as_of, progress=lambda s: say(f"next actions: {s}"))
    return {"evaluation": evaluation.to_dict(), "recommendations": rec.to_dict(), "next_actions": nba.to_dict()}
