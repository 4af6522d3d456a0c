"""Pseudonymised export: personal fields become keyed hashes stable within one key, joins survive,
free text is left out, and a channel filter keeps only customers who consented."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from regulars.jobs.export import export
from regulars.privacy.pseudonymise import new_key


def test_pseudonyms_are_stable_within_a_key_and_joins_survive(demo, tmp_path):
    key = new_key()
    customers = export(demo, tmp_path / "customers.csv", table="customers", key=key)
    orders = export(demo, tmp_path / "orders.parquet", table="orders", key=key)
    c = pd.read_csv(tmp_path / "customers.csv")
    o = pd.read_parquet(tmp_path / "orders.parquet")
    raw = demo.sql("SELECT customer_id, email, phone, first_name, last_name, postal_code FROM customers")
    assert len(c) == len(raw) and customers.rows == len(raw)
    assert set(customers.pseudonymised) >= {"customer_id", "email", "phone", "first_name", "last_name", "postal_code"}
    text = (tmp_path / "customers.csv").read_text()
    for col in ("email", "phone", "last_name"):
        sample = raw[col].dropna().iloc[:50]
        assert not any(v in text for v in sample), col
    assert c["customer_id"].str.match(r"^p_[0-9a-f]{16}$").all()
    # the same customer has the same pseudonym in both files: every order joins to its customer
    assert o["customer_id"].dropna().isin(set(c["customer_id"])).all()
    # a second export with the same key gives the same pseudonyms; another key does not
    again = export(demo, tmp_path / "again.csv", table="customers", key=key)
    assert again.rows == customers.rows
    assert pd.read_csv(tmp_path / "again.csv")["customer_id"].tolist() == c["customer_id"].tolist()
    export(demo, tmp_path / "other.csv", table="customers", key=new_key())
    assert not set(pd.read_csv(tmp_path / "other.csv")["customer_id"]) & set(c["customer_id"])
    # non-personal columns are kept as they were
    assert sorted(o["total"].round(2)) == sorted(demo.sql("SELECT total::DOUBLE AS t FROM orders")["t"].round(2))


def test_free_text_is_left_out_and_internal_tables_cannot_be_exported(demo, tmp_path):
    r = export(demo, tmp_path / "reviews.csv", table="reviews", key=new_key())
    assert "body" not in r.columns and any("free-text" in n for n in r.notes)
    for table in ("quarantine", "api_keys", "demo_truth"):
        with pytest.raises(ValueError, match="cannot export"):
            export(demo, tmp_path / "x.csv", table=table)


def test_segment_exports_filter_by_channel_consent(demo, tmp_path):
    from regulars.jobs.segments import refresh

    refresh(demo)
    seg = demo.sql("SELECT segment_id, count(*) AS n FROM segment_memberships GROUP BY 1 ORDER BY 2 DESC LIMIT 1")
    sid = seg["segment_id"][0]
    everyone = export(demo, tmp_path / "all.csv", segment=sid)
    mailable = export(demo, tmp_path / "mail.csv", segment=sid, channel="email")
    expected = demo.sql("SELECT count(*) AS n FROM segment_memberships m JOIN customers c USING (customer_id) "
                        "WHERE m.segment_id = ? AND c.accepts_email", [sid])["n"][0]
    assert everyone.rows == seg["n"][0] > mailable.rows == expected
    assert pd.read_csv(tmp_path / "mail.csv")["accepts_email"].all()
    sms = export(demo, tmp_path / "sms.csv", table="orders", channel="sms")
    n_sms = demo.sql("SELECT count(*) AS n FROM orders o JOIN customers c USING (customer_id) WHERE c.accepts_sms")["n"][0]
    assert sms.rows == n_sms


def test_cli_export_creates_and_reuses_the_key(demo, tmp_path):
    from regulars.cli.main import app

    path = str(demo.path)
    demo.close()
    try:
        key = tmp_path / "export.key"
        out = CliRunner().invoke(app, ["export", "customers", "-o", str(tmp_path / "a.csv"), "--pseudonymise",
                                       "--key-file", str(key), "--workspace", path])
        assert out.exit_code == 0, out.output
        assert key.exists() and "new pseudonymisation key" in out.output
        out = CliRunner().invoke(app, ["export", "customers", "-o", str(tmp_path / "b.csv"), "--pseudonymise",
                                       "--key-file", str(key), "--workspace", path])
        assert out.exit_code == 0 and "new pseudonymisation key" not in out.output
        assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
        out = CliRunner().invoke(app, ["export", "customers", "-o", str(tmp_path / "c.csv"), "--pseudonymise",
                                       "--workspace", path])
        assert out.exit_code == 1 and "--key-file" in out.output
        out = CliRunner().invoke(app, ["export", "quarantine", "-o", str(tmp_path / "q.csv"), "--workspace", path])
        assert out.exit_code == 1 and "cannot export" in out.output
    finally:
        demo.__init__(path)
