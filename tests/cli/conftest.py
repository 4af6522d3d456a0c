"""A small demo shop built once per test session (through the real CLI), copied for each test module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def demo_shop_file(tmp_path_factory):
    """A 300-customer demo shop with segments, predictions and backtests (about a minute to build)."""
    shop = tmp_path_factory.mktemp("demo-shop") / "shop.duckdb"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    subprocess.run([sys.executable, "-m", "regulars.cli.main", "demo", "--customers", "300", "--no-serve",
                    "--workspace", str(shop)], check=True, capture_output=True, env=env, timeout=900)
    return shop


@pytest.fixture(scope="module")
def demo_shop(demo_shop_file, tmp_path_factory):
    """This module's own copy of the demo shop."""
    shop = tmp_path_factory.mktemp("shop") / "shop.duckdb"
    shutil.copy(demo_shop_file, shop)
    return shop
