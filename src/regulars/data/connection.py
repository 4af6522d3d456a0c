"""The DuckDB connection behind a workspace: for the data layer only.

Public functions of the data layer take ``db``: a :class:`~regulars.data.workspace.Workspace`
(or a server read view of one) — what the layers above hold — or, inside the data layer,
a DuckDB connection itself (a transaction's connection, a cursor). No module outside
``regulars.data`` touches a connection (``tests/test_layers.py`` checks it).

>>> import duckdb
>>> con = duckdb.connect()
>>> connection(con) is con
True
>>> has_database(con), has_database(object())
(False, False)
"""

from __future__ import annotations


def connection(db):
    """The DuckDB connection of *db* (a workspace, a read view, or a connection)."""
    return getattr(db, "_con", db)


def has_database(db) -> bool:
    """Whether *db* is a workspace or read view over a DuckDB file (table providers on other
    engines, e.g. the Spark tables, are not): the layers above ask this, never for the connection."""
    return getattr(db, "_con", None) is not None
