"""Segment exports respect channel consent, and a consent event takes effect on the next export."""

from __future__ import annotations

import csv
import io
import time


def _rows(client, path, **params):
    r = client.get(path, params={"format": "csv", **params})
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def test_channel_filter_keeps_only_consenting_members(analyst, server):
    seg = max(analyst.get("/api/segments").json()["items"], key=lambda s: s["members"] or 0)
    path = f"/api/segments/{seg['segment_id']}/members"
    everyone = _rows(analyst, path)
    mailable = _rows(analyst, path, channel="email")
    assert len(everyone) > len(mailable) > 0
    assert all(r["accepts_email"] == "True" for r in mailable)
    assert {r["customer_id"] for r in everyone if r["accepts_email"] == "True"} == {r["customer_id"] for r in mailable}
    # a customer withdraws e-mail consent through an event: the next export leaves them out
    cid = mailable[0]["customer_id"]
    r = analyst.post("/api/events", json={"customer_id": cid, "event_type": "consent",
                                          "properties": {"purpose": "email", "granted": False}})
    assert r.status_code < 300, r.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        server.app.state.cache.clear(("members",))
        if cid not in {x["customer_id"] for x in _rows(analyst, path, channel="email")}:
            break
        time.sleep(0.2)
    assert cid not in {x["customer_id"] for x in _rows(analyst, path, channel="email")}
