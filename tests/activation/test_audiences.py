"""Audience files: the platforms' formats and normalisation, consent filtering with the reasons counted,
formula injection neutralised, and who may export."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from regulars import Workspace
from regulars.activation.audiences import e164, normalize_email
from regulars.jobs.activation_admin import ActivationError, export_audience
from tests.activation.shop import CUSTOMER_HEADER, build

ROWS = [
    # id, email, phone, first, last, created, city, country, birth, email ok, sms ok
    ["A1", " Ann.Lee@GMail.com ", "+49 151 2345 678", "Ann", "Lee", "2024-01-01", "Lyon", "FR", "1990-05-04", "true", "true"],
    ["A2", "bob@example.com", "0151 2345678", "Bob", "O'Neil", "2024-01-01", "Köln", "DE", "", "true", "false"],
    ["A3", "cat@example.com", "+33612345678", "=HYPERLINK(\"http://x\")", "Cat", "2024-01-01", "Paris", "FR", "", "false", "true"],
    ["A4", "dan@example.com", "", "Dan", "Dee", "2024-01-01", "Porto", "PT", "", "", ""],
    ["A5", "", "+351912345678", "Eve", "Eng", "2024-01-01", "Porto", "PT", "", "true", "true"],
    ["A6", "", "", "Fay", "Fox", "2024-01-01", "Leeds", "GB", "", "true", ""],
]


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def shop(tmp_path):
    path = build(tmp_path, [r for r in ROWS])
    with Workspace(path) as ws:
        yield ws


def test_klaviyo_keeps_only_email_consent_and_says_who_was_left_out(shop):
    with shop.transaction():
        f = export_audience(shop, "all", "klaviyo", "tests", "analyst")
    rows = _rows(f.content)
    assert [r["Email"] for r in rows] == ["ann.lee@gmail.com", "bob@example.com"]
    assert rows[0]["Phone Number"] == "+491512345678"               # SMS consent: E.164 phone kept
    assert rows[1]["Phone Number"] == ""                            # no SMS consent: phone left blank
    assert f.left_out == {"no e-mail consent (opted out)": 1, "no e-mail consent (never given)": 1,
                          "no e-mail address": 2}
    assert f.rows + sum(f.left_out.values()) == f.customers == 6
    audit = shop.sql("SELECT action, target, detail::VARCHAR AS d FROM audit_log WHERE action = 'audience.export'")
    assert audit["target"].tolist() == ["all"] and "ann" not in audit["d"][0].lower()


def test_mailchimp_and_formula_injection(shop):
    with shop.transaction():
        f = export_audience(shop, "all", "mailchimp", "tests", "admin", respect_consent=False)
    rows = _rows(f.content)
    cat = next(r for r in rows if r["Email Address"] == "cat@example.com")
    assert cat["First Name"].startswith("'=")                       # neutralised: a spreadsheet shows text
    assert next(r for r in rows if r["Email Address"] == "ann.lee@gmail.com")["Birthday"] == "05/04"
    assert "consent filter switched off" in " ".join(f.notes)


def test_hashed_customer_match_follows_each_platform_normalisation(shop):
    with shop.transaction():
        g = export_audience(shop, "all", "google", "tests", "analyst")
        m = export_audience(shop, "all", "meta", "tests", "analyst")
    sha = lambda s: hashlib.sha256(s.encode()).hexdigest()  # noqa: E731
    grow = _rows(g.content)
    ann = next(r for r in grow if r["Email"] == sha("annlee@gmail.com"))  # gmail: dots removed before hashing
    assert ann["Phone"] == sha("+491512345678") and ann["First Name"] == sha("ann") and ann["Country"] == "FR"
    mrow = _rows(m.content)
    bob = next(r for r in mrow if r["email"] == sha("bob@example.com"))
    assert bob["phone"] == ""                                       # no country code: cannot be matched
    assert bob["ln"] == sha("oneil") and bob["ct"] == sha("köln") and bob["country"] == sha("de")
    assert next(r for r in mrow if r["email"] == sha("ann.lee@gmail.com"))["phone"] == sha("491512345678")
    # ads use personalisation consent (unset = not opted out); A6 has nothing to match on
    assert g.left_out == {"no e-mail or phone with country code to match on": 1} and g.rows == 5


def test_viewers_cannot_export_and_only_admins_switch_consent_off(shop):
    with pytest.raises(ActivationError, match="analyst role") as exc:
        export_audience(shop, "all", "google", "tests", "viewer")
    assert exc.value.status == 403
    with pytest.raises(ActivationError, match="only an admin"):
        export_audience(shop, "all", "klaviyo", "tests", "analyst", respect_consent=False)
    with pytest.raises(ActivationError, match="no segment or audience"):
        export_audience(shop, "rfm:nobody", "klaviyo", "tests", "analyst")


def test_normalisation_examples_from_the_platform_docs():
    assert normalize_email("  Test.User@Gmail.com", google=True) == "testuser@gmail.com"
    assert normalize_email("Test.User@Example.com", google=True) == "test.user@example.com"
    assert e164("+1 (650) 253-0000") == "+16502530000"
    assert e164("650 253 0000") is None
    assert CUSTOMER_HEADER[0] == "customer_id"
