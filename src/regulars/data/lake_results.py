"""Results written back to a lake workspace: predictions, segments and KPIs, all or nothing per result set.

On a lake workspace (:mod:`regulars.data.lake`) the commands that run on Spark write what they
compute into the lake, beside its tables, instead of into the workspace file::

    warehouse/results/
      predictions/_regulars_results.json        as of, run id, written at, the lake it was computed from;
      predictions/customer_predictions/part-…     per table: rows and columns (workspace types)
      predictions/prediction_runs/part-….parquet
      segments/segment_memberships/part-…        written by the executors (Spark's commit protocol)
      segments/segment_sizes/…  segment_refreshes/…  segment_definitions/…   small: from the driver
      kpis/kpis.json  kpis/kpis-month.json        the KPI report, as the dashboard shows it

A :class:`ResultsWrite` stages a result set in ``results/.<set>.staging-…``: the per-customer
tables are written there by Spark (tasks write, the job commits), the small ones from the driver.
On :meth:`ResultsWrite.commit` the rows Spark committed are counted from the Parquet footers,
the manifest is written and the staging folder replaces the result set (two renames, as
:func:`regulars.data.lake.promote`); any failure before removes the staging folder, so the
previous results stay exactly as they were. Nothing per customer comes back to the driver.

:func:`overlay_results` is how DuckDB reads them: temporary views named like the workspace's
tables, so the reports that read ``customer_predictions`` or ``segment_sizes`` read the lake's.

Examples
--------
>>> import tempfile
>>> lake = Path(tempfile.mkdtemp())
>>> results_stamp(lake)
()
>>> result_set_manifest(lake, "predictions") is None
True
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path

import pandas as pd

from regulars.data.lake import LakeError, _count, _replace, read_manifest

__all__ = ["KPI_COMMANDS", "RESULT_SETS", "RESULTS", "ResultsWrite", "kpi_report", "overlay_results",
           "result_set_manifest", "results_stamp", "write_kpi_report"]

RESULTS = "results"
SET_MANIFEST = "_regulars_results.json"

#: Each result set, the workspace tables it holds, and the command that writes it on a lake workspace.
RESULT_SETS = {
    "predictions": (("customer_predictions", "prediction_runs"), "regulars predict --engine spark"),
    "segments": (("segment_memberships", "segment_sizes", "segment_refreshes", "segment_definitions",
                  "segment_history"), "regulars segments refresh --engine spark"),
}

#: The KPI reports kept in the lake (``by`` -> file) and the command that writes each.
KPI_COMMANDS = {None: "regulars kpis --engine spark", "month": "regulars kpis --by month --engine spark"}


def _results(lake) -> Path:
    return Path(lake).expanduser().resolve() / RESULTS


def result_set_manifest(lake, name: str) -> dict | None:
    """The manifest of the result set *name* in *lake*, or None when it was never written."""
    path = _results(lake) / name / SET_MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def results_stamp(lake) -> tuple:
    """What identifies the lake's results now (their manifests' names and modification times):
    cached reads are refreshed when it changes."""
    folder = _results(lake)
    if not folder.is_dir():
        return ()
    found = [p for p in folder.glob(f"*/{SET_MANIFEST}")] + [p for p in folder.glob("kpis/*.json")]
    return tuple(sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in found))


def _lake_source(lake: Path) -> dict:
    manifest = read_manifest(lake)
    return {"lake": str(lake), "promoted_at": manifest.get("promoted_at"), "workspace": manifest.get("workspace"),
            "schema_version": manifest.get("schema_version")}


class ResultsWrite:
    """A result set being written into a lake: :meth:`folder` for Spark, :meth:`add_frame` from the driver,
    then :meth:`commit` (or :meth:`abort`; a ``with`` block aborts on an exception).

    Parameters
    ----------
    lake : path
        The lake (made by :func:`regulars.data.lake.promote`).
    name : str
        The result set, a key of :data:`RESULT_SETS`.
    """

    def __init__(self, lake, name: str) -> None:
        if name not in RESULT_SETS:
            raise ValueError(f"unknown result set {name!r}")
        self.lake = Path(lake).expanduser().resolve()
        self.source = _lake_source(self.lake)
        self.name = name
        self.target = _results(self.lake) / name
        self.staging = self.target.with_name(f".{name}.staging-{uuid.uuid4().hex[:8]}")
        self.staging.mkdir(parents=True)
        self.columns: dict[str, list] = {}

    def folder(self, table: str, columns) -> str:
        """Where Spark writes *table* (``(name, DuckDB type)`` *columns*); the folder must not exist yet."""
        self.columns[table] = [list(c) for c in columns]
        return str(self.staging / table)

    def add_frame(self, table: str, frame: pd.DataFrame, columns) -> int:
        """Write a small *frame* (a run record, sizes) as *table*, conformed to *columns*; its rows."""
        from regulars.data.spark_scoring import conform_batch

        folder = Path(self.folder(table, columns))
        folder.mkdir()
        conform_batch(frame, columns).to_parquet(folder / "part-00000.parquet", index=False)
        return len(frame)

    def rows(self, table: str) -> int:
        """The rows of *table* written so far (from the Parquet footers)."""
        return _count(str(self.staging / table))

    def commit(self, *, as_of: dt.date, run_id: str, **about) -> dict:
        """Count every table, write the manifest and put the result set in place; its manifest."""
        manifest = {"result_set": self.name, "as_of": as_of.isoformat(), "run_id": str(run_id),
                    "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "source": self.source, **about, "tables": {}}
        try:
            for table, columns in self.columns.items():
                if not (self.staging / table).is_dir():
                    raise LakeError(f"{self.name}: the table {table} was not written; nothing was changed")
                manifest["tables"][table] = {"rows": self.rows(table), "columns": columns}
            (self.staging / SET_MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
            _replace(self.staging, self.target)
        except BaseException:
            self.abort()
            raise
        return manifest

    def abort(self) -> None:
        """Remove what was staged: the previous results stay."""
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> ResultsWrite:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            self.abort()


def write_kpi_report(lake, by: str | None, report: dict) -> Path:
    """Keep the KPI report *report* (``KpiReport.to_dict()``) for *by* in the lake (written whole, then renamed)."""
    lake = Path(lake).expanduser().resolve()
    folder = _results(lake) / "kpis"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"kpis{'-' + by if by else ''}.json"
    staged = folder / f".{path.name}.{uuid.uuid4().hex[:8]}"
    payload = {"report": report, "source": _lake_source(lake),
               "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    staged.write_text(json.dumps(payload, default=str))
    staged.replace(path)
    return path


def kpi_report(lake, by: str | None) -> dict | None:
    """The KPI report kept for *by* (with ``written_at`` and ``source``), or None."""
    path = _results(lake) / "kpis" / f"kpis{'-' + by if by else ''}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def erasures_after_promotion(con, lake) -> int:
    """The erasures the workspace of *con* recorded after *lake* was promoted (see
    :func:`regulars.data.lake_read.erasures_since_promotion`)."""
    from regulars.data.lake_read import erasures_since_promotion

    database = con.execute("SELECT current_database()").fetchall()[0][0]
    now = con.execute(f'SELECT count(*) FROM "{database}".main.erasures').fetchall()[0][0]
    return erasures_since_promotion(read_manifest(Path(lake).expanduser().resolve()), now)


def overlay_results(con, lake) -> dict[str, str]:
    """Temporary views of *con* named like the workspace's result tables, reading the lake's results.

    A result set the lake holds is read from its Parquet (cast to the workspace's types); one it does
    not hold yet is an empty view with the workspace table's columns, so the reports say there is
    nothing yet. After an erasure the lake was not promoted for, every result set is an empty view (it
    may list the person). Returns each result set's state: its as-of date, or why there is none and
    the command to run.
    """
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'main'",
        [database]).fetchall()}
    erased = erasures_after_promotion(con, lake)
    states = {}
    for name, (tables, command) in RESULT_SETS.items():
        manifest = None if erased else result_set_manifest(lake, name)
        if erased:  # the results may list a person erased since: never shown, whatever they hold
            states[name] = (f"not shown: {erased} customer erasure(s) since the lake was promoted, and the lake "
                            f"still holds their rows; run `regulars lake promote` again, then `{command}`")
        else:
            states[name] = manifest["as_of"] if manifest else f"not in the lake yet: run `{command}`"
        for table in tables:
            spec = (manifest or {}).get("tables", {}).get(table)
            if spec is not None and spec["rows"]:
                cols = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in spec["columns"])
                source = f"read_parquet({_quoted(_results(lake) / name / table / '*.parquet')})"
                con.execute(f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT {cols} FROM {source}')
            elif table in existing:
                con.execute(f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT * FROM "{database}".main."{table}" '
                            "WHERE false")
    return states
