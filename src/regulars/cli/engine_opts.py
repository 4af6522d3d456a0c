"""The ``--engine`` option and opening an engine from a command (shared by the commands that compute)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from regulars.cli.common import fail

EngineOption = typer.Option(
    None, "--engine", envvar="REGULARS_ENGINE",
    help="duckdb (default) or spark; where Spark runs: REGULARS_SPARK_MASTER or [spark] in regulars.toml.",
)


@contextlib.contextmanager
def engine_tables(ws, engine: str | None) -> Iterator:
    """The workspace's tables on *engine* (the workspace itself for DuckDB); engine problems end the command
    with their message."""
    from regulars.data.engines import EngineError, open_engine

    try:
        with open_engine(ws, engine) as tables:
            yield tables
    except EngineError as exc:
        fail(str(exc))
