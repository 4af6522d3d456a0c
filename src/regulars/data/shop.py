"""The shop's own settings kept in the workspace: its time zone and currency.

The **time zone** says where the shop's days begin: days, weeks and months in every report group
by it, and file values without a UTC offset are read in it (unless a mapping's ``[parse]
timezone`` says otherwise). It is set by the first load that states one (``[parse] timezone``),
else it stays UTC; change it with ``regulars settings timezone Europe/Paris`` (or the admin
settings API). Timestamps are stored in UTC whatever it is, so changing it re-groups reports
without touching the data.

The **currency** is the one the shop reports in: set by the first orders load that names one,
changeable the same way.

The **exchange rates** turn orders in other currencies into the shop's: ``USD=0.92`` means one
US dollar is 0.92 of the shop's currency. The shop gives them (``regulars settings --rate
USD=0.92``, the Settings page, or the admin settings API); each keeps the day it was set, which
reports name next to the converted figures. :mod:`regulars.features.currency` applies them.

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
import re

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


def order_currencies(con) -> dict[str, int]:
    """Orders per currency code (``""`` for orders that state none), most orders first."""
    rows = connection(con).execute("SELECT coalesce(upper(trim(currency)), '') AS c, count(*) FROM orders "
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


RATES_SETTING = "exchange_rates"


def exchange_rates(con) -> dict[str, dict]:
    """``{"USD": {"rate": 0.92, "set_on": "2026-12-07"}, ...}``: the rates the shop gave (may be empty)."""
    row = connection(con).execute("SELECT arg_max(value, updated_at)::VARCHAR FROM app_settings WHERE name = ?",
                      [RATES_SETTING]).fetchall()
    return json.loads(row[0][0]) if row and row[0][0] else {}


class RateError(ValueError):
    """An exchange rate the shop typed cannot be read; the message says what to write."""


def parse_rates(value, current: dict | None = None, today: dt.date | None = None,
                merge: bool = False) -> dict[str, dict]:
    """Read exchange rates the shop typed: ``"USD=0.92, GBP=1.17"``, or ``{"USD": 0.92}``.

    A rate is how much one unit of that currency is worth in the shop's currency. A rate
    that did not change keeps the day it was set; ``CODE=`` (empty) removes one. With
    *merge* the given rates update *current*, else they replace it.

    >>> parse_rates("usd=0.92,GBP = 1,17", today=dt.date(2026, 12, 7))
    {'GBP': {'rate': 1.17, 'set_on': '2026-12-07'}, 'USD': {'rate': 0.92, 'set_on': '2026-12-07'}}
    >>> old = {"USD": {"rate": 0.92, "set_on": "2026-11-01"}}
    >>> parse_rates("USD=0.92, GBP=1.17", old, today=dt.date(2026, 12, 7))["USD"]["set_on"]
    '2026-11-01'
    >>> parse_rates("GBP=", {"GBP": {"rate": 1.1, "set_on": "2026-11-01"}, **old}, merge=True)
    {'USD': {'rate': 0.92, 'set_on': '2026-11-01'}}
    >>> parse_rates("USD=zero")
    Traceback (most recent call last):
    ...
    regulars.data.shop.RateError: rate for USD must be a positive number (one USD in the shop's currency), e.g. USD=0.92; got 'zero'
    """
    from regulars.data.ingest.money import currency_code

    current = current or {}
    today = today or dt.datetime.now(dt.UTC).date()
    if isinstance(value, dict):
        pairs = [(k, v.get("rate") if isinstance(v, dict) else v) for k, v in value.items()]
    else:
        parts = [p.strip() for p in re.split(r"[;\n]|,(?=\s*[A-Za-z])", str(value or ""))]
        pairs = []
        for part in filter(None, parts):
            if "=" not in part:
                raise RateError(f"write a rate as CODE=RATE, e.g. USD=0.92; got {part!r}")
            code, _, rate = part.partition("=")
            pairs.append((code, rate.strip()))
    rates = dict(current) if merge else {}
    for raw_code, raw_rate in pairs:
        code = currency_code(str(raw_code))
        if code is None:
            raise RateError(f"{str(raw_code).strip()!r} is not an ISO 4217 currency code such as USD or GBP")
        if raw_rate in (None, ""):
            rates.pop(code, None)
            continue
        try:
            rate = float(str(raw_rate).replace(",", "."))
        except ValueError:
            rate = float("nan")
        if not rate > 0 or rate == float("inf"):
            raise RateError(f"rate for {code} must be a positive number (one {code} in the shop's currency), "
                            f"e.g. {code}=0.92; got {raw_rate!r}")
        kept = current.get(code)
        same = kept is not None and float(kept["rate"]) == rate
        rates[code] = {"rate": rate, "set_on": kept["set_on"] if same else today.isoformat()}
    return dict(sorted(rates.items()))


def rates_text(rates: dict[str, dict]) -> str:
    """The rates as the shop types them back: ``"GBP=1.17, USD=0.92"``.

    >>> rates_text({"USD": {"rate": 0.92, "set_on": "2026-12-07"}})
    'USD=0.92'
    """
    return ", ".join(f"{code}={r['rate']:g}" for code, r in sorted(rates.items()))
