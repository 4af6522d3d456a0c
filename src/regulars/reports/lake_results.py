"""What a lake workspace's dashboard shows from the lake: the kept KPI reports, and where each result came from.

On a lake workspace the server's read views read the result tables (predictions, segments) from
the lake's results (:func:`regulars.data.lake_results.overlay_results`), so the reports of
:mod:`regulars.reports.predictions` and :mod:`regulars.reports.segments` run unchanged. The KPIs
are a report the ``regulars kpis --engine spark`` command keeps in the lake; :func:`lake_kpis`
reads it. A result the lake does not hold yet raises :class:`NotInLake` naming the command to run.

>>> class View:  # a DuckDB workspace: nothing comes from a lake
...     lake = None
>>> results_source(View(), "predictions") is None
True
"""

from __future__ import annotations

from regulars.data.lake_results import KPI_COMMANDS, RESULT_SETS, kpi_report, result_set_manifest

__all__ = ["KPI_COMMANDS", "NotInLake", "lake_kpis", "on_lake", "results_source"]


class NotInLake(LookupError):
    """The lake holds no such result yet; the message says which command writes it."""


def on_lake(ws) -> bool:
    """True when *ws* (a server read view) reads its results from a lake."""
    return getattr(ws, "lake", None) is not None


def results_source(ws, name: str) -> dict | None:
    """Where the result set *name* (``predictions``, ``segments``) of a lake workspace comes from:
    the lake, its as-of date, run id and when it was written, or the command that writes it; None off a lake."""
    if not on_lake(ws):
        return None
    state = getattr(ws, "lake_results", {}).get(name)
    manifest = result_set_manifest(ws.lake, name)
    if manifest is None or (state is not None and state != manifest["as_of"]):  # none, or hidden (an erasure)
        note = state if state is not None else f"not in the lake yet: run `{RESULT_SETS[name][1]}`"
        return {"lake": str(ws.lake), "as_of": None, "note": note}
    return {"lake": str(ws.lake), "as_of": manifest["as_of"], "run_id": manifest["run_id"],
            "written_at": manifest["written_at"], "lake_promoted_at": manifest["source"].get("promoted_at"),
            "note": f"{name} as of {manifest['as_of']}, written to the lake {manifest['written_at']}"}


def lake_kpis(ws, by: str | None) -> dict:
    """The KPI report (``KpiReport.to_dict()``) kept in the lake for *by*, with where it came from."""
    kept = kpi_report(ws.lake, by)
    if kept is None:
        raise NotInLake(f"the KPIs{' by ' + by if by else ''} are not in the lake {ws.lake} yet: "
                        f"run `{KPI_COMMANDS[by]}`")
    return {**kept["report"], "results_source": {"lake": str(ws.lake), "written_at": kept["written_at"],
                                                 "lake_promoted_at": kept["source"].get("promoted_at")}}
