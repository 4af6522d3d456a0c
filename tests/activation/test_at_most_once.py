"""At most once, nothing lost: the runner is killed with SIGKILL in the middle of a batch of e-mails (while
the mail server holds the 100th message, before confirming it) and started again. Every customer gets the
reminder exactly once: the 99 confirmed ones are not sent again, the unconfirmed one is sent again with its
Message-ID, the rest are sent."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from regulars import Workspace
from regulars.jobs.activation import utcnow
from tests.activation.servers import SmtpServer
from tests.activation.shop import approve, build, configure, customer, ts

pytestmark = pytest.mark.slow
N = 300
PAUSE_AT = 100


def _run(path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen([sys.executable, "-m", "regulars.cli.main", "journeys", "run", "--once", "--json",
                             "--workspace", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_mid_batch_no_duplicates_no_lost_steps(tmp_path):
    ids = [f"K{i:04d}" for i in range(N)]
    added = utcnow() - dt.timedelta(minutes=61)
    path = build(tmp_path, [customer(c) for c in ids],
                 events=[[f"E{i}", c, "add_to_cart", ts(added), "P1"] for i, c in enumerate(ids)])
    with SmtpServer() as smtp:
        with Workspace(path) as ws:
            configure(ws, **smtp.settings(), quiet_hours="", cap_per_day=0, cap_per_week=0)
            approve(ws, "cart_abandonment")
        smtp.inbox.pause_at, smtp.inbox.pause = PAUSE_AT, 3.0
        first = _run(path)
        try:
            assert smtp.inbox.arrived.wait(120), first.stderr.read().decode()[-2000:]
            first.send_signal(signal.SIGKILL)                      # the 100th message is with the server
        finally:
            first.wait(30)
        assert first.returncode == -signal.SIGKILL
        smtp.inbox.pause_at = None
        import time

        time.sleep(3.5)                                            # the server finishes accepting the message in flight
        delivered_before = len(smtp.inbox.messages)
        assert delivered_before == PAUSE_AT - 1                    # a server drops a message it did not confirm
        second = _run(path)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err.decode()[-2000:]
    keys = smtp.inbox.keys()
    assert max(Counter(keys).values()) == 1                        # nobody got the reminder twice
    with Workspace(path, read_only=True) as ws:
        log = ws.sql("SELECT send_key, customer_id, status FROM journey_sends WHERE step = 0")
        arms = dict(ws.sql("SELECT customer_id, arm FROM journey_enrollments").values.tolist())
    status = Counter(log["status"])
    treated = [c for c in ids if arms[c] == "treatment"]
    assert len(log) == N                                           # one decision per customer: nothing lost
    assert status["withheld"] == N - len(treated)
    assert status["sent"] == len(treated)
    assert set(keys) == set(log[log["status"] == "sent"]["send_key"])
    assert sorted(m.split("@")[0].upper() for m in smtp.inbox.to()) == sorted(treated)
    with Workspace(path, read_only=True) as ws:
        again = ws.sql("SELECT count(*) AS n FROM journey_sends WHERE reason LIKE 'interrupted%'")["n"][0]
    assert again == 1                                              # the message in flight, recorded as such
