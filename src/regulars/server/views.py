"""The one data path behind each page and its JSON route: call the ``reports`` function, cache, to_dict.

A dashboard page and the JSON route for the same thing both call the function
here, which calls the report in :mod:`regulars.reports` and returns its
JSON-ready ``to_dict()`` (cached until the next write, see :mod:`regulars.server.cache`).
A report that is not installed answers 503; a parameter the report refuses, 422.
"""

from __future__ import annotations

import importlib

from fastapi import Request

from regulars.data.rows import jsonable
from regulars.reports import standard
from regulars.reports.lake_results import NotInLake
from regulars.server.errors import ApiError


def report_module(name: str):
    """``regulars.reports.<name>``, or a 503 saying it is not installed."""
    try:
        return importlib.import_module(f"regulars.reports.{name}")
    except ImportError as exc:
        if exc.name and not exc.name.startswith(f"regulars.reports.{name}"):
            raise
        raise ApiError(503, f"the {name} report is not available in this installation") from None


#: Reports that read only the shop's own data (not segments or predictions): a segment refresh or a
#: prediction run keeps their stored results (see :func:`regulars.reports.stored.stored`).
INPUT_ONLY = frozenset({"kpis", "cohorts", "personas"})


def _writer(request: Request):
    """Where a report computed on a read view is stored: the server's writer thread."""
    return request.app.state.shared.submit


def _cached(request: Request, ws, key: tuple, compute):
    """``compute(ws)`` made JSON-ready, through the report cache (see :mod:`regulars.server.cache`).

    Behind the in-memory cache are the workspace's stored results: a report computed before
    (by the refresh job, ``regulars demo``, a read command or an earlier server) from the same
    data is read, not computed again, so a first visit after a restart or a refresh is fast.
    """
    cache = request.app.state.cache
    reads = "inputs" if key[0] in INPUT_ONLY or (key[0] == "funnel" and key[1] != "segment") else "all"
    lake = getattr(ws, "lake_stamp", None)  # a lake workspace: results are those of the lake's current results
    params = {"key": list(key), **({"lake": [list(s) for s in lake]} if lake is not None else {})}

    def through_store(w):
        from regulars.reports.stored import stored

        return stored(w, "page", params, lambda v: jsonable(compute(v)), reads=reads, save=_writer(request)).value

    try:
        return cache.get(key if lake is None else (*key, lake), through_store, ws)
    except ValueError as exc:  # the report refused a parameter
        raise ApiError(422, str(exc).splitlines()[0]) from None
    except NotInLake as exc:  # a lake workspace whose lake holds no such result yet: the command to run
        raise ApiError(409, str(exc)) from None


def _sourced(ws, name: str, data: dict) -> dict:
    """*data* with where a lake workspace's *name* results come from (and, when missing, the command to run)."""
    from regulars.reports.lake_results import results_source

    source = results_source(ws, name)
    if source is None:
        return data
    notes = data.get("notes") or []
    if source["as_of"] is None:  # the lake's command replaces the workspace's "run `regulars …`"
        notes = [n for n in notes if "run `regulars" not in n]
    return {**data, "results_source": source, "notes": [source["note"], *notes]}


def kpis(request: Request, ws, by=None, start=None, end=None, active_days=None) -> dict:
    """The KPI report; on a lake workspace the one kept in the lake (by none or month, the whole history)."""
    mod = report_module("kpis")
    from regulars.reports.lake_results import KPI_COMMANDS, lake_kpis, on_lake

    if on_lake(ws) and by in KPI_COMMANDS and start is None and end is None and active_days is None:
        return _cached(request, ws, ("kpis", by, start, end, active_days), lambda w: lake_kpis(w, by))
    if start is None and end is None and active_days is None:
        return _cached(request, ws, ("kpis", by, start, end, active_days),
                       lambda w: standard.kpis(w, by=by, save=_writer(request)).value.to_dict())
    return _cached(request, ws, ("kpis", by, start, end, active_days),
                   lambda w: mod.kpis(w, by=by, start=start, end=end, active_days=active_days).to_dict())


def doctor(request: Request, ws) -> dict:
    report_module("doctor")  # 503 when not installed
    return _cached(request, ws, ("doctor",), lambda w: standard.doctor(w, save=_writer(request)).value.to_dict())


