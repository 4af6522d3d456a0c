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
        Seconds per step (``build``, ``segments``, ``predict``, ``backtest``, ``recommend``).
    segments, predictions, backtest, recommendations : dict
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
    from regulars.reports.kpis import kpis

    say = progress or (lambda _s: None)
    steps: dict[str, float] = {}
    t = time.perf_counter()
    built = build_demo(ws, n_customers=customers, seed=seed, progress=say, keep_files_in=keep_files)
    steps["build"] = time.perf_counter() - t
    summary = DemoSummary(
        path=ws.path,
        counts={name: ws.count(name) for name in COUNTED_TABLES},
        quarantined=int(sum(built.get("quarantined", {}).values())),
        headline=_headline(kpis(ws)),
        steps=steps,
    )
    if not analyses:
        return summary
    summary.segments = _timed(steps, "segments", lambda: _segments(ws, say))
    summary.predictions = _timed(steps, "predict", lambda: _predict(ws, say))
    summary.backtest = _timed(steps, "backtest", lambda: _backtest(ws, say))
    summary.recommendations = _timed(steps, "recommend", lambda: _recommend(ws, say))
    return summary


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


def _predict(ws, say) -> dict:
    from regulars.jobs.predict import predict

    return predict(ws, progress=lambda s: say(f"predictions: {s}")).to_dict()


def _backtest(ws, say) -> dict:
    from regulars.jobs.backtest import backtest

    return backtest(ws, progress=lambda s: say(f"backtest: {s}")).to_dict()


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
