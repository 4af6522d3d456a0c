"""The activation commands as a user runs them (a real process), erasure reaching every activation table,
and the uplift interval against a direct computation."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from regulars import Workspace
from regulars.activation.uplift import uplift
from regulars.data.erasure import forget
from regulars.data.identity import customer_tables
from regulars.jobs.activation import Runner
from tests.activation.servers import SmtpServer
from tests.activation.shop import T0, Clock, build, configure, customer, local, ts
from tests.activation.test_cart_abandonment import treated_ids
from tests.cli.test_cli import run

H = dt.timedelta(hours=1)


@pytest.mark.slow
def test_activation_commands(tmp_path):
    ids = treated_ids("cart_abandonment", 2, "X")
    path = build(tmp_path, [customer(c) for c in ids])
    assert "cart_abandonment" in run("journeys", "list", "--format", "csv", workspace=path).stdout
    toml = run("journeys", "show", "birthday", workspace=path).stdout
    edited = tmp_path / "birthday.toml"
    edited.write_text(toml.replace('at = "10:00"', 'at = "09:30"'))
    assert "version 2 as a draft" in " ".join(run("journeys", "save", edited, workspace=path).stdout.split())
    out = run("journeys", "approve", "birthday", workspace=path).stdout
    assert "version 2 is now approved" in " ".join(out.split())
    assert run("journeys", "approve", "nope", workspace=path, check=False).returncode == 1
    bad = run("activation", "settings", "quiet_hours=late", workspace=path, check=False)
    assert bad.returncode == 1 and "quiet_hours" in bad.stderr
    assert "22:00-07:00" in run("activation", "settings", "quiet_hours=22:00-07:00", workspace=path).stdout
    rounds = json.loads(run("journeys", "run", "--once", "--json", workspace=path).stdout)
    assert rounds["journeys_running"] == ["birthday"]
    out = run("audiences", "export", "all", "--format", "klaviyo", "--out", tmp_path / "k.csv", workspace=path).stdout
    assert "wrote 2 of 2 customers" in out and (tmp_path / "k.csv").read_text().startswith("Email,")
    run("report", "monday", "--as-of", "2025-03-03", "--out", tmp_path / "m.html", workspace=path)
    assert "Monday report" in (tmp_path / "m.html").read_text()
    with Workspace(path, read_only=True) as ws:
        actions = ws.sql("SELECT action FROM audit_log ORDER BY logged_at")["action"].tolist()
    assert {"journey.save", "journey.approve", "activation.settings", "audience.export"} <= set(actions)


def test_erasure_reaches_every_activation_table(tmp_path):
    cid = treated_ids("cart_abandonment", 1, "Z")[0]
    path = build(tmp_path, [customer(cid)], events=[["E1", cid, "add_to_cart", ts(T0), "P1"]])
    clock = Clock(T0 + 5 * dt.timedelta(minutes=1))
    with SmtpServer() as smtp, Workspace(path) as ws:
        configure(ws, **smtp.settings(), quiet_hours="")
        from tests.activation.shop import approve

        approve(ws, "cart_abandonment")
        runner = Runner(local(ws), clock)
        try:
            runner.run_once()
            clock.set(T0 + 3 * 24 * H + H)
            runner.run_once()
        finally:
            runner.close()
        mine = ["journey_enrollments", "journey_sends", "experiment_assignments", "audience_members", "webhook_deliveries"]
        assert set(mine) <= set(customer_tables(ws._con))
        assert ws.sql("SELECT count(*) AS n FROM audience_members")["n"][0] == 1
        forget(ws, cid, requested_by="tests")
        for table in mine:
            assert ws.sql(f"SELECT count(*) AS n FROM {table} WHERE customer_id = ?", [cid])["n"][0] == 0, table


def test_uplift_interval_matches_a_direct_welch_computation():
    rng = np.random.default_rng(3)
    t = rng.exponential(20, 900) * (rng.random(900) < 0.3)
    h = rng.exponential(20, 100) * (rng.random(100) < 0.2)
    rows = [{"arm": "treatment", "converted": v > 0, "revenue": float(v)} for v in t]
    rows += [{"arm": "holdout", "converted": v > 0, "revenue": float(v)} for v in h]
    u = uplift(rows)
    diff = t.mean() - h.mean()
    se = np.sqrt(t.var(ddof=1) / len(t) + h.var(ddof=1) / len(h))
    assert u["incremental_revenue"] == pytest.approx(diff * 900, abs=0.01)
    assert u["incremental_revenue_margin"] == pytest.approx(1.959964 * se * 900, abs=0.01)
    assert u["measurable"] and "beyond what would have happened" in u["sentence"]
    assert not uplift(rows[:30] + rows[-5:])["measurable"]
