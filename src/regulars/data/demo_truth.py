"""Store the demo's planted truth in the workspace's ``demo_truth`` table."""

from __future__ import annotations

import pandas as pd

from regulars.data.schema import TABLES

COLUMNS = TABLES["demo_truth"].column_names


def write_demo_truth(ws, df: pd.DataFrame) -> int:
    """Replace the contents of ``demo_truth`` with *df* (one row per customer); returns the row count.

    *df* must have the columns of :data:`regulars.data.schema.DEMO_TRUTH`.
    Runs in one transaction: the earlier truth is gone only if the new one is in.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"demo truth lacks column(s) {missing}")
    frame = df[COLUMNS]
    cols = ", ".join(COLUMNS)
    con = ws._con
    con.register("_demo_truth_frame", frame)
    try:
        with ws.transaction():
            con.execute("DELETE FROM demo_truth")
            con.execute(f"INSERT INTO demo_truth ({cols}) SELECT {cols} FROM _demo_truth_frame")
    finally:
        con.unregister("_demo_truth_frame")
    return ws.count("demo_truth")