def cohorts(request: Request, ws, by="month", kind="acquisition", metric="customers") -> dict:
    mod = report_module("cohorts")
    return _cached(request, ws, ("cohorts", by, kind, metric),
                   lambda w: mod.cohort_matrix(w, by=by, kind=kind, metric=metric).to_dict())


def funnel(request: Request, ws, by=None, unit="session", steps=None) -> dict:
    report_module("funnel")  # 503 when not installed
    if by == "segment" and current_segments_table(ws) is None:
        raise ApiError(409, "no segment memberships yet: run the segmentation first")
    key = ("funnel", by, unit, tuple(steps) if steps else None)
    return _cached(request, ws, key, lambda w: standard.funnel(
        w, by=by, unit=unit, steps=list(steps) if steps else None,
        segments=current_segments_table(w) if by == "segment" else None, save=_writer(request)).value.to_dict())


def current_segments_table(ws):
    """An Ibis table ``customer_id, segment`` (the current RFM segment's name), or None without segments."""
    if "segment_memberships" not in ws.list_tables():
        return None
    m = ws.table("segment_memberships")
    m = m.filter(m.segment_id.startswith("rfm:"))
    d = ws.table("segment_definitions")
    j = m.left_join(d, m.segment_id == d.segment_id)
    return j.select(customer_id=j.customer_id, segment=j.name.coalesce(j.segment_id))


# -- segments, personas, predictions ----------------------------------------------------------
def _family(segment_id: str) -> str:
    return segment_id.split(":", 1)[0] if ":" in segment_id else "rule"


def segments(request: Request, ws) -> dict:
    """Sizes and value share at the latest refresh, movement since the previous full refresh, descriptions."""
    mod = report_module("segments")

    def compute(ws) -> dict:
        sizes = mod.sizes(ws).to_dict()
        described = {r["segment_id"]: r for r in mod.segment_list(ws).to_dict(orient="records")}
        moves: dict[str, dict] = {}
        notes = []
        try:
            full = [r["refresh_id"] for r in mod.refreshes(ws, limit=200).to_dict(orient="records")
                    if r.get("engine") != "realtime"]
            moved = mod.movement(ws, from_refresh=full[1] if len(full) > 1 else None, family=None).to_dict()
            moves = {m["segment_id"]: m for m in moved["segments"]}
            since = moved["from_refresh"]
        except ValueError:
            since = None
            notes.append("movement appears after the second segment refresh")
        items = []
        for seg in sizes["segments"]:
            sid = seg["segment_id"]
            d = described.get(sid, {})
            m = moves.get(sid, {})
            items.append({
                "segment_id": sid, "name": seg.get("name") or sid, "kind": seg.get("kind"), "family": _family(sid),
                "description": d.get("description") or "", "rule": d.get("rule"), "version": seg.get("version"),
                "members": seg.get("members"), "share": seg.get("member_share"), "revenue": seg.get("revenue"),
                "revenue_share": seg.get("value_share"), "entered": m.get("entered"), "exited": m.get("exited"),
            })
        if sizes.get("currency_note"):
            notes.insert(0, sizes["currency_note"])
        if sizes["refresh_id"] is None:
            notes.append("no segments yet: run `regulars segments refresh` (or POST /api/segments/refresh)")
        return {"refresh_id": sizes["refresh_id"], "as_of": sizes["as_of"], "customers": sizes["customers"],
                "revenue": sizes["revenue"], "movement_since_refresh": since, "items": items, "notes": notes}

    return _sourced(ws, "segments", _cached(request, ws, ("segments",), compute))


def segment(request: Request, ws, segment_id: str) -> dict:
    """One segment: its row from :func:`segments` plus its latest entries and exits."""
    mod = report_module("segments")
    from regulars.reports.customers import resolve_segment

    sid = resolve_segment(ws, segment_id)
    if sid is None:
        raise ApiError(404, f"no segment {segment_id!r}; see GET /api/segments")
    row = next((s for s in segments(request, ws)["items"] if s["segment_id"] == sid), None)
    history = mod.history(ws, sid, limit=50).to_dict(orient="records")
    return jsonable({**(row or {"segment_id": sid, "family": _family(sid)}), "recent_changes": history})


