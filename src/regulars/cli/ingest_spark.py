"""`regulars ingest … --engine spark`: the files loaded into the lake workspace on Spark.

Called by the ``ingest`` command of :mod:`regulars.cli.main` when the engine is Spark; the work is
:func:`regulars.data.lake_ingest.ingest_into_lake`.
"""

from __future__ import annotations

from pathlib import Path

from regulars.cli.common import console, fail, print_json, progress_steps


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
    console.print(f"[bold]run {result.run_id}[/] (Spark, lake {lake}): read {result.rows_read:,} rows, loaded "
                  f"{result.rows_loaded:,}, quarantined {result.rows_quarantined:,} in {result.seconds:.2f}s")
    for table, counts in result.tables.items():
        console.print(f"  {table}: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items()))
    console.print(f"  months rewritten: {len(result.months_rewritten)} (the others were not touched)")
    if result.customers_created:
        console.print(f"  customers created from this file: {result.customers_created:,}")
    if result.guest_orders:
        console.print(f"  guest orders (no customer; counted in shop totals, not in customer analyses): "
                      f"{result.guest_orders:,}")
    for w in result.warnings:
        console.print(f"  [yellow]warning:[/] {w}")
    if result.rows_quarantined:
        console.print("  see why: SELECT * FROM quarantine WHERE run_id = "
                      f"{result.run_id} on the lake (e.g. `regulars lake show`, or DuckDB over the lake)")
