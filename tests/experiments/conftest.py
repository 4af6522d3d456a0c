"""Fixtures shared with the dashboard tests."""

from tests.web.conftest import browser  # noqa: F401  (Debian Chromium through Playwright)
