"""The next-best-action job: decide one action (or nothing) for every customer, store it.

``next_actions(ws, as_of=None)`` reads the action catalogue (``--actions FILE``, else
``<workspace>.actions.toml`` next to the workspace file, else the shipped default), builds the
decision frame as of ``as_of`` (:mod:`regulars.features.next_action`, with one eligibility
column per action compiled from its rule), chooses with
:func:`regulars.recommend.actions.choose_actions` and writes ``next_actions``.

The response uplift of each action comes, in this order of precedence: from the ``action_uplift``
table (recorded with :func:`~regulars.data.recommend_store.record_uplift`, optionally per segment);
from an experiment whose ``action`` is the action's id and that has at least
:data:`MIN_EXPERIMENT_CUSTOMERS` customers in its treated arms and its control, with their windows
over by ``as_of`` (:func:`regulars.reports.experiments.response_uplift_for`; an action that did
worse than doing nothing counts as no uplift); else from the catalogue's prior. Pass ``uplift=`` any
:class:`~regulars.recommend.actions.UpliftSource` to plug in another source.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from regulars.data import predictions_store, segment_queries
from regulars.data.as_of import ORDERS, resolve_as_of
from regulars.data import recommend_store as store
from regulars.features.next_action import DECISION_COLUMNS, decision_frame
from regulars.recommend.actions import (
    ActionCatalogue,
    MeasuredUplift,
    PriorUplift,
    choose_actions,
    eligibility_columns,
)
from regulars.segments.rules import rule_columns
from regulars.values import round_money

__all__ = ["MODEL_VERSION", "NextActionsResult", "catalogue_path", "load_catalogue", "next_actions"]

MODEL_VERSION = "nba-1"
#: Customers needed in both the treated arms and the control before an experiment replaces a prior.
MIN_EXPERIMENT_CUSTOMERS = 1000


def catalogue_path(ws, path=None) -> Path | None:
    """The catalogue in force: ``path``, else ``<workspace>.actions.toml`` when it exists, else None (shipped)."""
    if path:
        return Path(path)
    beside = Path(ws.path).with_suffix(".actions.toml")
    return beside if beside.exists() else None


def load_catalogue(ws, path=None, columns: dict | None = None) -> ActionCatalogue:
    """The catalogue, its rules checked against the decision frame and the features mart (``columns``:
    their schema, when the caller has it already)."""
    return ActionCatalogue.load(catalogue_path(ws, path), columns=columns or _all_columns(ws))


@dataclass
class NextActionsResult:
    run_id: str
    as_of: dt.date
    customers: int
    counts: dict[str, int]
    expected_value: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)
    frame: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "as_of": self.as_of.isoformat(), "customers": self.customers,
                "counts": self.counts, "expected_value": self.expected_value,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}}


def uplift_source(ws, catalogue: ActionCatalogue, as_of: dt.date | None = None):
    """Measured uplift (``action_uplift``, then experiments, see the module docstring), else the prior."""
    from regulars.reports.experiments import response_uplift_for

    measured = store.read_action_uplift(ws)
    priors = {a.id: a.uplift for a in catalogue.actions}
    tested = [r for r in response_uplift_for(ws, priors, MIN_EXPERIMENT_CUSTOMERS, as_of).values()
              if r.source == "measured" and r.action in priors]
    if tested:
        found = pd.DataFrame([{"action": r.action, "segment_id": None, "uplift": min(max(r.uplift, 0.0), 1.0),
                               "source": f"experiment {r.experiment_id}, 95% CI {100 * r.lower:+.1f} to "
                                         f"{100 * r.upper:+.1f} points"} for r in tested])
        measured = pd.concat([found, measured[found.columns]], ignore_index=True) if len(measured) else found
    if measured.empty:
        return PriorUplift()
    segments = [s for s in measured["segment_id"].dropna().unique()]
    return MeasuredUplift(measured, segment_queries.memberships(ws, segments))


def next_actions(ws, as_of=None, catalogue=None, uplift=None, progress=None, write: bool = True) -> NextActionsResult:
    """Choose and store the next action of every customer as of ``as_of`` (default: the latest predictions' date)."""
    say = progress or (lambda _s: None)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    if as_of is None:
        as_of = predictions_store.latest_as_of(ws) or resolve_as_of(ws, basis=ORDERS)
    as_of = pd.Timestamp(as_of).date()
    columns = _all_columns(ws)  # builds the features mart's expression: once, not once per action
    cat = catalogue if isinstance(catalogue, ActionCatalogue) else load_catalogue(ws, catalogue, columns)
    used = sorted({c for a in cat.actions for c in rule_columns(a.eligibility, columns)})
    extra = [c for c in used if c not in DECISION_COLUMNS]
    say("building the decision frame" + (f" (with mart columns {', '.join(extra)})" if extra else ""))
    t = time.perf_counter()
    expr = decision_frame(ws, as_of, mart_columns=extra)
    expr = expr.mutate(**eligibility_columns(expr, cat))
    frame = ws.frame(expr)
    timings["frame"] = time.perf_counter() - t
    say(f"choosing for {len(frame):,} customers")
    t = time.perf_counter()
    chosen = choose_actions(frame, cat, uplift or uplift_source(ws, cat, as_of), as_of)
    timings["choose"] = time.perf_counter() - t
    run_id = f"a-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    chosen["as_of"] = as_of
    chosen["model_version"] = MODEL_VERSION
    chosen["run_id"] = run_id
    counts = chosen["action"].value_counts().to_dict()
    value = round_money(chosen.groupby("action")["expected_value"].sum()).to_dict()
    if write:
        say("writing")
        t = time.perf_counter()
        store.write_next_actions(ws, chosen, {
            "run_id": run_id, "as_of": as_of, "customers": len(chosen),
            "summary": {"counts": counts, "expected_value": value,
                        "labels": {a.id: a.label for a in cat.actions}},
            "catalogue": cat.to_dict(), "timings": {k: round(v, 3) for k, v in timings.items()}})
        timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    return NextActionsResult(run_id, as_of, len(chosen), {k: int(v) for k, v in counts.items()},
                             {k: float(v) for k, v in value.items()}, timings, chosen)


def _all_columns(ws) -> dict:
    from regulars.segments.membership import mart_schema

    return {**mart_schema(ws), **DECISION_COLUMNS}
