"""`regulars ingest … --engine spark`: the files loaded into the lake workspace on Spark.

Called by the ``ingest`` command of :mod:`regulars.cli.main` when the engine is Spark; the work is
:func:`regulars.data.lake_ingest.ingest_into_lake`.
"""

from __future__ import annotations

from pathlib import Path

from regulars.cli.common import fail, print_json, progress_steps


def ingest_on_spark(workspace: Path, kind: str, files: list[Path], fmt: str | None, mapping: str | None,
                    as_json: bool) -> None:
    """Load *files* into the lake of *workspace* (``$REGULARS_LAKE`` or ``lake`` in its settings) on Spark."""
    from regulars.data.engines import EngineError
    from regulars.data.ingest.options import MappingError
    from regulars.data.ingest.pipeline import LoadInvariantError
    from regulars.data.lake import lake_location
    from regulars.data.lake_ingest import ingest_into_lake
    from regulars.data.workspace import resolve_path

    path = resolve_path(workspace)
    lake = lake_location(path if path.is_file() else None)
    if lake is None:
        fail("--engine spark loads into a lake workspace: set REGULARS_LAKE=DIR (or lake = \"DIR\" in regulars.toml) "
             "to a lake made with `regulars lake promote DIR`, or load on DuckDB (--engine duckdb)")
    timezone, chosen = "UTC", None
    if path.is_file():
        from regulars.cli.common import open_workspace
        from regulars.cli.ingest_mapping import resolve_mapping

        with open_workspace(workspace, read_only=True) as ws:
            timezone = ws.timezone
            try:
                chosen = resolve_mapping(ws, mapping)
            except MappingError as exc:
                fail(str(exc))
    elif mapping:
        from regulars.data.ingest.options import Mapping

        chosen = Mapping.from_file(mapping)
    try:
        with progress_steps(f"loading {kind} into the lake on Spark", quiet=as_json) as say:
            result = ingest_into_lake(lake, kind, [str(f) for f in files], format=fmt, mapping=chosen,
                                      timezone=timezone, workspace=path if path.is_file() else None,
                                      progress=say)
    except (MappingError, LoadInvariantError, EngineError) as exc:
        fail(str(exc))
    if as_json:
        print_json(result.as_dict())
        return
    from regulars.cli.ingest_summary import print_ingest

    print_ingest(result, where=f"on Spark, into the lake {lake}",
                 see_why=f"run {result.run_id} in the lake's quarantine table (read it with DuckDB or Spark: "
                                 "docs/lake.md)")
