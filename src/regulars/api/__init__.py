"""The HTTP server: the REST API under ``/api/`` and the dashboard pages, from one app factory.

>>> from regulars.api import Settings, create_app
>>> app = create_app(Settings(workspace="shop.duckdb", port=8123))
>>> app.title
'regulars'
"""

from regulars.api.app import create_app
from regulars.api.settings import Settings

__all__ = ["Settings", "create_app"]
