"""A real server and Debian's Chromium (driven by Playwright) for dashboard tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import prepare
from tests.api.server import start
from tests.api.shop import build_shop

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def web_server(tmp_path_factory):
    shop = build_shop(tmp_path_factory.mktemp("web-shop") / "shop.duckdb", n_customers=150, seed=7)
    prepare(shop.path)
    running = start(shop.path)
    running.extra["shop"] = shop
    with running.client("admin") as c:  # let the background warm-up finish so pages are not competing with it
        import time

        for _ in range(300):
            s = c.get("/api/status").json()
            if not s["profiles"]["warming"] and not s["reports_warming"]:
                break
            time.sleep(0.2)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def sign_in(browser, server, role: str = "admin", width: int = 1280, height: int = 800):
    """A new browser context signed in with *role*'s key through the login form; returns (context, page, errors)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.base_url + "/")
    assert "/login" in page.url
    page.get_by_label("API key").fill(server.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.base_url + "/")
    return context, page, errors


def settle(page) -> None:
    """Wait until the page's script ran and every chart is drawn."""
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("Array.from(document.querySelectorAll('[data-chart]')).every(e => e.dataset.drawn === '1')")
