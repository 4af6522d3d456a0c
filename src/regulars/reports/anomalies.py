"""Anomaly and fraud flags as a report: ``regulars anomalies``, ``/api/anomalies`` and the Anomalies page.

:func:`anomalies_report` lists the stored flags (highest score first) with counts per kind and
what each check could do; :func:`evaluation` compares the flags with the anomalies planted in
the demo shop (precision and recall per kind).

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> anomalies_report(ws).notes
['no anomaly check yet: run `regulars anomalies --refresh` (or POST /api/anomalies/refresh)']
>>> ws.close()
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from regulars.data import anomaly_store as store

#: The fields of each flag in :attr:`AnomaliesReport.items` (and the columns of its csv, even when empty).
ITEM_COLUMNS = ("entity", "entity_id", "customer_id", "kind", "what", "score", "reason", "first_flagged_at")
NOT_RUN = "no anomaly check yet: run `regulars anomalies --refresh` (or POST /api/anomalies/refresh)"
KINDS = {
    "large_order": "unusually large order total",
    "large_quantity": "unusually large quantity of one product",
    "serial_returner": "serial returner",
    "code_abuse": "single-use discount code used again and again",
    "many_emails": "many e-mail addresses on one customer",
    "many_phones": "many phone numbers on one customer",
    "bot_session": "bot-like web session",
}
#: Planted demo kind -> the flag kinds that find it.
PLANTED = {"large_order": ("large_order", "large_quantity"), "serial_returner": ("serial_returner",),
           "code_abuse": ("code_abuse",), "many_emails": ("many_emails",), "bot_session": ("bot_session",)}


@dataclass
class AnomaliesReport:
    run: dict | None
    counts: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    total: int = 0
    limit: int = 50
    offset: int = 0
    items: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def anomalies_report(ws, kind: str | None = None, limit: int = 50, offset: int = 0) -> AnomaliesReport:
    """The stored flags (one kind, or all), paginated, with counts per kind and the checks' status."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    run = store.latest_run(ws)
    if run is None:
        return AnomaliesReport(None, notes=[NOT_RUN], limit=limit, offset=offset)
    flags = store.read_flags(ws, kind=kind)
    page = flags.iloc[offset:offset + limit]
    items = [{"entity": r["entity"], "entity_id": r["entity_id"], "customer_id": r["customer_id"],
              "kind": r["kind"], "what": KINDS.get(r["kind"], r["kind"]), "score": float(r["score"]),
              "reason": r["reason"], "first_flagged_at": str(r["first_flagged_at"])[:19]}
             for r in page.to_dict("records")]
    notes = [f"{name.replace('_', ' ')}: {status[len('not run: '):]}" for name, status in run["checks"].items()
             if status.startswith("not run")]
    return AnomaliesReport({"run_id": run["run_id"], "finished_at": str(run["finished_at"])[:19]},
                           {k: int(v) for k, v in run["counts"].items()}, run["checks"], int(len(flags)), limit,
                           offset, items, notes)


def evaluation(ws) -> dict:
    """Precision and recall of the flags against the demo's planted anomalies, per planted kind.

    Precision counts every flag of the matching kinds (a natural outlier flagged in the demo is a
    false positive here, although a shop would want to see it); recall is the share of planted
    anomalies flagged.
    """
    truth = store.read_truth(ws)
    flags = store.read_flags(ws)
    out = {}
    for planted, kinds in PLANTED.items():
        t = set(truth.loc[truth["kind"] == planted, "entity_id"])
        f = set(flags.loc[flags["kind"].isin(kinds), "entity_id"])
        hit = len(t & f)
        out[planted] = {"planted": len(t), "flagged": len(f), "found": hit,
                        "precision": hit / len(f) if f else None, "recall": hit / len(t) if t else None}
    return out
