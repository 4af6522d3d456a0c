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
>>> timezone(ws.con)
'UTC'
>>> settle(ws.con, timezone="Europe/Paris", currency="EUR")
{'timezone': 'Europe/Paris', 'currency': 'EUR'}
>>> settle(ws.con, timezone="America/New_York")["timezone"]   # the first one stays
'Europe/Paris'
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import json

DEFAULTS = {"timezone": "UTC", "currency": None}


def _stored(con) -> dict[str, object]:
    rows = con.execute(
        "SELECT name, arg_max(value, updated_at)::VARCHAR FROM app_settings "
        "WHERE name IN ('timezone', 'currency') GROUP BY name"
    ).fetchall()
    return {name: json.loads(value) for name, value in rows}


def settings(con) -> dict[str, object]:
    """``{"timezone": ..., "currency": ...}``: stored values, else the defaults."""
    stored = _stored(con)
    return {name: stored.get(name, default) for name, default in DEFAULTS.items()}


def timezone(con) -> str:
    """The shop's time zone (IANA name; ``UTC`` until one is set)."""
    return str(settings(con)["timezone"] or "UTC")


def settle(con, *, timezone: str | None = None, currency: str | None = None, by: str = "ingest") -> dict:
    """Store the shop's time zone and currency when none is stored yet (first load wins)."""
    stored = _stored(con)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for name, value in (("timezone", timezone), ("currency", currency)):
        if value and name not in stored:
            con.execute("INSERT INTO app_settings VALUES (?, ?, ?, ?)", [name, json.dumps(value), now, by])
    return settings(con)


def order_currencies(con) -> dict[str, int]:
    """Orders per currency code (``""`` for orders that state none), most orders first."""
    rows = con.execute("SELECT coalesce(upper(trim(currency)), '') AS c, count(*) FROM orders "
                       "GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    return {c: int(n) for c, n in rows}


def mixed_currency_note(currencies: dict[str, int], shop_currency: str | None) -> str | None:
    """A warning when orders are in more than one currency (amounts would be added as if they were one).

    >>> mixed_currency_note({"EUR": 1200, "USD": 30}, "EUR")
    'orders are in 2 currencies (EUR: 1,200 orders, USD: 30 orders): money figures add their amounts as they are, not converted; the shop reports in EUR (`regulars settings currency CODE`)'
    >>> mixed_currency_note({"EUR": 12, "": 3}, "EUR") is None
    True
    """
    stated = {c: n for c, n in currencies.items() if c}
    if len(stated) < 2:
        return None
    listed = ", ".join(f"{c}: {n:,} orders" for c, n in stated.items())
    return (f"orders are in {len(stated)} currencies ({listed}): money figures add their amounts as they are, not "
            f"converted; the shop reports in {shop_currency or 'no currency yet'} (`regulars settings currency CODE`)")
