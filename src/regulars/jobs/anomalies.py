"""The anomaly job: run every check the data supports, store the flags, tell the subscribers what is new.

``detect_anomalies(ws)`` is what ``regulars anomalies`` runs (and ``POST /api/anomalies/refresh``).
Each check of :mod:`regulars.anomalies.detect` reads its facts through
:mod:`regulars.data.anomaly_store`; a check the data cannot support (no events, no discount
codes, no shipping addresses or payment cards per order) is recorded as not run, with the reason.
Flags raised again keep the date they were first raised; flags that are new since the previous run
go to :func:`regulars.anomalies.alerts.publish`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pandas as pd

from regulars.anomalies import alerts
from regulars.anomalies.detect import COLUMNS, Flag, code_flags, identity_flags, order_flags, return_flags, session_flags
from regulars.data import anomaly_store as store

#: Checks that need data regulars does not hold: said once, in words, in every run.
NOT_HELD = {"addresses_and_cards": "orders carry no shipping address or payment card in regulars' tables, so many "
                                   "addresses or cards on one customer cannot be checked"}


@dataclass
class AnomalyRunResult:
    run_id: str
    counts: dict[str, int]
    checks: dict[str, str]
    new: int
    seconds: float
    flags: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "counts": self.counts, "checks": self.checks, "new": self.new,
                "seconds": round(self.seconds, 3)}


def detect_anomalies(ws, progress=None) -> AnomalyRunResult:
    say = progress or (lambda _s: None)
    start = time.perf_counter()
    run_id = f"a-{pd.Timestamp.now(tz='UTC').strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    checks: dict[str, str] = {}
    parts = []
    if store.has_rows(ws, "orders"):
        say("orders")
        parts.append(order_flags(store.order_facts(ws)))
        checks["orders"] = "ran"
        say("returns")
        parts.append(return_flags(store.return_facts(ws)))
        checks["returns"] = "ran"
        codes = store.code_facts(ws)
        if len(codes):
            parts.append(code_flags(codes))
            checks["discount_codes"] = "ran"
        else:
            checks["discount_codes"] = "not run: no order carries a discount code"
    else:
        for name in ("orders", "returns", "discount_codes"):
            checks[name] = "not run: no orders loaded"
    say("identities")
    parts.append(identity_flags(store.identity_facts(ws)))
    checks["identities"] = "ran"
    if store.has_rows(ws, "events"):
        say("sessions")
        parts.append(session_flags(store.session_facts(ws)))
        checks["sessions"] = "ran"
    else:
        checks["sessions"] = "not run: no web or app events loaded"
    checks.update({k: f"not run: {v}" for k, v in NOT_HELD.items()})
    flags = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else \
        pd.DataFrame(columns=COLUMNS)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    before = store.previous_flags(ws)
    key = ["entity", "entity_id", "kind"]
    if len(flags):
        flags = flags.merge(before, on=key, how="left")
        new_mask = flags["first_flagged_at"].isna()
        flags["first_flagged_at"] = flags["first_flagged_at"].fillna(now)
    else:
        flags["first_flagged_at"] = pd.Series(dtype="datetime64[ns]")
        new_mask = pd.Series(dtype=bool)
    flags["flagged_at"] = now
    flags["run_id"] = run_id
    counts = {str(k): int(v) for k, v in flags["kind"].value_counts().items()} if len(flags) else {}
    seconds = time.perf_counter() - start
    store.write_run(ws, flags, {"run_id": run_id, "finished_at": now, "counts": counts, "checks": checks,
                                "seconds": round(seconds, 3)})
    new = flags[new_mask.to_numpy()] if len(flags) else flags
    alerts.publish([Flag(r.entity, r.entity_id, None if pd.isna(r.customer_id) else r.customer_id, r.kind,
                         float(r.score), r.reason) for r in new.itertuples(index=False)])
    return AnomalyRunResult(run_id, counts, checks, int(len(new)), seconds, flags)
