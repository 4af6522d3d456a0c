"""The REST API under ``/api/``: its routes are in :mod:`regulars.api.routes`.

The app factory serving them with the dashboard pages is :func:`regulars.server.create_app`;
``Settings`` and ``create_app`` are also importable from here.

>>> from regulars.api import Settings, create_app
>>> app = create_app(Settings(workspace="shop.duckdb", port=8123))
>>> app.title
'regulars'
"""

from regulars.server.app import create_app
from regulars.server.settings import Settings

__all__ = ["Settings", "create_app"]
