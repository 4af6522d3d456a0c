"""What the JSON API (:mod:`regulars.api`) and the dashboard pages (:mod:`regulars.web`) share.

The app factory and composition root (:mod:`regulars.server.app`, the only module here that
imports ``api`` and ``web``), settings, security (keys, sessions, roles), errors, middleware,
the report and profile caches, the read views each page and its JSON route call, and the
actions both do (:mod:`regulars.server.actions`, :mod:`regulars.server.uploads`).

>>> from regulars.server import Settings, create_app
>>> create_app(Settings(workspace="shop.duckdb")).title
'regulars'
"""

from regulars._lazy import lazy_exports

_EXPORTS = {"Settings": ".settings", "create_app": ".app", "start_server": ".run"}
__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
