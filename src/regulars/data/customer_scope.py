"""The canonical tables restricted to a few customers, for recomputing what their new events changed.

A :class:`CustomerScope` holds temporary views ``rt_<table>`` over a read view of the server's
connection: each customer table filtered to the customers of the current round (set with
:meth:`CustomerScope.focus`), the shared tables (products, campaigns, spend) whole. It is a
table provider (``table``/``execute``), so the same feature and segment expressions run on it.
Their SQL is compiled once per key (Ibis compilation costs more than the query on a few
customers) and reused: the key names what the expression depends on (the day, the categories,
a rule's version).

Examples
--------
>>> import tempfile, os, ibis
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> _ = ws.insert_rows("orders", [{"order_id": "o1", "customer_id": "c1", "ordered_at": "2024-01-01", "total": 10},
...                              {"order_id": "o2", "customer_id": "c2", "ordered_at": "2024-01-01", "total": 20}])
>>> scope = CustomerScope(ws)
>>> scope.focus(["c2"])
>>> scope.rows(("totals",), lambda: scope.table("orders").aggregate(n=lambda t: t.count()))
[(1,)]
>>> ws.close()
"""

from __future__ import annotations

from collections.abc import Callable

import ibis

from regulars.data.connection import connection

#: Tables with a ``customer_id``: restricted to the customers in focus.
CUSTOMER_TABLES = ("customers", "orders", "events", "messages", "tickets", "reviews", "surveys", "consents",
                   "identities")
#: Tables shared by every customer: seen whole.
SHARED_TABLES = ("products", "campaigns", "marketing_spend")


class QueryFailed(RuntimeError):
    """The database refused to run an expression (e.g. a saved rule it cannot evaluate)."""


class CustomerScope:
    """Temporary views of the canonical tables restricted to the customers in focus (a table provider).

    *view* is a workspace or a read view owned by the caller's thread: the temporary views and
    tables are private to its connection.
    """

    def __init__(self, view):
        self.view = view
        self._con = connection(view)
        self._compiled: dict[tuple, str] = {}
        self._ready = False

    def _setup(self) -> None:
        con = self._con
        con.execute("CREATE OR REPLACE TEMP TABLE rt_ids (customer_id VARCHAR)")
        for t in CUSTOMER_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP VIEW rt_{t} AS SELECT * FROM main.{t} "
                        "WHERE customer_id IN (SELECT customer_id FROM rt_ids)")
        con.execute("CREATE OR REPLACE TEMP VIEW rt_order_lines AS SELECT * FROM main.order_lines "
                    "WHERE order_id IN (SELECT order_id FROM rt_orders)")
        for t in SHARED_TABLES:
            con.execute(f"CREATE OR REPLACE TEMP VIEW rt_{t} AS SELECT * FROM main.{t}")
        self._ready = True

    # -- a table provider over the focused customers -------------------------------------
    def table(self, name: str) -> ibis.Table:
        return self.view.ibis.table(f"rt_{name}")

    def execute(self, expr):
        return self.view.ibis.execute(expr)

    def focus(self, customer_ids: list[str]) -> None:
        """Restrict the views to *customer_ids* (the next round's customers)."""
        if not self._ready:
            self._setup()
        self._con.execute("DELETE FROM rt_ids")
        self._con.execute("INSERT INTO rt_ids SELECT unnest(?::VARCHAR[])", [list(customer_ids)])

    # -- compiled once, run every round ---------------------------------------------------
    def _sql(self, key: tuple, build: Callable[[], object]) -> str:
        if key not in self._compiled:
            if len(key) > 1:  # keys are (kind, day, ...): forget what was compiled for other days
                self._compiled = {k: v for k, v in self._compiled.items() if len(k) < 2 or k[1] == key[1]}
            self._compiled[key] = str(ibis.to_sql(build(), dialect="duckdb"))
        return self._compiled[key]

    def rows(self, key: tuple, build: Callable[[], object]) -> list[tuple]:
        """The rows of the expression *build()* (compiled once for *key*); :class:`QueryFailed` if refused."""
        sql = self._sql(key, build)
        try:
            return self._con.execute(sql).fetchall()
        except Exception as exc:  # noqa: BLE001 - only the database's own errors are turned into QueryFailed
            if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
                raise
            raise QueryFailed(type(exc).__name__) from exc

    def materialize(self, key: tuple, build: Callable[[], object], name: str) -> ibis.Table:
        """Store the result of *build()* (compiled once for *key*) as temporary table *name*; return it."""
        self._con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {self._sql(key, build)}')
        return self.view.ibis.table(name)

    def close(self) -> None:
        self.view.close()
