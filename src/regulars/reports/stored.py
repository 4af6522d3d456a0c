"""Read a report from the workspace's stored results, computing it only when the data changed.

:func:`stored` is how read commands, pages and the refresh job share the work:
the result of ``compute(ws)`` is kept in the workspace (see
:mod:`regulars.data.report_store`) with the data version and the day it was
computed for, and returned as is while neither moved. The numbers are the ones
``compute`` gives: a stored result is the same object, encoded without loss
(:mod:`regulars.reports.codec`).

A read-only workspace cannot store anything while it is open: the result is
kept in memory and written by :func:`save_pending` once the caller closed it
(the CLI does this in ``open_workspace``), when no other process holds the file.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> calls = []
>>> first = stored(ws, "answer", {}, lambda w: calls.append(1) or {"n": 42})
>>> again = stored(ws, "answer", {}, lambda w: calls.append(1) or {"n": 0})
>>> again.value, again.from_store, len(calls)
({'n': 42}, True, 1)
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from regulars import __version__
from regulars.data import report_store
from regulars.data.connection import has_database
from regulars.reports import codec

log = logging.getLogger("regulars.reports")

#: Results computed on a read-only workspace, written once it is closed: (path, report, params, version, payload, as_of).
_PENDING: list[tuple] = []


@dataclass
class Stored:
    """A report result with when it was computed, for which data day, and whether it came from the store."""

    value: object
    computed_at: dt.datetime
    as_of: dt.date | None
    from_store: bool


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def key(params: dict, daily: bool = True) -> dict:
    """The stored key: the parameters, this version of regulars and (*daily*) the day, for reports
    whose default period ends today."""
    return {**params, "_regulars": __version__, **({"_day": _today().isoformat()} if daily else {})}


def stored(ws, report: str, params: dict, compute: Callable[[object], object], refresh: bool = False,
           as_of: dt.date | None = None, save: Callable[[Callable], object] | None = None,
           reads: str = "all", daily: bool = True, ignore: frozenset[str] | tuple = ()) -> Stored:
    """``compute(ws)``, or the result stored for the same *report*, *params*, data and day.

    Parameters
    ----------
    ws : Workspace or a read view (a DuckDB workspace: other table providers store nothing)
    report, params : what identifies the result (params must be JSON-able)
    compute : ``compute(ws)`` -> the report result
    refresh : compute even when a stored result exists (and store the new one)
    as_of : the data date the result is for, kept with it
    reads : ``"inputs"`` when the report reads only the shop's own data (not segments, predictions or
        other derived tables), else ``"all"`` (see :func:`regulars.data.report_store.data_version`)
    daily : the result depends on today's date (a default period ending today): kept for the day only
    ignore : tables left out of the data version besides bookkeeping (what the report itself writes)
    save : ``save(fn)`` runs ``fn(w)`` on a writable workspace (the server's writer); by default
        a writable *ws* stores at once and a read-only one after :func:`save_pending`
    """
    if not has_database(ws):
        return Stored(compute(ws), _now(), as_of, False)
    full = key(params, daily)
    version = report_store.data_version(ws, reads, ignore)
    if not refresh:
        found = _found(ws, report, full, version)
        if found is not None:
            return found
    value = compute(ws)
    try:
        payload = codec.encode(value)
    except (TypeError, ValueError) as exc:  # e.g. a frame Parquet cannot hold: not stored, still correct
        log.info("%s result not stored: %s", report, exc)
        return Stored(value, _now(), as_of, False)
    if save is not None:
        def write(w) -> None:
            with w.transaction():
                report_store.save(w, report, full, version, payload, as_of)

        save(write)
    elif getattr(ws, "read_only", True) or not hasattr(ws, "transaction"):
        path = getattr(ws, "path", None)
        if path is not None:
            _PENDING.append((path, report, full, version, payload, as_of))
    else:
        with ws.transaction():
            report_store.save(ws, report, full, version, payload, as_of)
    return Stored(value, _now(), as_of, False)


def lookup(ws, report: str, params: dict, reads: str = "all", daily: bool = True,
           ignore: frozenset[str] | tuple = ()) -> Stored | None:
    """The result :func:`stored` would return without computing, or None when there is none."""
    if not has_database(ws):
        return None
    return _found(ws, report, key(params, daily), report_store.data_version(ws, reads, ignore))


def _found(db, report: str, full: dict, version: str) -> Stored | None:
    found = report_store.load(db, report, full, version)
    if found is None:
        return None
    try:
        return Stored(codec.decode(found[0]), found[1], found[2], True)
    except (TypeError, ValueError, KeyError, AttributeError, ImportError) as exc:
        log.warning("stored %s result unreadable (%s); recomputing", report, type(exc).__name__)
        return None


def save_pending() -> int:
    """Write the results computed on read-only workspaces (call after closing them); returns how many."""
    items, _PENDING[:] = list(_PENDING), []
    return report_store.save_to_files(items)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
