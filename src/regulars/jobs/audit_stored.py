"""``regulars audit`` without refitting when nothing it reads has changed.

An audit refits the models at the cutoff (seconds to minutes). Its results are
already kept in the fairness tables; what this module adds is a record, in the
workspace's stored results (:mod:`regulars.reports.stored`), of *which* audit
runs a given set of options produced from which data. :func:`current_audit`
shows those runs again while

- the data version is the same (every table but bookkeeping and the audit's own
  tables, :data:`regulars.data.fairness_store.AUDIT_TABLES`: the audit reads
  predictions, segments and recommendation evaluations as well as the orders), and
- they are still each model's latest audit (no ``regulars audit churn --cutoff …``
  since, which the report would show instead),

and audits again otherwise, or when asked (``fresh``). ``regulars demo`` stores the
audit with the models its backtest fitted at the same cutoff (:func:`store_after_backtest`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from regulars.data import fairness_store
from regulars.fairness.audit import CALIBRATION_THRESHOLD, DISPARITY_THRESHOLD, GAP_THRESHOLD
from regulars.reports.stored import stored

REPORT = "audit"


@dataclass
class AuditOutcome:
    """Which audit ``regulars audit`` shows: skipped models with why, and whether it was read from the store."""

    cutoff: dt.date
    runs: dict[str, str]
    skipped: dict[str, str] = field(default_factory=dict)
    from_store: bool = False
    computed_at: dt.datetime | None = None


def audit_params(models: list[str] | None = None, cutoff=None, disparity_threshold: float = DISPARITY_THRESHOLD,
                 gap_threshold: float = GAP_THRESHOLD,
                 calibration_threshold: float = CALIBRATION_THRESHOLD) -> dict:
    """The options that identify a stored audit (JSON-able).

    Examples
    --------
    >>> audit_params(["leads", "churn"], "2024-03-01")["models"]
    ['churn', 'leads']
    """
    from regulars.jobs.audit import REGISTRY

    return {"models": sorted(models) if models else sorted(REGISTRY),
            "cutoff": None if cutoff is None else str(cutoff)[:10],
            "disparity": float(disparity_threshold), "gap": float(gap_threshold),
            "calibration": float(calibration_threshold)}


def current_audit(ws, models: list[str] | None = None, cutoff=None, fresh: bool = False,
                  progress: Callable[[str], None] | None = None, fitted=None,
                  disparity_threshold: float = DISPARITY_THRESHOLD, gap_threshold: float = GAP_THRESHOLD,
                  calibration_threshold: float = CALIBRATION_THRESHOLD) -> AuditOutcome:
    """The audit of *models* at *cutoff*: the stored one while still valid, else a new one (stored).

    Parameters
    ----------
    ws : Workspace (written to: the audit stores its results)
    models, cutoff, progress, the thresholds : as :func:`regulars.jobs.audit.run_audit`
    fresh : audit again even when the stored audit is still valid
    fitted : models fitted at this cutoff, used instead of refitting (see :func:`store_after_backtest`)
    """
    from regulars.jobs.audit import run_audit

    params = audit_params(models, cutoff, disparity_threshold, gap_threshold, calibration_threshold)

    def compute(w) -> dict:
        run = run_audit(w, models, cutoff=cutoff, progress=progress, fitted=fitted,
                        disparity_threshold=disparity_threshold, gap_threshold=gap_threshold,
                        calibration_threshold=calibration_threshold)
        latest = fairness_store.latest_run_ids(w)
        return {"cutoff": run.cutoff.isoformat(), "runs": {m: latest[m] for m in run.results},
                "skipped": run.skipped}

    def get(refresh: bool):
        return stored(ws, REPORT, params, compute, refresh=refresh, daily=False,
                      ignore=fairness_store.AUDIT_TABLES)

    found = get(fresh)
    if found.from_store and not _still_latest(ws, found.value["runs"]):
        found = get(True)
    value = found.value
    return AuditOutcome(dt.date.fromisoformat(value["cutoff"]), dict(value["runs"]), dict(value["skipped"]),
                        found.from_store, found.computed_at)


def _still_latest(ws, runs: dict[str, str]) -> bool:
    latest = fairness_store.latest_run_ids(ws)
    return all(latest.get(model) == run_id for model, run_id in runs.items())


def store_after_backtest(ws, fitted, progress: Callable[[str], None] | None = None) -> AuditOutcome:
    """Audit every model with the default options, reusing the models a backtest fitted at the default cutoff.

    ``regulars demo`` calls this last, so a plain ``regulars audit`` afterwards reads it. *fitted* must
    come from :func:`regulars.jobs.predict.fit_models` at :func:`regulars.jobs.audit.default_cutoff`
    (as the backtest does), unchanged: the audit then equals one that fits them itself.
    """
    return current_audit(ws, fresh=True, progress=progress, fitted=fitted)
