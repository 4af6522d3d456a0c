"""Issue 16.5: a consent's date is when the customer decided, as the data says, not when the file was loaded."""

from __future__ import annotations

import datetime as dt

from regulars import Workspace
from regulars.data.ingest.pipeline import ingest
from regulars.reports.customers import customer_profile
from regulars.web.profile import _consent_when


def _consents(ws):
    return ws._con.execute("SELECT customer_id, purpose, is_granted, recorded_at, from_load FROM consents "
                          "ORDER BY customer_id, purpose").fetchall()


def test_a_consent_date_column_dates_the_decision(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,accepts_email,accepts_marketing_updated_at\n"
                    "c1,ann@example.com,true,2023-05-04 08:30:00\nc2,bo@example.com,false,\n")
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "customers", [str(path)])
        rows = _consents(ws)
        assert rows[0] == ("c1", "email", True, dt.datetime(2023, 5, 4, 8, 30), False)
        assert rows[1][0] == "c2" and rows[1][4] is True  # no date in the file: dated by the load, and said so
        assert ws._con.execute("SELECT consent_at FROM customers WHERE customer_id = 'c1'").fetchall()[0][0] == \
            dt.datetime(2023, 5, 4, 8, 30)


def test_other_common_names_are_recognised(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,accepts_email,Opt-in date\nc1,ann@example.com,true,2022-01-02\n")
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "customers", [str(path)])
        assert _consents(ws)[0][3:] == (dt.datetime(2022, 1, 2), False)


def test_without_a_date_the_profile_says_it_is_unknown(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,accepts_email\nc1,ann@example.com,true\n")
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "customers", [str(path)])
        profile = customer_profile(ws, "c1")
    history = profile.sections["consents"]["history"]
    assert history[0]["from_load"] is True
    assert _consent_when(history[0]).startswith("unknown (recorded on load ")
    consent_items = [t for t in profile.timeline if t["kind"] == "consent"]
    assert "when is unknown" in consent_items[0]["text"]


def test_a_shopify_export_with_a_consent_date_column(tmp_path):
    path = tmp_path / "customers_export.csv"
    path.write_text("Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Accepts Email Marketing Updated At\n"
                    "123,Ann,Lee,ann@example.com,yes,2024-02-03 10:00:00 +0100\n")
    with Workspace(tmp_path / "shop.duckdb") as ws:
        ingest(ws, "customers", [str(path)], format="shopify")
        assert _consents(ws)[0][2:] == (True, dt.datetime(2024, 2, 3, 9, 0), False)
