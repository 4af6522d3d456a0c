"""Issue 16 items 5-7 in the terminal (80 and 120 columns): lists a shop owner acts on, with names,
percentages and the currency; `customer EMAIL`; `segments history` says when it truncates; the
doctor does not tell a shop whose orders are loaded to "load orders"."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from regulars import Workspace

pytestmark = pytest.mark.slow  # the shared 300-customer demo shop (built once per session), ~12 processes


def regulars(shop, *args, width=120, check=True):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": str(width),
           "REGULARS_WORKSPACE": str(shop)}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "regulars.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def sql(shop, query, params=()):
    with Workspace(shop, read_only=True) as ws:
        return ws._con.execute(query, list(params)).fetchall()


@pytest.mark.parametrize("width", [80, 120])
def test_at_risk_list_shows_names_percentages_and_currency(demo_shop, width):
    top = sql(demo_shop, "SELECT p.customer_id, c.first_name, c.email FROM customer_predictions p "
                         "JOIN customers c USING (customer_id) WHERE p.churn_band = 'high' AND p.as_of = "
                         "(SELECT max(as_of) FROM customer_predictions) ORDER BY p.clv DESC NULLS LAST LIMIT 1")[0]
    out = regulars(demo_shop, "lists", "at-risk", "--limit", "5", width=width).stdout
    assert top[0] in out and top[1] in out  # a name next to the id
    assert "%" in out and " USD" in out  # churn risk as a percentage, value with its currency
    assert max(len(line) for line in out.splitlines()) <= width


def test_every_list_exports_whole_with_names_and_emails_and_no_formula(demo_shop, tmp_path):
    victim = sql(demo_shop, "SELECT customer_id FROM segment_memberships WHERE segment_id = 'rfm:champions' "
                            "ORDER BY customer_id LIMIT 1")[0][0]
    with Workspace(demo_shop) as ws:
        ws._con.execute("UPDATE customers SET first_name = '=HYPERLINK(\"http://x\",\"y\")' WHERE customer_id = ?",
                       [victim])
    overview = json.loads(regulars(demo_shop, "lists", "--format", "json").stdout)
    names = {i["name"] for i in overview}
    assert {"at-risk", "likely-buyers", "hot-leads", "replenishment-due", "segment:rfm:champions"} <= names
    titles = {i["title"] for i in overview}
    assert "Segment: Region: Oregon (OR)" in titles  # regions in words (issue 16.5), not "or"
    members = sql(demo_shop, "SELECT count(*) FROM segment_memberships WHERE segment_id = 'rfm:champions'")[0][0]
    target = tmp_path / "champions.csv"
    regulars(demo_shop, "lists", "segment:rfm:champions", "-o", target)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == members
    assert {"customer_id", "name", "email"} <= set(rows[0])
    assert any(r["email"] for r in rows)
    bad = next(r for r in rows if r["customer_id"] == victim)
    assert bad["name"].startswith("'=")  # a spreadsheet shows it as text, never runs it
    for name in ("at-risk", "likely-buyers", "hot-leads", "replenishment-due"):
        data = json.loads(regulars(demo_shop, "lists", name, "--format", "json").stdout)
        assert data["total"] == len(data["items"]) and data["currency"] == "USD"


def test_customer_accepts_an_email_like_export_customer(demo_shop):
    cid, email = sql(demo_shop, "SELECT customer_id, email FROM customers WHERE email IS NOT NULL "
                                "AND customer_id IN (SELECT customer_id FROM orders) ORDER BY customer_id LIMIT 1")[0]
    exported = json.loads(regulars(demo_shop, "export-customer", email.upper()).stdout)
    shown = json.loads(regulars(demo_shop, "customer", email.upper(), "--json").stdout)
    assert shown["customer_id"] == cid == exported["customer_id"]
    missing = regulars(demo_shop, "customer", "nobody@example.invalid", check=False)
    assert missing.returncode == 1 and "e-mail" in missing.stderr and "Traceback" not in missing.stderr


def test_segments_history_says_when_it_truncates_and_how_to_see_all(demo_shop):
    total = sql(demo_shop, "SELECT count(*) FROM segment_history WHERE segment_id = 'rfm:lost'")[0][0]
    assert total > 3
    cut = regulars(demo_shop, "segments", "history", "rfm:lost", "--limit", "3", width=80)
    assert "newest 3" in cut.stdout + cut.stderr and "--limit 0" in cut.stdout + cut.stderr
    whole = regulars(demo_shop, "segments", "history", "rfm:lost", "--limit", "0", "--format", "csv")
    assert len(list(csv.DictReader(io.StringIO(whole.stdout)))) == total
    assert "--limit 0" not in whole.stderr


def test_doctor_does_not_ask_a_shop_with_its_orders_loaded_to_load_orders(demo_shop):
    report = json.loads(regulars(demo_shop, "doctor", "--json").stdout)
    advice = [r["load"] for r in report["readiness"] if r["load"]]
    assert advice, "the 300-customer demo is below some thresholds: the doctor should give advice"
    assert not any(a.startswith("load orders") for a in advice), advice
    assert any("orders are loaded" in a for a in advice)
