"""One way for jobs to read and write a workspace, whether it is opened by this process
(:class:`LocalAccess`) or held by a running server (:class:`SharedAccess`, writes go through
the server's single writer thread).

``read(fn)`` calls ``fn(ws)`` with a readable workspace; ``write(fn)`` calls ``fn(ws)`` inside
one transaction and returns its result.

>>> import tempfile, os
>>> from regulars import Workspace
>>> ws = Workspace(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> db = LocalAccess(ws)
>>> db.read(lambda w: w.count("orders"))
0
>>> ws.close()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


class LocalAccess:
    """A workspace this process opened itself."""

    def __init__(self, ws):
        self.ws = ws
        self.path: Path = ws.path

    def read(self, fn: Callable):
        return fn(self.ws)

    def write(self, fn: Callable):
        with self.ws.transaction():
            return fn(self.ws)


class SharedAccess:
    """A workspace held by the server (:class:`regulars.data.realtime.SharedWorkspace`)."""

    def __init__(self, shared):
        self.shared = shared
        self.path: Path = shared.path

    def read(self, fn: Callable):
        with self.shared.read() as view:
            return fn(view)

    def write(self, fn: Callable):
        def run(ws):
            with ws.transaction():
                return fn(ws)

        return self.shared.write(run)
