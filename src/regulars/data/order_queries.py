"""Small reads of the orders table for jobs and reports (``db``: a workspace or a server read view).

Examples
--------
>>> import datetime as dt, tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> first_order_date(ws, before=dt.date(2024, 3, 1)) is None
True
>>> _ = ws.insert_rows("orders", [{"order_id": "o1", "customer_id": "c1", "ordered_at": "2024-01-05 10:00", "total": 10}])
>>> first_order_date(ws, before=dt.date(2024, 3, 1))
datetime.date(2024, 1, 5)
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt

from regulars.data.connection import connection


def first_order_date(db, before: dt.date) -> dt.date | None:
    """The day of the first order placed before *before* (any order, as stored), or None."""
    return connection(db).execute("SELECT min(ordered_at)::DATE FROM orders WHERE ordered_at < ?",
                                  [before]).fetchall()[0][0]
