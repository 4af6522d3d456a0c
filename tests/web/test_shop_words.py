"""Issue 16 items 6-8 in the browser and the API: the shop's name and currency in the header and on the
Settings page, upload with a pasted or saved mapping, and the Lists page with its CSV downloads.

Screenshots go to ``artifacts/screenshots/`` like the other dashboard tests.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.web.conftest import settle, sign_in

pytestmark = pytest.mark.slow  # the session's dashboard server and Chromium


def test_settings_page_sets_the_shop_name_and_currency_shown_in_the_header(browser, web_server, screenshots):
    with web_server.client("admin") as api:
        before = api.get("/api/settings").json()
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        page.goto(web_server.base_url + "/settings")
        page.get_by_label("Shop name").fill("Rosa's Coffee")
        page.get_by_label("Currency (ISO code)").fill("eur")
        page.get_by_label("Time zone").fill("Europe/Lisbon")
        page.get_by_role("button", name="Save").click()
        assert "Saved." in page.inner_text("[role=status]")
        brand = page.inner_text("header .brand")
        assert "Rosa's Coffee" in brand and "EUR" in brand and "My shop" not in brand
        assert page.get_by_label("Currency (ISO code)").input_value() == "EUR"
        assert page.get_by_label("Time zone").input_value() == "Europe/Lisbon"
        page.screenshot(path=str(screenshots / "settings-shop-name-currency.png"), full_page=True)
        page.goto(web_server.base_url + "/")
        settle(page)
        assert "Rosa's Coffee · EUR" in page.inner_text("header .brand")
        with web_server.client("viewer") as api:
            assert api.get("/api/settings").json()["currency"] == "EUR"
        page.goto(web_server.base_url + "/settings")
        page.get_by_label("Currency (ISO code)").fill("ABC")
        page.get_by_role("button", name="Save").click()
        assert "ISO 4217" in page.inner_text("[role=alert]")
        assert not errors, errors
    finally:
        context.close()
        with web_server.client("admin") as api:
            api.put("/api/settings", json={k: before[k] for k in ("shop_name", "timezone", "currency") if before[k]})


def test_upload_a_semicolon_decimal_comma_file_with_a_pasted_then_a_saved_mapping(browser, web_server, tmp_path,
                                                                                  screenshots):
    first = tmp_path / "ausgaben-1.csv"
    first.write_text("Datum;Kanal;Betrag\n2024-11-03;newsletter;1.234,50\n2024-11-04;newsletter;12,25\n")
    second = tmp_path / "ausgaben-2.csv"
    second.write_text("Datum;Kanal;Betrag\n2024-11-05;newsletter;7,75\n")
    mapping = '[parse]\ndelimiter = ";"\ndecimal = ","\n\n[columns]\nspent_on = "Datum"\nchannel = "Kanal"\namount = "Betrag"\n'
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        page.goto(web_server.base_url + "/data")
        page.get_by_label("What the file holds").select_option("spend")
        page.get_by_label("Files").set_input_files(str(first))
        page.get_by_label("Or paste a mapping (TOML)").fill(mapping)
        page.get_by_label("Save the pasted mapping as").fill("German till")
        page.get_by_role("button", name="Load").click()
        assert "read 2 rows, loaded 2, quarantined 0" in page.inner_text("[role=status]")

        page.get_by_label("What the file holds").select_option("spend")
        page.get_by_label("Files").set_input_files(str(second))
        page.get_by_label("Saved mapping").select_option("German till")
        page.get_by_role("button", name="Load").click()
        assert "read 1 rows, loaded 1, quarantined 0" in page.inner_text("[role=status]")
        page.screenshot(path=str(screenshots / "data-upload-with-mapping.png"), full_page=True)
        assert not [e for e in errors if "404" not in e], errors
    finally:
        context.close()
    with web_server.shared.read() as ws:
        amounts = sorted(float(r[0]) for r in ws._con.execute(
            "SELECT amount FROM marketing_spend WHERE channel = 'newsletter'").fetchall())
    assert amounts == [7.75, 12.25, 1234.5]


def test_lists_page_shows_names_and_downloads_the_whole_list(browser, web_server, screenshots):
    with web_server.client("admin") as api:
        overview = api.get("/api/lists").json()["items"]
        chosen = next(i for i in overview if i["size"] and not i["name"].startswith("segment:"))
        full = api.get(f"/api/lists/{chosen['name']}").json()
        champions = api.get("/api/lists/segment:rfm:champions", params={"format": "csv"})
    assert full["total"] > 0 and full["items"][0]["email"] and "@" in full["items"][0]["email"]
    assert champions.status_code == 200 and "attachment" in champions.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(champions.text)))
    assert rows and all("@" in r["email"] for r in rows if r["email"])
    with web_server.client("viewer") as api:
        masked = api.get(f"/api/lists/{chosen['name']}").json()
        assert api.get("/api/lists/no-such-list").status_code == 404
    assert masked["total"] == full["total"]
    assert {i["email"] for i in masked["items"] if i["email"]} <= {"***"}

    first = full["items"][0]
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        page.get_by_role("link", name="Lists").click()
        page.get_by_role("link", name=chosen["title"], exact=True).click()
        text = page.inner_text("main")
        assert first["customer_id"] in text and first["name"] in text
        page.screenshot(path=str(screenshots / "lists-one-list.png"), full_page=True)
        with page.expect_download() as info:
            page.get_by_role("link", name=f"Download all {full['total']:,} as CSV").click()
        saved = info.value.path()
        downloaded = list(csv.DictReader(open(saved, encoding="utf-8")))
        assert len(downloaded) == full["total"] and downloaded[0]["email"] == first["email"]
        assert not errors, errors
    finally:
        context.close()
    context, page, errors = sign_in(browser, web_server, "viewer")
    try:
        page.goto(f"{web_server.base_url}/lists/{chosen['name']}")
        text = page.inner_text("main")
        assert first["customer_id"] in text and first["email"] not in text and first["name"] not in text
    finally:
        context.close()


def test_overview_and_predictions_speak_a_shop_owners_words(browser, web_server, screenshots):
    """Issue 16.5: money with its currency, the partial month marked, names next to ids for roles that may see them."""
    with web_server.client("admin") as api:
        currency = api.get("/api/settings").json()["currency"]
        admin = api.get("/api/predictions", params={"sort": "propensity", "limit": 5}).json()
    with web_server.client("viewer") as api:
        viewer = api.get("/api/predictions", params={"sort": "propensity", "limit": 5}).json()
    assert currency and admin["items"]
    shop = web_server.extra["shop"]
    first = admin["items"][0]
    assert first["name"] == shop.names.get(first["customer_id"], first["name"]) and first["name"]
    assert "@" in first["email"]
    assert {i["name"] for i in viewer["items"]} == {"***"} and {i["email"] for i in viewer["items"]} == {"***"}
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        settle(page)
        tiles = page.inner_text(".tiles")
        assert f" {currency}" in tiles  # revenue, average order value, CLV carry the currency
        assert "(partial, to " in page.content()  # the data ends mid-month: that month is marked partial
        page.screenshot(path=str(screenshots / "overview-words.png"), full_page=True)
        page.goto(web_server.base_url + "/predictions")
        settle(page)
        buyers = admin["summary"]["likely_buyers"]
        if buyers:
            assert buyers[0]["name"] in page.inner_text("main")
        assert not errors, errors
    finally:
        context.close()


def test_an_nps_change_is_in_points_not_percent_of_the_score():
    from regulars.web.html import delta

    assert "10.0 points" in str(delta(30, 20, "Nov", points=True))
    assert "%" not in str(delta(30, 20, "Nov", points=True))
    assert "50.0%" in str(delta(30, 20, "Nov"))  # counts and amounts still move in percent


def test_segment_since_is_the_data_date_not_when_the_refresh_ran(browser, web_server):
    shop = web_server.extra["shop"]
    with web_server.shared.read() as ws:
        since, ran = ws._con.execute(
            "SELECT m.since_as_of::VARCHAR, r.refreshed_at::DATE::VARCHAR FROM segment_memberships m "
            "JOIN segment_refreshes r ON r.refresh_id = m.since_refresh WHERE m.customer_id = ? LIMIT 1",
            [shop.best_customer]).fetchone()
    assert since != ran  # the test shop's data ends in 2024; the refresh ran today
    context, page, errors = sign_in(browser, web_server, "analyst")
    try:
        page.goto(f"{web_server.base_url}/customers/{shop.best_customer}")
        card = page.inner_text("#segments")
        assert since[:10] in card and ran not in card
        links = page.inner_text("#identities")  # identity links in words, never a hash
        assert "E-mail address" in links and not re.search(r"[0-9a-f]{32,}", links), links
    finally:
        context.close()


def test_times_on_pages_are_in_the_shops_time_zone(browser, web_server):
    import datetime as dt

    with web_server.client("admin") as api:
        before = api.get("/api/settings").json()["timezone"]
        api.put("/api/settings", json={"timezone": "Asia/Tokyo"})  # UTC+9 all year
    with web_server.shared.read() as ws:
        created = ws._con.execute("SELECT created_at FROM api_keys WHERE name = 'test viewer'").fetchone()[0]
    tokyo = (created + dt.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M")
    utc = created.strftime("%Y-%m-%d %H:%M")
    context, page, errors = sign_in(browser, web_server, "admin")
    try:
        page.goto(web_server.base_url + "/settings")
        text = page.inner_text("main")
        assert tokyo in text and utc not in text
    finally:
        context.close()
        with web_server.client("admin") as api:
            api.put("/api/settings", json={"timezone": before})