def segment_members(request: Request, ws, segment_id: str, limit: int = 50, offset: int = 0,
                    include_pii: bool = False) -> dict:
    """Current members with their order totals (personal fields masked unless *include_pii*)."""
    from regulars.reports.customers import list_customers, resolve_segment

    sid = resolve_segment(ws, segment_id)
    if sid is None:
        raise ApiError(404, f"no segment {segment_id!r}; see GET /api/segments")
    page = list_customers(ws, segment=sid, limit=limit, offset=offset, sort="revenue", include_pii=include_pii)
    out = page.to_dict()
    out["segment"] = next((s for s in segments(request, ws)["items"] if s["segment_id"] == sid), {"segment_id": sid})
    return jsonable(out)


def segment_members_csv(request: Request, ws, segment_id: str, include_pii: bool = False,
                        channel: str | None = None) -> tuple[str, str]:
    """Every member as CSV (personal fields masked unless *include_pii*; no cell a spreadsheet would
    evaluate, see :mod:`regulars.reports.csv_safe`), and a file name; with *channel* (``email`` or
    ``sms``) only the members whose consent for that channel is granted."""
    from regulars.reports.csv_safe import write_csv
    from regulars.reports.customers import list_customers, resolve_segment

    sid = resolve_segment(ws, segment_id)
    if sid is None:
        raise ApiError(404, f"no segment {segment_id!r}; see GET /api/segments")
    page = list_customers(ws, segment=sid, limit=100_000, offset=0, sort="revenue", include_pii=include_pii)
    columns = ["customer_id", "email", "phone", "first_name", "last_name", "city", "country", "accepts_email",
               "accepts_sms", "accepts_personalization", "orders", "revenue", "first_order_at", "last_order_at"]
    items = page.items
    if channel:  # consent for this channel not granted (or never stated): not exported
        items = [i for i in items if i.get(f"accepts_{channel}") is not None and bool(i.get(f"accepts_{channel}"))]
    name = "segment-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in sid) + (f"-{channel}" if channel else "")
    return write_csv(items, columns), name


def refresh_segments(request: Request) -> dict:
    """Recompute every membership through the writer, then drop cached results."""
    try:
        from regulars.jobs.segments import refresh
    except ImportError:
        raise ApiError(503, "segments are not available in this installation") from None
    result = request.app.state.shared.write(lambda ws: refresh(ws))
    from regulars.server.actions import forget_derived

    forget_derived(request.app)
    return jsonable(result.to_dict())


def personas(request: Request, ws) -> dict:
    """Behavioural clusters of the buyers, each described as a persona card."""
    report_module("personas")  # 503 when not installed
    return _cached(request, ws, ("personas",), lambda w: standard.clusters(w, save=_writer(request)).value.to_dict())


def personas_or_none(request: Request, ws) -> dict | None:
    """Personas, or None when they cannot be computed (too few buyers, not installed)."""
    try:
        return personas(request, ws)
    except Exception as exc:  # noqa: BLE001 - the Segments page still works without persona cards
        import logging

        logging.getLogger("regulars.server").warning("personas unavailable: %s", type(exc).__name__)
        return None


PREDICTION_SORTS = {
    "churn_risk": (["churn_risk", "clv"], [False, False]),
    "clv": (["clv", "churn_risk"], [False, False]),
    "propensity": (["propensity_30d", "clv"], [False, False]),
    "at_risk_value": (["clv", "churn_risk"], [False, False]),
}
PREDICTION_COLUMNS = ["customer_id", "churn_risk", "churn_band", "clv", "p_alive", "propensity_30d",
                      "expected_orders", "expected_spend", "next_order_date", "last_order_date", "orders_to_date",
                      "data_mode", "churn_reasons", "propensity_reasons"]


def _histogram(values, bins: int = 20, upper=None) -> dict | None:
    import numpy as np

    v = np.asarray([x for x in values if x is not None and x == x], dtype=float)
    if not len(v):
        return None
    hi = float(upper if upper is not None else np.quantile(v, 0.99))
    lo = 0.0 if v.min() >= 0 else float(v.min())
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(np.clip(v, lo, hi), bins=bins, range=(lo, hi))
    return {"bins": [round(float((a + b) / 2), 4) for a, b in zip(edges[:-1], edges[1:])],
            "edges": [round(float(e), 4) for e in edges], "counts": [int(c) for c in counts]}


