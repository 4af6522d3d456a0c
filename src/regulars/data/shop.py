"""The shop's own settings kept in the workspace: its time zone and currency.

The **time zone** says where the shop's days begin: days, weeks and months in every report group
by it, and file values without a UTC offset are read in it (unless a mapping's ``[parse]
timezone`` says otherwise). It is set by the first load that states one (``[parse] timezone``),
else it stays UTC; change it with ``regulars settings timezone Europe/Paris`` (or the admin
settings API). Timestamps are stored in UTC whatever it is, so changing it re-groups reports
without touching the data.

The **currency** is the one the shop reports in: set by the first orders load that names one,
changeable the same way.

Examples
--------
>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> timezone(ws)
'UTC'
>>> settle(ws, timezone="Europe/Paris", currency="EUR")
{'timezone': 'Europe/Paris', 'currency': 'EUR'}
>>> settle(ws, timezone="America/New_York")["timezone"]   # the first one stays
'Europe/Paris'
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json

from regulars.data.connection import connection

DEFAULTS = {"timezone": "UTC", "currency": None}


def _stored(con) -> dict[str, object]:
    rows = con.execute(
        "SELECT name, arg_max(value, updated_at)::VARCHAR FROM app_settings "
        "WHERE name IN ('timezone', 'currency') GROUP BY name"
    ).fetchall()
    return {name: json.loads(value) for name, value in rows}


def settings(con) -> dict[str, object]:
    """``{"timezone": ..., "currency": ...}``: stored values, else the defaults."""
    con = connection(con)
    stored = _stored(con)
    return {name: stored.get(name, default) for name, default in DEFAULTS.items()}


def timezone(con) -> str:
    """The shop's time zone (IANA name; ``UTC`` until one is set)."""
    con = connection(con)
    return str(settings(con)["timezone"] or "UTC")


def settle(con, *, timezone: str | None = None, currency: str | None = None, by: str = "ingest") -> dict:
    """Store the shop's time zone and currency when none is stored yet (first load wins)."""
    con = connection(con)
    stored = _stored(con)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for name, value in (("timezone", timezone), ("currency", currency)):
        if value and name not in stored:
            con.execute("INSERT INTO app_settings VALUES (?, ?, ?, ?)", [name, json.dumps(value), now, by])
    return settings(con)
