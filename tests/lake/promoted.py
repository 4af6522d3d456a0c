"""A 300-customer demo shop promoted to a lake through the command, for the lake tests' fixtures."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from regulars import Workspace


def promoted_demo(folder: Path, env: dict | None = None) -> tuple[Path, Path, dict]:
    """Build the demo shop in *folder* (no analyses run), promote it; its path, lake and the promotion's JSON."""
    from regulars.cli.main import app
    from regulars.jobs.demo import run_demo

    path, lake = folder / "shop.duckdb", folder / "warehouse"
    with Workspace(path) as ws:
        run_demo(ws, customers=300, seed=1, analyses=False)
    result = CliRunner().invoke(app, ["lake", "promote", str(lake), "--format", "json", "--workspace", str(path)],
                                env=env)
    assert result.exit_code == 0, result.output
    return path, lake, json.loads(result.stdout)