def predictions(request: Request, ws, limit: int = 50, offset: int = 0, include_pii: bool = False,
                sort: str = "churn_risk") -> dict:
    """Latest scores per customer (sorted, paginated), their distributions and the shop-wide summary."""
    mod = report_module("predictions")
    from regulars.data import predictions_store as store

    def compute(w) -> dict:
        summary = mod.predictions_summary(w, top=10).to_dict()
        preds = store.read_customer_predictions(w)
        if preds.empty:
            return {"as_of": summary.get("as_of"), "total": 0, "limit": limit, "offset": offset, "items": [],
                    "distributions": {}, "summary": summary, "notes": summary.get("notes", [])}
        cols, asc = PREDICTION_SORTS[sort]
        frame = preds[preds["churn_band"] == "high"] if sort == "at_risk_value" else preds
        frame = frame.sort_values(cols + ["customer_id"], ascending=asc + [True], na_position="last")
        page = frame.iloc[offset:offset + limit]
        items = []
        for row in page[[c for c in PREDICTION_COLUMNS if c in page.columns]].to_dict(orient="records"):
            for k in ("churn_reasons", "propensity_reasons"):
                if isinstance(row.get(k), str):
                    import json

                    try:
                        row[k] = json.loads(row[k])
                    except ValueError:
                        pass
            items.append(row)
        dist = {k: h for k, h in (
            ("churn_risk", _histogram(preds["churn_risk"], 20, 1.0)),
            ("clv", _histogram(preds["clv"], 25)),
            ("propensity_30d", _histogram(preds["propensity_30d"], 20, 1.0)),
        ) if h}
        return {"as_of": summary.get("as_of"), "total": int(len(frame)), "limit": limit, "offset": offset,
                "sort": sort, "items": items, "distributions": dist, "summary": summary,
                "notes": summary.get("notes", [])}

    return _named(ws, _sourced(ws, "predictions", _cached(request, ws, ("predictions", limit, offset, sort), compute)),
                  include_pii)


def _named(ws, data: dict, include_pii: bool) -> dict:
    """*data* with names next to the ids of its customer lists (masked unless *include_pii*)."""
    from regulars.reports.action_lists import with_names

    summary = dict(data.get("summary") or {})
    for key in ("at_risk", "likely_buyers"):
        summary[key] = jsonable(with_names(ws, summary.get(key) or [], include_pii))
    return {**data, "items": jsonable(with_names(ws, data.get("items") or [], include_pii)), "summary": summary}


def backtests(request: Request, ws) -> dict:
    mod = report_module("predictions")
    return _cached(request, ws, ("backtests",), lambda w: mod.backtest_report(w).to_dict())


def customer_predictions(request: Request, ws, customer_id: str) -> dict:
    """One customer's predictions with reasons and how accurate each has been."""
    mod = report_module("predictions")
    try:
        return jsonable(mod.customer_predictions(ws, customer_id).to_dict())
    except mod.CustomerNotFound as exc:
        raise ApiError(404, str(exc)) from None


def warm(app) -> None:
    """Compute the dashboard's standard reports in the background after the server starts."""
    import threading
    from types import SimpleNamespace

    request = SimpleNamespace(app=app)

    def run() -> None:
        app.state.reports_warming = True
        try:
            _run()
        finally:
            app.state.reports_warming = False

    def _run() -> None:
        from regulars.server.actions import monday

        # in the order of the navigation, and the persona cards (they import scikit-learn) with the segments
        calls = [lambda ws: doctor(request, ws), lambda ws: monday(request, ws, None),
                 lambda ws: kpis(request, ws), lambda ws: kpis(request, ws, by="month"),
                 lambda ws: cohorts(request, ws), lambda ws: segments(request, ws),
                 lambda ws: personas(request, ws), lambda ws: cohorts(request, ws, metric="revenue"),
                 lambda ws: predictions(request, ws, limit=25, sort="at_risk_value"),
                 lambda ws: backtests(request, ws), lambda ws: funnel(request, ws)]
        for call in calls:
            if app.state.shared.closing:
                return
            try:
                with app.state.shared.read() as ws:
                    call(ws)
            except Exception:  # noqa: BLE001 - a report that fails here fails again, visibly, on its page
                continue

    threading.Thread(target=run, daemon=True, name="regulars-warm").start()
