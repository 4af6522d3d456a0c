"""What ``regulars predict`` shows for a run, kept so the same run is shown again on unchanged data
(a stored result, :mod:`regulars.reports.stored`)."""

from __future__ import annotations

from regulars.data import predictions_store as store

__all__ = ["latest_display", "store_display"]


#: Under this name :func:`store_display` keeps what ``regulars predict`` shows (see :mod:`regulars.reports.stored`).
DISPLAY = "predict"


def _display_params(as_of, horizon_days: int) -> dict:
    return {"as_of": as_of, "horizon_days": horizon_days}


def store_display(ws, as_of, horizon_days: int, result, offers: dict) -> None:
    """Keep what ``regulars predict`` shows for a run: *result* and the *offers* made after it.

    *as_of* is the date asked for (None: the default); the stored run is shown again by
    :func:`latest_display` while the shop's data is unchanged and it is still the latest run.
    """
    from regulars.reports.stored import stored

    stored(ws, DISPLAY, _display_params(as_of, horizon_days), lambda _w: {"result": result, "offers": offers},
           refresh=True, reads="inputs", daily=False)


def latest_display(ws, as_of, horizon_days: int):
    """The stored ``{"result", "offers"}`` of the latest run with these options on the same data, or None."""
    from regulars.reports.stored import lookup

    shown = lookup(ws, DISPLAY, _display_params(as_of, horizon_days), reads="inputs", daily=False)
    if shown is None:
        return None
    latest = store.read_prediction_run(ws)
    if latest is None or latest.get("run_id") != shown.value["result"].run_id:
        return None
    return shown
