"""Cohort retention for the CLI and the dashboard: a matrix ready for a heatmap.

>>> CohortMatrix.__dataclass_fields__.keys() >= {"matrix", "sizes", "long"}
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regulars.features import cohorts as _cohorts

_METRIC_COLUMN = {"customers": "customer_retention", "revenue": "revenue_retention"}


@dataclass
class CohortMatrix:
    """A retention matrix: rows are cohorts, columns periods since the first order.

    ``matrix`` holds shares (1.0 = 100 %); a cell that cannot be observed yet (the
    period has not happened for anyone in the cohort) is NaN, not zero.
    """

    by: str
    kind: str
    metric: str
    matrix: pd.DataFrame
    sizes: pd.Series
    long: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain lists (``None`` for unobservable cells), for JSON and Plotly heatmaps."""
        values = [[None if pd.isna(v) else float(v) for v in row] for row in self.matrix.to_numpy()]
        return {
            "by": self.by,
            "kind": self.kind,
            "metric": self.metric,
            "cohorts": [str(c) for c in self.matrix.index],
            "periods": [int(p) for p in self.matrix.columns],
            "sizes": [int(s) for s in self.sizes.reindex(self.matrix.index).fillna(0)],
            "values": values,
            "notes": list(self.notes),
        }

    def table(self, max_periods: int | None = 12) -> pd.DataFrame:
        """The matrix as a flat table (cohort, customers, then one column per period)."""
        m = self.matrix if max_periods is None else self.matrix.iloc[:, : max_periods + 1]
        out = m.copy()
        out.columns = [f"{'M' if self.by == 'month' else 'W'}{p}" for p in m.columns]
        out.insert(0, "customers", self.sizes.reindex(m.index).fillna(0).astype(int))
        return out.reset_index().rename(columns={"index": "cohort"})


def cohort_matrix(ws, by: str = "month", kind: str = "acquisition", metric: str = "customers", as_of=None) -> CohortMatrix:
    """Execute :func:`regulars.features.cohorts.retention` and pivot it.

    Parameters
    ----------
    ws : Workspace
    by : {"month", "week"}
    kind : {"acquisition", "promotion", "category"}
    metric : {"customers", "revenue"}
        Share of the cohort ordering in period k, or net revenue in k relative to period 0.
    """
    if metric not in _METRIC_COLUMN:
        raise ValueError(f"metric must be one of {', '.join(_METRIC_COLUMN)}; got {metric!r}")
    from regulars.reports.kpis import guest_note, _timezone
    from regulars.reports.money import money_tables

    timezone = _timezone(ws)
    tables, money = money_tables(ws)
    long = ws.execute(_cohorts.retention(tables, by=by, kind=kind, as_of=as_of, timezone=timezone))
    notes = [n for n in (money.note, guest_note(tables, as_of)) if n]
    if money.mode == "per_currency" and metric == "revenue":  # a ratio of mixed amounts means nothing
        long["revenue_retention"] = float("nan")
    if timezone != "UTC":
        notes.append(f"{'weeks' if by == 'week' else 'months'} are the shop's, in {timezone}")
    value = _METRIC_COLUMN[metric]
    if long.empty:
        empty = pd.DataFrame(dtype=float)
        return CohortMatrix(by, kind, metric, empty, pd.Series(dtype="int64"), long, notes)
    long["period"] = long["period"].astype(int)
    matrix = long.pivot(index="cohort", columns="period", values=value).astype(float)
    periods = list(range(int(long["period"].max()) + 1))
    matrix = matrix.reindex(columns=periods).sort_index()
    matrix.index.name = None
    matrix.columns.name = None
    sizes = long[long["period"] == 0].set_index("cohort")["cohort_customers"].astype(int).sort_index()
    sizes.index.name = None
    matrix = matrix.replace([np.inf, -np.inf], np.nan)
    return CohortMatrix(by, kind, metric, matrix, sizes, long, notes)
