"""Experiments as data: definitions, the assignment log and bandit allocations.

Tables (migration "experiments"):

- ``experiments`` — one row per experiment: ``experiment_id`` (slug of the name), ``kind``
  (``test`` or ``bandit``), ``arms`` (JSON list of ``{"name", "share"}``; for a bandit the current
  shares), ``control_arm``, ``action`` (the next-best-action it measures, optional),
  ``segment_id`` and ``stratify_by`` (how the audience was drawn), ``salt`` (the secret key of the
  assignment hash; never shown), ``window_days`` (outcome window after assignment), ``pre_days``
  (pre-period for CUPED), ``min_share`` (bandit exploration floor), ``starts_at``, ``planned_end``,
  ``planned_customers``, ``status`` (``running`` / ``stopped``), ``created_at``, ``stopped_at``.
- ``experiment_assignments`` — the log: one row per (experiment, customer): ``arm``,
  ``assigned_at``, ``source`` (:data:`SOURCES`: who decided or delivered it), ``source_ref`` (which
  journey, campaign, export or file), ``stratum``, ``recorded_at``. A customer has one arm per
  experiment: recording the same arm again changes nothing, a different arm is refused.
- ``experiment_allocations`` — bandit share history: ``changed_at, shares, reason``.

The assignment log has a ``customer_id`` column, so erasure and exports reach it
(:func:`regulars.data.identity.customer_tables`). An identity merge deletes the merged-away id's
rows from it like from every derived table: that customer leaves the experiment (randomisation
is kept; the customer's history under the surviving id is analysed only if that id was assigned).

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("customers", [{"customer_id": "c1"}, {"customer_id": "c2"}])
>>> create(ws, {"experiment_id": "spring", "name": "Spring", "arms": [{"name": "control", "share": 0.5},
...        {"name": "offer", "share": 0.5}], "control_arm": "control", "salt": "k"})
>>> import pandas as pd
>>> r = insert_assignments(ws, "spring", pd.DataFrame({"customer_id": ["c1", "c2", "zz"],
...     "arm": ["offer", "control", "offer"]}), source="upload", source_ref="file.csv")
>>> r.recorded, r.already, len(r.rejected)
(2, 0, 1)
>>> arm_counts(ws, "spring")
{'control': 1, 'offer': 1}
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

import pandas as pd

from regulars.data.connection import connection

__all__ = ["SOURCES", "ExperimentError", "RecordResult", "arm_counts", "audience", "create", "create_statements",
           "assignments", "dominant_currency", "get", "insert_assignments", "list_experiments",
           "set_allocation", "allocations", "slug", "stop", "weekly_inflow"]

#: Where an assignment came from: a journey's holdout, a campaign, an export to another tool,
#: an uploaded file, or regulars' own ``experiments create``.
SOURCES = ("journey", "campaign", "export", "upload", "regulars", "api")
KINDS = ("test", "bandit")

_COLUMNS = ("experiment_id", "name", "kind", "description", "arms", "control_arm", "action", "segment_id",
            "stratify_by", "salt", "window_days", "pre_days", "min_share", "starts_at", "planned_end",
            "planned_customers", "status", "created_at", "stopped_at")


class ExperimentError(ValueError):
    """An experiment cannot be created, found or fed as asked; the message says what to do."""


def create_statements() -> list[str]:
    """The migration: experiments, the assignment log, bandit allocations."""
    return [
        "CREATE TABLE IF NOT EXISTS experiments (experiment_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, "
        "kind VARCHAR NOT NULL, description VARCHAR, arms JSON NOT NULL, control_arm VARCHAR NOT NULL, "
        "action VARCHAR, segment_id VARCHAR, stratify_by VARCHAR, salt VARCHAR NOT NULL, window_days INTEGER NOT NULL, "
        "pre_days INTEGER NOT NULL, min_share DOUBLE, starts_at TIMESTAMP NOT NULL, planned_end DATE, "
        "planned_customers BIGINT, status VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, stopped_at TIMESTAMP)",
        "CREATE TABLE IF NOT EXISTS experiment_assignments (experiment_id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL, "
        "arm VARCHAR NOT NULL, assigned_at TIMESTAMP NOT NULL, source VARCHAR NOT NULL, source_ref VARCHAR, "
        "stratum VARCHAR, recorded_at TIMESTAMP NOT NULL)",
        "CREATE TABLE IF NOT EXISTS experiment_allocations (experiment_id VARCHAR NOT NULL, changed_at TIMESTAMP NOT NULL, "
        "shares JSON NOT NULL, reason VARCHAR)",
    ]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def slug(name: str) -> str:
    """``"Spring win-back 10%"`` -> ``"spring-win-back-10"``."""
    s = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not s:
        raise ExperimentError(f"experiment name {name!r} needs at least one letter or digit")
    return s[:60]


def create(db, experiment: dict) -> None:
    """Insert a new experiment (keys of :data:`_COLUMNS`; defaults for the optional ones)."""
    con = connection(db)
    row = {"kind": "test", "description": None, "action": None, "segment_id": None, "stratify_by": None,
           "window_days": 30, "pre_days": 90, "min_share": None, "starts_at": _now(), "planned_end": None,
           "planned_customers": None, "status": "running", "created_at": _now(), "stopped_at": None, **experiment}
    if row["kind"] not in KINDS:
        raise ExperimentError(f"kind must be one of {', '.join(KINDS)}")
    exists = con.execute("SELECT count(*) FROM experiments WHERE experiment_id = ?", [row["experiment_id"]]).fetchall()
    if exists[0][0]:
        raise ExperimentError(f"an experiment {row['experiment_id']!r} already exists; choose another name "
                              "(see `regulars experiments list`)")
    row["arms"] = json.dumps(row["arms"])
    con.execute(f"INSERT INTO experiments ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                [row[c] for c in _COLUMNS])


def get(db, name: str) -> dict:
    """One experiment by id or name (``arms`` parsed), or :class:`ExperimentError`."""
    con = connection(db)
    rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM experiments WHERE experiment_id = ? OR lower(name) = lower(?) "
                       "ORDER BY experiment_id = ? DESC", [name, name, name]).fetchall()
    if not rows:
        raise ExperimentError(f"no experiment {name!r}; see `regulars experiments list`")
    exp = dict(zip(_COLUMNS, rows[0]))
    exp["arms"] = json.loads(exp["arms"])
    return exp


def list_experiments(db) -> pd.DataFrame:
    """Every experiment with its number of assigned customers (no salt)."""
    con = connection(db)
    return con.execute(
        "SELECT e.experiment_id, e.name, e.kind, e.status, e.action, e.segment_id, e.arms::VARCHAR AS arms, "
        "e.starts_at, e.planned_end, e.window_days, coalesce(a.customers, 0) AS customers, a.last_assigned_at "
        "FROM experiments e LEFT JOIN (SELECT experiment_id, count(*) AS customers, max(assigned_at) AS last_assigned_at "
        "FROM experiment_assignments GROUP BY ALL) a USING (experiment_id) ORDER BY e.created_at DESC, e.experiment_id"
    ).df()


def arm_counts(db, experiment_id: str) -> dict[str, int]:
    con = connection(db)
    rows = con.execute("SELECT arm, count(*) FROM experiment_assignments WHERE experiment_id = ? GROUP BY arm ORDER BY arm",
                       [experiment_id]).fetchall()
    return {a: int(n) for a, n in rows}


@dataclass
class RecordResult:
    """What happened to each row offered to the log: every row is recorded, already there, or rejected."""

    rows: int
    recorded: int
    already: int
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)  # row, customer_id, arm, reason

    def to_dict(self) -> dict:
        return {"rows": self.rows, "recorded": self.recorded, "already": self.already, "rejected": len(self.rejected),
                "problems": self.rejected.head(100).astype(str).to_dict(orient="records")}


def insert_assignments(db, experiment_id: str, frame: pd.DataFrame, *, source: str, source_ref: str | None = None,
                       at: dt.datetime | None = None) -> RecordResult:
    """Append assignments to the log, in the caller's transaction.

    *frame* has ``customer_id`` and ``arm``, optionally ``assigned_at``, ``stratum`` and ``row`` (the
    row number to report for a file). A row is rejected with a reason when its customer is unknown,
    its arm is not one of the experiment's, or the customer already has another arm (in the log or
    earlier in *frame*). Rows repeating an existing assignment are counted as ``already``.
    """
    con = connection(db)
    if source not in SOURCES:
        raise ExperimentError(f"source must be one of {', '.join(SOURCES)}")
    exp = get(con, experiment_id)
    if exp["status"] != "running":
        raise ExperimentError(f"experiment {experiment_id!r} is stopped; it takes no more assignments")
    arms = [a["name"] for a in exp["arms"]]
    f = pd.DataFrame({
        "row": frame["row"].astype("int64") if "row" in frame else pd.RangeIndex(1, len(frame) + 1),
        "customer_id": frame["customer_id"].astype("string").str.strip(),
        "arm": frame["arm"].astype("string").str.strip(),
        "assigned_at": pd.to_datetime(frame["assigned_at"]) if "assigned_at" in frame else pd.Timestamp(at or _now()),
        "stratum": frame["stratum"].astype("string") if "stratum" in frame else pd.Series(pd.NA, index=frame.index, dtype="string"),
    })
    f["assigned_at"] = f["assigned_at"].fillna(pd.Timestamp(at or _now()))
    con.register("_offered", f)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _checked AS SELECT o.*, "
            "CASE WHEN o.customer_id IS NULL OR o.customer_id = '' THEN 'customer_id is empty' "
            "WHEN c.customer_id IS NULL THEN 'not a known customer (load customers or orders first)' "
            f"WHEN o.arm IS NULL OR o.arm NOT IN ({', '.join('?' * len(arms))}) THEN 'arm must be one of {', '.join(arms)}' "
            "WHEN a.arm IS NOT NULL AND a.arm <> o.arm THEN 'already assigned to arm ' || a.arm "
            "WHEN a.arm IS NULL AND count(DISTINCT o.arm) OVER (PARTITION BY o.customer_id) > 1 "
            "THEN 'assigned to different arms in the same batch' END AS reason, "
            "a.arm IS NOT NULL AS existing, "
            "row_number() OVER (PARTITION BY o.customer_id ORDER BY o.row) AS nth "
            "FROM _offered o LEFT JOIN (SELECT DISTINCT customer_id FROM customers) c USING (customer_id) "
            "LEFT JOIN (SELECT customer_id, arm FROM experiment_assignments WHERE experiment_id = ?) a USING (customer_id)",
            [*arms, exp["experiment_id"]])
        con.execute(
            "INSERT INTO experiment_assignments SELECT ?, customer_id, arm, assigned_at, ?, ?, stratum, ? "
            "FROM _checked WHERE reason IS NULL AND NOT existing AND nth = 1",
            [exp["experiment_id"], source, source_ref, _now()])
        counts = con.execute("SELECT count(*) FILTER (WHERE reason IS NULL AND NOT existing AND nth = 1), "
                             "count(*) FILTER (WHERE reason IS NULL AND (existing OR nth > 1)) FROM _checked").fetchall()[0]
        rejected = con.execute("SELECT row, customer_id, arm, reason FROM _checked WHERE reason IS NOT NULL ORDER BY row").df()
        con.execute("DROP TABLE _checked")
    finally:
        con.unregister("_offered")
    return RecordResult(len(f), int(counts[0]), int(counts[1]), rejected)


def assignments(db, experiment_id: str, customer_ids=None) -> pd.DataFrame:
    """``customer_id, arm, assigned_at, source`` of an experiment (all, or of *customer_ids*)."""
    con = connection(db)
    if customer_ids is None:
        return con.execute("SELECT customer_id, arm, assigned_at, source FROM experiment_assignments "
                           "WHERE experiment_id = ? ORDER BY customer_id", [experiment_id]).df()
    ids = pd.DataFrame({"customer_id": pd.Series(list(customer_ids), dtype="string")})
    con.register("_ids", ids)
    try:
        return con.execute("SELECT a.customer_id, a.arm, a.assigned_at, a.source FROM experiment_assignments a "
                           "JOIN _ids USING (customer_id) WHERE a.experiment_id = ?", [experiment_id]).df()
    finally:
        con.unregister("_ids")


def audience(db, segment_id: str | None = None, stratify_by: str | None = None) -> pd.DataFrame:
    """``customer_id, stratum``: the current members of *segment_id* (every customer when None) and,
    with *stratify_by* (a segment family such as ``rfm`` or ``lifecycle``), the name of the segment
    of that family each one is in now (``(none)`` when in none)."""
    con = connection(db)
    members = ("SELECT DISTINCT customer_id FROM segment_memberships WHERE segment_id = ?" if segment_id
               else "SELECT DISTINCT customer_id FROM customers WHERE customer_id IS NOT NULL")
    params = [segment_id] if segment_id else []
    if not stratify_by:
        return con.execute(f"SELECT customer_id, NULL::VARCHAR AS stratum FROM ({members}) ORDER BY customer_id", params).df()
    return con.execute(
        f"SELECT m.customer_id, coalesce(min(coalesce(d.name, s.segment_id)), '(none)') AS stratum FROM ({members}) m "
        "LEFT JOIN segment_memberships s ON s.customer_id = m.customer_id AND s.segment_id LIKE ? "
        "LEFT JOIN segment_definitions d ON d.segment_id = s.segment_id GROUP BY m.customer_id ORDER BY m.customer_id",
        [*params, f"{stratify_by}:%"]).df()


def weekly_inflow(db, segment_id: str | None = None, weeks: int = 8) -> float | None:
    """Customers entering *segment_id* per week over the last *weeks* weeks of refreshes (new buyers
    per week for the whole shop); None when there is no history to tell."""
    con = connection(db)
    if segment_id:
        rows = con.execute(
            "SELECT count(*) FILTER (WHERE change = 'entered' AND as_of > max_as_of - ?::INTEGER), "
            "count(DISTINCT as_of), min(as_of), max(as_of) FROM segment_history, "
            "(SELECT max(as_of) AS max_as_of FROM segment_history WHERE segment_id = ?) WHERE segment_id = ?",
            [7 * weeks, segment_id, segment_id]).fetchall()[0]
        entered, refreshes, first, last = rows
        if refreshes is None or refreshes < 2 or first is None or first == last:
            return None
        span = min(7 * weeks, (last - first).days)
        return entered / (span / 7) if span > 0 else None
    rows = con.execute("SELECT count(*) FILTER (WHERE first_order_date > mx - ?::INTEGER), max(first_order_date) "
                       "FROM customer_order_stats, (SELECT max(first_order_date) AS mx FROM customer_order_stats)",
                       [7 * weeks]).fetchall()[0]
    return rows[0] / weeks if rows[1] is not None else None


def dominant_currency(db) -> str:
    """The currency most orders are in ('' when the orders do not say)."""
    con = connection(db)
    rows = con.execute("SELECT currency FROM orders WHERE currency IS NOT NULL GROUP BY currency "
                       "ORDER BY count(*) DESC, currency LIMIT 1").fetchall()
    return rows[0][0] if rows else ""


def set_allocation(db, experiment_id: str, shares: dict[str, float], reason: str) -> None:
    """Store a bandit's new shares (in ``experiments.arms`` and the history)."""
    con = connection(db)
    exp = get(con, experiment_id)
    arms = [{"name": a["name"], "share": float(shares[a["name"]])} for a in exp["arms"]]
    con.execute("UPDATE experiments SET arms = ? WHERE experiment_id = ?", [json.dumps(arms), exp["experiment_id"]])
    con.execute("INSERT INTO experiment_allocations VALUES (?, ?, ?, ?)",
                [exp["experiment_id"], _now(), json.dumps(shares), reason])


def allocations(db, experiment_id: str) -> pd.DataFrame:
    con = connection(db)
    return con.execute("SELECT changed_at, shares::VARCHAR AS shares, reason FROM experiment_allocations "
                       "WHERE experiment_id = ? ORDER BY changed_at", [experiment_id]).df()


def stop(db, experiment_id: str) -> None:
    con = connection(db)
    exp = get(con, experiment_id)
    con.execute("UPDATE experiments SET status = 'stopped', stopped_at = ? WHERE experiment_id = ?",
                [_now(), exp["experiment_id"]])
