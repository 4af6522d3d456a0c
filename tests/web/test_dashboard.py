"""The dashboard in a real browser: sign in, every page with real numbers, click-through, phone width, PII, events.

Each page is saved to ``artifacts/screenshots/`` (desktop and phone width).
"""

from __future__ import annotations

import time

import pytest

from regulars.reports.cohorts import cohort_matrix
from regulars.reports.customers import list_customers
from regulars.reports.kpis import kpis
from tests.web.conftest import settle, sign_in

pytestmark = pytest.mark.slow

PAGES = ["/", "/segments", "/customers", "/lists", "/cohorts", "/funnel", "/predictions", "/text", "/anomalies", "/fairness",
         "/model-cards", "/data", "/settings"]


def expected_numbers(server) -> dict[str, list[str]]:
    """Numbers each page must show, computed from the workspace with the report functions."""
    with server.shared.read() as ws:
        summary = kpis(ws).table.iloc[0]
        customers = list_customers(ws, limit=1)
        cohorts = cohort_matrix(ws).to_dict()
        orders = ws.count("orders")
        top_segment = ws.sql("SELECT d.name, count(*) AS n FROM segment_memberships m JOIN segment_definitions d "
                             "USING (segment_id) WHERE m.segment_id LIKE 'rfm:%' GROUP BY 1 ORDER BY 2 DESC LIMIT 1").iloc[0]
        high = ws.sql("SELECT count(*) AS n FROM customer_predictions WHERE churn_band = 'high' AND "
                      "as_of = (SELECT max(as_of) FROM customer_predictions)")["n"][0]
        key_id = ws.sql("SELECT key_id FROM api_keys WHERE name = 'test viewer'")["key_id"][0]
        texts = ws.sql("SELECT texts FROM text_runs ORDER BY finished_at DESC LIMIT 1")["texts"][0]
        flags = ws.count("anomaly_flags")
    return {
        "/": [f"{int(summary['customers']):,}", f"{float(summary['revenue']):,.2f}", f"{int(summary['orders']):,}"],
        "/segments": [str(top_segment["name"]), f"{int(top_segment['n']):,}"],
        "/customers": [f"{customers.total:,} customers", customers.items[0]["customer_id"]],
        "/cohorts": [f"{cohorts['cohorts'][0]} ({cohorts['sizes'][0]:,})"],
        "/funnel": ["Viewed a product", "Added to the cart"],  # steps in words (issue 16.5)
        "/predictions": [f"{int(high):,}"],
        "/text": [f"{int(texts):,}", "What customers say"],
        "/anomalies": [f"{flags:,}", "Anomalies"],
        "/fairness": ["Fairness of the models"],
        "/model-cards": ["Model cards"],
        "/lists": ["Lists to act on", "Likely buyers"],
        "/data": [f"{orders:,}"],
        "/settings": [key_id],
    }


def test_sign_in_and_every_page_shows_the_workspace_numbers(browser, web_server, screenshots):
    expected = expected_numbers(web_server)
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        for path in PAGES:
            page.goto(web_server.base_url + path)
            settle(page)
            assert page.locator("h1").count() == 1
            text = page.inner_text("main")
            for value in expected[path]:
                assert value in text, f"{path} does not show {value!r}"
            name = "overview" if path == "/" else path.strip("/")
            page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
        assert not errors, errors  # no script errors, no blocked resources (CSP)
    finally:
        context.close()


def test_click_through_to_a_customer_and_their_story(browser, web_server, screenshots):
    shop = web_server.extra["shop"]
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        page.goto(web_server.base_url + "/customers")
        page.get_by_label("Customer id, e-mail or name").fill(shop.best_customer)
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name=shop.best_customer, exact=True).click()
        page.wait_for_url(f"**/customers/{shop.best_customer}")
        settle(page)
        text = page.inner_text("main")
        assert shop.names[shop.best_customer] in text and shop.emails[shop.best_customer] in text
        for heading in ("Timeline", "Orders", "Segments", "Identity links"):
            assert page.get_by_role("heading", name=heading).count() >= 1, heading
        page.screenshot(path=str(screenshots / "customer.png"), full_page=True)
        # from a segment to its members and on to a customer
        page.goto(web_server.base_url + "/segments")
        page.locator("table a").first.click()
        settle(page)
        assert "members" in page.inner_text("main")
        page.screenshot(path=str(screenshots / "segment.png"), full_page=True)
        page.locator("main table a").first.click()
        page.wait_for_url("**/customers/*")
        assert page.get_by_role("heading", name="Timeline").count() == 1
        assert not errors, errors
    finally:
        context.close()


