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


@contextlib.contextmanager
def engine_workspace_or_fail(ws, engine: str | None) -> Iterator:
    """The workspace with its reads on *engine* (:func:`regulars.data.engine_workspace.engine_workspace`),
    for jobs that also write; engine problems end the command with their message."""
    from regulars.data.engine_workspace import engine_workspace
    from regulars.data.engines import EngineError

    try:
        with engine_workspace(ws, engine) as reads:
            yield reads
    except EngineError as exc:
        fail(str(exc))


def on_spark(ws, engine: str | None) -> bool:
    """Whether the command runs on Spark (``--engine``, ``$REGULARS_ENGINE`` or the settings file); an
    unknown engine ends the command with its message. Stored results are read only on DuckDB: a
    command asked to run on Spark computes there."""
    from regulars.data.engines import EngineError, engine_name

    try:
        return engine_name(engine, workspace=ws.path) != "duckdb"
    except EngineError as exc:
        fail(str(exc))
