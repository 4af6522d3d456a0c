"""Shared fixtures: real DuckDB workspaces in temporary directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from regulars import Workspace
from tests.browser import launch_chromium

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CDNOW = SHARED_DATA / "cdnow"
SAMPLES = Path(__file__).resolve().parent / "samples"


@pytest.fixture
def workspace(tmp_path):
    ws = Workspace(tmp_path / "shop.duckdb")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def browser():
    """Chromium for every test of this process (see :mod:`tests.browser`)."""
    yield from launch_chromium()
