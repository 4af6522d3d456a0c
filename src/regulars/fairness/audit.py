"""A model's metrics per group of customers, with fairlearn's ``MetricFrame``, and the gaps worth a look.

For each audited attribute (see :mod:`regulars.fairness.groups`) and each of its groups:

- **selection rate** -- the share the model *selects* (flags at high churn risk, rates most likely
  to buy, calls a hot lead);
- **true positive rate** -- of the customers for whom the outcome happened, the share selected;
- **false positive rate** -- of those for whom it did not, the share selected anyway;
- **mean predicted** and **observed rate** -- the average probability the model gave and how often
  the outcome happened: their difference is the group's **calibration gap**.

Outcomes come from the backtest period (a model fitted before a cutoff, judged on what happened
after), so every figure is about decisions the model would really have made.

Gaps flagged in plain words:

- a group's selection rate below ``disparity_threshold`` (0.8: the *four-fifths rule* of the US
  EEOC's Uniform Guidelines, 1978) times the highest group's;
- true or false positive rates that differ by more than ``gap_threshold`` (10 points) between
  groups (equalised odds, Hardt, Price & Srebro 2016);
- a calibration gap above ``calibration_threshold`` (10 points) in a group.

Groups of fewer than ``min_group`` customers are not judged (too few to tell), rates are compared
only between groups with ``min_group`` positive (or negative) outcomes, and every gap must also be
beyond chance (a two-proportion z-test at 5%; the EEOC guidance also asks for significance with
small samples): a shop with 40 customers in a region should not be told its model discriminates
when the numbers are noise.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> n = 2000
>>> groups = pd.DataFrame({"customer_id": np.arange(n), "channel": np.where(np.arange(n) % 2, "store", "social")})
>>> outcome = rng.random(n) < 0.3
>>> score = np.clip(0.3 + 0.4 * outcome - 0.2 * (groups["channel"] == "social") + rng.normal(0, .1, n), 0, 1)
>>> scores = pd.DataFrame({"customer_id": np.arange(n), "score": score, "selected": score >= 0.5, "outcome": outcome})
>>> result = audit_model("churn", scores, groups, selection="flagged at high risk")
>>> [f["kind"] for f in result.flags]
['four_fifths', 'true_positive_gap', 'calibration']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

DISPARITY_THRESHOLD = 0.8
GAP_THRESHOLD = 0.10
CALIBRATION_THRESHOLD = 0.10
MIN_GROUP = 30
#: A gap is flagged only when it is also beyond chance: |z| >= 1.96 (5%, two-sided).
Z_SIGNIFICANT = 1.96


@dataclass
class AuditResult:
    """One model's audit: per attribute and group, the metrics; the flags in words."""

    model: str
    n: int
    attributes: list[str]
    groups: list[dict] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)
    overall: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.groups)


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _metric_frames(y: np.ndarray, selected: np.ndarray, score: np.ndarray, feature: np.ndarray):
    """Two MetricFrames (decisions, and probabilities) over the groups of *feature*.

    The data is first compressed to one row per (group, outcome, decision) with its count as the
    sample weight (and the mean score of the cell): exact for every metric here, and it spares
    fairlearn 0.15's per-value ``np.stack`` of each column, which costs seconds per metric on a
    million rows. Metrics: fairlearn's ``selection_rate`` and weighted numpy rates.
    """
    from fairlearn.metrics import MetricFrame, selection_rate

    codes, names = pd.factorize(feature, sort=True)
    cells = (pd.DataFrame({"g": codes, "y": y.astype(np.int8), "sel": selected.astype(np.int8), "s": score})
             .groupby(["g", "y", "sel"], sort=True)
             .agg(w=("s", "size"), s=("s", "sum")).reset_index())
    cells["group"] = np.asarray(names, dtype=object)[cells["g"].to_numpy()]
    groups = cells["group"].rename("group")
    w = cells["w"].to_numpy(dtype=float)
    weights = {"sample_weight": w}
    on_selection = MetricFrame(
        metrics={"n": _count, "selection_rate": selection_rate, "true_positive_rate": _tpr,
                 "false_positive_rate": _fpr, "positives": _positives},
        y_true=cells["y"].to_numpy(), y_pred=cells["sel"].to_numpy(), sensitive_features=groups,
        sample_params={k: weights for k in ("n", "selection_rate", "true_positive_rate", "false_positive_rate",
                                            "positives")})
    on_score = MetricFrame(metrics={"mean_predicted": _mean_pred, "observed_rate": _observed},
                           y_true=cells["y"].to_numpy(), y_pred=(cells["s"] / cells["w"]).to_numpy(),
                           sensitive_features=groups, sample_params={"mean_predicted": weights,
                                                                      "observed_rate": weights})
    return on_selection, on_score


