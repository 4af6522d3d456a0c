"""Create experiments and fill their assignment log: from regulars, from a file, or from other code.

The functions other parts of regulars call (journeys, campaigns, exports):

- :func:`assign_customers` — *regulars decides*: give it customer ids, get each one's arm back
  (``control`` means: hold this customer out). Deterministic: asking again returns the same arm,
  and customers already in the log keep theirs. A journey calls it at the moment it would act::

      from regulars.jobs.experiments import assign_customers
      arms = assign_customers(ws, "win-back-10-off", ["c1", "c2"], source="journey", source_ref="win_back")
      held_out = arms.loc[arms.arm == "control", "customer_id"]

- :func:`record_assignments` — *the caller decided* (e.g. a campaign tool split the list): log
  ``customer_id, arm[, assigned_at]`` rows as they were delivered.

Both write in one transaction and return what happened to every row (recorded, already there,
rejected with a reason). For a bandit, :func:`assign_customers` uses the current Thompson shares
(:func:`update_bandit` refreshes them from the conversions observed so far).

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("customers", [{"customer_id": f"c{i}"} for i in range(1000)])
>>> exp = create_experiment(ws, "Spring offer", "control:0.5,offer:0.5", everyone=True, salt="doc")
>>> exp["customers"], sorted(exp["arms_assigned"].items())
(1000, [('control', 479), ('offer', 521)])
>>> arms = assign_customers(ws, "spring-offer", ["c1", "c2"], source="journey", source_ref="welcome")
>>> arms.new.tolist()          # both were already assigned at creation: same arm, nothing new
[False, False]
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from regulars.data import experiments_store as store
from regulars.data.experiments_store import ExperimentError
from regulars.experiments.allocation import assign, check_shares, new_salt, parse_arms

__all__ = ["ExperimentError", "assign_customers", "create_experiment", "record_assignments", "stop_experiment",
           "update_bandit", "upload_assignments"]


def _shares(exp: dict) -> dict[str, float]:
    return {a["name"]: float(a["share"]) for a in exp["arms"]}


def create_experiment(ws, name: str, arms: str | dict[str, float], *, segment: str | None = None,
                      everyone: bool | None = None, stratify_by: str | None = None, control: str | None = None,
                      action: str | None = None, kind: str = "test", window_days: int = 30, pre_days: int = 90,
                      planned_end: dt.date | None = None, planned_customers: int | None = None,
                      min_share: float = 0.05, description: str | None = None,
                      starts_at: dt.datetime | None = None, salt: str | None = None) -> dict:
    """Create an experiment and, with *segment* (or *everyone*), assign its audience now.

    Parameters
    ----------
    arms : "control:0.5,offer:0.5" or a dict of shares
    segment : segment id or name whose current members are assigned (see ``regulars segments list``)
    everyone : assign every customer (the default when a segment is given is its members only;
        without segment and without everyone, the experiment waits for assignments from journeys,
        uploads or :func:`assign_customers`)
    stratify_by : a segment family (``rfm``, ``lifecycle``, ...) to balance the arms within
    control : the arm that does nothing (default: an arm named control/holdout, else the first)
    action : the next-best-action this experiment measures (its measured uplift feeds NBA)
    window_days, pre_days : outcome window after assignment; pre-period for CUPED
    planned_end, planned_customers : the fixed horizon decided now (the peeking guard uses it)
    salt : the assignment key (default: a fresh random one; give one only to reproduce an assignment)
    """
    shares = parse_arms(arms) if isinstance(arms, str) else check_shares(dict(arms))
    if control is None:
        control = next((a for a in shares if a.lower() in ("control", "holdout", "hold-out")), next(iter(shares)))
    if control not in shares:
        raise ExperimentError(f"the control arm {control!r} is not one of the arms: {', '.join(shares)}")
    if window_days < 1 or pre_days < 0:
        raise ExperimentError("the outcome window needs at least 1 day and the pre-period cannot be negative")
    if kind == "bandit" and min_share * len(shares) > 1:
        raise ExperimentError(f"a minimum share of {min_share:.0%} for {len(shares)} variants is more than 100%")
    segment_id = None
    if segment:
        from regulars.segments.membership import get_segment

        segment_id = get_segment(ws, segment)["segment_id"]
    experiment_id = store.slug(name)
    starts_at = starts_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    with ws.transaction():
        store.create(ws, {
            "experiment_id": experiment_id, "name": name.strip(), "kind": kind, "description": description,
            "arms": [{"name": a, "share": s} for a, s in shares.items()], "control_arm": control, "action": action,
            "segment_id": segment_id, "stratify_by": stratify_by, "salt": salt or new_salt(), "window_days": int(window_days),
            "pre_days": int(pre_days), "min_share": min_share if kind == "bandit" else None, "starts_at": starts_at,
            "planned_end": planned_end, "planned_customers": planned_customers})
        result = None
        if segment_id or everyone:
            people = store.audience(ws, segment_id, stratify_by)
            if people.empty:
                raise ExperimentError("the audience is empty: refresh the segment (`regulars segments refresh`) "
                                      "or load customers first")
            exp = store.get(ws, experiment_id)
            strata = people["stratum"].to_numpy() if stratify_by else None
            people["arm"] = assign(people["customer_id"].tolist(), exp["salt"], shares, strata)
            people["assigned_at"] = starts_at
            result = store.insert_assignments(ws, experiment_id, people, source="regulars", source_ref="experiments create")
        counts = store.arm_counts(ws, experiment_id)
    return {"experiment_id": experiment_id, "control": control, "customers": sum(counts.values()),
            "arms_assigned": counts, "record": result.to_dict() if result else None}


def assign_customers(ws, experiment: str, customer_ids, *, source: str = "journey", source_ref: str | None = None,
                     at: dt.datetime | None = None) -> pd.DataFrame:
    """Each customer's arm in *experiment*, recording the new ones in the log (one transaction).

    Returns ``customer_id, arm, new`` in the order given; customers that are not known to the
    workspace get a missing ``arm`` and are not recorded. This is the function a journey calls to
    decide its holdout (``source="journey"``, ``source_ref`` = the journey's name).
    """
    ids = pd.Series(list(dict.fromkeys(str(c) for c in customer_ids)), dtype="string")
    with ws.transaction():
        exp = store.get(ws, experiment)
        known = store.assignments(ws, exp["experiment_id"], ids)
        fresh = ids[~ids.isin(known["customer_id"])]
        if len(fresh):
            frame = pd.DataFrame({"customer_id": fresh.to_numpy(),
                                  "arm": assign(fresh.tolist(), exp["salt"], _shares(exp))})
            result = store.insert_assignments(ws, exp["experiment_id"], frame, source=source, source_ref=source_ref, at=at)
            unknown = set(result.rejected["customer_id"].astype(str)) if len(result.rejected) else set()
            frame = frame[~frame["customer_id"].isin(unknown)]
        else:
            frame = pd.DataFrame({"customer_id": [], "arm": []})
    out = pd.DataFrame({"customer_id": ids.to_numpy()})
    arm = dict(zip(known["customer_id"], known["arm"])) | dict(zip(frame["customer_id"], frame["arm"]))
    out["arm"] = [arm.get(c) for c in out["customer_id"]]
    out["new"] = out["customer_id"].isin(frame["customer_id"]).to_numpy()
    return out


def record_assignments(ws, experiment: str, frame: pd.DataFrame, *, source: str, source_ref: str | None = None,
                       at: dt.datetime | None = None) -> store.RecordResult:
    """Log assignments decided elsewhere: *frame* has ``customer_id, arm`` [, ``assigned_at``]."""
    with ws.transaction():
        return store.insert_assignments(ws, experiment, frame, source=source, source_ref=source_ref, at=at)


def upload_assignments(ws, experiment: str, path: str | Path) -> store.RecordResult:
    """Load a CSV of ``customer_id,arm[,assigned_at]`` (one header row). Every row is recorded,
    already there, or rejected with its row number and reason; the load is one transaction."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"cannot read {path}: {exc}") from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = {"customer_id", "arm"} - set(frame.columns)
    if missing:
        raise ExperimentError(f"{path.name} needs the columns customer_id and arm (missing: {', '.join(sorted(missing))})")
    frame["row"] = np.arange(2, len(frame) + 2)  # file line numbers (line 1 is the header)
    rejected = pd.DataFrame(columns=["row", "customer_id", "arm", "reason"])
    if "assigned_at" in frame:
        parsed = pd.to_datetime(frame["assigned_at"].replace("", None), errors="coerce", utc=True,
                                format="mixed").dt.tz_localize(None)
        bad = frame["assigned_at"].ne("") & parsed.isna()
        rejected = frame.loc[bad, ["row", "customer_id", "arm"]].assign(reason="assigned_at is not a date/time")
        frame = frame.loc[~bad].assign(assigned_at=parsed[~bad])
    result = record_assignments(ws, experiment, frame, source="upload", source_ref=path.name)
    result.rows += len(rejected)
    result.rejected = pd.concat([rejected, result.rejected], ignore_index=True).sort_values("row", ignore_index=True)
    return result


def stop_experiment(ws, experiment: str) -> None:
    with ws.transaction():
        store.stop(ws, experiment)


def update_bandit(ws, experiment: str, as_of: dt.date | None = None, seed: int = 0) -> dict:
    """Recompute a bandit's shares from its variants' conversions so far (Thompson sampling with
    the experiment's minimum share) and store them; returns the regret report."""
    from regulars.reports.experiments import bandit_report

    report = bandit_report(ws, experiment, as_of=as_of, seed=seed)
    shares = dict(zip(report.regret.variants, report.regret.next_shares))
    with ws.transaction():
        store.set_allocation(ws, report.experiment_id, shares, f"Thompson update on {report.as_of} from "
                             f"{sum(report.regret.customers):,} customers with a complete window")
    return {"experiment_id": report.experiment_id, "shares": shares, "regret": report.regret.to_dict(),
            "history": json.loads(store.allocations(ws, report.experiment_id).to_json(orient="records", date_format="iso"))}
