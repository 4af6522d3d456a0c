"""The recommendation pages in a real browser: Products, Actions, KPIs by segment, "What to offer"."""

from __future__ import annotations

import pytest

from regulars.data import recommend_store as store
from regulars.reports.recommend import customer_recommendations, next_actions_report
from tests.web.conftest import settle, sign_in

pytestmark = pytest.mark.slow


def test_products_actions_and_segment_kpis_pages_show_the_stored_numbers(browser, web_server, screenshots):
    with web_server.shared.read() as ws:
        pairs = store.read_pairs(ws)
        actions = next_actions_report(ws).actions
        best = ((store.read_run(ws) or {}).get("summary") or {}).get("best_sellers", [])
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        for path, label in (("/products", "Products"), ("/actions", "Actions")):
            page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()
            page.wait_for_url(web_server.base_url + path)
            settle(page)
            page.screenshot(path=str(screenshots / f"{path.strip('/')}.png"), full_page=True)
        page.goto(web_server.base_url + "/products")
        settle(page)
        text = page.inner_text("main")
        assert best and best[0]["product_name"] in text
        if len(pairs):
            product = pairs.iloc[0]["product_id"]
            page.get_by_label("Product id").fill(product)
            page.get_by_role("button", name="Show bought together").click()
            settle(page)
            assert page.get_by_role("heading", name="Bought together with").count() == 1
            assert f"{pairs.iloc[0]['lift']:,.2f}" in page.inner_text("#together")
        page.goto(web_server.base_url + "/actions")
        settle(page)
        text = page.inner_text("main")
        for a in actions:
            assert a["label"] in text and f"{a['customers']:,}" in text
        with page.expect_download() as download:
            page.get_by_role("link", name=f"Download the customers of {actions[0]['label']} as CSV").click()
        header = open(download.value.path(), encoding="utf-8").readline()
        assert header.startswith("customer_id,first_name,last_name,email")  # admin sees names and e-mails
        page.goto(web_server.base_url + "/kpis/segments?kind=rfm")
        settle(page)
        assert page.get_by_role("heading", name="KPIs by segment").count() == 1
        assert "Predicted CLV (mean)" in page.inner_text("main")
        page.screenshot(path=str(screenshots / "kpis-segments.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()


def test_customer_page_says_what_to_offer_and_why(browser, web_server, screenshots):
    shop = web_server.extra["shop"]
    with web_server.shared.read() as ws:
        offers = customer_recommendations(ws, shop.best_customer, k=5)
    context, page, errors = sign_in(browser, web_server, "viewer")
    try:
        page.goto(f"{web_server.base_url}/customers/{shop.best_customer}")
        settle(page)
        section = page.locator("#offers")
        assert section.get_by_role("heading", name="What to offer").count() == 1
        text = section.inner_text()
        assert offers.items and offers.items[0]["reason"] in text
        page.screenshot(path=str(screenshots / "customer-offers.png"), full_page=True)
        # a viewer's Actions page and export show no personal data
        page.goto(web_server.base_url + "/actions")
        settle(page)
        body = page.content()
        assert not any(email in body for email in shop.emails.values())
        assert "(the CSV holds customer ids only)" in page.inner_text("main")
        assert not errors, errors
    finally:
        context.close()
