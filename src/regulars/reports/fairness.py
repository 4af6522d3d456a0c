"""Fairness audits and model cards as reports: ``regulars audit``, ``regulars model-card`` and their pages/routes.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> fairness_report(ws).notes
['no fairness audit yet: run `regulars audit` (or POST /api/fairness/run)']
>>> model_card(ws, "churn")
Traceback (most recent call last):
...
regulars.reports.fairness.NoCard: no model card for 'churn' yet: run `regulars predict` (cards are written on every run)
>>> ws.close()
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from regulars.data import fairness_store as store

NOT_RUN = "no fairness audit yet: run `regulars audit` (or POST /api/fairness/run)"
READ_ME = ("A gap is a question, not a verdict: groups can differ for real reasons (customers from one channel may "
           "really churn more). Look at what drives the model's decisions for that group before acting.")


class NoCard(LookupError):
    """No model card stored for that model."""


@dataclass
class FairnessReport:
    models: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _num(v):
    return None if v is None or pd.isna(v) else float(v)


def fairness_report(ws, model: str | None = None) -> FairnessReport:
    """The latest audit of each model (or one), with groups and flags."""
    names = [model] if model else store.audited_models(ws)
    out = []
    for name in names:
        audit = store.latest_audit(ws, name)
        if audit is None:
            continue
        run = audit["run"]
        groups = [{"attribute": g["attribute"], "group": g["grp"], "n": int(g["n"]), "judged": bool(g["judged"]),
                   **{k: _num(g[k]) for k in ("selection_rate", "true_positive_rate", "false_positive_rate",
                                              "mean_predicted", "observed_rate", "calibration_gap")}}
                  for g in audit["groups"].to_dict("records")]
        flags = [{"attribute": f["attribute"], "kind": f["kind"], "group": f["grp"], "value": _num(f["value"]),
                  "sentence": f["sentence"]} for f in audit["flags"].to_dict("records")]
        out.append({"model": name, "run_id": run["run_id"], "cutoff": str(run["cutoff"]),
                    "audited_at": str(run["finished_at"])[:19], "n": int(run["n"]), "selection": run["selection"],
                    "outcome": run["outcome"], "attributes": run["attributes"],
                    "sensitive_inputs": run["sensitive_inputs"], "overall": run["overall"], "notes": run["notes"],
                    "flags": flags, "groups": groups})
    notes = [NOT_RUN] if not out else [READ_ME]
    return FairnessReport(out, notes)


def model_card(ws, model: str) -> dict:
    """The latest card of *model*: ``model, as_of, run_id, created_at, card, markdown``."""
    row = store.latest_card(ws, model)
    if row is None:
        raise NoCard(f"no model card for {model!r} yet: run `regulars predict` (cards are written on every run)")
    return {"model": model, "as_of": str(row["as_of"]), "run_id": row["run_id"],
            "created_at": str(row["created_at"])[:19], "card": row["card"], "markdown": row["markdown"]}


def model_cards(ws) -> dict:
    """Every model with a card: its title, version and the date of the card."""
    items = []
    for name in store.card_models(ws):
        c = model_card(ws, name)
        items.append({"model": name, "title": c["card"]["title"], "version": c["card"]["version"],
                      "as_of": c["as_of"], "created_at": c["created_at"]})
    return {"items": items, "notes": [] if items else ["no model cards yet: run `regulars predict`"]}
