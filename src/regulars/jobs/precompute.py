"""After a refresh: compute what the read commands and dashboard pages show first, and store it.

``regulars demo``, ``regulars segments refresh`` and the dashboard's refresh call
:func:`precompute`; the reports land in the workspace's stored results
(:mod:`regulars.reports.standard`), so ``regulars funnel``, ``regulars clusters``,
``regulars kpis`` and the first visit to a page read them instead of computing.
A report that the data cannot support (no events, too few buyers) is skipped: its
command says why when asked. On a writable workspace the shipped journey templates are
added first (as drafts, as ``regulars serve`` does at its start), so the stored weekly
report is still valid when the server opens the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("regulars.jobs")


def standard_reports() -> list[tuple[str, Callable]]:
    """(name, ``fn(ws, save)``) of every report stored after a refresh, in this order."""
    from regulars.reports import standard

    by_source: dict = {}

    def split(ws, save):
        by_source["report"] = standard.funnel(ws, by="source", save=save).value
        return by_source["report"]

    return [  # the overall funnel reuses the split one's paths and drop-off (same sessions)
        ("funnel by source", split),
        ("funnel", lambda ws, save: standard.funnel(ws, save=save, like=by_source.get("report"))),
        ("clusters", lambda ws, save: standard.clusters(ws, save=save)),
        ("kpis", lambda ws, save: standard.kpis(ws, save=save)),
        ("kpis by month", lambda ws, save: standard.kpis(ws, by="month", save=save)),
        ("doctor", lambda ws, save: standard.doctor(ws, save=save)),
        ("kpis by rfm segment", lambda ws, save: standard.segment_kpis(ws, "rfm", save=save)),
        ("weekly report", lambda ws, save: standard.monday(ws, shop_name=_shop_name(ws), save=save)),
    ]


def _shop_name(ws) -> str:
    from regulars.jobs.activation import load_settings

    return str(load_settings(ws).get("shop_name"))


def add_journey_templates(ws) -> None:
    """Add the shipped journey templates (drafts) that ``regulars serve`` would add at its start: the
    weekly report lists journeys, so one stored before they exist would be out of date at once."""
    from regulars.jobs.journeys import install_templates

    with ws.transaction():
        install_templates(ws)


def precompute(ws, save=None, progress: Callable[[str], None] | None = None) -> dict[str, float]:
    """Store every standard report for the workspace's current data; return seconds per report.

    Parameters
    ----------
    ws : Workspace (written to), or a read view with *save* (the server's writer)
    save : see :func:`regulars.reports.stored.stored`
    progress : called with the name of each report before it is computed
    """
    say = progress or (lambda _s: None)
    took: dict[str, float] = {}
    if save is None and not getattr(ws, "read_only", True):
        say("journey templates")
        add_journey_templates(ws)
    for name, read in standard_reports():
        say(name)
        started = time.perf_counter()
        try:
            read(ws, save)
        except ValueError as exc:  # the data cannot support it (e.g. no events): its command says so
            log.info("%s not precomputed: %s", name, str(exc).splitlines()[0])
            continue
        took[name] = round(time.perf_counter() - started, 3)
    return took
