"""Lazy package exports (PEP 562): a public name's submodule is imported on first use.

A package lists ``{public name: submodule}`` and sets ``__getattr__ = lazy_exports(...)``, so
importing a light submodule does not load the heavy ones beside it.
"""

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports each export from its submodule once.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (relative submodules are resolved against it).
    exports : mapping of str to str
        Public name -> submodule defining it, e.g. ``{"analyse": ".analysis"}``.
    namespace : dict
        The package's ``globals()``; a resolved name is cached there.

    Examples
    --------
    >>> ns = {}
    >>> getattr_ = lazy_exports("json", {"JSONEncoder": ".encoder"}, ns)
    >>> getattr_("JSONEncoder").__name__
    'JSONEncoder'
    >>> "JSONEncoder" in ns
    True
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        namespace[name] = value
        return value

    return __getattr__
