"""The Experiments page in Chromium, for a viewer, on a shop with a running experiment."""

from __future__ import annotations

import pytest

from tests.api.server import start
from tests.experiments.shop import experiment_shop
from tests.web.conftest import settle, sign_in


@pytest.fixture(scope="module")
def exp_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("exp-web") / "shop.duckdb"
    ws, _ = experiment_shop(path, n=3000, lift=0.06, seed=41)
    ws.close()
    running = start(path, warm_reports=False, warm_profiles=False)
    yield running
    running.stop()


@pytest.mark.slow
def test_experiments_page_draws_its_charts_for_a_viewer(exp_server, browser):
    server = exp_server
    context, page, errors = sign_in(browser, server, "viewer")
    try:
        page.get_by_role("link", name="Experiments").click()
        page.wait_for_url(server.base_url + "/experiments")
        page.get_by_role("link", name="Spring offer").click()
        page.wait_for_url(server.base_url + "/experiments?id=spring-offer")
        settle(page)
        text = page.inner_text("body")
        assert "brought in" in text and "EUR" in text and "Customers analysed" in text
        assert page.locator("[data-chart][data-drawn='1']").count() == 2
        assert "c000" not in page.content()          # no customer id appears on the page
        assert not errors
    finally:
        context.close()
