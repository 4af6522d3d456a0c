"""Issue 16.5 on the overview and the API: orders in EUR and USD are never shown as one total;
with the shop's exchange rates (set on the Settings page) they are converted and the page says so.

Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import pytest

from regulars import Workspace
from regulars.data import auth
from regulars.data.ingest.pipeline import ingest
from tests.api.server import start
from tests.web.conftest import settle, sign_in

pytestmark = pytest.mark.slow  # a server of its own and Chromium

ORDERS = ("order_id,customer_id,ordered_at,total,currency\n"
          "o1,c1,2024-01-03 10:00,100.00,EUR\no2,c1,2024-02-03 10:00,50.00,EUR\n"
          "o3,c2,2024-02-04 10:00,80.00,USD\no4,c3,2024-03-05 10:00,33.33,USD\n")
MIXED_TOTAL = "263.33"  # 150 EUR + 113.33 USD: a number that must never appear
CONVERTED = 100.00 + 50.00 + round(80.00 * 0.92, 2) + round(33.33 * 0.92, 2)  # 254.26


@pytest.fixture
def mixed_shop(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS)
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        ingest(ws, "orders", [str(orders)])
        auth.set_settings(ws._con, {"currency": "EUR"}, "test")
    server = start(path)
    yield server
    server.stop()


def test_overview_and_api_never_add_currencies_and_convert_with_the_shops_rates(browser, mixed_shop, screenshots):
    with mixed_shop.client("viewer") as api:
        data = api.get("/api/kpis").json()
        assert data["rows"][0]["revenue"] is None
        assert {r["currency"]: r["revenue"] for r in data["by_currency"]} == {"EUR": 150.0, "USD": 113.33}
        assert "--rate USD=RATE" in data["currency_warning"]
        per = api.get("/api/kpis", params={"by": "currency"}).json()
        assert [r["currency"] for r in per["rows"]] == ["EUR", "USD"]
    context, page, errors = sign_in(browser, mixed_shop, "admin")
    try:
        settle(page)
        text = page.inner_text("main")
        assert MIXED_TOTAL not in text and "263" not in text
        assert "Money per currency" in text and "150.00 EUR" in text and "113.33 USD" in text
        assert "--rate USD=RATE" in text
        page.screenshot(path=str(screenshots / "overview-per-currency.png"), full_page=True)

        page.goto(mixed_shop.base_url + "/settings")
        page.get_by_label("Exchange rates to the shop's currency").fill("USD=0.92")
        page.get_by_role("button", name="Save").click()
        assert "Saved." in page.inner_text("[role=status]")
        assert page.get_by_label("Exchange rates to the shop's currency").input_value() == "USD=0.92"
        page.goto(mixed_shop.base_url + "/")
        settle(page)
        text = page.inner_text("main")
        assert f"{CONVERTED:,.2f} EUR" in text and "Money per currency" not in text
        assert "2 orders in USD converted at 0.92 (rate set " in text
        page.screenshot(path=str(screenshots / "overview-converted.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
    with mixed_shop.client("viewer") as api:
        data = api.get("/api/kpis").json()
    assert data["rows"][0]["revenue"] == pytest.approx(CONVERTED) and data["by_currency"] is None
