"""An erasure on a lake workspace: the lake's results, which may list the person, are no longer shown.

No Spark needed: the lake is a manifest and one result set written from the driver (what
``predict --engine spark`` writes from the executors has the same layout).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from typer.testing import CliRunner

from regulars import Workspace
from regulars.data.erasure import forget
from regulars.data.lake import LAKE_FORMAT, MANIFEST
from regulars.data.lake_results import ResultsWrite
from regulars.data.predictions_store import CUSTOMER_PREDICTIONS
from regulars.data.realtime import SharedWorkspace
from regulars.reports.lake_results import results_source


def _lake_with_predictions(folder, workspace, customers):
    lake = folder / "warehouse"
    lake.mkdir()
    (lake / MANIFEST).write_text(json.dumps({
        "format": LAKE_FORMAT, "promoted_at": "2026-01-01T00:00:00+00:00", "workspace": str(workspace),
        "schema_version": 1, "tables": {"erasures": {"rows": 0}}}))
    with ResultsWrite(lake, "predictions") as results:
        frame = pd.DataFrame({"customer_id": customers, "as_of": dt.date(2026, 1, 1), "churn_risk": 0.5,
                              "run_id": "r1"})
        results.add_frame("customer_predictions", frame, CUSTOMER_PREDICTIONS)
        results.commit(as_of=dt.date(2026, 1, 1), run_id="r1")
    return lake


def _shown(shared) -> tuple[list[str], dict]:
    with shared.read() as view:
        ids = view.sql("SELECT customer_id FROM customer_predictions ORDER BY 1")["customer_id"].tolist()
        return ids, results_source(view, "predictions")


def test_an_erasure_hides_the_lakes_results_at_once_and_the_command_says_why(tmp_path, monkeypatch):
    """Before: a customer erased from the workspace was still listed by the dashboard from the lake's results."""
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        ws.insert_rows("customers", [{"customer_id": "c1", "email": "ann@example.com"}, {"customer_id": "c2"}])
    lake = _lake_with_predictions(tmp_path, path, ["c1", "c2"])
    shared = SharedWorkspace(path, lake=lake)
    try:
        ids, source = _shown(shared)
        assert ids == ["c1", "c2"] and source["as_of"] == "2026-01-01"
        forget(shared.workspace, "c1", rewrite=False)  # what the server's erasure does, on its connection
        ids, source = _shown(shared)  # the same server, the next request
        assert ids == [] and source["as_of"] is None
        assert "1 customer erasure(s) since the lake was promoted" in source["note"]
        assert "regulars lake promote" in source["note"]
    finally:
        shared.close()

    monkeypatch.setenv("REGULARS_LAKE", str(lake))
    from regulars.cli.main import app

    done = CliRunner().invoke(app, ["forget", "c2", "--yes", "--workspace", str(path)])
    assert done.exit_code == 0, done.output
    assert f"thelake{lake.resolve()}stillholdsthem" in "".join(done.output.split())  # the terminal may wrap a path