def _count(y_true, y_pred, sample_weight) -> float:
    return float(np.sum(sample_weight))


def _tpr(y_true, y_pred, sample_weight) -> float:
    pos = np.asarray(y_true) == 1
    w = np.asarray(sample_weight)[pos]
    return float(np.sum(w * np.asarray(y_pred)[pos]) / w.sum()) if w.sum() > 0 else np.nan


def _fpr(y_true, y_pred, sample_weight) -> float:
    neg = np.asarray(y_true) == 0
    w = np.asarray(sample_weight)[neg]
    return float(np.sum(w * np.asarray(y_pred)[neg]) / w.sum()) if w.sum() > 0 else np.nan


def _positives(y_true, y_pred, sample_weight) -> float:
    return float(np.sum(np.asarray(sample_weight)[np.asarray(y_true) == 1]))


def _mean_pred(y_true, y_pred, sample_weight) -> float:
    return float(np.average(y_pred, weights=sample_weight))


def _observed(y_true, y_pred, sample_weight) -> float:
    return float(np.average(y_true, weights=sample_weight))


def _z(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-proportion z statistic (0 when undefined)."""
    if not n1 or not n2:
        return 0.0
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = (p * (1 - p) * (1 / n1 + 1 / n2)) ** 0.5
    return abs(p1 - p2) / se if se > 0 else 0.0


def audit_model(model: str, scores: pd.DataFrame, groups: pd.DataFrame, *, selection: str = "selected",
                attributes: list[str] | None = None, min_group: int = MIN_GROUP,
                disparity_threshold: float = DISPARITY_THRESHOLD, gap_threshold: float = GAP_THRESHOLD,
                calibration_threshold: float = CALIBRATION_THRESHOLD) -> AuditResult:
    """Audit *scores* (``customer_id, score, selected, outcome``) across the columns of *groups*.

    Parameters
    ----------
    model : str
        Its name, for the result.
    groups : DataFrame
        ``customer_id`` and one column per attribute (:func:`~regulars.fairness.groups.customer_groups`).
    selection : str
        What being selected means, in words ("flagged at high churn risk"), for the flags' sentences.
    """
    data = scores.merge(groups, on="customer_id", how="left")
    attributes = attributes or [c for c in groups.columns if c != "customer_id"]
    y = data["outcome"].to_numpy().astype(int)
    sel = data["selected"].to_numpy().astype(int)
    score = data["score"].to_numpy(dtype=float)
    result = AuditResult(model, len(data), list(attributes))
    result.overall = {"selection_rate": float(sel.mean()) if len(sel) else None,
                      "observed_rate": float(y.mean()) if len(y) else None,
                      "mean_predicted": float(score.mean()) if len(score) else None}
    if not len(data):
        result.notes.append("no customers to audit")
        return result
    for attr in attributes:
        feature = data[attr].fillna("unknown").astype(str).to_numpy()
        frame_sel, frame_score = _metric_frames(y, sel, score, feature)
        table = frame_sel.by_group.join(frame_score.by_group)
        rows = []
        for group, r in table.iterrows():
            n = int(r["n"])
            positives = int(r["positives"])
            row = {"attribute": attr, "group": str(group), "n": n, "judged": n >= min_group,
                   "positives": positives}
            for k in ("selection_rate", "true_positive_rate", "false_positive_rate", "mean_predicted", "observed_rate"):
                row[k] = None if pd.isna(r[k]) else float(r[k])
            row["calibration_gap"] = (row["mean_predicted"] - row["observed_rate"]
                                      if row["mean_predicted"] is not None and row["observed_rate"] is not None else None)
            rows.append(row)
        result.groups.extend(rows)
        judged = [r for r in rows if r["judged"] and r["group"] != "unknown"]
        result.flags.extend(_flags(model, attr, judged, selection, disparity_threshold, gap_threshold,
                                   calibration_threshold, min_group))
        if len(judged) < 2:
            result.notes.append(f"{attr}: fewer than two groups of at least {min_group} customers; not compared")
    return result


def _name(attr: str) -> str:
    return attr.replace("_", " ")


def _flags(model, attr, rows, selection, disparity, gap, calibration, min_group) -> list[dict]:
    out = []
    if len(rows) >= 2:
        rates = [r for r in rows if r["selection_rate"] is not None]
        top = max(rates, key=lambda r: r["selection_rate"])
        if top["selection_rate"] > 0:
            for r in rates:
                ratio = r["selection_rate"] / top["selection_rate"]
                significant = _z(r["selection_rate"], r["n"], top["selection_rate"], top["n"]) >= Z_SIGNIFICANT
                if ratio < disparity and significant:
                    out.append({"attribute": attr, "kind": "four_fifths", "group": r["group"], "value": ratio,
                                "sentence": f"Customers with {_name(attr)} '{r['group']}' are {selection} at "
                                            f"{_pct(r['selection_rate'])}, {ratio:.2f} times the rate of "
                                            f"'{top['group']}' ({_pct(top['selection_rate'])}); the four-fifths rule "
                                            f"asks for at least {disparity:.2f}."})
        for key, what in (("true_positive_rate", "true_positive_gap"), ("false_positive_rate", "false_positive_gap")):
            size = "positives" if key == "true_positive_rate" else "negatives"
            vals = [r for r in rows if r[key] is not None and
                    (r["positives"] if size == "positives" else r["n"] - r["positives"]) >= min_group]
            if len(vals) >= 2:
                lo, hi = min(vals, key=lambda r: r[key]), max(vals, key=lambda r: r[key])
                n_lo = lo["positives"] if size == "positives" else lo["n"] - lo["positives"]
                n_hi = hi["positives"] if size == "positives" else hi["n"] - hi["positives"]
                if hi[key] - lo[key] > gap and _z(lo[key], n_lo, hi[key], n_hi) >= Z_SIGNIFICANT:
                    words = ("of the customers for whom it happened" if key == "true_positive_rate"
                             else "of the customers for whom it did not happen")
                    out.append({"attribute": attr, "kind": what, "group": lo["group"], "value": hi[key] - lo[key],
                                "sentence": f"By {_name(attr)}, the share {words} who were {selection} ranges from "
                                            f"{_pct(lo[key])} ('{lo['group']}') to {_pct(hi[key])} ('{hi['group']}'), "
                                            f"a gap of {100 * (hi[key] - lo[key]):.0f} points (more than "
                                            f"{100 * gap:.0f})."})
    for r in rows:
        g = r["calibration_gap"]
        se = (max(r["observed_rate"] or 0, 1e-9) * (1 - (r["observed_rate"] or 0)) / max(r["n"], 1)) ** 0.5 \
            if g is not None else 0
        if g is not None and abs(g) > calibration and abs(g) > Z_SIGNIFICANT * se:
            out.append({"attribute": attr, "kind": "calibration", "group": r["group"], "value": g,
                        "sentence": f"For {_name(attr)} '{r['group']}' the {model} model predicted "
                                    f"{_pct(r['mean_predicted'])} on average but {_pct(r['observed_rate'])} happened "
                                    f"({'over' if g > 0 else 'under'}-estimated by {100 * abs(g):.0f} points)."})
    return out
