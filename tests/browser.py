"""Debian's Chromium driven by Playwright: one instance per test process.

Playwright's sync API allows one running instance per thread, so every test that needs a browser
shares the session-wide ``browser`` fixture of ``tests/conftest.py`` (two module-level instances
would fail as soon as a test runner puts them in the same process in another order).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("REGULARS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def launch_chromium():
    """Yield a launched Chromium; skip (fail on CI, which installs it) when there is none."""
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set REGULARS_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (.ci/run): a missing browser there is a broken setup, not a skip
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
