"""The as-of date of an analysis when none is given: the one definition.

"As of" a day means knowing only what happened strictly before it. Given no date, an analysis
runs as of the day after the latest row of its **basis** — the tables whose rows tell how far
the shop's data goes:

- :data:`ACTIVITY` (orders and their refunds and cancellations, web/app events, e-mail engagement) for features, segments, KPIs
  and reports: a customer who browsed yesterday is seen browsing;
- :data:`ORDERS` for predictions and recommendations, which learn from purchases only: events
  loaded a week past the last order file must not make every customer look a week more lapsed.

An empty basis gives today. Runs one small query on any table provider (a workspace, a read
view, the Spark tables).

Examples
--------
>>> import tempfile, os, datetime as dt
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("orders", [{"order_id": "o1", "customer_id": "c1", "ordered_at": "2024-01-10", "total": 5}])
>>> _ = ws.insert_rows("events", [{"event_id": "e1", "customer_id": "c1", "event_type": "page_view",
...                                "occurred_at": "2024-01-20 08:00"}])
>>> resolve_as_of(ws), resolve_as_of(ws, basis=ORDERS), resolve_as_of(ws, "2024-02-01")
(datetime.date(2024, 1, 21), datetime.date(2024, 1, 11), datetime.date(2024, 2, 1))
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from regulars.values import to_date

#: Orders (placed, refunded, cancelled), web/app events and e-mail engagement: how far the
#: shop's activity goes.
ACTIVITY = (("orders", "ordered_at"), ("orders", "refunded_at"), ("orders", "cancelled_at"),
            ("events", "occurred_at"), ("messages", "occurred_at"))
#: Orders only: how far the purchase history goes.
ORDERS = (("orders", "ordered_at"),)


def _scalar(tables, expr):
    run = getattr(tables, "execute", None)
    value = run(expr) if run is not None else expr.execute()
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def resolve_as_of(tables, as_of=None, *, basis=ACTIVITY) -> dt.date:
    """*as_of* as a date; by default the day after the latest row of *basis* (today when empty)."""
    if as_of is not None:
        return to_date(as_of)
    latest = []
    for name, column in basis:
        value = _scalar(tables, tables.table(name)[column].max())
        if value is not None:
            latest.append(to_date(value))
    return (max(latest) + dt.timedelta(days=1)) if latest else dt.date.today()
