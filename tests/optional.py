"""Optional engines in tests: skipped on a laptop without them, a failure under CI.

``pytest.importorskip`` turns a missing or broken import into a silent skip; for our optional
engines (PySpark) that is right on a contributor's machine and wrong in CI, where the engine is
installed on purpose and a skip would hide a broken build. Our own modules are imported plainly.
"""

from __future__ import annotations

import importlib
import os

import pytest


def engine(name: str):
    """Import the optional engine *name*; skip without it, unless ``CI`` is set (then the error shows)."""
    if os.environ.get("CI"):
        return importlib.import_module(name)
    return pytest.importorskip(name)