def test_pages_fit_a_phone(browser, web_server, screenshots):
    context, page, errors = sign_in(browser, web_server, "admin", width=390, height=844)
    shop = web_server.extra["shop"]
    try:
        for path in PAGES + [f"/customers/{shop.best_customer}"]:
            page.goto(web_server.base_url + path)
            settle(page)
            name = "overview" if path == "/" else path.strip("/").replace("/", "-")
            page.screenshot(path=str(screenshots / f"phone-{name}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{path} is {overflow}px wider than a phone"
        assert not errors, errors
    finally:
        context.close()


def test_every_form_control_has_a_label_and_charts_are_described(browser, web_server):
    context, page, _ = sign_in(browser, web_server, "admin")
    try:
        for path in PAGES:
            page.goto(web_server.base_url + path)
            settle(page)
            unlabeled = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
                .filter(e => e.type !== 'hidden' && e.type !== 'checkbox')
                .filter(e => !(e.id && document.querySelector(`label[for="${e.id}"]`)) && !e.getAttribute('aria-label'))
                .map(e => e.name)""")
            assert not unlabeled, f"{path}: controls without a label: {unlabeled}"
            undescribed = page.evaluate("""() => Array.from(document.querySelectorAll('[data-chart]'))
                .filter(e => !e.getAttribute('aria-label')).length""")
            assert undescribed == 0, path
            assert page.evaluate("document.documentElement.lang") == "en"
    finally:
        context.close()


def test_viewer_pages_show_no_personal_data(browser, web_server):
    shop = web_server.extra["shop"]
    context, page, errors = sign_in(browser, web_server, "viewer")
    try:
        assert page.get_by_role("link", name="Settings").count() == 0
        for path in [p for p in PAGES if p != "/settings"] + [f"/customers/{c}" for c in shop.customers[:5]]:
            page.goto(web_server.base_url + path)
            settle(page)
            html = page.content()
            leaked = [p for p in shop.pii if p in html]
            assert not leaked, f"{path} shows personal data to a viewer: {leaked[:3]}"
        page.goto(web_server.base_url + "/settings")
        assert "needs the admin role" in page.inner_text("main")
        assert not [e for e in errors if "403" not in e], errors
    finally:
        context.close()


def test_an_event_posted_through_the_api_appears_on_the_customer_page(browser, web_server, screenshots):
    shop = web_server.extra["shop"]
    cid = shop.customers[7]
    context, page, errors = sign_in(browser, web_server, "analyst")
    try:
        page.goto(f"{web_server.base_url}/customers/{cid}")
        assert "/products/from-the-api" not in page.inner_text("main")
        with web_server.client("analyst") as api:
            r = api.post("/api/events", json={"customer_id": cid, "event_type": "page_view",
                                              "page_url": "/products/from-the-api"})
            assert r.status_code == 200
        started = time.monotonic()
        page.reload()
        assert "/products/from-the-api" in page.inner_text("#timeline")
        assert time.monotonic() - started < 2.0
        page.screenshot(path=str(screenshots / "customer-after-event.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()


def test_upload_erase_and_sign_out_through_forms(browser, web_server, tmp_path):
    shop = web_server.extra["shop"]
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        csv = tmp_path / "spend.csv"
        csv.write_text("spent_on,channel,amount\n2024-12-01,social,42.00\n2024-12-02,social,oops\n")
        page.goto(web_server.base_url + "/data")
        page.get_by_label("What the file holds").select_option("spend")
        page.get_by_label("Files").set_input_files(str(csv))
        page.get_by_role("button", name="Load").click()
        assert "read 2 rows, loaded 1, quarantined 1" in page.inner_text("[role=status]")

        victim = shop.customers[12]
        page.goto(f"{web_server.base_url}/customers/{victim}")
        page.on("dialog", lambda d: d.accept())
        page.get_by_label("I understand").check()
        page.get_by_role("button", name="Erase this customer").click()
        assert "Customer erased" in page.inner_text("h1")
        page.goto(f"{web_server.base_url}/customers/{victim}")
        assert "Not found" in page.inner_text("h1")

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/login")
        page.goto(web_server.base_url + "/customers")
        assert "/login" in page.url
        assert not [e for e in errors if "404" not in e], errors
    finally:
        context.close()
