"""Funnel, top paths and cart drop-off for the CLI and the dashboard.

>>> sorted(FunnelReport.__dataclass_fields__)
['abandonment', 'by', 'funnel', 'paths', 'steps', 'unit']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from regulars.features import funnel as _funnel
from regulars.features import sessions as _sessions


@dataclass
class FunnelReport:
    """``funnel``: one row per group and step; ``paths``: the most common session paths;
    ``abandonment``: where sessions (or visitors) that added to cart without buying stopped."""

    steps: list[str]
    by: str | None
    unit: str
    funnel: pd.DataFrame
    paths: pd.DataFrame
    abandonment: pd.DataFrame

    def to_dict(self) -> dict:
        def records(df: pd.DataFrame) -> list[dict]:
            return [{k: (None if _isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
                    for r in df.to_dict(orient="records")]

        return {
            "steps": self.steps,
            "by": self.by,
            "unit": self.unit,
            "funnel": records(self.funnel),
            "paths": records(self.paths),
            "abandonment": records(self.abandonment),
        }

    def wide(self) -> pd.DataFrame:
        """One row per group: units at each step and the overall conversion."""
        f = self.funnel
        if f.empty:
            return pd.DataFrame()
        w = f.pivot(index="group", columns="step_number", values="units")
        w.columns = [self.steps[i - 1] for i in w.columns]
        w.insert(0, self.unit + "s", f.groupby("group").group_units.first())
        first, last = self.steps[0], self.steps[-1]
        w["conversion"] = (w[last] / w[first].where(w[first] > 0)).round(4)
        return w.sort_values(self.unit + "s", ascending=False).reset_index()


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def overall_from_split(split: FunnelReport) -> FunnelReport:
    """The overall funnel from one split by traffic source with the same options: every session
    (or visitor) has one source, so units add up across sources, and the rates are computed from
    the sums as :func:`regulars.features.funnel.funnel` computes them (the refresh stores both
    without sessionising the events twice). Paths and drop-off are the split report's.

    >>> f = pd.DataFrame({"group": ["ads", "ads", "mail", "mail"], "group_units": [10, 10, 5, 5],
    ...                   "step_number": [1, 2, 1, 2], "step": ["view", "buy"] * 2, "units": [6, 3, 4, 0],
    ...                   "conversion_from_previous": 0.0, "conversion_from_start": 0.0, "drop_off": 0})
    >>> overall = overall_from_split(FunnelReport(["view", "buy"], "source", "session", f, pd.DataFrame(), pd.DataFrame()))
    >>> overall.funnel[["group", "group_units", "units", "conversion_from_previous", "drop_off"]]
      group  group_units  units  conversion_from_previous  drop_off
    0   all           15     10                  0.666667         5
    1   all           15      3                  0.300000         7
    """
    if split.by != "source":
        raise ValueError(f"the overall funnel adds up a split by source, not by {split.by!r}")
    f = split.funnel
    if f.empty:
        return FunnelReport(split.steps, None, split.unit, f.copy(), split.paths, split.abandonment)
    total = int(f.drop_duplicates("group")["group_units"].sum())
    steps = f.groupby(["step_number", "step"], as_index=False)["units"].sum().sort_values("step_number", ignore_index=True)
    n = steps["units"].astype("int64")
    prev = n.shift(1, fill_value=total).astype("int64")
    out = pd.DataFrame({
        "group": _funnel.OVERALL,
        "group_units": total,
        "step_number": steps["step_number"].astype("int64"),
        "step": steps["step"],
        "units": n,
        "conversion_from_previous": n / prev.where(prev != 0),
        "conversion_from_start": n / (n.iloc[0] if n.iloc[0] != 0 else float("nan")),
        "drop_off": prev - n,
    })
    out["group_units"] = out["group_units"].astype("int64")
    return FunnelReport(split.steps, None, split.unit, out[list(f.columns)], split.paths, split.abandonment)


def funnel_report(
    ws,
    steps: Sequence[str] | None = None,
    by: str | None = None,
    segments=None,
    segment_column: str = "segment",
    unit: str = "session",
    gap_minutes: float = _sessions.DEFAULT_GAP_MINUTES,
    session: str = "inactivity",
    top_paths: int = 10,
    path_steps: int = 5,
    as_of=None,
    paths_and_drop_off: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> FunnelReport:
    """Execute the funnel (see :func:`regulars.features.funnel.funnel`), top paths and drop-off.

    The paths and the drop-off do not depend on *by* or *steps*: pass
    ``paths_and_drop_off=(report.paths, report.abandonment)`` of a report with the same other
    options to reuse them (the refresh computes the funnel with and without a split).
    """
    steps = _funnel._steps(steps)
    f = ws.execute(_funnel.funnel(ws, steps, by, segments, segment_column, unit, gap_minutes, session, as_of))
    if paths_and_drop_off is not None:
        return FunnelReport(steps, by, unit, f, *paths_and_drop_off)
    p = ws.execute(_sessions.top_paths(ws, top_paths, path_steps, gap_minutes, session, as_of))
    a = ws.execute(_funnel.cart_abandonment(ws, unit=unit, gap_minutes=gap_minutes, session=session, as_of=as_of))
    return FunnelReport(steps, by, unit, f, p.drop(columns=["purchases"], errors="ignore"), a)
